// g(x) = tanh(gamma x), hidden or output (docs/theory.md §1).
#pragma once

#include "models/activations/evaluator.hpp"

#include <array>
#include <cmath>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct Tanh {
    static constexpr std::string_view name = "tanh";
    static constexpr std::array<std::string_view, 0> aliases{};
    static constexpr std::optional<OutputRole> output = OutputRole{"tanh", 1};
    static constexpr bool has_closed_form = false;
    static constexpr QuadratureShape quadrature = QuadratureShape::strip;
    /// g(-x) = -g(x), g(x) or neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& /*p*/) noexcept {
        return Parity::odd;
    }

    /// g(x) = tanh(gamma x); Real = double is libm's std::tanh, Real = vmath::Vec the vector
    /// kernel (HasVectorForm)
    template <class Real>
    [[nodiscard, gnu::always_inline]] static Real value_of(Real x, const Parameters& p) noexcept {
        return vmath::tanh(p.gamma * x);
    }
    /// g and g' = gamma (1 - tanh^2(gamma x)) (docs/theory.md after Eq. (3)) from one tanh
    template <class Real>
    [[nodiscard, gnu::always_inline]] static BasicValueSlope<Real>
    value_and_derivative_of(Real x, const Parameters& p) noexcept {
        const Real t = value_of(x, p);
        return {t, p.gamma * (1.0 - t * t)};
    }
    [[nodiscard]] static double value(double x, const Parameters& p) noexcept {
        return value_of(x, p);
    }
    [[nodiscard]] static double derivative(double x, const Parameters& p) noexcept {
        return value_and_derivative(x, p).slope;
    }
    /// g and g' from one tanh: the values of value() and derivative().
    [[nodiscard]] static ValueSlope value_and_derivative(double x, const Parameters& p) noexcept {
        return value_and_derivative_of(x, p);
    }
    /// The quadrature's form (docs/theory.md §9), one expm1 instead of tanh, exact to a few ulp:
    /// tanh(a) = -em / (2 + em) with em = expm1(-2|a|), and g' = gamma (1 - t)(1 + t).
    [[nodiscard]] static ValueSlope value_and_slope(double x, const Parameters& p) noexcept {
        const double a = p.gamma * x;
        const double em = std::expm1(-2.0 * std::abs(a));
        const double t = -em / (2.0 + em);
        return {a < 0.0 ? -t : t, p.gamma * (1.0 - t) * (1.0 + t)};
    }
    /// kappa of tanh(kappa x): the poles of g lie at Im x = pi / (2 kappa)
    [[nodiscard]] static double sharpness(double gamma) noexcept { return std::abs(gamma); }
};

} // namespace plateau::activations
