// Statistics the statistical tests share.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace plateau::test {

/// Running mean and standard error.
struct Stat {
    double sum = 0.0, sum_sq = 0.0;
    std::int64_t n = 0;
    void add(double x) {
        sum += x;
        sum_sq += x * x;
        ++n;
    }
    [[nodiscard]] double mean() const { return sum / static_cast<double>(n); }
    [[nodiscard]] double standard_error() const {
        const double m = mean();
        const double var =
            std::max(0.0, (sum_sq - static_cast<double>(n) * m * m) / static_cast<double>(n - 1));
        return std::sqrt(var / static_cast<double>(n));
    }
};

} // namespace plateau::test
