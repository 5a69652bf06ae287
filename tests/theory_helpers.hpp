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

} // namespace plateau::test
