// The N -> infinity theory: the deterministic ODEs of the order parameters (Q, R, v) in alpha
// (docs/theory.md §3; Saad & Solla, Phys. Rev. E 52, 4225 (1995); Riegler & Biehl,
// J. Phys. A 28, L507 (1995) for the learned second layer), an accurate integrator for them, a
// `Dynamics` backend so that `record_run` gives a RunResult exactly like a simulation, symmetric
// initial conditions, and the symmetric (unspecialized, plateau) fixed point with its escape rate.
//
// Scope: h = h* = identity and the same hidden activation g = g* in student and teacher, with g
// one of erf, relu, linear (the activations with the Gaussian averages of
// models/gaussian_integrals.hpp). Label noise s^2, a learned second layer (eta_v) and K != M are
// included.
//
// Conventions (docs/theory.md §1): fields x_j = w^(j).xi, y_n = B_n.xi are O(1); Q = W W^T (K x K),
// R = W B^T (K x M), T = B B^T (M x M); alpha = steps / N; w <- w - (eta/N) grad_w e.
#pragma once

#include "engine/observer.hpp"
#include "engine/run.hpp"
#include "engine/run_params.hpp"
#include "engine/state.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <memory>

namespace plateau {

/// True when the ODEs cover the model: h = h* = identity and g = g* in {erf, relu, linear}.
[[nodiscard]] bool theory_supports(const ModelParams& model) noexcept;

/// Throws ConfigError (key "activation", "teacher-activation", "output-activation" or
/// "teacher-output-activation") naming the pairs the theory covers when !theory_supports(model).
void require_theory_support(const ModelParams& model);

/// The right-hand side of the ODEs, docs/theory.md §3:
///   dR_jn/dalpha = eta <delta_j y_n>
///   dQ_jk/dalpha = eta (<delta_j x_k> + <delta_k x_j>) + eta^2 <delta_j delta_k>
///                  (the eta^2 term includes the label-noise term s^2 v_j v_k J2(j,k))
///   dv_j/dalpha  = eta_v <(tau - sigma) g(x_j)>   (only if model.learn_v, else 0)
/// Returns the derivatives in an OrderParameters (dT = 0, dv_star = 0). Uses params.model
/// (g, noise, learn_v) and params.training (eta, eta_v). Throws ConfigError for an unsupported
/// model and std::invalid_argument for inconsistent sizes.
[[nodiscard]] OrderParameters flow(const RunParams& params, const OrderParameters& op);

enum class OdeMethod {
    dormand_prince, ///< adaptive embedded Runge-Kutta 5(4) with error control (default)
    rk4,            ///< classical fixed-step Runge-Kutta 4 with step rk4_step
};

/// Integrator settings. The defaults resolve asymmetries down to ~1e-12 (see theory.cpp: the
/// error of the *deviations* of symmetry-equivalent entries from their mean is controlled with
/// its own absolute tolerance atol_asymmetry, so a tiny asymmetry that decides when the plateau
/// ends is integrated with a small relative error).
struct OdeParams {
    OdeMethod method = OdeMethod::dormand_prince;
    double rtol = 1e-10;           ///< relative tolerance per step (Dormand-Prince)
    double atol = 1e-12;           ///< absolute tolerance of each entry (Dormand-Prince)
    double atol_asymmetry = 1e-16; ///< absolute tolerance of the asymmetric parts (see above)
    double h_max = 10.0;           ///< largest step in alpha (Dormand-Prince)
    double h_initial = 1e-4;       ///< first trial step (Dormand-Prince)
    double rk4_step = 0.01;        ///< step in alpha of the fixed-step RK4 (at most; see advance)
    std::int64_t max_steps = 100'000'000; ///< per advance_to call; exceeding it counts as failure
};

/// The ODEs as a run backend. advance_to(alpha) integrates to exactly alpha (a record time) and
/// returns false, leaving the state at the last good point, if the order parameters become
/// non-finite, a Q_jj exceeds params.observer.divergence_q, the adaptive step underflows, or
/// max_steps is exceeded (divergence for too large eta). observe() returns eps_g from
/// integrals::generalization_error with eg_stderr = 0.
class TheoryDynamics final : public Dynamics {
public:
    /// Throws ConfigError if !theory_supports(params.model), std::invalid_argument for sizes of
    /// init that do not match (K, M) of params.model.
    TheoryDynamics(const RunParams& params, OrderParameters init, OdeParams ode = {});
    ~TheoryDynamics() override;

    [[nodiscard]] bool advance_to(double alpha) override;
    [[nodiscard]] Observables observe() override;

    [[nodiscard]] double alpha() const noexcept;
    [[nodiscard]] OrderParameters order_parameters() const;

    struct Statistics {
        std::int64_t evaluations = 0; ///< flow evaluations
        std::int64_t accepted = 0;    ///< accepted steps
        std::int64_t rejected = 0;    ///< rejected steps (Dormand-Prince)
    };
    [[nodiscard]] Statistics statistics() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Convenience: record_run(TheoryDynamics(params, init, ode), record_alphas(params.schedule),
/// params.observer.divergence_q).
[[nodiscard]] RunResult integrate_theory(const RunParams& params, const OrderParameters& init,
                                         const OdeParams& ode = {});

/// A symmetric start with a controlled asymmetry, for K = model.student.hidden() and
/// M = model.teacher.hidden():
///   Q = q0 I_K (off-diagonal 0),
///   R_jn = r0 + asymmetry * [n == j mod M]  (student j is favoured towards teacher j mod M),
///   T = I_M (the teacher norm: orthonormal teachers, and the mean of Gaussian ones),
///   v = v0 (all K entries), v_star = model.v_star (all M entries).
/// Throws std::invalid_argument if the field covariance [[Q, R], [R^T, T]] is not positive
/// semi-definite.
[[nodiscard]] OrderParameters symmetric_initial_conditions(const ModelParams& model, double q0,
                                                           double r0, double asymmetry);

/// The symmetric (unspecialized) fixed point of the ODEs and its linear stability.
struct FixedPoint {
    OrderParameters op; ///< Q_jj = q, Q_jk = c (j != k), R_jn = r, T = I, v_j = v, v*_n = v_star
    double eg = 0.0;    ///< eps_g at op
    /// Largest real part of the eigenvalues of the full linearized flow at op: the rate at which
    /// an asymmetry grows (escape from the plateau) when positive.
    double escape_rate = 0.0;
    Eigen::VectorXcd eigenvalues; ///< of the Jacobian of the full flow, sorted by real part desc.
    double residual = 0.0;        ///< max |flow| at op (all entries)
    bool converged = false;       ///< Newton converged (residual at rounding level)
};

/// Finds the fixed point of the flow inside the subspace invariant under permutations of the
/// student units and, independently, of the teacher units (T = I, v*_n all equal, v_j all equal):
/// Q_jj = q, Q_jk = c, R_jn = r (and v_j = v when the second layer is learned). This is the
/// plateau of the unspecialized phase; it exists for any K, M >= 1 (K != M included).
///
/// Method: integrate the reduced flow (q, c, r[, v]) from the symmetric start Q = q0 I, R = 0
/// (q0 = model.q0, or 0.2 if that is 0) for 100/eta, then Newton with a central-difference
/// Jacobian on the deflated equations (F_q, (F_q - F_c)/(q - c), F_r[, F_v]) = 0 (retried after
/// longer relaxation if it fails); then the Jacobian of the FULL flow (all entries of Q's upper
/// triangle, R, and v if learned) by central differences, and its eigenvalues.
///
/// Why not Newton from Saad & Solla's eta -> 0 point (q = c = 1/(2K-1), r = 1/sqrt(K(2K-1)) for
/// erf, K = M): identical students stay identical, so c = q is an invariant manifold, and at
/// finite eta it carries a second symmetric fixed point (that eta -> 0 point continued) which is
/// unstable also in the direction q - c. The plateau that trajectories visit has q - c = O(eta)
/// > 0 and tends to Saad & Solla's point as eta -> 0; the deflation keeps Newton off c = q.
///
/// For linear g the result is a point of the eps_g = 0 manifold (no plateau; escape_rate ~ 0).
/// converged = false (no throw) when the reduced flow diverges or Newton fails. Throws ConfigError
/// for an unsupported model, and (key "learn-v") for relu with a learned second layer: relu is
/// positively homogeneous, (w, v) -> (l w, v / l) leaves the network unchanged, and the symmetric
/// flow drifts along that family instead of settling at an isolated fixed point.
[[nodiscard]] FixedPoint symmetric_fixed_point(const RunParams& params);

} // namespace plateau
