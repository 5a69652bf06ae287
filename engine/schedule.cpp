#include "engine/schedule.hpp"

namespace plateau {

std::vector<double> record_alphas(const ScheduleParams& s) {
    const auto n = static_cast<std::size_t>(s.records);
    std::vector<double> alphas(n);
    if (s.kind == ScheduleKind::linear) {
        for (std::size_t i = 0; i < n; ++i)
            alphas[i] = s.alpha_max * static_cast<double>(i) / static_cast<double>(n - 1);
    } else {
        // alpha_0 = 0; alpha_i = alpha_min (alpha_max/alpha_min)^((i-1)/(n-2)), i = 1..n-1.
        alphas[0] = 0.0;
        const double lo = std::log(s.alpha_min);
        const double hi = std::log(s.alpha_max);
        for (std::size_t i = 1; i < n; ++i) {
            const double t = n > 2 ? static_cast<double>(i - 1) / static_cast<double>(n - 2) : 1.0;
            alphas[i] = std::exp(lo + t * (hi - lo));
        }
    }
    alphas.back() = s.alpha_max; // exact end point, free of rounding
    return alphas;
}

} // namespace plateau
