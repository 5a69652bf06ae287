// Record times: when the observer measures a run, in alpha = steps / N.
#pragma once

#include "engine/run_params.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

namespace plateau {

/// The nominal record times, increasing, first 0 and last alpha_max. The same for every N,
/// so runs of different N share the alpha axis of an output file.
[[nodiscard]] std::vector<double> record_alphas(const ScheduleParams& s);

/// The step at which a simulation of dimension N records the nominal time alpha: the nearest
/// whole step, round(alpha N). Two record times may map to the same step when N is small.
[[nodiscard]] inline std::int64_t record_step(double alpha, std::int64_t N) noexcept {
    return std::llround(alpha * static_cast<double>(N));
}

/// The number of on-line steps of a simulated run: up to the last record time.
[[nodiscard]] inline std::int64_t run_steps(const ScheduleParams& s, std::int64_t N) noexcept {
    return record_step(s.alpha_max, N);
}

} // namespace plateau
