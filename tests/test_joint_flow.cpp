// Tests of the joint flow (engine/theory/joint_rule.hpp, FlowMethod::joint; docs/theory.md §10): on
// identity outputs it equals the integral flow within its own error estimate (and the estimate is
// honest); for tanh outputs it equals the Monte-Carlo average of the trainer's own update
// (models/network.hpp backward()) and the observer's Monte-Carlo eps_g; and (slow) the theory
// against simulations at N = 1000 for h = tanh.
#include "engine/theory/flow_paths.hpp"
#include "engine/theory/joint_rule.hpp"
#include "engine/theory/theory.hpp"

#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"
#include "models/gaussian_integrals.hpp"
#include "models/network.hpp"

#include "engine/simulation/simulate.hpp"
#include "stat_helpers.hpp"
#include "theory_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using namespace plateau;
using plateau::test::Stat;

namespace {

RunParams joint_params(int K, int M, ActivationKind h, ActivationKind h_teacher) {
    RunParams p;
    p.model.student.widths = {K};
    p.model.teacher.widths = {M};
    p.model.student.h.kind = h;
    p.model.teacher.h.kind = h_teacher;
    return p;
}

} // namespace

TEST_CASE("joint flow: equals the integral flow on identity outputs within its error estimate",
          "[theory][joint]") {
    // h = h* = identity, g = g* = erf, K = M = 2: the integrals of §3 are exact, so the joint
    // rule's actual error is known. Each entry's z = (joint - exact) / (estimated error) is a
    // Student-t variable with 15 degrees of freedom (16 shifts): every |z| < 6 (200 entries;
    // P(|t_15| > 6) = 2.4e-5 each), and the estimate is honest: the RMS of z (1.07 for t_15) lies
    // in [0.5, 2] (a 16-entry-per-point mean: a factor 2 off is > 8 standard deviations of the
    // RMS), so an estimate 10x too large or too small fails.
    std::mt19937_64 rng(20261202);
    RunParams p = joint_params(2, 2, ActivationKind::linear, ActivationKind::linear);
    p.model.noise = 0.3;
    p.model.learn_v = true;
    p.training.eta = 1.0;
    p.training.eta_v = 0.4;
    p.training.batch.size = 2;
    FlowSettings s = flow_settings(p);
    REQUIRE(s.method == FlowMethod::integrals);
    s.method = FlowMethod::joint;
    s.joint_rule = make_joint_rule(4, p.observer.joint_points);
    Stat z2;
    double max_z = 0.0;
    const auto add = [&](double joint, double exact, double error) {
        REQUIRE(error > 0.0);
        const double z = (joint - exact) / error;
        z2.add(z * z);
        max_z = std::max(max_z, std::abs(z));
    };
    for (int point = 0; point < 20; ++point) {
        const OrderParameters op = test::random_order_parameters(2, 2, rng);
        Eigen::MatrixXd dQ, dR;
        Eigen::VectorXd dv;
        compute_integral_flow(s, op.Q, op.R, op.T, op.v, op.v_star, dQ, dR, dv);
        const JointEstimate e = joint_estimate(s, op.Q, op.R, op.T, op.v, op.v_star);
        // compute_joint_flow is the estimate's mean (plus the exact weight decay, 0 here).
        Eigen::MatrixXd jQ, jR;
        Eigen::VectorXd jv;
        compute_joint_flow(s, op.Q, op.R, op.T, op.v, op.v_star, jQ, jR, jv);
        CHECK((jQ - e.dQ).norm() == 0.0);
        CHECK((jR - e.dR).norm() == 0.0);
        CHECK((jv - e.dv).norm() == 0.0);
        for (int j = 0; j < 2; ++j) {
            for (int k = j; k < 2; ++k)
                add(e.dQ(j, k), dQ(j, k), e.dQ_error(j, k));
            for (int n = 0; n < 2; ++n)
                add(e.dR(j, n), dR(j, n), e.dR_error(j, n));
            add(e.dv(j), dv(j), e.dv_error(j));
        }
        add(e.eg, integrals::generalization_error(s.g, op.Q, op.R, op.T, op.v, op.v_star),
            e.eg_error);
        add(joint_generalization_error(s, op.Q, op.R, op.T, op.v, op.v_star),
            integrals::generalization_error(s.g, op.Q, op.R, op.T, op.v, op.v_star), e.eg_error);
    }
    const double rms = std::sqrt(z2.mean());
    INFO("max |z| = " << max_z << ", RMS z = " << rms);
    CHECK(max_z < 6.0);
    CHECK(rms > 0.5);
    CHECK(rms < 2.0);
}

TEST_CASE("joint flow: the same rule at every call, a semi-definite covariance, weight decay",
          "[theory][joint]") {
    RunParams p = joint_params(2, 2, ActivationKind::tanh, ActivationKind::tanh);
    p.training.eta = 0.7;
    p.training.weight_decay = 0.05;
    p.model.learn_v = true;
    p.training.eta_v = 0.3;
    std::mt19937_64 rng(7);
    const OrderParameters op = test::random_order_parameters(2, 2, rng);
    const OrderParameters a = flow(p, op), b = flow(p, op);
    CHECK((a.Q - b.Q).norm() == 0.0); // deterministic: no random numbers at a call
    CHECK((a.R - b.R).norm() == 0.0);
    // Weight decay is exact: the difference of the flows with and without it.
    RunParams p0 = p;
    p0.training.weight_decay = 0.0;
    const OrderParameters c = flow(p0, op);
    CHECK((a.Q - c.Q + 2.0 * 0.7 * 0.05 * op.Q).norm() < 1e-14);
    CHECK((a.R - c.R + 0.7 * 0.05 * op.R).norm() < 1e-14);
    CHECK((a.v - c.v + 0.3 * 0.05 * op.v).norm() < 1e-14);
    // A student equal to a teacher: C is singular; the flow stays finite.
    OrderParameters sing = op;
    sing.T = Eigen::MatrixXd::Identity(2, 2);
    sing.Q = Eigen::MatrixXd::Identity(2, 2);
    sing.R = Eigen::MatrixXd::Identity(2, 2);
    const OrderParameters d = flow(p, sing);
    CHECK(d.Q.allFinite());
    CHECK(d.R.allFinite());
    // There the student is the teacher: eps_g = 0 and the flow is weight decay only.
    const JointEstimate e = joint_estimate(flow_settings(p0), sing.Q, sing.R, sing.T,
                                           Eigen::VectorXd::Ones(2), Eigen::VectorXd::Ones(2));
    CHECK(std::abs(e.eg) < 1e-20);
    CHECK(e.dR.norm() < 1e-12);
}

TEST_CASE("joint flow: tanh outputs equal the Monte-Carlo average of the trainer's update",
          "[theory][joint]") {
    // The per-example update of the trainer (models/network.hpp backward(): delta = (sigma -
    // tau) h'(a), w_j -= (eta/N) delta v_j g'(x_j) xi, v_j -= (eta_v/N) delta g(x_j)) averaged over
    // the fields by plain Monte Carlo, against the joint flow: N dR_jn = -eta grad_j y_n,
    // N dQ_jk = -eta (grad_j x_k + grad_k x_j) + eta^2 grad_j grad_k, N dv_j = -eta_v grad_v_j.
    // Tolerance: 5 combined standard errors (Monte Carlo and the rule's).
    std::mt19937_64 rng(20261203);
    constexpr std::int64_t samples = 400'000;
    constexpr double noise = 0.2, eta_v = 0.4;
    for (const auto& [h, hs, gs] :
         {std::tuple{ActivationKind::tanh, ActivationKind::tanh, ActivationKind::erf},
          std::tuple{ActivationKind::tanh, ActivationKind::linear, ActivationKind::erf},
          std::tuple{ActivationKind::linear, ActivationKind::linear, ActivationKind::relu}}) {
        const int K = 2, M = 3;
        INFO("h = " << name(h) << ", h* = " << name(hs) << ", g* = " << name(gs));
        RunParams p = joint_params(K, M, h, hs);
        p.model.teacher.g.kind = gs;
        p.model.student.h.gamma = 1.5;
        p.model.noise = noise;
        p.model.learn_v = true;
        p.training.eta = 1.0;
        p.training.eta_v = eta_v;
        REQUIRE(flow_method(p.model) == FlowMethod::joint);
        const OrderParameters op = test::random_order_parameters(K, M, rng);
        const FlowSettings s = flow_settings(p);
        const JointEstimate e = joint_estimate(s, op.Q, op.R, op.T, op.v, op.v_star);

        const int P = K + M;
        const Eigen::MatrixXd chol = integrals::field_covariance(op.Q, op.R, op.T).llt().matrixL();
        std::normal_distribution<double> normal;
        std::vector<Stat> sR(K * M), sQ(K * K), sv(K);
        Eigen::VectorXd z(P), u(P);
        std::vector<double> grad(K), grad_v(K);
        for (std::int64_t i = 0; i < samples; ++i) {
            for (int a = 0; a < P; ++a)
                z(a) = normal(rng);
            u.noalias() = chol * z;
            const std::span<const double> x{u.data(), static_cast<std::size_t>(K)};
            const std::span<const double> y{u.data() + K, static_cast<std::size_t>(M)};
            const double tau =
                forward(p.model.teacher, y, {op.v_star.data(), std::size_t{3}}).output +
                std::sqrt(noise) * normal(rng);
            const ForwardPass pass = forward(p.model.student, x, {op.v.data(), std::size_t{2}});
            (void)backward(p.model.student, x, {op.v.data(), std::size_t{2}}, pass, tau, grad,
                           grad_v, Loss{});
            for (int j = 0; j < K; ++j) {
                for (int n = 0; n < M; ++n)
                    sR[static_cast<std::size_t>(j * M + n)].add(-grad[j] * y[n]);
                for (int k = 0; k < K; ++k)
                    sQ[static_cast<std::size_t>(j * K + k)].add(-grad[j] * x[k] - grad[k] * x[j] +
                                                                grad[j] * grad[k]);
                sv[static_cast<std::size_t>(j)].add(-eta_v * grad_v[j]);
            }
        }
        const auto check = [](const char* what, double joint, double error, const Stat& mc) {
            const double tol = 5.0 * std::hypot(error, mc.standard_error());
            INFO(what << ": joint " << joint << " +- " << error << ", Monte Carlo " << mc.mean()
                      << " +- " << mc.standard_error());
            CHECK(std::abs(joint - mc.mean()) < tol);
        };
        for (int j = 0; j < K; ++j) {
            for (int n = 0; n < M; ++n)
                check("dR", e.dR(j, n), e.dR_error(j, n), sR[static_cast<std::size_t>(j * M + n)]);
            for (int k = 0; k < K; ++k)
                check("dQ", e.dQ(j, k), e.dQ_error(j, k), sQ[static_cast<std::size_t>(j * K + k)]);
            check("dv", e.dv(j), e.dv_error(j), sv[static_cast<std::size_t>(j)]);
        }
    }
}

// [heavy]: about 4 s of CPU under ASan (1.9 s in the ci build).
TEST_CASE("joint flow: eps_g for tanh outputs equals the observer's Monte Carlo",
          "[theory][joint][heavy]") {
    std::mt19937_64 rng(99);
    NormalStream draws(StreamKey{5, 0, StreamPurpose::observer});
    for (const auto& [h, hs] : {std::pair{ActivationKind::tanh, ActivationKind::tanh},
                                std::pair{ActivationKind::tanh, ActivationKind::linear},
                                std::pair{ActivationKind::linear, ActivationKind::tanh}})
        for (int point = 0; point < 3; ++point) {
            RunParams p = joint_params(2, 2, h, hs);
            p.model.teacher.h.gamma = 2.0;
            const OrderParameters op = test::random_order_parameters(2, 2, rng);
            const JointEstimate e =
                joint_estimate(flow_settings(p), op.Q, op.R, op.T, op.v, op.v_star);
            const EgEstimate mc = monte_carlo_generalization_error(p.model, op.Q, op.R, op.T, op.v,
                                                                   op.v_star, 1'000'000, draws);
            INFO("h = " << name(h) << ", h* = " << name(hs) << ": joint " << e.eg << " +- "
                        << e.eg_error << ", Monte Carlo " << mc.eg << " +- " << mc.standard_error);
            CHECK(std::abs(e.eg - mc.eg) < 5.0 * std::hypot(e.eg_error, mc.standard_error));
            // The rule is no worse than Monte Carlo with as many points.
            CHECK(e.eg_error < mc.standard_error * std::sqrt(1e6 / 16384.0));
        }
}

// Simulation versus theory for h = tanh (gamma = 1) with g = erf, K = M = 2, N = 1000: the
// method and tolerance of "theory versus simulation: erf K = M = 2, N = 1000"
// (tests/test_theory.cpp): per record the mean over S = 20 runs of d_s = eps_g(sim_s) -
// eps_g(theory), within k standard errors of that mean plus the finite-size allowance
// (K+M)/N eps_g(theory). The runs share one initial state (init_index 0) and differ in their
// examples, so one theory run (the joint rule's cost: a second per run) serves all of them; the
// spread of d_s is then that of the examples alone, smaller than with 20 initial states, which
// makes the comparison no looser.
//   k: 40 record times per case, 80 comparisons (two cases): Bonferroni at a family-wise 1%,
//      t_19(1 - 6.25e-5) = 4.80.
//   The simulation's eps_g is itself a Monte-Carlo average (eg-samples = 20000, independent per
//   record and seed): its noise is part of SD(d_s). The theory's eps_g carries the rule's error,
//   a bias common to all seeds: 3 times its estimate (eg_stderr of the theory) is added to the
//   allowance.
TEST_CASE("theory versus simulation: tanh output, erf K = M = 2, N = 1000",
          "[theory][joint][slow]") {
    constexpr int seeds = 20;
    constexpr double k = 4.80;
    for (const ActivationKind teacher_h : {ActivationKind::tanh, ActivationKind::linear}) {
        RunParams p = joint_params(2, 2, ActivationKind::tanh, teacher_h);
        p.model.N = 1000;
        p.training.eta = 1.0;
        p.schedule.kind = ScheduleKind::linear;
        p.schedule.alpha_max = 60.0;
        p.schedule.records = 41;
        const auto alphas = record_alphas(p.schedule);
        std::vector<Stat> diff(alphas.size());
        constexpr std::uint64_t init_index = 0;
        const RunResult theory =
            integrate_theory(p, order_parameters_of(make_initial_state(p.model, 2024, init_index)));
        REQUIRE(theory.status == RunStatus::completed);
        std::vector<double> theory_mean(alphas.size()), rule_error(alphas.size());
        for (std::size_t i = 0; i < alphas.size(); ++i) {
            theory_mean[i] = theory.records[i].eg;
            rule_error[i] = theory.records[i].eg_stderr;
        }
        for (int s = 0; s < seeds; ++s) {
            const RunResult sim = simulate(p, 2024, static_cast<std::uint64_t>(s), init_index);
            REQUIRE(sim.status == RunStatus::completed);
            for (std::size_t i = 0; i < alphas.size(); ++i)
                diff[i].add(sim.records[i].eg - theory.records[i].eg);
        }
        const double K_plus_M = 4.0;
        for (std::size_t i = 0; i < alphas.size(); ++i) {
            const double allowance =
                K_plus_M / static_cast<double>(p.model.N) * theory_mean[i] + 3.0 * rule_error[i];
            INFO("h* = " << output_name(teacher_h) << ", alpha = " << alphas[i]
                         << ": mean(sim - theory) = " << diff[i].mean() << ", standard error "
                         << diff[i].standard_error() << ", allowance " << allowance << ", theory "
                         << theory_mean[i] << ", rule error " << rule_error[i]);
            CHECK(std::abs(diff[i].mean()) < k * diff[i].standard_error() + allowance);
        }
    }
}
