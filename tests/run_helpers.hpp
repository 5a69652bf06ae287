// Run parameters and the first step of a run that the engine tests share.
#pragma once

#include "engine/core/random.hpp"
#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"
#include "stat_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <vector>

namespace plateau::test {

/// The default run with input dimension N, K student and M teacher hidden units.
inline RunParams params_of(std::int64_t N, int K, int M) {
    RunParams p;
    p.model.N = N;
    p.model.student.widths = {K};
    p.model.teacher.widths = {M};
    return p;
}

/// A run's first example as the trainer draws it: xi, the first N normals of the run's
/// "examples" stream, and the label noise zeta, sqrt(noise) times the first normal of its "noise"
/// stream (0 without noise).
struct FirstExample {
    Eigen::VectorXd xi;
    double zeta = 0.0;
};

inline FirstExample first_example(const ModelParams& m, std::uint64_t seed, std::uint64_t run) {
    FirstExample e;
    e.xi.resize(m.N);
    NormalStream examples(StreamKey{seed, run, StreamPurpose::examples});
    examples.fill({e.xi.data(), static_cast<std::size_t>(e.xi.size())});
    NormalStream noise(StreamKey{seed, run, StreamPurpose::noise});
    e.zeta = m.noise > 0.0 ? std::sqrt(m.noise) * noise.next() : 0.0;
    return e;
}

/// The Gram chain's step on example e, the chain holding the Gram matrix of the weights A: the
/// fields u = A xi, (G1) z = L^-1 u, (G2) chi^2 = |xi|^2 - |z|^2. Requires that the chain
/// factorizes and steps.
inline void gram_chain_step(GramChain& chain, const RowMatrix& A, const FirstExample& e) {
    REQUIRE(chain.factorize());
    const Eigen::VectorXd u = A * e.xi;
    const Eigen::VectorXd z = chain.factor().triangularView<Eigen::Lower>().solve(u); // (G1)
    const double chi2 = e.xi.squaredNorm() - z.squaredNorm();                         // (G2)
    REQUIRE(chain.step({z.data(), static_cast<std::size_t>(z.size())}, chi2, e.zeta));
}

/// Record values of many runs of one backend (runs 0 .. runs-1 of master seed `seed`): Q_11,
/// R_11, eps_g at chosen record indices, and the escape time (the first record time after
/// alpha = 1 with eps_g below `escape_eg`; alpha_max + 1 if never). For two-sample tests of one
/// backend against another (tests/test_gram.cpp, tests/test_momentum.cpp).
struct Sample {
    std::vector<std::vector<double>> q11, r11, eg; ///< [time][run]
    std::vector<double> escape;
};

inline Sample sample_runs(const RunParams& p, int runs, const std::vector<std::size_t>& at,
                          double escape_eg, std::uint64_t seed = 77) {
    const std::vector<double> alphas = record_alphas(p.schedule);
    Sample s;
    s.q11.resize(at.size());
    s.r11.resize(at.size());
    s.eg.resize(at.size());
    for (int run = 0; run < runs; ++run) {
        const RunResult res = simulate(p, seed, static_cast<std::uint64_t>(run));
        REQUIRE(res.status == RunStatus::completed);
        for (std::size_t i = 0; i < at.size(); ++i) {
            const Observables& o = res.records[at[i]];
            s.q11[i].push_back(o.Q(0, 0));
            s.r11[i].push_back(o.R(0, 0));
            s.eg[i].push_back(o.eg);
        }
        double escape = p.schedule.alpha_max + 1.0;
        for (std::size_t k = 0; k < alphas.size(); ++k)
            if (alphas[k] > 1.0 && res.records[k].eg < escape_eg) {
                escape = alphas[k];
                break;
            }
        s.escape.push_back(escape);
    }
    return s;
}

/// Two-sample KS tests of two Samples of the same records: Q_11, R_11 and eps_g at each record
/// and the escape time, each required to have p > per_test. Returns the smallest p.
inline double check_same_law(const Sample& a, const Sample& b, const std::vector<std::size_t>& at,
                             double per_test) {
    double smallest = 1.0;
    for (std::size_t i = 0; i < at.size(); ++i)
        for (const auto& [what, x, y] :
             {std::tuple{"Q_11", &a.q11[i], &b.q11[i]}, std::tuple{"R_11", &a.r11[i], &b.r11[i]},
              std::tuple{"eps_g", &a.eg[i], &b.eg[i]}}) {
            const double pv = ks_p_value(*x, *y);
            INFO(what << " at record " << at[i] << ": p = " << pv);
            CHECK(pv > per_test);
            smallest = std::min(smallest, pv);
        }
    const double pv = ks_p_value(a.escape, b.escape);
    INFO("escape time: p = " << pv);
    CHECK(pv > per_test);
    return std::min(smallest, pv);
}

} // namespace plateau::test
