// g(x) = he1(x) = He_1(x) / sqrt(1!), the normalised probabilists' Hermite polynomial of degree 1:
// <he1(u)^2> = 1 and <he1(u) he_j(u)> = 0 (j != 1) for u ~ N(0, 1) (docs/theory.md §8). Not an
// output function. Its Gaussian averages are exact (models/polynomial_averages.hpp).
#pragma once

#include "models/activations/evaluator.hpp"
#include "models/polynomial.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct He1 {
    static constexpr std::string_view name = "he1";
    static constexpr std::array<std::string_view, 0> aliases{};
    static constexpr std::optional<OutputRole> output{};
    static constexpr bool has_closed_form = false;
    static constexpr QuadratureShape quadrature = QuadratureShape::polynomial;
    /// g(-x) = -g(x), g(x) or neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& /*p*/) noexcept {
        return Parity::odd;
    }

    /// g(x) = x
    [[nodiscard]] static double value(double x, const Parameters& /*p*/) noexcept { return x; }
    /// g'(x) = 1 (He_k' = k He_(k-1))
    [[nodiscard]] static double derivative(double /*x*/, const Parameters& /*p*/) noexcept {
        return 1.0;
    }
    /// its coefficients: hermite(1) / sqrt(1!)
    [[nodiscard]] static constexpr Polynomial polynomial(const Parameters& /*p*/) noexcept {
        return hermite(1, 1.0);
    }
};

} // namespace plateau::activations
