// g(x) = x; called "identity" as output function h (docs/theory.md §1).
#pragma once

#include "models/activations/evaluator.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct Linear {
    static constexpr std::string_view name = "linear";
    static constexpr std::array<std::string_view, 1> aliases{"identity"};
    static constexpr std::optional<OutputRole> output = OutputRole{"identity", 0};
    static constexpr bool has_closed_form = true; // exact: I2 = C_ab, ...
    static constexpr QuadratureShape quadrature = QuadratureShape::polynomial;
    static constexpr Parity parity = Parity::odd;
    static constexpr int degree = 1;

    /// g(x) = x
    [[nodiscard]] static double value(double x, double /*gamma*/) noexcept { return x; }
    /// g'(x) = 1
    [[nodiscard]] static double derivative(double /*x*/, double /*gamma*/) noexcept { return 1.0; }
};

} // namespace plateau::activations
