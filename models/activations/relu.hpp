// g(x) = max(0, x) (docs/theory.md §3b; Straat & Biehl 2019).
#pragma once

#include "models/activations/evaluator.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct Relu {
    static constexpr std::string_view name = "relu";
    static constexpr std::array<std::string_view, 0> aliases{};
    static constexpr std::optional<OutputRole> output{};
    static constexpr bool has_closed_form = true; // docs/theory.md §3b
    static constexpr QuadratureShape quadrature = QuadratureShape::kink_at_zero;
    /// g(-x) = -g(x), g(x) or neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& /*p*/) noexcept {
        return Parity::none;
    }

    /// g(x) = max(0, x)
    [[nodiscard]] static double value(double x, const Parameters& /*p*/) noexcept {
        return x > 0.0 ? x : 0.0;
    }
    /// g'(x) = 1[x > 0], so g'(0) = 0: a unit of zero variance contributes nothing
    [[nodiscard]] static double derivative(double x, const Parameters& /*p*/) noexcept {
        return x > 0.0 ? 1.0 : 0.0;
    }
};

} // namespace plateau::activations
