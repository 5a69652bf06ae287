// The escape from the symmetric plateau predicted from the ODEs (docs/theory.md §11): the escape
// time of the ODE against a small initial asymmetry, alpha_esc(eps) = A - ln(eps)/lambda, and
// the mean escape time of a finite-N run, whose asymmetry is random and O(1/sqrt(N)) (the
// initial overlaps, and the fluctuations of every step that the plateau amplifies).
#pragma once

#include "engine/core/order_parameters.hpp"
#include "engine/core/run_params.hpp"
#include "engine/theory/fixed_point.hpp"

#include <Eigen/Core>

#include <span>
#include <string>
#include <vector>

namespace plateau {

/// E[ln |Z|] for Z ~ N(0, 1): -(gamma_Euler + ln 2) / 2.
inline constexpr double mean_ln_abs_normal = -0.63518142273073908;

/// E[ln chi_d] for chi_d the norm of d independent standard normals: (psi(d/2) + ln 2) / 2
/// (psi the digamma function); mean_ln_abs_normal for d = 1.
[[nodiscard]] double mean_ln_chi(int d);

/// The escape rule shared by the ODE and the simulations (docs/PERFORMANCE.md §11): the first
/// alpha at which eps_g falls to `fraction` times eps_g at the symmetric fixed point.
inline constexpr double escape_fraction = 0.5;

/// The first alpha at which egs falls to threshold or below, interpolated linearly in ln eps_g
/// between the samples (alphas increasing, egs > 0); NaN if it never does.
[[nodiscard]] double first_crossing(std::span<const double> alphas, std::span<const double> egs,
                                    double threshold);

/// What predict_escape found.
struct EscapePrediction {
    bool valid = false;
    std::string why;         ///< when !valid
    double rate = 0.0;       ///< lambda: the largest real eigenvalue at the plateau
    double eg_plateau = 0.0; ///< eps_g at the plateau
    double threshold = 0.0;  ///< escape_fraction * eg_plateau
    /// The ODE from symmetric_initial_conditions(model, q0, 0, eps): escape time per eps
    /// (increasing eps; NaN where it did not escape by its alpha limit).
    std::vector<double> eps, alpha_esc;
    /// alpha_esc(eps) = A - ln(eps)/lambda for eps -> 0: A from the smallest eps with the slope
    /// 1/lambda fixed; fit_slope: the free least-squares slope d alpha_esc / d(-ln eps) over
    /// eps <= 1e-4 (a check: it must be 1/lambda).
    double A = 0.0;
    double fit_slope = 0.0;
    /// alpha_plateau: where the symmetric trajectory (eps = 0) comes within 1 % of eg_plateau;
    /// c = exp(lambda (A - alpha_plateau)), so that alpha_esc = alpha_plateau + ln(c/eps)/lambda.
    double alpha_plateau = 0.0;
    double c = 0.0;
    /// The effective initial asymmetry eps_0 of a finite-N run (the eps of the symmetric start
    /// that the run's asymmetries are equivalent to, to linear order) is Gaussian with variance
    /// (sigma_initial^2 + sigma_noise^2) / N:
    /// sigma_initial from the law of the initial overlaps (orthonormal teacher: R_jn ~ N(0,
    /// q0/N), Var Q_jj = 2 q0^2/N, Var Q_jk = q0^2/N), sigma_noise from the fluctuations of the
    /// steps, propagated by the linearized flow along the symmetric trajectory.
    /// For a degenerate lambda (dimension d > 1) eps_0 is the vector of the projections on the
    /// d-dimensional unstable eigenspace, in an orthonormal basis scaled so that the reference
    /// asymmetry of symmetric_initial_conditions has norm eps; its law is isotropic (Schur: the
    /// eigenspace carries an irreducible representation of the permutations of students and of
    /// teachers, and the laws of the start and of the steps are invariant), N(0, sigma^2 I_d / N)
    /// with sigma^2 = (sigma_initial^2 + sigma_noise^2), each the trace of its covariance / d.
    double sigma_initial = 0.0;
    double sigma_noise = 0.0;
    /// d eps_0 / d y_i at alpha = 0 for the packed entries y (Packing of engine/theory/flow.hpp):
    /// column c for the c-th coordinate of eps_0 (one column when lambda is simple).
    Eigen::MatrixXd sensitivity;
    double alpha_linear = 0.0; ///< where the projections on the unstable mode were taken
    /// d: the multiplicity of lambda, the dimension of the unstable eigenspace ((K - 1)^2 for the
    /// plateau of K = M >= 3; 1 for K = M = 2).
    int dimension = 1;
    /// Largest over smallest eigenvalue of the covariance of the initial eps_0 (1 when isotropic).
    double anisotropy = 1.0;
    /// d > 1: eps and alpha_esc above are the mean over unit directions n of eps_0 of the ODE's
    /// escape time from the symmetric start plus eps times the least-norm R perturbation with
    /// projection n: over coarse directions (d = 4: the 24-cell's vertices), shifted by
    /// `direction_shift`, the fine directions' mean (`directions` of them; d = 4: the 600-cell's
    /// 120 vertices) minus the coarse one at eps = 1e-3. A_spread: the standard deviation of the
    /// escape time over the fine directions there (how much the direction matters).
    int directions = 1;
    double A_spread = 0.0;
    double direction_shift = 0.0;
    /// d > 1: each fine direction's escape time at eps = 1e-3 minus their mean: the part of the
    /// escape-time law that the direction of eps_0 (uniform, independent of its norm) adds
    /// (docs/theory.md §11.2b). Empty for d = 1.
    std::vector<double> direction_offsets;
};

/// Settings of predict_escape.
struct EscapeSettings {
    bool noise = true;      ///< include sigma_noise (else 0)
    int mc_samples = 20000; ///< Monte-Carlo samples of the step covariance per trajectory point
    int mc_samples_plateau = 400000; ///< ... at the fixed point (it weighs most)
    /// The adjoint in one number where the symmetry makes it exact, checked at every grid point
    /// (docs/theory.md §11.2, "Cost"); false: the whole Jacobian at every grid point.
    bool scalar_adjoint = true;
    /// Escapes from eps <= 1e-6 continued from the symmetric path once the linearized asymmetry
    /// reaches 1e-5 (needs the scalar adjoint and a simple lambda); false: every escape
    /// integrated from its start.
    bool linear_phase = true;
    /// rtol of the escape integrations. The escape time depends on the asymmetry's relative
    /// accuracy, which the integrator's symmetry classes control (ode_integrator.cpp, norm (b)):
    /// at 1e-8 the escape times of erf, K = M = 2, eta = 0.5 are those of 1e-12 to 1.1e-5 in
    /// alpha (eps = 1e-9 ... 10^-0.5) at a quarter of the flow evaluations.
    double escape_rtol = 1e-8;
    /// The symmetric path on a grid that follows its time scale, steps of 0.25/eta on the fast
    /// start growing to 0.25/lambda on the slow approach, integrated at rtol 1e-10 (docs/theory.md
    /// §11.2, "Cost"); false: steps of 0.25/eta throughout at rtol 1e-12 (the reference).
    bool adaptive_path = true;
};

/// The prediction for params (K, M, g, eta, q0, ...; N is not used) at the plateau `plateau`
/// (symmetric_fixed_point). Only the orthonormal teacher (T = I) and a real largest eigenvalue
/// (simple, or degenerate with a non-defective eigenspace) are handled; otherwise valid = false
/// with the reason.
[[nodiscard]] EscapePrediction predict_escape(const RunParams& params, const FixedPoint& plateau,
                                              const EscapeSettings& settings = {});

/// The predicted mean escape time of a run at input dimension N: the mean of the ODE's escape
/// time alpha_esc(|eps_0|) over eps_0 ~ N(0, (sigma_initial^2 + sigma_noise^2) I_d / N), i.e.
///   A - (ln sigma + E ln chi_d)/lambda + E r(sigma chi_d),  sigma = sqrt(... / N),
/// chi_d = |Z| for d = 1, the norm of d standard normals otherwise (docs/theory.md §11.2),
/// r(eps) = alpha_esc(eps) - A + ln(eps)/lambda the ODE's departure from the asymptote at
/// larger eps (tabulated, linear in ln eps; constant beyond the table).
[[nodiscard]] double predicted_mean_escape(const EscapePrediction& p, double N);

/// The law of the escape time at input dimension N (docs/theory.md §11.2b): alpha_esc(sigma
/// chi_d) + o, chi_d the norm of eps_0 in units of sigma, o the offset of its direction (one of
/// direction_offsets, equally likely, independent of chi_d; 0 for d = 1). Its standard
/// deviation: to leading order pi/(sqrt(8) lambda) for d = 1 (Var ln|Z| = pi^2/8), whatever N;
/// for d > 1 the directions' spread adds in quadrature.
[[nodiscard]] double predicted_escape_sd(const EscapePrediction& p, double N);

/// Its q-quantile, 0 < q < 1 (bisection of its distribution function; alpha_esc falls as the
/// asymmetry grows). NaN for q outside (0, 1) or no prediction.
[[nodiscard]] double predicted_escape_quantile(const EscapePrediction& p, double N, double q);

/// Its quantiles at the probability levels `levels` (each in (0, 1); NaN outside, as
/// predicted_escape_quantile gives), in their order: the same numbers as predicted_escape_quantile
/// level by level, with the map and the offsets built once.
[[nodiscard]] std::vector<double> predicted_escape_quantiles(const EscapePrediction& p, double N,
                                                             std::span<const double> levels);

/// The law as `per_direction` x (number of directions) equally likely points, sorted: for each
/// direction, alpha_esc at the chi_d quantiles (j + 1/2)/per_direction plus its offset (a sample
/// of the law without randomness, for comparisons with simulated escape times).
[[nodiscard]] std::vector<double> predicted_escape_points(const EscapePrediction& p, double N,
                                                          int per_direction);

} // namespace plateau
