// Run parameters and the first step of a run that the engine tests share.
#pragma once

#include "engine/core/random.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/state.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <cstdint>

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

} // namespace plateau::test
