// The symmetric (unspecialized, plateau) fixed point of the ODEs of docs/theory.md §3 and its
// linear stability: the escape rate from the plateau.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string_view>
#include <vector>

#include "engine/core/enum_table.hpp"
#include "engine/core/order_parameters.hpp"
#include "engine/core/run_params.hpp"

#include <Eigen/Core>

namespace plateau {

/// What a fixed point is, by the structure of R (docs/theory.md §11).
enum class FixedPointKind {
    unspecialized, ///< all R_jn equal (the symmetric plateau)
    partially,     ///< neither: some units specialized, or R not symmetric but not specialized
    specialized,   ///< assess_specialization(Q, R, T).specialized
};

[[nodiscard]] constexpr auto enum_table(FixedPointKind) noexcept {
    return std::to_array<EnumEntry<FixedPointKind>>(
        {{FixedPointKind::unspecialized, "unspecialized"},
         {FixedPointKind::partially, "partially specialized"},
         {FixedPointKind::specialized, "specialized"}});
}

/// The kind of op: unspecialized when max R_jn - min R_jn <= 1e-6 max(1, max |R_jn|),
/// specialized when assess_specialization (engine/run/specialization.hpp) says so, else partially.
[[nodiscard]] FixedPointKind classify_fixed_point(const OrderParameters& op);

/// A fixed point of the ODEs and its linear stability.
struct FixedPoint {
    OrderParameters op; ///< Q_jj = q, Q_jk = c (j != k), R_jn = r, T = I, v_j = v, v*_n = v_star
    double eg = 0.0;    ///< eps_g at op
    /// Largest real part of the eigenvalues of the full linearized flow at op: the rate at which
    /// an asymmetry grows (escape from the plateau) when positive.
    double escape_rate = 0.0;
    Eigen::VectorXcd eigenvalues; ///< of the Jacobian of the full flow, sorted by real part desc.
    double residual = 0.0;        ///< max |flow| at op (all entries)
    bool converged = false;       ///< Newton converged (residual at rounding level)
    FixedPointKind kind = FixedPointKind::unspecialized;
    /// Where a trajectory passed closest to it (trajectory_fixed_points), NaN otherwise.
    double alpha = std::numeric_limits<double>::quiet_NaN();
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
/// On the sphere (constraint = sphere, docs/theory.md §14) q = 1 is no unknown: the reduced
/// flow is (c, r[, v]), Newton runs without the deflation, and Newton on the full flow and the
/// linearization vary every packed entry but the Q_jj (the projected flow's tangent space), so
/// the eigenvalues are those of the flow on the sphere.
///
/// For linear g the result is a point of the eps_g = 0 manifold (no plateau; escape_rate ~ 0).
/// converged = false (no throw) when the reduced flow diverges or Newton fails. Throws ConfigError
/// for an unsupported model, and (key "learn-v") for relu with a learned second layer: relu is
/// positively homogeneous, (w, v) -> (l w, v / l) leaves the network unchanged, and the symmetric
/// flow drifts along that family instead of settling at an isolated fixed point.
///
/// The full Jacobian costs one flow evaluation per entry, O(K^2 (K+M)^4) each: seconds at
/// K = M = 10, minutes at 14, far longer beyond. `progress` (if set) is told (columns done,
/// columns in all) after each column, so a caller can show how far a long search is.
using FixedPointProgress = std::function<void(std::int64_t done, std::int64_t total)>;
[[nodiscard]] FixedPoint symmetric_fixed_point(const RunParams& params,
                                               const FixedPointProgress& progress = {});

/// Newton's method on the FULL packed flow (PackedFlow: every entry of Q's upper triangle, R,
/// and v if learned; T and v_star from guess) from guess, with a central-difference Jacobian and
/// backtracking; then the eigenvalues of the Jacobian at the solution and the kind. Works for
/// every FlowMethod (only compute_flow is called). converged = false when Newton does not bring
/// max |flow| to 1e-11 max(eta, eta_v) (no throw).
[[nodiscard]] FixedPoint polish_fixed_point(const RunParams& params, const OrderParameters& guess,
                                            const FixedPointProgress& progress = {});

/// Trajectory-guided search (docs/theory.md §11): integrate the ODEs from `start` to alpha_end,
/// sample the speed s(alpha) = max |dy/dalpha| on a grid of step max(0.5 / max(eta, eta_v),
/// alpha / 100), stopping early where s <= 1e-12 max s (converged to a fixed point); every
/// local minimum of s below 1e-2 max s (and the end point, if s is that small there) is
/// polished by polish_fixed_point. Returns the converged ones, distinct (max-norm distance
/// > 1e-6), in the order the trajectory met them, each with its alpha.
[[nodiscard]] std::vector<FixedPoint>
trajectory_fixed_points(const RunParams& params, const OrderParameters& start, double alpha_end);

/// A generic start for trajectory_fixed_points: symmetric_initial_conditions(model,
/// initial_q(model), 0, 0) (Q = I on the sphere)
/// plus amplitude * sin(1 + j M + n) on R_jn (every student unit different, so that no
/// permutation symmetry survives).
[[nodiscard]] OrderParameters generic_start(const ModelParams& model, double amplitude);

/// eta_max: the largest eta at which the specialized fixed point (K = M, Q = R = T, v = v*,
/// polished by Newton when there is label noise) is linearly stable (every eigenvalue of the
/// full linearized flow with real part < 0), by bisection on eta of the largest real part
/// (docs/theory.md §11). eta_v follows eta in proportion when the second layer is learned.
struct EtaMax {
    bool found = false; ///< false: K != M, or no sign change of the largest real part
    double eta_max = std::numeric_limits<double>::quiet_NaN();
    double lower = 0.0;     ///< the bisection's bracket: stable at lower ...
    double upper = 0.0;     ///< ... unstable at upper (upper - lower <= 1e-7 eta_max)
    std::string_view why{}; ///< reason when !found
};
[[nodiscard]] EtaMax specialized_eta_max(const RunParams& params);

/// What a theory file stores for each grid point beside its runs (schema 1.3, docs/theory.md
/// §11): the escape rate of the symmetric fixed point and eta_max. NaN where none is found, and
/// where the linearization is costly: K + M > 8 (the Jacobian's cost grows like (K+M)^6) or
/// averages by quadrature or the joint rule (each flow evaluation milliseconds).
struct TheoryPointSummary {
    double escape_rate = std::numeric_limits<double>::quiet_NaN();
    double eta_max = std::numeric_limits<double>::quiet_NaN();
    /// eps_g at the symmetric fixed point, the plateau's height (schema 1.5); NaN where
    /// escape_rate is.
    double plateau_eg = std::numeric_limits<double>::quiet_NaN();
};
[[nodiscard]] TheoryPointSummary theory_point_summary(const RunParams& params);

} // namespace plateau
