// g(x) = he3(x) = He_3(x) / sqrt(3!), the normalised probabilists' Hermite polynomial of degree 3:
// <he3(u)^2> = 1 and <he3(u) he_j(u)> = 0 (j != 3) for u ~ N(0, 1) (docs/theory.md §8). Not an
// output function. Its Gaussian averages are exact (models/polynomial_averages.hpp).
#pragma once

#include "models/activations/evaluator.hpp"
#include "models/polynomial.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct He3 {
    static constexpr std::string_view name = "he3";
    static constexpr std::array<std::string_view, 0> aliases{};
    static constexpr std::optional<OutputRole> output{};
    static constexpr bool has_closed_form = false;
    static constexpr QuadratureShape quadrature = QuadratureShape::polynomial;
    /// g(-x) = -g(x), g(x) or neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& /*p*/) noexcept {
        return Parity::odd;
    }
    /// 1 / sqrt(3!) = 1/sqrt(6)
    static constexpr double inv_norm = 0.40824829046386301637;

    /// g(x) = (x^3 - 3x) / sqrt(6)
    [[nodiscard]] static double value(double x, const Parameters& /*p*/) noexcept {
        return (x * x - 3.0) * x * inv_norm;
    }
    /// g'(x) = (3x^2 - 3) / sqrt(6) = sqrt(3) he2(x) (He_k' = k He_(k-1))
    [[nodiscard]] static double derivative(double x, const Parameters& /*p*/) noexcept {
        return (3.0 * x * x - 3.0) * inv_norm;
    }
    /// its coefficients: hermite(3) / sqrt(3!)
    [[nodiscard]] static constexpr Polynomial polynomial(const Parameters& /*p*/) noexcept {
        return hermite(3, inv_norm);
    }
};

} // namespace plateau::activations
