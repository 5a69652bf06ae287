// The Gaussian averages I2, I3, I4, J2 of models/gaussian_integrals.hpp by numerical quadrature,
// for ANY hidden activation g (docs/theory.md §9). The closed forms of gaussian_integrals.hpp
// route here for the activations without one (tanh(gamma x), sigmoid, square); erf, relu and linear
// are accepted too, so that the quadrature can be tested against their closed forms.
//
// Method (docs/theory.md §9):
//  * Coinciding indices are merged: the integrand is a product over the DISTINCT fields, each
//    carrying g'(u)^p g(u)^q u^r, so the dimension is the number of distinct fields (<= 4).
//  * The linear factor u_b of I3 on a field of its own is removed analytically: with u_b last in
//    the Cholesky order, u_b = E[u_b | other fields] + independent noise, and the noise averages
//    to zero. I3 is therefore at most two-dimensional, I2 and J2 too; only I4 needs 3 or 4.
//  * The sub-covariance is factored by a semi-definite Cholesky, u_i = sum_{l<=i} L_il z_l (z iid
//    standard normal), in the FIXED order of the integral's roles (a, b, c, d), never pivoted on
//    the values: the result is then a smooth function of C, as the ODE integrator needs (a
//    pivot order that changes where two variances cross made the flow jump there, and the
//    integration of tanh stalled near the specialized point; docs/theory.md §9). A field whose
//    conditional variance is zero (collinear fields, zero variance, rounding-level negative) gets
//    no variable of its own: its factor is evaluated at its conditional mean. So singular C is
//    fine, and a zero-variance field contributes g(0), g'(0) (0 for relu, as the closed forms).
//  * Nested one-dimensional rules: factor i depends on z_0..z_i only, so level i integrates over
//    z_i the product of factor i and the integral of the deeper levels. The rule follows the
//    evaluator's QuadratureShape (models/activations/evaluator.hpp):
//      - entire (erf) and strip (tanh, sigmoid): trapezoid rule with a step chosen per level
//        from the slopes of the factors on that variable (their 8-norm, a smooth stand-in for
//        the largest), and a smooth window at the ends of its range (see quadrature.cpp);
//      - polynomial (linear, square): Gauss-Hermite with enough nodes to be exact;
//      - kink_at_zero (relu): each factor vanishes for u_i < 0 and is a polynomial for u_i > 0,
//        and its kink lies on its own variable at z_i = -mu_i / L_ii: the level integrates only
//        over [z_i*, 8.5] by composite Gauss-Legendre, so every kink is resolved exactly.
//
// Accuracy target (tested in tests/test_quadrature.cpp):
//  * erf and relu: every integral within 1e-10 relative (of max(|value|, 1e-3 scale)) of the closed
//    forms on random covariances; linear: exact to rounding;
//  * tanh(gamma x) for gamma <= 2 and sigmoid at field variances <= 4: within 5e-6 of the same
//    rule with twice the nodes (self-convergence), and within 5 standard errors of Monte Carlo
//    with 10^6 samples.
// All functions are pure and may be called concurrently. Indices outside C throw
// std::out_of_range, a non-square C std::invalid_argument.
#pragma once

#include "models/activation.hpp"

#include <Eigen/Core>

#include <vector>

namespace plateau::quadrature {

/// The rule's knobs, for tests and measurements; the defaults are the production rule.
struct Rule {
    /// Node density multiplier: trapezoid steps are divided by it, Gauss-Hermite / Legendre
    /// counts multiplied (self-convergence).
    int refine = 1;
    /// L = log(1/eps) of the trapezoid rules (erf, tanh, sigmoid); 0 = the default of the kind
    /// (erf 30, tanh and sigmoid 17).
    double log_eps = 0.0;
};

/// <g(u_a) g(u_b)>
[[nodiscard]] double I2(const Activation& g, const Eigen::MatrixXd& C, int a, int b,
                        Rule rule = {});
/// <g'(u_a) u_b g(u_c)>
[[nodiscard]] double I3(const Activation& g, const Eigen::MatrixXd& C, int a, int b, int c,
                        Rule rule = {});
/// <g'(u_a) g'(u_b) g(u_c) g(u_d)>
[[nodiscard]] double I4(const Activation& g, const Eigen::MatrixXd& C, int a, int b, int c, int d,
                        Rule rule = {});
/// <g'(u_a) g'(u_b)>
[[nodiscard]] double J2(const Activation& g, const Eigen::MatrixXd& C, int a, int b,
                        Rule rule = {});

/// A one-dimensional rule: nodes x and weights w.
struct Rule1d {
    std::vector<double> x, w;
};
/// The n-point Gauss-Legendre rule on [0, 1] (Newton on the Legendre recurrence); also the
/// closed-form integrals' I4 (models/gaussian_integrals.cpp).
[[nodiscard]] Rule1d make_gauss_legendre(int n);
/// The n-point Gauss-Hermite rule for the standard normal weight (probabilists', weights sum to
/// 1; n <= 200): exact for polynomials of degree <= 2n - 1.
[[nodiscard]] Rule1d make_gauss_hermite(int n);

} // namespace plateau::quadrature
