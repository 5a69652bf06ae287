// Activation functions g (hidden units) and h (output) of the two-layer network, Eq. (1) in
// docs/theory.md §1, with their derivatives g' and h' used in Eqs. (3)-(5).
//
// Every activation is an evaluator listed in models/activation_table.hpp; this header turns the
// list into the enumeration's tables (all_activation_kinds, name, parse_activation,
// output_kinds, output_name, parse_output) and the dispatch visit_activation that
// Activation::value / derivative (and the Gaussian averages) go through.
#pragma once

#include "models/activation_table.hpp"
#include "models/polynomial.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace plateau {

namespace detail {

template <class List>
struct ActivationTable;

template <class... E>
struct ActivationTable<activations::List<E...>> {
    static constexpr std::size_t size = sizeof...(E);
    static constexpr std::array<std::string_view, size> names{E::name...};
    static constexpr std::array<std::optional<activations::OutputRole>, size> outputs{E::output...};

    /// f(std::type_identity<E>{}) for the evaluator E at index k (R{} for k past the list).
    template <class F>
    static constexpr decltype(auto) visit(std::size_t k, F&& f) {
        using First = std::tuple_element_t<0, std::tuple<E...>>;
        using R = std::invoke_result_t<F&, std::type_identity<First>>;
        return visit_indexed<R>(k, f, std::index_sequence_for<E...>{});
    }

private:
    // An if-chain on k that the compiler turns into a switch: each branch is the evaluator's
    // inline code, so the hot path (Activation::value per field per step) stays inlined.
    template <class R, class F, std::size_t... I>
    static constexpr R visit_indexed(std::size_t k, F& f, std::index_sequence<I...>) {
        if constexpr (std::is_void_v<R>) {
            static_cast<void>(((k == I ? (f(std::type_identity<E>{}), true) : false) || ...));
        } else {
            R out{};
            static_cast<void>(((k == I ? (out = f(std::type_identity<E>{}), true) : false) || ...));
            return out;
        }
    }
};

using Table = ActivationTable<ActivationEvaluators>;

[[nodiscard]] constexpr std::size_t index(ActivationKind k) noexcept {
    return static_cast<std::size_t>(k);
}

/// The number of output functions (evaluators with an OutputRole).
[[nodiscard]] constexpr std::size_t output_count() noexcept {
    std::size_t count = 0;
    for (const auto& o : Table::outputs)
        count += o ? 1 : 0;
    return count;
}

/// True if the OutputRole orders are 0, 1, ..., output_count() - 1, each once.
[[nodiscard]] constexpr bool output_orders_valid() noexcept {
    for (std::size_t at = 0; at < output_count(); ++at) {
        int uses = 0;
        for (const auto& o : Table::outputs)
            uses += o && o->order >= 0 && static_cast<std::size_t>(o->order) == at ? 1 : 0;
        if (uses != 1)
            return false;
    }
    return true;
}
static_assert(output_orders_valid(),
              "OutputRole::order must number the output functions 0, 1, ...");

/// The output functions ordered by OutputRole::order.
[[nodiscard]] constexpr std::array<ActivationKind, output_count()> make_output_kinds() noexcept {
    std::array<ActivationKind, output_count()> out{};
    for (std::size_t i = 0; i < Table::size; ++i)
        if (const auto& o = Table::outputs[i])
            out[static_cast<std::size_t>(o->order)] = static_cast<ActivationKind>(i);
    return out;
}

} // namespace detail

/// Calls f(std::type_identity<E>{}) with the evaluator E of kind k (models/activation_table.hpp)
/// and returns its result: the one dispatch from an ActivationKind to an evaluator.
template <class F>
constexpr decltype(auto) visit_activation(ActivationKind k, F&& f) {
    return detail::Table::visit(detail::index(k), std::forward<F>(f));
}

/// Every activation, in the order of the list.
inline constexpr auto all_activation_kinds = [] {
    std::array<ActivationKind, detail::Table::size> out{};
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<ActivationKind>(i);
    return out;
}();

/// Canonical name, as used in configuration files and output attributes.
[[nodiscard]] constexpr std::string_view name(ActivationKind k) noexcept {
    const std::size_t i = detail::index(k);
    return i < detail::Table::size ? detail::Table::names[i] : std::string_view{"?"};
}

/// Parses an activation name or one of its evaluator's aliases ("identity" for linear).
[[nodiscard]] std::optional<ActivationKind> parse_activation(std::string_view s) noexcept;
/// "erf, tanh, sigmoid, relu, linear, square": the allowed names, for error messages.
[[nodiscard]] std::string activation_names();

/// Output functions h allowed by the model (evaluators with an OutputRole), in their order:
/// identity, tanh(gamma x).
inline constexpr auto output_kinds = detail::make_output_kinds();

[[nodiscard]] constexpr bool is_output_kind(ActivationKind k) noexcept {
    const std::size_t i = detail::index(k);
    return i < detail::Table::size && detail::Table::outputs[i].has_value();
}
/// Name of an output function ("identity" for linear); name(k) for an activation that is not one.
[[nodiscard]] constexpr std::string_view output_name(ActivationKind k) noexcept {
    return is_output_kind(k) ? detail::Table::outputs[detail::index(k)]->name : name(k);
}
/// Parses an output-function name (aliases included); nullopt for a name that is not one.
[[nodiscard]] std::optional<ActivationKind> parse_output(std::string_view s) noexcept;
/// "identity, tanh": the allowed output names, for error messages.
[[nodiscard]] std::string output_names();

/// An activation function with its parameters (activations::Parameters: the slope gamma of
/// tanh(gamma x); the coefficients of poly, zero for every other kind). A plain value type: cheap
/// to copy. The evaluators read the parameters by reference (the hot path).
struct Activation : activations::Parameters {
    ActivationKind kind = ActivationKind::erf;

    constexpr Activation() noexcept = default;
    constexpr explicit Activation(ActivationKind k, double slope = 1.0,
                                  const Polynomial& c = {}) noexcept
        : Parameters{slope, c}, kind(k) {}

    /// g(x): the evaluator's value (models/activations/).
    [[nodiscard]] double value(double x) const noexcept {
        return visit_activation(
            kind, [&]<class E>(std::type_identity<E>) noexcept { return E::value(x, *this); });
    }

    /// g'(x): the evaluator's derivative (models/activations/).
    [[nodiscard]] double derivative(double x) const noexcept {
        return visit_activation(
            kind, [&]<class E>(std::type_identity<E>) noexcept { return E::derivative(x, *this); });
    }

    /// (g(x), g'(x)): the values of value() and derivative(), bit for bit, from one evaluation of
    /// their shared part where the evaluator has one (activations::HasValueDerivative).
    [[nodiscard]] activations::ValueSlope value_and_derivative(double x) const noexcept {
        return visit_activation(kind, [&]<class E>(std::type_identity<E>) noexcept {
            if constexpr (activations::HasValueDerivative<E>)
                return E::value_and_derivative(x, *this);
            else
                return activations::ValueSlope{E::value(x, *this), E::derivative(x, *this)};
        });
    }

    /// True if the evaluator has a vector form (activations::HasVectorForm: erf, tanh, linear):
    /// then the overloads below on vmath::Vec run its vector kernels.
    [[nodiscard]] bool has_vector_form() const noexcept {
        return visit_activation(kind, [&]<class E>(std::type_identity<E>) noexcept {
            return activations::HasVectorForm<E>;
        });
    }

    /// g at four points: the evaluator's vector form (models/vector_math.hpp: within a few ulp of
    /// value(), not bit for bit), else value() lane by lane.
    [[nodiscard, gnu::always_inline]] vmath::Vec value(vmath::Vec x) const noexcept {
        return visit_activation(kind, [&]<class E>(std::type_identity<E>) noexcept {
            if constexpr (activations::HasVectorForm<E>) {
                return E::value_of(x, *this);
            } else {
                vmath::Vec out{};
                for (std::size_t l = 0; l < vmath::lanes; ++l)
                    out[l] = E::value(x[l], *this);
                return out;
            }
        });
    }

    /// (g, g') at four points: the evaluator's vector form, else value_and_derivative lane by
    /// lane.
    [[nodiscard, gnu::always_inline]] activations::BasicValueSlope<vmath::Vec>
    value_and_derivative(vmath::Vec x) const noexcept {
        if (has_vector_form()) {
            return visit_activation(kind, [&]<class E>(std::type_identity<E>) noexcept {
                if constexpr (activations::HasVectorForm<E>)
                    return E::value_and_derivative_of(x, *this);
                else
                    return activations::BasicValueSlope<vmath::Vec>{};
            });
        }
        activations::BasicValueSlope<vmath::Vec> out{};
        for (std::size_t l = 0; l < vmath::lanes; ++l) {
            const activations::ValueSlope one = value_and_derivative(x[l]);
            out.value[l] = one.value;
            out.slope[l] = one.slope;
        }
        return out;
    }

    /// g's symmetry under x -> -x (the evaluator's).
    [[nodiscard]] activations::Parity parity() const noexcept {
        return visit_activation(
            kind, [&]<class E>(std::type_identity<E>) noexcept { return E::parity(*this); });
    }

    friend bool operator==(const Activation&, const Activation&) = default;
};

/// The coefficients of poly_example.
inline constexpr Polynomial poly_example_coefficients{{1.0, 0.0, -0.5}};

/// Activation{k, gamma}, with poly_example's coefficients for poly: a usable activation of every
/// kind (the tests' loops over all_activation_kinds).
[[nodiscard]] constexpr Activation typical_activation(ActivationKind k,
                                                      double gamma = 1.0) noexcept {
    return Activation{k, gamma,
                      k == ActivationKind::poly ? poly_example_coefficients : Polynomial{}};
}

/// The coefficients of a polynomial activation (an evaluator with QuadratureShape::polynomial:
/// linear, square, he1..he4, poly); nullopt for the others.
[[nodiscard]] std::optional<Polynomial> as_polynomial(const Activation& g) noexcept;

/// The form of poly in the configuration: "poly:C0:C1:...:Cd", c_k the coefficient of x^k
/// (d <= 8). ':' separates, so that a sweep's ',' lists activations (`activation = he2,
/// poly:0:0:1`), as in eta-schedule.
inline constexpr std::string_view poly_form =
    "poly:C0:C1:...:Cd (the coefficients of 1, x, ..., x^d, d <= 8, not all zero)";
inline constexpr char poly_separator = ':';
/// A value of that form, for --help's list of choices: 1 - x^2 / 2.
inline constexpr std::string_view poly_example = "poly:1:0:-0.5";

/// A hidden activation as the configuration writes it: a name (aliases included), or
/// poly_form with finite coefficients, not all zero. nullopt for anything else. gamma is left at
/// its default (its own keys set it).
[[nodiscard]] std::optional<Activation> parse_hidden_activation(std::string_view text);
/// The canonical text of a hidden activation: its name, or for poly "poly:c0:...:cd" up to the
/// last non-zero coefficient, each number as its shortest round-trip text.
[[nodiscard]] std::string hidden_activation_text(const Activation& g);
/// "one of erf, tanh, ..., he4, or poly:C0:...": what a hidden activation may be, for messages.
[[nodiscard]] const std::string& hidden_activation_forms();

} // namespace plateau
