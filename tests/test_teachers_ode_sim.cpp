// The ODEs of several teachers (docs/theory.md §17b) against the simulation (§17): the flow
// (17b.1) against the Monte-Carlo mean of the trainer's own step at a random state with two
// teachers, and `plateau ode` against simulations through a switch (K = M = 2, erf, two
// teachers, teacher-overlap 0, 0.5, 1, shared and per-task heads, N = 1000, 12 seeds).
#include "engine/theory/teachers_flow.hpp"
#include "engine/theory/theory.hpp"

#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"

#include "stat_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace plateau;
using plateau::test::Stat;

namespace {

RunParams two_teachers(int K, int M, Heads heads) {
    RunParams p;
    p.model.student.widths = {K};
    p.model.teacher.widths = {M};
    p.model.teachers = 2;
    p.model.heads = heads;
    p.model.learn_v = true;
    p.training.eta = 1.0;
    p.training.eta_v = 0.5;
    return p;
}

} // namespace

TEST_CASE("teachers flow: equals the Monte-Carlo average of the trainer's step",
          "[theory][teachers][heavy]") {
    // At a random state with O(1) overlaps with both teachers (teacher-overlap 0.5,
    // readout-overlap 0.5, per-task heads with different heads) and task 1 active, the
    // trainer's own step is taken from the same state `samples` times: N dQ, N dR (both
    // teachers), N dv of both heads. Their means against the flow (17b.1) within 5 standard
    // errors plus the finite-N allowance (K + 3)/N of the eta^2 term (as
    // tests/test_mixture_theory.cpp). Only the active head moves.
    constexpr int K = 2, M = 2;
    constexpr std::int64_t N = 2000;
    constexpr int samples = 40'000;
    RunParams p = two_teachers(K, M, Heads::per_task);
    p.model.N = N;
    p.model.teacher_overlap = 0.5;
    p.model.readout_overlap = 0.5;
    p.model.noise = 0.05;
    p.model.switch_at = {0.5};
    p.training.eta = 1.5;
    validate(p);
    RunState state = make_initial_state(p.model, 11, 0);
    REQUIRE(state.M == 2 * M);
    std::mt19937_64 rng(20261206);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    const Eigen::MatrixXd B = state.teacher();
    for (int j = 0; j < K; ++j) {
        for (std::int64_t i = 0; i < N; ++i)
            state.weights(j, i) = normal(rng) * std::sqrt(0.5 / static_cast<double>(N));
        for (int u = 0; u < 2 * M; ++u)
            state.weights.row(j) += 0.5 * uniform(rng) * B.row(u);
    }
    state.step = N; // alpha = 1: task 1 by switch-at = 0.5
    switch_task(state, 1);
    state.heads.col(0) << 0.7, -0.4;
    state.v << 1.1, 0.6;
    const OrderParameters op = order_parameters_of(state);
    REQUIRE(op.task == 1);
    TeachersFlow f(p, op, op.heads);
    f.set_task(1);
    Eigen::VectorXd y, dy;
    f.pack(op.Q, op.R, op.heads, y);
    REQUIRE(f(1.0, y, dy));
    Eigen::MatrixXd dQ, dR, dH;
    f.unpack(dy, dQ, dR, dH);

    const auto trainer = make_trainer(p, 11, 0);
    const Eigen::MatrixXd W0 = state.student();
    const Eigen::VectorXd v0 = state.v;
    const Eigen::MatrixXd head0 = state.heads;
    const std::int64_t step0 = state.step;
    std::vector<Stat> sQ(K * K), sR(static_cast<std::size_t>(K * 2 * M)), sv(K);
    const auto n = static_cast<double>(N);
    bool other_head_still = true;
    for (int s = 0; s < samples; ++s) {
        REQUIRE(trainer->advance(state, 1) == StepOutcome::ok);
        const Eigen::MatrixXd W1 = state.student();
        const Eigen::MatrixXd Q1 = W1 * W1.transpose();
        const Eigen::MatrixXd R1 = W1 * B.transpose();
        for (int j = 0; j < K; ++j) {
            for (int l = 0; l < K; ++l)
                sQ[static_cast<std::size_t>(j * K + l)].add(n * (Q1(j, l) - op.Q(j, l)));
            for (int u = 0; u < 2 * M; ++u)
                sR[static_cast<std::size_t>(j * 2 * M + u)].add(n * (R1(j, u) - op.R(j, u)));
            sv[static_cast<std::size_t>(j)].add(n * (state.v(j) - v0(j)));
        }
        other_head_still = other_head_still && state.heads.col(0) == head0.col(0);
        state.weights.topRows(K) = W0; // the same state at every sample
        state.v = v0;
        state.step = step0;
    }
    CHECK(other_head_still);
    CHECK(dH.col(0).cwiseAbs().maxCoeff() == 0.0);
    const double bias = (K + 3.0) / n;
    const auto check = [&](const char* what, const Stat& mc, double theory, double scale) {
        INFO(what << ": Monte Carlo " << mc.mean() << " +- " << mc.standard_error() << ", theory "
                  << theory);
        CHECK(std::abs(mc.mean() - theory) <= 5.0 * mc.standard_error() + bias * scale);
    };
    const double q_scale = dQ.cwiseAbs().maxCoeff();
    for (int j = 0; j < K; ++j) {
        for (int l = 0; l < K; ++l)
            check("dQ", sQ[static_cast<std::size_t>(j * K + l)], dQ(j, l), q_scale);
        for (int u = 0; u < 2 * M; ++u)
            check("dR", sR[static_cast<std::size_t>(j * 2 * M + u)], dR(j, u), 0.0);
        check("dv", sv[static_cast<std::size_t>(j)], dH(j, 1), 0.0);
    }
    // Not trivially small: the inactive teacher's overlaps move too.
    CHECK(dR.leftCols(M).cwiseAbs().maxCoeff() > 0.05);
    CHECK(q_scale > 0.01);
}

namespace {

/// Seed means of simulation and theory (each theory run from its simulation's initial order
/// parameters): every record of every task's eps_g within 4 standard errors of the
/// simulations' seed mean plus 2 % of the theory.
void compare_teachers_with_simulation(const RunParams& p, int seeds) {
    const std::vector<double> alphas = record_alphas(p.schedule);
    const int n = p.model.teachers;
    std::vector<std::vector<Stat>> sim(alphas.size(), std::vector<Stat>(n));
    std::vector<Eigen::VectorXd> theory(alphas.size(), Eigen::VectorXd::Zero(n));
    for (int s = 0; s < seeds; ++s) {
        const auto run = static_cast<std::uint64_t>(s);
        const RunResult a = simulate(p, 5, run);
        const RunResult b = integrate_theory(p, sample_initial_order_parameters(p, 5, run));
        REQUIRE(a.records.size() == alphas.size());
        REQUIRE(b.records.size() == alphas.size());
        for (std::size_t i = 0; i < alphas.size(); ++i) {
            const Eigen::VectorXd ea = a.records[i].extras.at(std::string(extra_name::eg_tasks));
            const Eigen::VectorXd eb = b.records[i].extras.at(std::string(extra_name::eg_tasks));
            for (int t = 0; t < n; ++t)
                sim[i][static_cast<std::size_t>(t)].add(ea(t));
            theory[i] += eb / seeds;
            // The same task at every record (a fixed schedule).
            CHECK(a.records[i].extras.at(std::string(extra_name::current_task))(0) ==
                  b.records[i].extras.at(std::string(extra_name::current_task))(0));
        }
    }
    for (std::size_t i = 0; i < alphas.size(); ++i)
        for (int t = 0; t < n; ++t) {
            const Stat& s = sim[i][static_cast<std::size_t>(t)];
            INFO("alpha = " << alphas[i] << ", task " << t << ": simulation " << s.mean() << " +- "
                            << s.standard_error() << ", theory " << theory[i](t));
            CHECK(std::abs(s.mean() - theory[i](t)) <=
                  4.0 * s.standard_error() + 0.02 * theory[i](t));
        }
}

RunParams continual(Heads heads, double rho) {
    RunParams p = two_teachers(2, 2, heads);
    p.model.N = 1000;
    p.model.teacher_overlap = rho;
    p.model.switch_at = {10.0};
    p.training.eta = 1.0;
    p.training.eta_v = 1.0;
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 20.0;
    p.schedule.records = 11;
    return p;
}

} // namespace

TEST_CASE("teachers theory versus simulation through a switch: shared heads",
          "[theory][teachers][heavy]") {
    for (const double rho : {0.0, 0.5, 1.0}) {
        INFO("teacher-overlap = " << rho);
        compare_teachers_with_simulation(continual(Heads::shared, rho), 12);
    }
}

TEST_CASE("teachers theory versus simulation through a switch: per-task heads",
          "[theory][teachers][heavy]") {
    for (const double rho : {0.0, 0.5, 1.0}) {
        INFO("teacher-overlap = " << rho);
        compare_teachers_with_simulation(continual(Heads::per_task, rho), 12);
    }
}
