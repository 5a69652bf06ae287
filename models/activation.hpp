// Activation functions g (hidden units) and h (output) of the two-layer network, Eq. (1) in
// docs/theory.md §1, with their derivatives g' and h' used in Eqs. (3)-(5).
#pragma once

#include <array>
#include <cmath>
#include <numbers>
#include <optional>
#include <string>
#include <string_view>

namespace plateau {

enum class ActivationKind {
    erf,     ///< g(x) = erf(x/sqrt(2)), the soft-committee convention of Saad & Solla
    tanh,    ///< g(x) = tanh(gamma x)
    sigmoid, ///< g(x) = 1/(1 + exp(-x))
    relu,    ///< g(x) = max(0, x)
    linear,  ///< g(x) = x; called "identity" when used as output function h
};

inline constexpr std::array<ActivationKind, 5> all_activation_kinds{
    ActivationKind::erf, ActivationKind::tanh, ActivationKind::sigmoid, ActivationKind::relu,
    ActivationKind::linear};

/// Canonical name, as used in configuration files and output attributes.
[[nodiscard]] constexpr std::string_view name(ActivationKind k) noexcept {
    switch (k) {
    case ActivationKind::erf:
        return "erf";
    case ActivationKind::tanh:
        return "tanh";
    case ActivationKind::sigmoid:
        return "sigmoid";
    case ActivationKind::relu:
        return "relu";
    case ActivationKind::linear:
        return "linear";
    }
    return "?";
}

/// Parses an activation name. The one place that knows aliases: "identity" is accepted as a
/// synonym of "linear" (and "linear" names the output function "identity").
[[nodiscard]] std::optional<ActivationKind> parse_activation(std::string_view s) noexcept;
/// "erf, tanh, sigmoid, relu, linear": the allowed names, for error messages.
[[nodiscard]] std::string activation_names();

/// Output functions h allowed by the model: identity and tanh(gamma x), in this order.
inline constexpr std::array<ActivationKind, 2> output_kinds{ActivationKind::linear,
                                                            ActivationKind::tanh};

[[nodiscard]] constexpr bool is_output_kind(ActivationKind k) noexcept {
    for (const auto o : output_kinds)
        if (o == k)
            return true;
    return false;
}
/// Name of an output function: "identity" for linear, name(k) otherwise.
[[nodiscard]] constexpr std::string_view output_name(ActivationKind k) noexcept {
    return k == ActivationKind::linear ? std::string_view{"identity"} : name(k);
}
/// Parses an output-function name (aliases included); nullopt for a name that is not one.
[[nodiscard]] std::optional<ActivationKind> parse_output(std::string_view s) noexcept;
/// "identity, tanh": the allowed output names, for error messages.
[[nodiscard]] std::string output_names();

/// An activation function with its parameter. A plain value type: cheap to copy.
struct Activation {
    ActivationKind kind = ActivationKind::erf;
    double gamma = 1.0; ///< slope of tanh(gamma x); unused by the other kinds

    [[nodiscard]] double value(double x) const noexcept {
        switch (kind) {
        case ActivationKind::erf:
            return std::erf(x * std::numbers::sqrt2 / 2.0);
        case ActivationKind::tanh:
            return std::tanh(gamma * x);
        case ActivationKind::sigmoid:
            return 1.0 / (1.0 + std::exp(-x));
        case ActivationKind::relu:
            return x > 0.0 ? x : 0.0;
        case ActivationKind::linear:
            return x;
        }
        return 0.0;
    }

    [[nodiscard]] double derivative(double x) const noexcept {
        switch (kind) {
        case ActivationKind::erf: // d/dx erf(x/sqrt 2) = sqrt(2/pi) exp(-x^2/2)
            return std::numbers::sqrt2 * std::numbers::inv_sqrtpi * std::exp(-0.5 * x * x);
        case ActivationKind::tanh: { // gamma (1 - tanh^2(gamma x)), docs/theory.md after Eq. (3)
            const double t = std::tanh(gamma * x);
            return gamma * (1.0 - t * t);
        }
        case ActivationKind::sigmoid: {
            const double s = 1.0 / (1.0 + std::exp(-x));
            return s * (1.0 - s);
        }
        case ActivationKind::relu:
            return x > 0.0 ? 1.0 : 0.0;
        case ActivationKind::linear:
            return 1.0;
        }
        return 0.0;
    }

    friend bool operator==(const Activation&, const Activation&) = default;
};

} // namespace plateau
