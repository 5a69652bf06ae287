// A real polynomial p(x) = c_0 + c_1 x + ... + c_8 x^8 in a fixed array: the coefficients of the
// activation `poly` (models/activations/poly.hpp), the form of every polynomial activation
// (linear, square, he1..he4: their evaluator's `polynomial`) and what the exact Gaussian averages
// of models/polynomial_averages.hpp multiply out. A plain value type (docs/theory.md §8).
#pragma once

#include <array>
#include <cstddef>

namespace plateau {

struct Polynomial {
    /// The largest degree a Polynomial holds (`poly:c0:...:c8`).
    static constexpr int max_degree = 8;
    /// c[k] is the coefficient of x^k.
    std::array<double, max_degree + 1> c{};

    /// The index of the last non-zero coefficient; 0 for a constant (and for the zero polynomial).
    [[nodiscard]] constexpr int degree() const noexcept {
        int d = max_degree;
        while (d > 0 && c[static_cast<std::size_t>(d)] == 0.0)
            --d;
        return d;
    }
    [[nodiscard]] constexpr bool is_zero() const noexcept {
        for (const double x : c)
            if (x != 0.0)
                return false;
        return true;
    }
    /// p(x) by Horner's rule from the degree down.
    [[nodiscard]] constexpr double value(double x) const noexcept {
        int k = degree();
        double out = c[static_cast<std::size_t>(k)];
        while (k-- > 0)
            out = out * x + c[static_cast<std::size_t>(k)];
        return out;
    }
    /// p'(x) = sum_k k c_k x^(k-1), by Horner's rule.
    [[nodiscard]] constexpr double slope(double x) const noexcept {
        int k = degree();
        if (k == 0)
            return 0.0;
        double out = static_cast<double>(k) * c[static_cast<std::size_t>(k)];
        while (--k > 0)
            out = out * x + static_cast<double>(k) * c[static_cast<std::size_t>(k)];
        return out;
    }
    /// The polynomial p'.
    [[nodiscard]] constexpr Polynomial derivative() const noexcept {
        Polynomial out;
        for (std::size_t k = 1; k < c.size(); ++k)
            out.c[k - 1] = static_cast<double>(k) * c[k];
        return out;
    }

    friend constexpr bool operator==(const Polynomial&, const Polynomial&) = default;
};

/// The probabilists' Hermite polynomial He_k (k <= max_degree) times `scale`:
/// He_0 = 1, He_1 = x, He_{k+1} = x He_k - k He_{k-1} (docs/theory.md §8).
[[nodiscard]] constexpr Polynomial hermite(int k, double scale = 1.0) noexcept {
    Polynomial prev; // He_{j-1}
    Polynomial cur;  // He_j
    cur.c[0] = 1.0;
    for (int j = 0; j < k; ++j) {
        Polynomial next;
        for (std::size_t i = 0; i + 1 < next.c.size(); ++i)
            next.c[i + 1] = cur.c[i];
        for (std::size_t i = 0; i < next.c.size(); ++i)
            next.c[i] -= static_cast<double>(j) * prev.c[i];
        prev = cur;
        cur = next;
    }
    for (double& x : cur.c)
        x *= scale;
    return cur;
}

} // namespace plateau
