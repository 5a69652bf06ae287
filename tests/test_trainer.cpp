// The trainer (engine/simulation/trainer.hpp) against a plain reference loop: the fused, chunked,
// software-pipelined step of OnlineSgd must do what Eqs. (1)-(5) of docs/theory.md say, step by
// step, for every activation g, both output functions h, learned and fixed v, label noise, small
// and large K, M, and N below, at and above the kernel's chunk size. And where the examples come
// from: engine/simulation/example_source.hpp, engine/simulation/training_set.hpp.
#include "engine/core/random.hpp"
#include "engine/simulation/example_source.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"
#include "engine/simulation/training_set.hpp"
#include "models/network.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

using namespace plateau;

namespace {

/// The reference: one step is Eqs. (1)-(5) written out with the model's plain per-example
/// gradient, drawing the example and the noise from the same streams as the trainer.
///   tau = h*(sum_n v*_n g*(B_n.xi)) + zeta,  zeta ~ N(0, s^2)       Eq. (1) + label noise
///   W <- W - (eta/N) grad_W e,  v <- v - (eta_v/N) grad_v e       Eqs. (3)-(5)
struct ReferenceRun {
    RowMatrix W;
    RowMatrix B;
    Eigen::VectorXd v;
    Eigen::VectorXd v_star;

    explicit ReferenceRun(const RunState& s)
        : W(s.student()), B(s.teacher()), v(s.v), v_star(s.v_star) {}

    void step(const RunParams& p, NormalStream& examples, NormalStream& noise) {
        const auto N = static_cast<Eigen::Index>(p.model.N);
        Eigen::VectorXd xi(N);
        examples.fill({xi.data(), static_cast<std::size_t>(N)});
        const Eigen::VectorXd y = B * xi;
        double tau = forward(p.model.teacher, {y.data(), static_cast<std::size_t>(y.size())},
                             {v_star.data(), static_cast<std::size_t>(v_star.size())})
                         .output;
        if (p.model.noise > 0.0)
            tau += std::sqrt(p.model.noise) * noise.next();
        const PerExampleGradient grad = per_example_gradient(p.model.student, W, v, xi, tau);
        const double n = static_cast<double>(p.model.N);
        W -= (p.training.eta / n) * grad.dW;
        if (p.model.learn_v)
            v -= (p.training.eta_v / n) * grad.dv;
    }
};

/// The largest |a - b| over all entries.
double max_diff(const Eigen::Ref<const RowMatrix>& a, const Eigen::Ref<const RowMatrix>& b) {
    return (a - b).cwiseAbs().maxCoeff();
}

} // namespace

// Tolerance from rounding. The trainer and the reference do the same arithmetic except the order
// of the N-term sums of the fields x = W xi (chunked partial sums vs Eigen's GEMV), the order of
// the products in the update (c_m xi_i vs (eta/N)(dE/dx_m xi_i)) and where FMA contraction
// happens, so after S steps they differ by rounding only. A field's error is at most the bound of
// a length-N dot product, N u sum_i |w_i xi_i| (u = 2^-53), and sum_i |w_i xi_i| ~ N max|w|
// E|xi| / 4 for Gaussian weights (max|w| ~ 3.3 sqrt(q/N), E|w| ~ 0.8 sqrt(q/N)). It changes the
// row coefficient (eta/N) dE/dx by (eta/N) L times it (L: the Lipschitz constant of dE/dx in x,
// O(1) here), so a weight by (eta/N) L |xi_i| times it: about eta L |xi_i| u N max|w| / 4 per
// step, plus ~u |w| from the update's own rounding. Over S steps the weights agree to within
// c u N S max|W| (and v, whose update has the same structure, to within c u N S max|v|), with
// c = 8 covering eta L |xi_i| / 4 for |xi_i| up to ~4 (observed: at most 0.12 of the tolerance).
// A wrong step (a sign, a missed chunk, a stale example) differs by O(eta/N |xi|) ~ 1e-4 max|W|,
// orders of magnitude above it.
TEST_CASE("trainer: the fused step equals the plain per-example gradient loop", "[trainer]") {
    constexpr std::uint64_t seed = 77;
    constexpr std::array<std::int64_t, 3> batches{1, 2, 3}; // uneven advance() calls: 6 steps
    constexpr std::int64_t steps = 6;
    constexpr std::array<std::int64_t, 4> dims{7, 64, 513, 1100}; // chunk = 512
    static_assert(dims[2] > static_cast<std::int64_t>(step_kernels::chunk));
    constexpr std::array<ActivationKind, 2> outputs{ActivationKind::linear, ActivationKind::tanh};
    constexpr double u = std::numeric_limits<double>::epsilon() / 2;
    constexpr double c = 8.0;

    std::uint64_t combination = 0;
    double worst = 0.0; // largest observed error / tolerance
    for (const std::int64_t N : dims)
        for (std::size_t gi = 0; gi < all_activation_kinds.size(); ++gi)
            for (const ActivationKind h : outputs)
                for (int K = 1; K <= 6; ++K)
                    for (int M = 1; M <= 6; ++M) {
                        ++combination;
                        RunParams p;
                        p.model.N = N;
                        p.model.student.widths = {K};
                        p.model.teacher.widths = {M};
                        // Every g for the student; the teacher's g is the next kind, so that
                        // both sides see every activation.
                        p.model.student.g = typical_activation(all_activation_kinds[gi], 1.3);
                        p.model.teacher.g = typical_activation(
                            all_activation_kinds[(gi + 1) % all_activation_kinds.size()], 1.3);
                        p.model.student.h.kind = h;
                        p.model.teacher.h.kind = (K + M) % 2 == 0 ? h : ActivationKind::linear;
                        // Learned and fixed v, with and without label noise, alternating over
                        // (K, M): every (N, g, h) sees all four.
                        p.model.learn_v = combination % 2 == 0;
                        p.model.noise = combination % 4 < 2 ? 0.1 : 0.0;
                        p.model.v0 = 0.8;
                        p.model.v_star = 1.1;
                        // A polynomial g or g* of degree >= 2 (square, he2..he4, poly) may diverge
                        // within these few steps at eta = 0.9: a smaller rate keeps it finite.
                        const auto degree = [](const Activation& g) {
                            return as_polynomial(g).value_or(Polynomial{}).degree();
                        };
                        const bool steep =
                            std::max(degree(p.model.student.g), degree(p.model.teacher.g)) >= 2;
                        p.training.eta = steep ? 0.2 : 0.9;
                        p.training.eta_v = 0.4;
                        const std::uint64_t run = combination;

                        RunState state = make_initial_state(p.model, seed, run);
                        const double start = state.student().cwiseAbs().maxCoeff();
                        ReferenceRun ref(state);
                        OnlineSgd trainer(p, seed, run);
                        for (const std::int64_t b : batches)
                            REQUIRE(trainer.advance(state, b) == StepOutcome::ok);
                        NormalStream examples(StreamKey{seed, run, StreamPurpose::examples});
                        NormalStream noise(StreamKey{seed, run, StreamPurpose::noise});
                        for (std::int64_t t = 0; t < steps; ++t)
                            ref.step(p, examples, noise);

                        INFO("N " << N << " K " << K << " M " << M << " g "
                                  << name(p.model.student.g.kind) << " g* "
                                  << name(p.model.teacher.g.kind) << " h " << name(h) << " learn_v "
                                  << p.model.learn_v << " noise " << p.model.noise);
                        REQUIRE(state.step == steps);
                        // Rounding amplified by the steps' Jacobian when the weights grow (a
                        // square teacher, unbounded: up to ~1.2x here); 1 for bounded g, g*.
                        const double growth =
                            std::max(1.0, ref.W.cwiseAbs().maxCoeff() / std::max(start, 1e-300));
                        const double scale = static_cast<double>(N * steps) * u * c * growth;
                        const double tol_w = scale * ref.W.cwiseAbs().maxCoeff();
                        const double tol_v = scale * ref.v.cwiseAbs().maxCoeff();
                        const double dw = max_diff(state.student(), ref.W);
                        const double dv = (state.v - ref.v).cwiseAbs().maxCoeff();
                        CHECK(dw <= tol_w);
                        CHECK(dv <= tol_v);
                        // The teacher and v* never change.
                        CHECK(state.teacher() == ref.B);
                        CHECK(state.v_star == ref.v_star);
                        worst = std::max({worst, dw / tol_w, dv / tol_v});
                    }
    INFO("largest error / tolerance: " << worst);
    CHECK(worst < 1.0);
}

TEST_CASE("example sources: fresh examples read the examples stream", "[trainer]") {
    FreshExamples source(3, 4);
    NormalStream stream(StreamKey{3, 4, StreamPurpose::examples});
    std::vector<double> a(50), b(50);
    for (int k = 0; k < 3; ++k) {
        source.next().fill(a);
        stream.fill(b);
        CHECK(a == b);
    }
}

TEST_CASE("example sources: example mu of a finite set is the same whenever asked", "[trainer]") {
    constexpr std::size_t N = 700;
    const FiniteTrainingSet set(20, 11, 2);
    const auto example = [&](const FiniteTrainingSet& s, std::uint64_t mu) {
        std::vector<double> x(N);
        s.example(mu, x);
        return x;
    };
    // In increasing order, then in another order: the same vectors.
    std::vector<std::vector<double>> first;
    for (std::uint64_t mu = 0; mu < set.size(); ++mu)
        first.push_back(example(set, mu));
    for (const std::uint64_t mu : {7u, 0u, 19u, 7u, 3u})
        CHECK(example(set, mu) == first[mu]);
    // Another object with the same key (a resumed run) has the same set.
    const FiniteTrainingSet resumed(20, 11, 2);
    CHECK(example(resumed, 13) == first[13]);
    // Different mu differ (in every component: independent normals).
    for (std::uint64_t mu = 1; mu < set.size(); ++mu)
        for (std::size_t i = 0; i < N; ++i)
            REQUIRE(first[mu][i] != first[mu - 1][i]);
    // Another run or seed has another set, and neither coincides with the fresh examples.
    CHECK(example(FiniteTrainingSet(20, 11, 3), 0) != first[0]);
    CHECK(example(FiniteTrainingSet(20, 12, 2), 0) != first[0]);
    std::vector<double> fresh(N);
    FreshExamples(11, 2).next().fill(fresh);
    CHECK(fresh != first[0]);
    // The examples are standard normals: mean ~ 0, variance ~ 1 over 20 x 700 values.
    double sum = 0.0, sum_sq = 0.0;
    for (const auto& x : first)
        for (const double xi : x) {
            sum += xi;
            sum_sq += xi * xi;
        }
    const double n = static_cast<double>(N * set.size());
    CHECK(std::abs(sum / n) < 5.0 / std::sqrt(n));
    CHECK(std::abs(sum_sq / n - 1.0) < 5.0 * std::sqrt(2.0 / n));

    // matrix(), the set MiniBatchSgd holds: row mu is example mu, and extra(mu) (its label
    // noise) the next normal of example mu's stream.
    Eigen::VectorXd extra;
    const RowMatrix X = set.matrix(static_cast<std::int64_t>(N), extra);
    REQUIRE(X.rows() == 20);
    REQUIRE(X.cols() == static_cast<Eigen::Index>(N));
    REQUIRE(extra.size() == 20);
    for (std::uint64_t mu = 0; mu < set.size(); ++mu) {
        const auto row = static_cast<Eigen::Index>(mu);
        CHECK(std::vector<double>(X.row(row).begin(), X.row(row).end()) == first[mu]);
        NormalStream stream = set.stream_of(mu);
        std::vector<double> skip(N);
        stream.fill(skip);
        CHECK(extra(row) == stream.next());
    }
    CHECK_THROWS_AS(FiniteTrainingSet(0, 1, 1), std::invalid_argument);
}
