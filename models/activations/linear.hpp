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
    /// g(-x) = -g(x), g(x) or neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& /*p*/) noexcept {
        return Parity::odd;
    }

    /// g(x) = x (Real = double or vmath::Vec, HasVectorForm)
    template <class Real>
    [[nodiscard, gnu::always_inline]] static Real value_of(Real x,
                                                           const Parameters& /*p*/) noexcept {
        return x;
    }
    /// g(x) and g'(x) = 1
    template <class Real>
    [[nodiscard, gnu::always_inline]] static BasicValueSlope<Real>
    value_and_derivative_of(Real x, const Parameters& /*p*/) noexcept {
        return {x, Real{} + 1.0};
    }
    [[nodiscard]] static double value(double x, const Parameters& p) noexcept {
        return value_of(x, p);
    }
    [[nodiscard]] static double derivative(double /*x*/, const Parameters& /*p*/) noexcept {
        return 1.0;
    }
    /// its coefficients (docs/theory.md §8)
    [[nodiscard]] static constexpr Polynomial polynomial(const Parameters& /*p*/) noexcept {
        return Polynomial{{{0.0, 1.0}}};
    }
};

} // namespace plateau::activations
