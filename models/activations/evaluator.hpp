// What an activation evaluator is: one struct per activation function (models/activations/*.hpp),
// listed once in models/activation_table.hpp. Everything the engine needs to know about an
// activation is a member of its evaluator; models/activation.hpp and the Gaussian averages
// dispatch through the list, so adding an activation is its file plus one line in the table
// (docs/ARCHITECTURE.md, "How to add an activation").
#pragma once

#include "models/polynomial.hpp"
#include "models/vector_math.hpp"

#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>

namespace plateau::activations {

/// How the nested quadrature of docs/theory.md §9 integrates a factor g'(u)^p g(u)^q u^r of this
/// activation over one Gaussian variable: the shape picks the one-dimensional rule.
enum class QuadratureShape : std::uint8_t {
    /// Entire, growing like exp(b y^2 / 2) off the real axis (erf): trapezoid rule, step from b.
    entire,
    /// Analytic in a strip up to poles at Im x = pi / (2 kappa), kappa = E::sharpness(gamma)
    /// (tanh(kappa x) and its relatives): trapezoid rule, step from kappa.
    strip,
    /// A polynomial, E::polynomial(p): Gauss-Hermite with enough nodes for its degree, exact.
    polynomial,
    /// Zero for x < 0, a polynomial of degree <= 1 for x > 0 (relu): composite Gauss-Legendre
    /// from the kink.
    kink_at_zero,
};

/// The symmetry of g under x -> -x. It says whether flipping a student unit (w_j -> -w_j) can be
/// undone: for an even g always, for an odd g by flipping the weights the unit feeds too (when
/// they are learned): then r_jn = -1 is as specialized as +1 (analysis/SCHEMA.md, "Sign
/// symmetry"; sign_symmetric_units in engine/run/specialization.hpp).
enum class Parity : std::uint8_t {
    none, ///< neither (sigmoid, relu)
    odd,  ///< g(-x) = -g(x) (erf, tanh, linear)
    even, ///< g(-x) = g(x) (square)
};

/// An activation used as output function h: its name there and its place in the list of output
/// functions (output_kinds, models/activation.hpp).
struct OutputRole {
    std::string_view name;
    int order = 0;
};

/// The value and slope of g at one point (Real = double), or at four (Real = vmath::Vec), for
/// evaluators that compute both more cheaply together.
template <class Real>
struct BasicValueSlope {
    Real value{};
    Real slope{};
};
using ValueSlope = BasicValueSlope<double>;

/// What an evaluator reads besides x: the slope gamma of tanh(gamma x) and the coefficients of
/// poly (ignored by the others). Activation (models/activation.hpp) is one, so the hot path passes
/// it by reference.
struct Parameters {
    double gamma = 1.0;        ///< slope of tanh(gamma x)
    Polynomial coefficients{}; ///< poly: c_0 + c_1 x + ... (zero for every other kind)

    friend constexpr bool operator==(const Parameters&, const Parameters&) = default;
};

/// The members every evaluator has. p holds the Activation's parameters (gamma for tanh(gamma x),
/// the coefficients for poly).
template <class E>
concept Evaluator = requires(double x, const Parameters& p) {
    // canonical name, in configuration files and output attributes
    { E::name } -> std::convertible_to<std::string_view>;
    // other names accepted by parse_activation (a range of string_view, usually empty)
    { E::aliases.size() } -> std::convertible_to<std::size_t>;
    // set if the activation may be the output function h
    { E::output } -> std::convertible_to<std::optional<OutputRole>>;
    // g and g' (docs/theory.md §1, Eqs. (3)-(5)): the hot path, keep them inline
    { E::value(x, p) }
    noexcept->std::same_as<double>;
    { E::derivative(x, p) }
    noexcept->std::same_as<double>;
    // closed-form Gaussian averages I2, I3, I4, J2 in models/gaussian_integrals.cpp
    { E::has_closed_form } -> std::convertible_to<bool>;
    // what the quadrature of docs/theory.md §9 needs
    { E::quadrature } -> std::convertible_to<QuadratureShape>;
    // g(-x) = -g(x), g(x) or neither
    { E::parity(p) } -> std::same_as<Parity>;
}
&&(E::quadrature != QuadratureShape::strip ||
   requires(double gamma) {
       { E::sharpness(gamma) } -> std::same_as<double>;
   }) &&
    (E::quadrature != QuadratureShape::polynomial || requires(const Parameters& p) {
        // its coefficients (the exact averages, models/polynomial_averages.hpp; the degree of the
        // quadrature's Gauss-Hermite rule)
        { E::polynomial(p) }
        noexcept->std::same_as<Polynomial>;
    });

/// Optional: value and slope together (the quadrature's factor uses it when present).
template <class E>
concept HasValueSlope = requires(double x, const Parameters& p) {
    { E::value_and_slope(x, p) }
    noexcept->std::same_as<ValueSlope>;
};

/// Optional: g and g' together with the values of value() and derivative(), bit for bit, for
/// evaluators whose two share their costly part (tanh: one tanh instead of two). Activation::
/// value_and_derivative falls back to the two calls.
template <class E>
concept HasValueDerivative = requires(double x, const Parameters& p) {
    { E::value_and_derivative(x, p) }
    noexcept->std::same_as<ValueSlope>;
};

/// Optional: g, and g and g' together, at four points at once (the tensor rule's nodes, docs/
/// theory.md §9 "Vector math at the nodes"): the evaluator's formulas written once as templates
/// over Real = double (libm, what value() and derivative() return) and Real = vmath::Vec (the
/// vector kernels of models/vector_math.hpp). Activation falls back to value_and_derivative per
/// lane for the others.
template <class E>
concept HasVectorForm = requires(vmath::Vec x, const Parameters& p) {
    { E::value_of(x, p) }
    noexcept->std::same_as<vmath::Vec>;
    { E::value_and_derivative_of(x, p) }
    noexcept->std::same_as<BasicValueSlope<vmath::Vec>>;
};

} // namespace plateau::activations
