// The symmetric (unspecialized, plateau) fixed point of the ODEs of docs/theory.md §3 and its
// linear stability: the escape rate from the plateau.
#pragma once

#include <cstdint>
#include <functional>

#include "engine/observer.hpp"
#include "engine/run_params.hpp"

#include <Eigen/Core>

namespace plateau {

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
///
/// The full Jacobian costs one flow evaluation per entry, O(K^2 (K+M)^4) each: seconds at
/// K = M = 10, minutes at 14, far longer beyond. `progress` (if set) is told (columns done,
/// columns in all) after each column, so a caller can show how far a long search is.
using FixedPointProgress = std::function<void(std::int64_t done, std::int64_t total)>;
[[nodiscard]] FixedPoint symmetric_fixed_point(const RunParams& params,
                                               const FixedPointProgress& progress = {});

} // namespace plateau
