// g(x) = he4(x) = He_4(x) / sqrt(4!), the normalised probabilists' Hermite polynomial of degree 4:
// <he4(u)^2> = 1 and <he4(u) he_j(u)> = 0 (j != 4) for u ~ N(0, 1) (docs/theory.md §8). Not an
// output function. Its Gaussian averages are exact (models/polynomial_averages.hpp).
#pragma once

#include "models/activations/evaluator.hpp"
#include "models/polynomial.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct He4 {
    static constexpr std::string_view name = "he4";
    static constexpr std::array<std::string_view, 0> aliases{};
    static constexpr std::optional<OutputRole> output{};
    static constexpr bool has_closed_form = false;
    static constexpr QuadratureShape quadrature = QuadratureShape::polynomial;
    /// g(-x) = -g(x), g(x) or neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& /*p*/) noexcept {
        return Parity::even;
    }
    /// 1 / sqrt(4!) = 1/sqrt(24)
    static constexpr double inv_norm = 0.20412414523193150818;

    /// g(x) = (x^4 - 6x^2 + 3) / sqrt(24)
    [[nodiscard]] static double value(double x, const Parameters& /*p*/) noexcept {
        return ((x * x - 6.0) * x * x + 3.0) * inv_norm;
    }
    /// g'(x) = (4x^3 - 12x) / sqrt(24) = 2 he3(x) (He_k' = k He_(k-1))
    [[nodiscard]] static double derivative(double x, const Parameters& /*p*/) noexcept {
        return (4.0 * x * x - 12.0) * x * inv_norm;
    }
    /// its coefficients: hermite(4) / sqrt(4!)
    [[nodiscard]] static constexpr Polynomial polynomial(const Parameters& /*p*/) noexcept {
        return hermite(4, inv_norm);
    }
};

} // namespace plateau::activations
