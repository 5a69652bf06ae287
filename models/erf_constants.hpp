// What the erf averages of gaussian_integrals.cpp and the erf sums of erf_sums.cpp share: the
// prefactor 2/pi of I2, I3 and J2 and the clamp of an arcsin argument (docs/theory.md §2).
#pragma once

#include <algorithm>
#include <numbers>

namespace plateau::integrals {

/// 2/pi: I2 = (2/pi) arcsin(...), I3, J2 (docs/theory.md §2).
inline constexpr double two_over_pi = 2.0 / std::numbers::pi;

/// An arcsin argument clamped to [-1, 1]: rounding can carry a correlation just past it.
[[nodiscard]] inline double clamp1(double x) noexcept {
    return std::clamp(x, -1.0, 1.0);
}

} // namespace plateau::integrals
