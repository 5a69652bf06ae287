// g(x) = x^2: a polynomial activation (not an output function). Its Gaussian averages have no
// closed form here: the theory takes them from the quadrature of docs/theory.md §9 (Gauss-Hermite,
// exact for a polynomial), the simulation's eps_g from Monte Carlo.
#pragma once

#include "models/activations/evaluator.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct Square {
    static constexpr std::string_view name = "square";
    static constexpr std::array<std::string_view, 0> aliases{};
    static constexpr std::optional<OutputRole> output{};
    static constexpr bool has_closed_form = false;
    static constexpr QuadratureShape quadrature = QuadratureShape::polynomial;
    /// g(-x) = -g(x), g(x) or neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& /*p*/) noexcept {
        return Parity::even;
    }

    /// g(x) = x^2
    [[nodiscard]] static double value(double x, const Parameters& /*p*/) noexcept { return x * x; }
    /// g'(x) = 2x
    [[nodiscard]] static double derivative(double x, const Parameters& /*p*/) noexcept {
        return 2.0 * x;
    }
    /// its coefficients (docs/theory.md §8)
    [[nodiscard]] static constexpr Polynomial polynomial(const Parameters& /*p*/) noexcept {
        return Polynomial{{{0.0, 0.0, 1.0}}};
    }
};

} // namespace plateau::activations
