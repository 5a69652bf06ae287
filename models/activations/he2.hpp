// g(x) = he2(x) = He_2(x) / sqrt(2!), the normalised probabilists' Hermite polynomial of degree 2:
// <he2(u)^2> = 1 and <he2(u) he_j(u)> = 0 (j != 2) for u ~ N(0, 1) (docs/theory.md §8). Not an
// output function. Its Gaussian averages are exact (models/polynomial_averages.hpp).
#pragma once

#include "models/activations/evaluator.hpp"
#include "models/polynomial.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct He2 {
    static constexpr std::string_view name = "he2";
    static constexpr std::array<std::string_view, 0> aliases{};
    static constexpr std::optional<OutputRole> output{};
    static constexpr bool has_closed_form = false;
    static constexpr QuadratureShape quadrature = QuadratureShape::polynomial;
    /// g(-x) = -g(x), g(x) or neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& /*p*/) noexcept {
        return Parity::even;
    }
    /// 1 / sqrt(2!) = 1/sqrt(2)
    static constexpr double inv_norm = 0.70710678118654752440;

    /// g(x) = (x^2 - 1) / sqrt(2)
    [[nodiscard]] static double value(double x, const Parameters& /*p*/) noexcept {
        return (x * x - 1.0) * inv_norm;
    }
    /// g'(x) = 2x / sqrt(2) = sqrt(2) he1(x) (He_k' = k He_(k-1))
    [[nodiscard]] static double derivative(double x, const Parameters& /*p*/) noexcept {
        return 2.0 * x * inv_norm;
    }
    /// its coefficients: hermite(2) / sqrt(2!)
    [[nodiscard]] static constexpr Polynomial polynomial(const Parameters& /*p*/) noexcept {
        return hermite(2, inv_norm);
    }
};

} // namespace plateau::activations
