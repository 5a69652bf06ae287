#include "engine/core/schedule.hpp"

#include <algorithm>

namespace plateau {

std::vector<double> record_grid(const ScheduleParams& s) {
    const auto n = static_cast<std::size_t>(s.records);
    const double end = std::max(s.alpha_max, s.axis_alpha_max);
    std::vector<double> alphas(n);
    if (s.kind == ScheduleKind::linear) {
        for (std::size_t i = 0; i < n; ++i)
            alphas[i] = end * static_cast<double>(i) / static_cast<double>(n - 1);
    } else {
        // alpha_0 = 0; alpha_i = alpha_min (end/alpha_min)^((i-1)/(n-2)), i = 1..n-1.
        alphas[0] = 0.0;
        const double lo = std::log(s.alpha_min);
        const double hi = std::log(end);
        for (std::size_t i = 1; i < n; ++i) {
            const double t = n > 2 ? static_cast<double>(i - 1) / static_cast<double>(n - 2) : 1.0;
            alphas[i] = std::exp(lo + t * (hi - lo));
        }
    }
    alphas.back() = end; // exact end point, free of rounding
    return alphas;
}

std::vector<double> record_alphas(const ScheduleParams& s) {
    std::vector<double> alphas = record_grid(s);
    // A grid time equal to alpha_max but for the rounding of the grid's formula is kept.
    while (alphas.size() > 1 && alphas.back() > s.alpha_max * (1.0 + 1e-12))
        alphas.pop_back();
    return alphas;
}

std::int64_t run_steps(const ScheduleParams& s, std::int64_t N) {
    if (s.axis_alpha_max <= s.alpha_max)
        return record_step(s.alpha_max, N); // the grid ends at this run's end
    return record_step(record_alphas(s).back(), N);
}

} // namespace plateau
