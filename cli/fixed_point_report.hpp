// What `plateau ode --fixed-point` finds at a grid point, and the choices its front ends share
// (the command line prints it, cli/ode_command.cpp; the Python module's plateau.fixed_point
// returns it, python/module.cpp): how far a trajectory is followed for the other fixed points,
// and where no escape is predicted.
#pragma once

#include "engine/campaign/campaign.hpp"
#include "engine/core/run_params.hpp"
#include "engine/theory/escape.hpp"
#include "engine/theory/fixed_point.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace plateau::cli {

/// The asymmetry of the generic start (generic_start) of the trajectory searched for fixed points.
inline constexpr double generic_start_amplitude = 1e-6;

/// The quantiles of the predicted escape-time law (docs/theory.md §11.2b) that both front ends
/// give: `--fixed-point` prints them, plateau.fixed_point returns them.
inline constexpr std::array<double, 5> escape_law_quantiles{0.10, 0.25, 0.50, 0.75, 0.90};

/// One grid point's results, in the order the command line prints them.
struct FixedPointReport {
    std::size_t point = 0;               ///< the grid point's index
    std::vector<Coordinate> coordinates; ///< its coordinates (N, eta, the swept keys)
    std::int64_t N = 0;                  ///< the input dimension of its runs
    FixedPoint symmetric; ///< the plateau (symmetric_fixed_point); the rest only if converged
    std::string why;      ///< no_fixed_point_reason when it did not converge
    double trajectory_alpha_end = 0.0;
    std::vector<FixedPoint> trajectory; ///< the fixed points along a generic trajectory
    std::optional<EscapePrediction> escape;
    std::string escape_why; ///< when escape is nullopt (and symmetric.converged)
    EtaMax eta_max;
};

/// The alpha to which the trajectory from a generic start is followed for the fixed points it
/// passes (trajectory_fixed_points): alpha-max, or 2000 / (the largest learning rate) if later.
[[nodiscard]] double trajectory_alpha_end(const RunParams& params) noexcept;

/// Why the escape prediction of docs/theory.md §11.2 does not apply at this grid point, before
/// anything is computed; nullopt where predict_escape decides.
[[nodiscard]] std::optional<std::string> escape_not_predicted(const RunParams& params);

/// Why symmetric_fixed_point found no fixed point (`fp.converged` false): the flow diverges,
/// or Newton's method did not converge; one phrase, for "no fixed point found: ...".
[[nodiscard]] std::string no_fixed_point_reason(const RunParams& params, const FixedPoint& fp);

/// The stages after the symmetric fixed point `fp` of grid point `point` (none if it did not
/// converge): the fixed points along a generic trajectory, the escape prediction, eta_max.
[[nodiscard]] FixedPointReport fixed_point_report(std::size_t point, const GridPoint& grid_point,
                                                  const FixedPoint& fp);

} // namespace plateau::cli
