// Record times: when the observer measures a run, in alpha = steps / N.
#pragma once

#include "engine/core/run_params.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

namespace plateau {

/// The record grid: `records` nominal times, increasing, first 0 and last
/// max(alpha_max, axis_alpha_max). The same for every run of a campaign (every N, every
/// alpha_max): the alpha axis of the output file.
[[nodiscard]] std::vector<double> record_grid(const ScheduleParams& s);

/// The record times of one run: the grid's times at or below the run's alpha_max (all of them,
/// unless the campaign's runs have different lengths).
[[nodiscard]] std::vector<double> record_alphas(const ScheduleParams& s);

/// The step at which a simulation of dimension N records the nominal time alpha: the nearest
/// whole step, round(alpha N). Two record times may map to the same step when N is small.
[[nodiscard]] inline std::int64_t record_step(double alpha, std::int64_t N) noexcept {
    return std::llround(alpha * static_cast<double>(N));
}

/// The number of on-line steps of a simulated run: up to its last record time.
[[nodiscard]] std::int64_t run_steps(const ScheduleParams& s, std::int64_t N);

} // namespace plateau
