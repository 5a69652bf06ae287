// Statistics the statistical tests share.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

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

/// Two-sample Kolmogorov-Smirnov test (tests/test_gram.cpp, tests/test_sphere.cpp): the
/// p-value of the largest distance between the empirical distribution functions (asymptotic
/// Kolmogorov distribution with the effective size n m / (n + m) and Stephens' correction;
/// conservative with ties).
inline double ks_p_value(std::vector<double> a, std::vector<double> b) {
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    const auto n = static_cast<double>(a.size());
    const auto m = static_cast<double>(b.size());
    std::size_t i = 0;
    std::size_t j = 0;
    double d = 0.0;
    while (i < a.size() && j < b.size()) {
        const double t = std::min(a[i], b[j]);
        while (i < a.size() && a[i] <= t)
            ++i;
        while (j < b.size() && b[j] <= t)
            ++j;
        d = std::max(d, std::abs(static_cast<double>(i) / n - static_cast<double>(j) / m));
    }
    if (d == 0.0)
        return 1.0;
    const double en = std::sqrt(n * m / (n + m));
    const double lambda = (en + 0.12 + 0.11 / en) * d;
    double p = 0.0;
    for (int k = 1; k <= 100; ++k)
        p += 2.0 * ((k % 2 == 1) ? 1.0 : -1.0) * std::exp(-2.0 * k * k * lambda * lambda);
    return std::clamp(p, 0.0, 1.0);
}

} // namespace plateau::test
