// The registry of activation functions: the one list that every per-activation dispatch of the
// engine (name, parsing, g and g', the output functions, the closed-form Gaussian averages, the
// quadrature's rule) is generated from. One evaluator per activation in models/activations/
// (the members it must have: models/activations/evaluator.hpp).
//
// To add an activation: its file in models/activations/, then here its #include, its enumerator
// and its evaluator in the list (same place in both), then its tests (docs/ARCHITECTURE.md, "How
// to add an activation"). Nothing else in the engine or the cli names an activation.
#pragma once

#include "models/activations/erf.hpp"
#include "models/activations/evaluator.hpp"
#include "models/activations/he1.hpp"
#include "models/activations/he2.hpp"
#include "models/activations/he3.hpp"
#include "models/activations/he4.hpp"
#include "models/activations/linear.hpp"
#include "models/activations/poly.hpp"
#include "models/activations/relu.hpp"
#include "models/activations/sigmoid.hpp"
#include "models/activations/square.hpp"
#include "models/activations/tanh.hpp"

#include <cstddef>

namespace plateau {

namespace activations {
/// A list of evaluator types.
template <Evaluator... E>
struct List {
    static constexpr std::size_t size = sizeof...(E);
};
} // namespace activations

/// The activations, in the order of the list below (an enumerator is its evaluator's index).
enum class ActivationKind {
    erf,
    tanh,
    sigmoid,
    relu,
    linear,
    square,
    he1,
    he2,
    he3,
    he4,
    poly, ///< its coefficients travel in Activation::coefficients
};

/// Their evaluators, in the order of ActivationKind.
using ActivationEvaluators =
    activations::List<activations::Erf, activations::Tanh, activations::Sigmoid, activations::Relu,
                      activations::Linear, activations::Square, activations::He1, activations::He2,
                      activations::He3, activations::He4, activations::Poly>;

} // namespace plateau
