// g(x) = 1 / (1 + exp(-x)), the logistic function (docs/theory.md §1).
#pragma once

#include "models/activations/evaluator.hpp"

#include <array>
#include <cmath>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct Sigmoid {
    static constexpr std::string_view name = "sigmoid";
    static constexpr std::array<std::string_view, 0> aliases{};
    static constexpr std::optional<OutputRole> output{};
    static constexpr bool has_closed_form = false;
    static constexpr QuadratureShape quadrature = QuadratureShape::strip;
    /// g(-x) = -g(x), g(x) or neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& /*p*/) noexcept {
        return Parity::none;
    }

    /// g(x) = 1 / (1 + exp(-x))
    [[nodiscard]] static double value(double x, const Parameters& /*p*/) noexcept {
        return 1.0 / (1.0 + std::exp(-x));
    }
    /// g'(x) = g(x) (1 - g(x))
    [[nodiscard]] static double derivative(double x, const Parameters& p) noexcept {
        return value_and_derivative(x, p).slope;
    }
    /// Both from one exp: the values of value() and derivative().
    [[nodiscard]] static ValueSlope value_and_derivative(double x, const Parameters& p) noexcept {
        const double s = value(x, p);
        return {s, s * (1.0 - s)};
    }
    /// The quadrature's factor: the same.
    [[nodiscard]] static ValueSlope value_and_slope(double x, const Parameters& p) noexcept {
        return value_and_derivative(x, p);
    }
    /// sigmoid(x) = 1/2 + tanh(x / 2) / 2: kappa = 1/2 (docs/theory.md §9)
    [[nodiscard]] static double sharpness(double /*gamma*/) noexcept { return 0.5; }
};

} // namespace plateau::activations
