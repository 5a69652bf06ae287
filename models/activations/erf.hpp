// g(x) = erf(x / sqrt 2): the soft-committee activation of Saad & Solla (docs/theory.md §1, §2).
#pragma once

#include "models/activations/evaluator.hpp"

#include <array>
#include <cmath>
#include <numbers>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct Erf {
    static constexpr std::string_view name = "erf";
    static constexpr std::array<std::string_view, 0> aliases{};
    static constexpr std::optional<OutputRole> output{};
    static constexpr bool has_closed_form = true; // docs/theory.md §2
    static constexpr QuadratureShape quadrature = QuadratureShape::entire;
    /// g(-x) = -g(x), g(x) or neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& /*p*/) noexcept {
        return Parity::odd;
    }

    /// g(x) = erf(x / sqrt 2), docs/theory.md §1; Real = double is libm's std::erf, Real =
    /// vmath::Vec the vector kernel (HasVectorForm)
    template <class Real>
    [[nodiscard, gnu::always_inline]] static Real value_of(Real x,
                                                           const Parameters& /*p*/) noexcept {
        return vmath::erf(x * std::numbers::sqrt2 / 2.0);
    }
    /// g'(x) = d/dx erf(x / sqrt 2) = sqrt(2/pi) exp(-x^2/2)
    template <class Real>
    [[nodiscard, gnu::always_inline]] static Real derivative_of(Real x,
                                                                const Parameters& /*p*/) noexcept {
        return std::numbers::sqrt2 * std::numbers::inv_sqrtpi * vmath::exp(-0.5 * x * x);
    }
    template <class Real>
    [[nodiscard, gnu::always_inline]] static BasicValueSlope<Real>
    value_and_derivative_of(Real x, const Parameters& p) noexcept {
        return {value_of(x, p), derivative_of(x, p)};
    }
    [[nodiscard]] static double value(double x, const Parameters& p) noexcept {
        return value_of(x, p);
    }
    [[nodiscard]] static double derivative(double x, const Parameters& p) noexcept {
        return derivative_of(x, p);
    }
};

} // namespace plateau::activations
