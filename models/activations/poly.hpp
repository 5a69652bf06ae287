// g(x) = c_0 + c_1 x + ... + c_d x^d (d <= 8), a general polynomial with the coefficients the
// configuration gives: `activation = poly:c0:c1:...:cd` (models/activation.hpp, parse_hidden;
// docs/theory.md §8). The coefficients travel in the Activation (Parameters::coefficients); every
// other evaluator ignores them. Not an output function. Its Gaussian averages are exact
// (models/polynomial_averages.hpp).
#pragma once

#include "models/activations/evaluator.hpp"
#include "models/polynomial.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace plateau::activations {

struct Poly {
    static constexpr std::string_view name = "poly";
    static constexpr std::array<std::string_view, 0> aliases{};
    static constexpr std::optional<OutputRole> output{};
    static constexpr bool has_closed_form = false;
    static constexpr QuadratureShape quadrature = QuadratureShape::polynomial;
    /// Even when every odd power's coefficient is 0, odd when every even power's is, else neither
    [[nodiscard]] static constexpr Parity parity(const Parameters& p) noexcept {
        bool odd = false;
        bool even = false;
        for (std::size_t k = 0; k < p.coefficients.c.size(); ++k)
            if (p.coefficients.c[k] != 0.0)
                (k % 2 == 0 ? even : odd) = true;
        return odd && !even ? Parity::odd : even && !odd ? Parity::even : Parity::none;
    }

    /// g(x) = sum_k c_k x^k (Horner)
    [[nodiscard]] static double value(double x, const Parameters& p) noexcept {
        return p.coefficients.value(x);
    }
    /// g'(x) = sum_k k c_k x^(k-1) (Horner)
    [[nodiscard]] static double derivative(double x, const Parameters& p) noexcept {
        return p.coefficients.slope(x);
    }
    /// its coefficients
    [[nodiscard]] static constexpr Polynomial polynomial(const Parameters& p) noexcept {
        return p.coefficients;
    }
};

} // namespace plateau::activations
