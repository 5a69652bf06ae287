// Fixed points of the ODEs (symmetric, trajectory-guided), eta_max of the specialized point, and
// the escape time from the plateau predicted by the ODEs against the exact finite-N dynamics of
// the Gram chain (docs/theory.md §11).
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/theory/escape.hpp"
#include "engine/theory/fixed_point.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/theory.hpp"
#include "stat_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

using namespace plateau;

namespace {

RunParams erf_params(int K, int M, double eta) {
    RunParams p;
    p.model.student.widths = {K};
    p.model.teacher.widths = {M};
    p.training.eta = eta;
    return p;
}

/// Mean and standard error of the escape times of `seeds` gram runs at N (runs 0 .. seeds-1 of
/// master seed `seed`), by the rule of escape.hpp (eps_g sampled every 0.25 in alpha).
struct EscapeSample {
    double mean = 0.0;
    double se = 0.0;
    int escaped = 0;
    std::vector<double> times; ///< the escape times of the runs that escaped
    double sd = 0.0;           ///< their standard deviation (ddof = 1)
    double sd_se = 0.0;        ///< its standard error, sqrt((m4 - s^4)/n) / (2 s)
};
EscapeSample simulated_escape(RunParams p, std::int64_t N, int seeds, std::uint64_t seed,
                              double threshold, double alpha_limit) {
    p.model.N = N;
    p.dynamics = DynamicsKind::gram;
    const FlowSettings settings = flow_settings(p);
    std::vector<double> times;
    for (int r = 0; r < seeds; ++r) {
        const auto run = static_cast<std::uint64_t>(r);
        GramDynamics dynamics(p, seed, run, run);
        double a_prev = 0.0;
        const auto eg_now = [&] {
            const OrderParameters op = dynamics.chain().order_parameters();
            return flow_generalization_error(settings, op.Q, op.R, op.T, op.v, op.v_star);
        };
        double e_prev = eg_now();
        double t = std::numeric_limits<double>::quiet_NaN();
        for (double a = 0.25; a <= alpha_limit; a += 0.25) {
            REQUIRE(dynamics.advance_to(a));
            const double e = eg_now();
            if (e <= threshold) {
                const std::array<double, 2> as{a_prev, a}, es{e_prev, e};
                t = first_crossing(as, es, threshold);
                break;
            }
            a_prev = a;
            e_prev = e;
        }
        if (std::isfinite(t))
            times.push_back(t);
    }
    EscapeSample s;
    s.escaped = static_cast<int>(times.size());
    const auto n = static_cast<double>(times.size());
    for (const double t : times)
        s.mean += t / n;
    double var = 0.0;
    for (const double t : times)
        var += (t - s.mean) * (t - s.mean) / (n - 1.0);
    s.se = std::sqrt(var / n);
    s.sd = std::sqrt(var);
    double m4 = 0.0;
    for (const double t : times)
        m4 += std::pow(t - s.mean, 4) / n;
    s.sd_se = std::sqrt((m4 - var * var) / n) / (2.0 * s.sd);
    s.times = std::move(times);
    return s;
}

/// The predicted law (docs/theory.md §11.2b) against a sample: the standard deviation within 3
/// of its standard errors, and a two-sample KS test against ~20 000 points of the law
/// (predicted_escape_points: the law itself to ~1/40000) with p > p_min. Returns the KS p-value.
double check_escape_law(const EscapePrediction& e, double N, const EscapeSample& s, double p_min) {
    const double sd = predicted_escape_sd(e, N);
    const std::vector<double> law =
        predicted_escape_points(e, N, std::max(1, 20000 / std::max(1, e.directions)));
    const double pv = test::ks_p_value(s.times, law);
    std::printf("  N = %g: standard deviation predicted %.2f, simulated %.2f +- %.2f; quantiles "
                "10/50/90 %% predicted %.1f %.1f %.1f; KS p = %.3g\n",
                N, sd, s.sd, s.sd_se, predicted_escape_quantile(e, N, 0.1),
                predicted_escape_quantile(e, N, 0.5), predicted_escape_quantile(e, N, 0.9), pv);
    CHECK(std::abs(sd - s.sd) <= 3.0 * s.sd_se);
    CHECK(pv > p_min);
    return pv;
}

/// Whether the ODE learns from the specialized point of K = M perturbed (R = 0.999 T + 1e-4
/// sin(1 + j M + n), Q = T): eps_g at alpha_end below 1e-3 of its start.
bool learns_near_specialized(const RunParams& p, double alpha_end) {
    OrderParameters op = symmetric_initial_conditions(p.model, 1.0, 0.0, 0.0);
    const auto M = op.R.cols();
    for (Eigen::Index j = 0; j < op.R.rows(); ++j)
        for (Eigen::Index n = 0; n < M; ++n)
            op.R(j, n) =
                (j == n ? 0.999 : 0.0) + 1e-4 * std::sin(1.0 + static_cast<double>(j * M + n));
    TheoryDynamics dynamics(p, op);
    const double eg0 = dynamics.observe().eg;
    if (!dynamics.advance_to(alpha_end))
        return false;
    return dynamics.observe().eg < 1e-3 * eg0;
}

} // namespace

// The law of the escape time from a prediction whose ODE is its asymptote (r = 0): alpha_esc =
// A - ln(sigma chi_d)/lambda, so its quantiles are those of chi_d mapped, and its standard
// deviation sqrt(Var ln chi_d)/lambda: Var ln|Z| = pi^2/8 (d = 1), psi'(2)/4 = (pi^2/6 - 1)/4
// (d = 4). Quantiles of chi_1: Phi^-1((1 + p)/2); the median of chi^2_4 solves
// 1 - e^(-x/2) (1 + x/2) = 1/2. Checked against breaks: the quantile at q instead of 1 - q, or
// sigma without the 1/N, fail here.
TEST_CASE("escape prediction: the law's quantiles and spread in closed form", "[fixed_point]") {
    EscapePrediction e;
    e.valid = true;
    e.rate = 0.05;
    e.A = 100.0;
    e.sigma_initial = 0.6;
    e.sigma_noise = 0.8; // sigma^2 = 1/N
    for (const double eps : {1e-9, 1e-6, 1e-3}) {
        e.eps.push_back(eps);
        e.alpha_esc.push_back(e.A - std::log(eps) / e.rate);
    }
    const double N = 400.0;
    const double sigma = 1.0 / std::sqrt(N);
    const auto at = [&](double chi) {
        return e.A - std::log(sigma * chi) / e.rate;
    };
    e.dimension = 1;
    CHECK(predicted_escape_quantile(e, N, 0.5) == Approx(at(0.6744897501960817)).epsilon(1e-12));
    CHECK(predicted_escape_quantile(e, N, 0.1) == Approx(at(1.6448536269514722)).epsilon(1e-12));
    CHECK(predicted_escape_quantile(e, N, 0.9) == Approx(at(0.12566134685507402)).epsilon(1e-11));
    CHECK(predicted_escape_sd(e, N) ==
          Approx(std::numbers::pi / std::sqrt(8.0) / e.rate).epsilon(1e-6));
    CHECK(predicted_mean_escape(e, N) == Approx(at(std::exp(mean_ln_chi(1)))).epsilon(1e-12));
    CHECK(std::isnan(predicted_escape_quantile(e, N, 1.0)));
    e.dimension = 4;
    CHECK(predicted_escape_quantile(e, N, 0.5) ==
          Approx(at(std::sqrt(3.356693980033322))).epsilon(1e-10));
    CHECK(predicted_escape_sd(e, N) ==
          Approx(std::sqrt((std::numbers::pi * std::numbers::pi / 6.0 - 1.0) / 4.0) / e.rate)
              .epsilon(1e-6));
}

TEST_CASE("fixed points: the trajectory passes the plateau and ends at the specialized point",
          "[fixed_point]") {
    for (const auto& [K, M] : {std::pair{2, 2}, std::pair{3, 3}, std::pair{3, 2}}) {
        CAPTURE(K, M);
        const RunParams p = erf_params(K, M, 0.5);
        const FixedPoint sym = symmetric_fixed_point(p);
        REQUIRE(sym.converged);
        CHECK(sym.kind == FixedPointKind::unspecialized);
        const auto found = trajectory_fixed_points(p, generic_start(p.model, 1e-6), 4000.0);
        REQUIRE(found.size() >= 2);
        // First the plateau: the symmetric fixed point of the reduced search, unstable.
        const FixedPoint& first = found.front();
        CHECK(first.kind == FixedPointKind::unspecialized);
        CHECK((first.op.Q - sym.op.Q).cwiseAbs().maxCoeff() < 1e-8);
        CHECK((first.op.R - sym.op.R).cwiseAbs().maxCoeff() < 1e-8);
        CHECK(first.escape_rate == Approx(sym.escape_rate).epsilon(1e-5));
        CHECK(first.escape_rate > 0.0);
        // Last the specialized point: eps_g = 0 (no noise), stable at eta = 0.5.
        const FixedPoint& last = found.back();
        CHECK(last.kind == FixedPointKind::specialized);
        CHECK(last.eg < 1e-12);
        CHECK(last.escape_rate < 0.0);
        CHECK(last.residual < 1e-12);
        if (K == M) {
            // Q = R = T up to a permutation of the student units.
            CHECK((last.op.Q - Eigen::MatrixXd::Identity(K, K)).cwiseAbs().maxCoeff() < 1e-8);
            CHECK((last.op.R.cwiseAbs().colwise().sum().array() - 1.0).abs().maxCoeff() < 1e-8);
        }
    }
}

TEST_CASE("fixed points: Newton on the full flow finds the specialized point and reports failure",
          "[fixed_point]") {
    RunParams p = erf_params(2, 2, 0.5);
    OrderParameters guess = symmetric_initial_conditions(p.model, 1.0, 0.0, 0.0);
    guess.R = 0.9 * guess.T;
    guess.Q = 0.95 * guess.T;
    const FixedPoint fp = polish_fixed_point(p, guess);
    REQUIRE(fp.converged);
    CHECK(fp.kind == FixedPointKind::specialized);
    CHECK((fp.op.R - guess.T).cwiseAbs().maxCoeff() < 1e-9);
    // No fixed point near a start the flow leaves: eta = 50 (erf), where the symmetric flow
    // grows the weights without bound.
    p.training.eta = 50.0;
    const FixedPoint none = symmetric_fixed_point(p);
    CHECK_FALSE(none.converged);
}

// [heavy]: about 13 s of CPU under ASan (1.2 s in the ci build).
TEST_CASE("eta_max: the specialized point's stability edge agrees with a direct ODE sweep",
          "[fixed_point][heavy]") {
    // eta_max from the eigenvalues (bisection) for erf K = M = 2 and 3, then the ODE from a small
    // perturbation of the specialized point on a grid of eta (step 0.05): it learns at every grid
    // eta below eta_max and not at any above, and right next to eta_max (+-2 %) as well.
    for (const int K : {2, 3}) {
        CAPTURE(K);
        const RunParams p = erf_params(K, K, 0.5);
        const EtaMax em = specialized_eta_max(p);
        REQUIRE(em.found);
        CHECK(em.upper - em.lower <= 1e-7 * em.eta_max);
        double learned_max = 0.0, failed_min = 1e9;
        for (double eta = 0.05 * std::floor(em.eta_max / 0.05 - 3.0); eta <= em.eta_max + 0.16;
             eta += 0.05) {
            RunParams q = p;
            q.training.eta = eta;
            if (learns_near_specialized(q, 4000.0))
                learned_max = std::max(learned_max, eta);
            else
                failed_min = std::min(failed_min, eta);
        }
        std::printf("eta_max K = %d: %.7g; ODE sweep: learned up to %.3g, not from %.3g\n", K,
                    em.eta_max, learned_max, failed_min);
        CHECK(learned_max < em.eta_max);
        CHECK(failed_min > em.eta_max);
        CHECK(failed_min - learned_max == Approx(0.05).epsilon(1e-6)); // one bracket, no gaps
        RunParams below = p, above = p;
        below.training.eta = 0.98 * em.eta_max;
        above.training.eta = 1.02 * em.eta_max;
        CHECK(learns_near_specialized(below, 20000.0));
        CHECK_FALSE(learns_near_specialized(above, 20000.0));
    }
}

// [heavy]: about 20 s of CPU under ASan (1.2 s in the ci build).
TEST_CASE("escape prediction: the ODE's escape against the asymmetry (K = M = 2, erf)",
          "[fixed_point][heavy]") {
    const RunParams p = erf_params(2, 2, 0.5);
    const FixedPoint fp = symmetric_fixed_point(p);
    const EscapePrediction e = predict_escape(p, fp);
    REQUIRE(e.valid);
    CHECK(e.rate == Approx(0.0316182).epsilon(1e-5));
    // The escape time of the ODE grows by 1/lambda per unit of -ln eps: the free fit over
    // eps <= 1e-4 within 2 % (the approach to the plateau is slow, so the asymptote is reached
    // only for eps far smaller), and the last tabulated decades within 1 %.
    CHECK(e.fit_slope == Approx(1.0 / e.rate).epsilon(0.02));
    const double tail = (e.alpha_esc[0] - e.alpha_esc[4]) / std::log(e.eps[4] / e.eps[0]);
    CHECK(tail == Approx(1.0 / e.rate).epsilon(0.01));
    // The initial asymmetry's projection: (R_00 + R_11 - R_01 - R_10)/2, so sigma_initial =
    // sqrt(q0); the Q entries do not reach the unstable mode (another symmetry class).
    CHECK(e.sigma_initial == Approx(std::sqrt(p.model.q0)).epsilon(1e-4));
    CHECK(e.dimension == 1);
    CHECK(std::abs(e.sensitivity(0, 0)) < 1e-8);
    CHECK(std::abs(e.sensitivity(3, 0)) == Approx(0.5).epsilon(1e-4));
    CHECK(e.sigma_noise > 0.0);
    // alpha_esc = alpha_plateau + ln(c/eps)/lambda: A = alpha_plateau + ln(c)/lambda.
    CHECK(e.A == Approx(e.alpha_plateau + std::log(e.c) / e.rate).epsilon(1e-12));
}

TEST_CASE("escape prediction: the fast path against the whole computation (K = M = 2, erf)",
          "[fixed_point][heavy]") {
    // The fast path (docs/theory.md §11.2, "Cost"): the adjoint in one number (checked against
    // the Jacobian at every grid point), escapes from eps <= 1e-6 continued from the symmetric
    // path once the linearized asymmetry reaches 1e-5 (offset measured at eps = 1e-6), escape
    // integrations at rtol 1e-8 with the crossing found by bisection. The reference: the whole
    // Jacobian at every grid point and every escape integrated from its start at rtol 1e-12.
    const RunParams p = erf_params(2, 2, 0.5);
    const FixedPoint fp = symmetric_fixed_point(p);
    const EscapePrediction fast = predict_escape(p, fp);
    const EscapePrediction whole = predict_escape(
        p, fp,
        EscapeSettings{.scalar_adjoint = false, .linear_phase = false, .escape_rtol = 1e-12});
    REQUIRE(fast.valid);
    REQUIRE(whole.valid);
    // The same Monte-Carlo draws and the same adjoint up to the Jacobian's rounding.
    CHECK(fast.sigma_noise == Approx(whole.sigma_noise).epsilon(1e-8));
    CHECK(fast.sigma_initial == Approx(whole.sigma_initial).epsilon(1e-10));
    CHECK((fast.sensitivity - whole.sensitivity).lpNorm<Eigen::Infinity>() < 1e-9);
    // Escape times: measured within 2.4e-5 in alpha (the tolerance's share) at every eps.
    REQUIRE(fast.eps.size() == whole.eps.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < fast.eps.size(); ++i)
        worst = std::max(worst, std::abs(fast.alpha_esc[i] - whole.alpha_esc[i]));
    std::printf("fast path against the whole computation: largest |alpha_esc difference| %.3g, "
                "A %.10g vs %.10g\n",
                worst, fast.A, whole.A);
    CHECK(worst < 1e-4);
    CHECK(std::abs(fast.A - whole.A) < 1e-4);
    CHECK(fast.fit_slope == Approx(whole.fit_slope).epsilon(1e-6));
    for (const double N : {300.0, 10000.0})
        CHECK(std::abs(predicted_mean_escape(fast, N) - predicted_mean_escape(whole, N)) < 1e-4);
}

TEST_CASE("escape prediction: the adaptive path grid against the uniform one (K = M = 2, erf)",
          "[fixed_point][heavy]") {
    // The symmetric path's grid grows from 0.25/eta to 0.25/lambda where the path is slow, and is
    // integrated at rtol 1e-10 (docs/theory.md §11.2, "Cost"); the reference keeps 0.25/eta
    // throughout at rtol 1e-12. The growth integral is exact for cubics on any spacing, so the
    // escape times may move only by the integrations' tolerance (measured 1e-5 in alpha; bound
    // 1e-4, as the fast path's); sigma_noise is a Monte-Carlo quadrature on each grid (every 20th
    // point, the same draws): the grids differ, so it moves by its own quadrature error
    // (measured 2.7e-4 relative; bound 1e-3).
    const RunParams p = erf_params(2, 2, 0.5);
    const FixedPoint fp = symmetric_fixed_point(p);
    const EscapePrediction adaptive = predict_escape(p, fp);
    const EscapePrediction uniform = predict_escape(p, fp, EscapeSettings{.adaptive_path = false});
    REQUIRE(adaptive.valid);
    REQUIRE(uniform.valid);
    REQUIRE(adaptive.eps.size() == uniform.eps.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < adaptive.eps.size(); ++i)
        worst = std::max(worst, std::abs(adaptive.alpha_esc[i] - uniform.alpha_esc[i]));
    std::printf("adaptive against uniform path grid: largest |alpha_esc difference| %.3g, A %.10g "
                "vs %.10g, sigma_noise %.8g vs %.8g\n",
                worst, adaptive.A, uniform.A, adaptive.sigma_noise, uniform.sigma_noise);
    CHECK(worst < 1e-4);
    CHECK(std::abs(adaptive.A - uniform.A) < 1e-4);
    CHECK(adaptive.sigma_initial == Approx(uniform.sigma_initial).epsilon(1e-6));
    CHECK(adaptive.sigma_noise == Approx(uniform.sigma_noise).epsilon(1e-3));
    for (const double N : {300.0, 10000.0})
        CHECK(predicted_mean_escape(adaptive, N) ==
              Approx(predicted_mean_escape(uniform, N)).epsilon(1e-4));
}

TEST_CASE("escape prediction: predicted against simulated escape time at N = 300, 1000, 3000",
          "[fixed_point][slow]") {
    // K = M = 2, erf, eta = 0.5 (docs/PERFORMANCE.md §11), dynamics = gram: 300 runs per N,
    // escape = eps_g down to half the plateau's, sampled every 0.25 in alpha. The mean escape
    // time must lie within two standard errors of predicted_mean_escape at each N.
    const RunParams p = erf_params(2, 2, 0.5);
    const FixedPoint fp = symmetric_fixed_point(p);
    const EscapePrediction e = predict_escape(p, fp);
    REQUIRE(e.valid);
    for (const std::int64_t N : {300, 1000, 3000}) {
        CAPTURE(N);
        const double predicted = predicted_mean_escape(e, static_cast<double>(N));
        const EscapeSample s = simulated_escape(p, N, 300, 11, e.threshold, 2000.0);
        std::printf("N = %lld: predicted %.2f, simulated %.2f +- %.2f (%d runs escaped)\n",
                    static_cast<long long>(N), predicted, s.mean, s.se, s.escaped);
        CHECK(s.escaped == 300);
        CHECK(std::abs(predicted - s.mean) <= 2.0 * s.se);
        // The law (issue 30): 3 KS tests at a family-wise 1e-3.
        (void)check_escape_law(e, static_cast<double>(N), s, 1e-3 / 3.0);
    }
}

TEST_CASE("fixed points under weight decay: the plateau of the integrated ODE, lambda 0 to 0.05",
          "[fixed_point][slow]") {
    // Issue 24: --weight-decay 0.005 said "Newton's method did not converge (residual 1.4e-11)".
    // Weight decay damps q - c; from lambda ~ 0.003 (erf, K = M = 2, eta = 0.5) the plateau lies
    // on c = q. Every lambda must give the plateau, and its eps_g must be where the ODE from the
    // symmetric start (kept exactly symmetric by the flow's equal treatment of the units) settles:
    // the approach is exponential at the slowest stable rate mu (the second eigenvalue), so once
    // e^{mu T/2} <= 1/2 the distance left at T is at most the change over [T/2, T]; plus the
    // integrator's tolerance.
    for (const double lambda : {0.0, 0.001, 0.003, 0.005, 0.01, 0.02, 0.05}) {
        CAPTURE(lambda);
        RunParams p = erf_params(2, 2, 0.5);
        p.training.weight_decay = lambda;
        const FixedPoint fp = symmetric_fixed_point(p);
        REQUIRE(fp.converged);
        CHECK(fp.kind == FixedPointKind::unspecialized);
        CHECK(fp.residual < 1e-14);
        CHECK(fp.escape_rate > 0.0);
        const double mu = fp.eigenvalues(1).real();
        REQUIRE(mu < 0.0);
        const double T = std::max(4000.0, 4.0 * std::log(2.0) / -mu);
        TheoryDynamics ode(p, symmetric_initial_conditions(p.model, p.model.q0, 0.0, 0.0));
        REQUIRE(ode.advance_to(0.5 * T));
        const double eg_half = ode.observe().eg;
        REQUIRE(ode.advance_to(T));
        const double eg_end = ode.observe().eg;
        const OrderParameters op = ode.order_parameters();
        CHECK(op.R.maxCoeff() - op.R.minCoeff() < 1e-10); // still symmetric (no escape)
        std::printf("weight decay %.3g: plateau eps_g %.10g (fixed point), %.10g (ODE at %.0f)\n",
                    lambda, fp.eg, eg_end, T);
        CHECK(std::abs(eg_end - fp.eg) <= std::abs(eg_end - eg_half) + 1e-8 * fp.eg);
        // And the escape from it is predicted (lambda = 0.003: was "no prediction").
        if (lambda <= 0.01) {
            const EscapePrediction e = predict_escape(p, fp, EscapeSettings{.noise = false});
            CHECK(e.valid);
            CAPTURE(e.why);
        }
    }
}

TEST_CASE("escape prediction: the degenerate unstable eigenspace of K = M = 3 (erf)",
          "[fixed_point][slow]") {
    // K = M = 3: lambda is 4-fold ((K - 1)^2 specialization modes, permutation symmetry). The
    // prediction goes through the norm of the projection on the 4-dimensional eigenspace, whose
    // initial law is isotropic (Schur's lemma): the covariance's anisotropy is 1 up to the
    // Jacobian's rounding.
    const RunParams p = erf_params(3, 3, 0.5);
    const FixedPoint fp = symmetric_fixed_point(p);
    REQUIRE(fp.converged);
    const EscapePrediction e = predict_escape(p, fp, EscapeSettings{.noise = false});
    CAPTURE(e.why);
    REQUIRE(e.valid);
    CHECK(e.dimension == 4);
    CHECK(e.rate == Approx(0.0205263).epsilon(1e-5));
    CHECK(e.anisotropy == Approx(1.0).epsilon(1e-6));
    CHECK(e.sensitivity.cols() == 4);
    CHECK(e.directions == 120); // the 600-cell's vertices
    // The escape time depends on the direction (spread ~37 over the 600-cell, with a tail of
    // slow directions), so the averages over the sphere carry an error of the order of the
    // spread / sqrt(directions), not below it (the function is not smooth enough for the
    // designs to do much better): the 24-cell's (24 directions) and the 600-cell's means agree
    // within three of the 24-cell's.
    CHECK(e.A_spread > 0.0);
    CHECK(std::abs(e.direction_shift) < 3.0 * e.A_spread / std::sqrt(24.0));
    // The mean escape time of the ODE grows by 1/lambda per unit of -ln |eps| (fit over
    // eps <= 1e-4, within 3 %: the approach to the plateau is slow, as for K = 2).
    CHECK(e.fit_slope == Approx(1.0 / e.rate).epsilon(0.03));
    // E ln chi_4 = (psi(2) + ln 2)/2 = (1 - gamma + ln 2)/2.
    CHECK(mean_ln_chi(4) ==
          Approx(0.5 * (1.0 - 0.5772156649015329 + std::log(2.0))).epsilon(1e-14));
    CHECK(mean_ln_chi(1) == mean_ln_abs_normal);
    CHECK(mean_ln_chi(3) ==
          Approx(0.5 * (2.0 - 0.5772156649015329 - std::log(2.0))).epsilon(1e-14));
    std::printf("K = M = 3: lambda %.6g, A %.6g (spread over directions %.3g, 600-cell minus "
                "24-cell %.3g), sigma_initial %.6g, predicted mean escape at N = 300: %.2f\n",
                e.rate, e.A, e.A_spread, e.direction_shift, e.sigma_initial,
                predicted_mean_escape(e, 300.0));
}

TEST_CASE("escape prediction: K = M = 3 predicted against simulated escape time at N = 300, 1000",
          "[fixed_point][slow]") {
    // As the K = 2 test: erf, eta = 0.5, dynamics = gram, 200 runs per N (master seed 13),
    // escape = eps_g down to half the plateau's; the mean must lie within two standard errors of
    // predicted_mean_escape (degenerate eigenspace, norm of the projection, docs/theory.md §11.2).
    const RunParams p = erf_params(3, 3, 0.5);
    const FixedPoint fp = symmetric_fixed_point(p);
    const EscapePrediction e = predict_escape(p, fp);
    REQUIRE(e.valid);
    for (const std::int64_t N : {300, 1000}) {
        CAPTURE(N);
        const double predicted = predicted_mean_escape(e, static_cast<double>(N));
        const EscapeSample s = simulated_escape(p, N, 200, 13, e.threshold, 3000.0);
        std::printf("K = M = 3, N = %lld: predicted %.2f, simulated %.2f +- %.2f (%d runs "
                    "escaped)\n",
                    static_cast<long long>(N), predicted, s.mean, s.se, s.escaped);
        CHECK(s.escaped == 200);
        CHECK(std::abs(predicted - s.mean) <= 2.0 * s.se);
        (void)check_escape_law(e, static_cast<double>(N), s, 1e-3 / 2.0); // the law, d = 4
    }
}

TEST_CASE("escape prediction: a plateau approached too slowly is refused early (sigmoid)",
          "[fixed_point][slow]") {
    // sigmoid, K = M = 2, eta = 0.5: the slowest stable eigenvalue inside the symmetric subspace
    // is -8.9e-6, so the symmetric trajectory comes within 1e-5 of the plateau only after
    // ~10^6 in alpha, far beyond the path's limit 2e4/eta (the prediction needs it there). The
    // extrapolation of the slow mode says so at alpha = 100/eta (about 10 s of CPU) instead of
    // after 4e4 in alpha of flow evaluations (minutes): the reason names the slow approach.
    RunParams p = erf_params(2, 2, 0.5);
    p.model.student.g.kind = ActivationKind::sigmoid;
    p.model.teacher.g.kind = ActivationKind::sigmoid;
    const FixedPoint fp = symmetric_fixed_point(p);
    REQUIRE(fp.converged);
    const EscapePrediction e = predict_escape(p, fp, EscapeSettings{.noise = false});
    CAPTURE(e.why);
    CHECK_FALSE(e.valid);
    CHECK(e.why.find("approaches the plateau too slowly") != std::string::npos);
}
