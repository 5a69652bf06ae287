// Order parameters and the simulation-versus-theory comparison the theory tests share.
#pragma once

#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/state.hpp"
#include "engine/theory/theory.hpp"

#include "engine/simulation/simulate.hpp"
#include "stat_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace plateau::test {

/// How random_order_parameters draws: each vector's scale (times 1/sqrt(D)) uniform on
/// [scale_low, scale_high); v and v* uniform on the same range, or standard normal (both signs).
struct OrderParameterDraws {
    double scale_low = 0.5;
    double scale_high = 1.5;
    bool normal_v = false;
};

/// Random order parameters from K+M random vectors in dimension D = K+M+3: C = W W^T is
/// positive definite and not close to any symmetric point.
inline OrderParameters random_order_parameters(int K, int M, std::mt19937_64& rng,
                                               const OrderParameterDraws& draws = {}) {
    const int P = K + M, D = P + 3;
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uniform(draws.scale_low, draws.scale_high);
    Eigen::MatrixXd W(P, D);
    for (int a = 0; a < P; ++a) {
        const double scale = uniform(rng) / std::sqrt(static_cast<double>(D));
        for (int i = 0; i < D; ++i)
            W(a, i) = scale * normal(rng);
    }
    const Eigen::MatrixXd C = W * W.transpose();
    OrderParameters op;
    op.Q = C.topLeftCorner(K, K);
    op.R = C.topRightCorner(K, M);
    op.T = C.bottomRightCorner(M, M);
    op.v.resize(K);
    op.v_star.resize(M);
    for (int j = 0; j < K; ++j)
        op.v(j) = draws.normal_v ? normal(rng) : uniform(rng);
    for (int n = 0; n < M; ++n)
        op.v_star(n) = draws.normal_v ? normal(rng) : uniform(rng);
    return op;
}

/// Simulations against the theory at the record times of p.schedule.
struct Comparison {
    std::vector<double> alphas, mean_diff, standard_error, theory_mean;
};

/// S seeds (seed 2024, runs 0..S-1): each run's theory starts from that run's own initial order
/// parameters; the statistic at each record time is the mean over seeds of eps_g(sim) -
/// eps_g(theory) and its standard error (tests/test_theory.cpp, "theory versus simulation: erf
/// K = M = 2, N = 1000", says why); theory_mean is the mean of eps_g(theory) over the seeds.
inline Comparison compare(const RunParams& p, int seeds) {
    const auto alphas = record_alphas(p.schedule);
    std::vector<Stat> diff(alphas.size());
    Comparison out;
    out.alphas = alphas;
    out.theory_mean.assign(alphas.size(), 0.0);
    for (int s = 0; s < seeds; ++s) {
        const auto run = static_cast<std::uint64_t>(s);
        const RunResult sim = simulate(p, 2024, run);
        const RunResult theory =
            integrate_theory(p, order_parameters_of(make_initial_state(p.model, 2024, run)));
        REQUIRE(sim.status == RunStatus::completed);
        REQUIRE(theory.status == RunStatus::completed);
        for (std::size_t i = 0; i < alphas.size(); ++i) {
            diff[i].add(sim.records[i].eg - theory.records[i].eg);
            out.theory_mean[i] += theory.records[i].eg / seeds;
        }
    }
    for (const auto& d : diff) {
        out.mean_diff.push_back(d.mean());
        out.standard_error.push_back(d.standard_error());
    }
    return out;
}

/// Simulation against the ODEs, as in tests/test_theory.cpp ("theory versus simulation"): each
/// seed's theory starts from that run's initial order parameters (either backend:
/// sample_initial_order_parameters); the statistic at each record
/// is the seed mean of d_s = eps_g(sim_s) - eps_g(theory_s), allowed k SE + (K+M)/N eps_g(theory)
/// (the O(1/N) finite-size bias). S = 16 seeds, 20 records per case, 2 cases: 40 comparisons at
/// a family-wise false alarm of 1%, k = t_15(1 - 0.01/80) = 4.77 (Bonferroni). Checks `theory`
/// and returns the largest |mean d| / allowance against `control` (an ODE without the term under
/// test), which must exceed 1: the comparison sees the term.
inline double sim_vs_theory(const RunParams& p, const RunParams& theory, const RunParams& control) {
    constexpr int seeds = 16;
    constexpr double k = 4.77;
    const auto alphas = record_alphas(p.schedule);
    std::array<std::vector<Stat>, 2> diff{std::vector<Stat>(alphas.size()),
                                          std::vector<Stat>(alphas.size())};
    std::array<std::vector<double>, 2> mean{std::vector<double>(alphas.size(), 0.0),
                                            std::vector<double>(alphas.size(), 0.0)};
    for (int s = 0; s < seeds; ++s) {
        const auto run = static_cast<std::uint64_t>(s);
        const RunResult sim = simulate(p, 2025, run);
        REQUIRE(sim.status == RunStatus::completed);
        const OrderParameters init = sample_initial_order_parameters(p, 2025, run);
        for (int c = 0; c < 2; ++c) {
            const RunResult th = integrate_theory(c == 0 ? theory : control, init);
            REQUIRE(th.status == RunStatus::completed);
            for (std::size_t i = 0; i < alphas.size(); ++i) {
                diff[c][i].add(sim.records[i].eg - th.records[i].eg);
                mean[c][i] += th.records[i].eg / seeds;
            }
        }
    }
    double worst_control = 0.0;
    for (std::size_t i = 1; i < alphas.size(); ++i) {
        const auto allowance = [&](int c) {
            return k * diff[c][i].standard_error() +
                   4.0 / static_cast<double>(p.model.N) * mean[c][i];
        };
        INFO("alpha = " << alphas[i] << ": mean(sim - theory) = " << diff[0][i].mean()
                        << ", standard error " << diff[0][i].standard_error() << ", theory "
                        << mean[0][i] << "; control " << diff[1][i].mean());
        CHECK(std::abs(diff[0][i].mean()) < allowance(0));
        worst_control = std::max(worst_control, std::abs(diff[1][i].mean()) / allowance(1));
    }
    return worst_control;
}

} // namespace plateau::test
