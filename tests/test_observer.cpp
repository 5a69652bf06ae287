// Observer: order parameters and eps_g, closed forms against Monte Carlo over real examples.
#include "engine/core/random.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/state.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace plateau;

namespace {

/// <(sigma - tau)^2/2> over `n` fresh examples xi ~ N(0, I_N) with the actual weights: the
/// definition of eps_g, independent of any order-parameter formula.
struct Estimate {
    double mean;
    double se;
};
Estimate microscopic_eg(const ModelParams& m, const RunState& s, int n, std::uint64_t seed) {
    NormalStream rng(StreamKey{seed, 99, StreamPurpose::examples});
    Eigen::VectorXd xi(s.N());
    double sum = 0.0;
    double sum_sq = 0.0;
    for (int i = 0; i < n; ++i) {
        rng.fill({xi.data(), static_cast<std::size_t>(xi.size())});
        const double sigma = network_output(m.student, s.student(), s.v, xi);
        const Eigen::VectorXd y = s.teacher() * xi; // the teacher's fields (Eq. (13.1))
        const double tau =
            m.target.is_committee()
                ? network_output(m.teacher, s.teacher(), s.v_star, xi)
                : m.target.polynomial->value({y.data(), static_cast<std::size_t>(y.size())});
        const double e = 0.5 * (sigma - tau) * (sigma - tau);
        sum += e;
        sum_sq += e * e;
    }
    const double mean = sum / n;
    return {mean, std::sqrt((sum_sq / n - mean * mean) / (n - 1))};
}

/// A state with generic overlaps: student partly aligned with the teacher.
RunState generic_state(const ModelParams& m, std::uint64_t seed) {
    RunState s = make_initial_state(m, seed, 0);
    const int shared = std::min(s.K, s.M);
    s.weights.topRows(shared) += 0.6 * s.weights.bottomRows(s.M).topRows(shared);
    s.v = Eigen::VectorXd::LinSpaced(s.K, 0.7, 1.3);
    return s;
}

/// A two-layer model with K = 3, M = 2, N = 60 and q0 = 0.8 (the generic state below).
ModelParams small_model(ActivationKind g, ActivationKind g_star) {
    ModelParams m;
    m.N = 60;
    m.student.widths = {3};
    m.teacher.widths = {2};
    m.student.g.kind = g;
    m.teacher.g.kind = g_star;
    m.q0 = 0.8;
    return m;
}

/// The observer's exact eps_g at a generic state of m, beside the average cost over 200000 fresh
/// examples of that state.
struct ExactAndFresh {
    RunState state;
    Eigen::MatrixXd Q, R, T;
    EgEstimate exact;
    Estimate fresh;
};
ExactAndFresh exact_and_fresh(const ModelParams& m) {
    REQUIRE(eg_method(m) == EgMethod::closed_form);
    ExactAndFresh out{generic_state(m, 11), {}, {}, {}, {}, {}};
    const RunState& s = out.state;
    out.Q = s.student() * s.student().transpose();
    out.R = s.student() * s.teacher().transpose();
    out.T = s.teacher() * s.teacher().transpose();
    NormalStream unused(StreamKey{1, 1, StreamPurpose::observer});
    out.exact = generalization_error(m, out.Q, out.R, out.T, s.v, s.v_star, 100, unused);
    out.fresh = microscopic_eg(m, s, 200000, 3);
    return out;
}

} // namespace

TEST_CASE("order parameters are the overlaps of the weight vectors", "[observer]") {
    RunParams p;
    p.model.N = 40;
    p.model.student.widths = {3};
    p.model.teacher.widths = {2};
    const RunState s = generic_state(p.model, 5);
    Observer obs(p, 5, 0);
    const Observables o = obs.observe(s);
    REQUIRE(o.Q.rows() == 3);
    REQUIRE(o.R.cols() == 2);
    CHECK(o.Q(0, 2) == Approx(s.weights.row(0).dot(s.weights.row(2))));
    CHECK(o.R(1, 1) == Approx(s.weights.row(1).dot(s.weights.row(4))));
    // orthonormal teacher: T = identity
    CHECK((o.T - Eigen::MatrixXd::Identity(2, 2)).cwiseAbs().maxCoeff() < 1e-12);
    CHECK(o.eg_stderr == 0.0); // erf with identity output: closed form
}

// [heavy]: about 3 s of CPU under ASan (0.5 s in the ci build).
TEST_CASE("closed-form eps_g equals the average cost over fresh examples",
          "[observer][mc][heavy]") {
    for (const auto g : {ActivationKind::erf, ActivationKind::relu, ActivationKind::linear}) {
        const ModelParams m = small_model(g, g);
        const ExactAndFresh e = exact_and_fresh(m);
        const double exact = e.exact.eg;
        const Estimate& mc = e.fresh;
        INFO("g = " << name(g) << ": closed form " << exact << ", MC " << mc.mean << " +- "
                    << mc.se);
        CHECK(std::abs(exact - mc.mean) < 5 * mc.se);

        // The observer's generic field-space Monte Carlo agrees too.
        NormalStream rng(StreamKey{4, 0, StreamPurpose::observer});
        const EgEstimate fmc = monte_carlo_generalization_error(m, e.Q, e.R, e.T, e.state.v,
                                                                e.state.v_star, 200000, rng);
        CHECK(std::abs(exact - fmc.eg) < 5 * fmc.standard_error);
    }
}

// Polynomial g with a polynomial g* (g = g* and g != g*), with inverse-k readouts and with a
// polynomial target: exact by Isserlis' theorem (docs/theory.md Eq. (13.4)).
TEST_CASE("exact polynomial eps_g equals the average cost over fresh examples",
          "[observer][mc][heavy]") {
    struct Case {
        ActivationKind g, gs;
        ReadoutScale readout;
        const char* target;
    };
    for (const Case c :
         {Case{ActivationKind::square, ActivationKind::square, ReadoutScale::one, nullptr},
          Case{ActivationKind::he3, ActivationKind::he2, ReadoutScale::inverse_k, nullptr},
          Case{ActivationKind::square, ActivationKind::erf, ReadoutScale::one, "y1^2 + y1*y2"}}) {
        ModelParams m = small_model(c.g, c.gs);
        m.student.readout = m.teacher.readout = c.readout;
        if (c.target)
            m.target.polynomial = PolynomialTarget::parse(c.target);
        const ExactAndFresh e = exact_and_fresh(m);
        CHECK(e.exact.standard_error == 0.0);
        INFO(name(c.g) << " / " << name(c.gs) << (c.target ? c.target : "") << ": exact "
                       << e.exact.eg << ", MC " << e.fresh.mean << " +- " << e.fresh.se);
        CHECK(std::abs(e.exact.eg - e.fresh.mean) < 5 * e.fresh.se);
    }
}

TEST_CASE("Monte-Carlo eps_g without a closed form agrees with fresh examples", "[observer][mc]") {
    ModelParams m;
    m.N = 50;
    m.student.g = Activation{ActivationKind::tanh, 1.5};
    m.student.h = Activation{ActivationKind::tanh, 0.8};
    m.teacher.g = Activation{ActivationKind::sigmoid};
    m.teacher.h = Activation{ActivationKind::tanh, 0.8};
    REQUIRE(eg_method(m) == EgMethod::monte_carlo);
    const RunState s = generic_state(m, 21);
    RunParams p;
    p.model = m;
    p.observer.eg_samples = 100000;
    Observer obs(p, 21, 0);
    const Observables o = obs.observe(s);
    CHECK(o.eg_stderr > 0.0);
    const Estimate mc = microscopic_eg(m, s, 100000, 8);
    const double se = std::hypot(o.eg_stderr, mc.se);
    INFO("field MC " << o.eg << " +- " << o.eg_stderr << ", example MC " << mc.mean << " +- "
                     << mc.se);
    CHECK(std::abs(o.eg - mc.mean) < 5 * se);
}
