// Networks with L >= 2 hidden layers (docs/theory.md §12): the forward pass down the network and
// the backward pass up again (backpropagation, Eqs. (3)-(5) generalized, one delta per layer).
//
//     h_1 = W_1 xi                    (K_1 fields; the engine computes them with the fused kernel)
//     h_{l+1} = W_{l+1} g(h_l)        (K_{l+1} fields, l = 1..L-1; W_{l+1} is K_{l+1} x K_l)
//     sigma = h(a),  a = v . g(h_L)   (v: K_L output weights)
//
// Scaling (§12): the entries of W_{l+1} (l >= 1) and v are O(1), like v of the two-layer network;
// each is updated by -(eta_l/N) de/dW per example, so every layer moves on the time scale alpha.
//
// Backward pass of e = (sigma - tau)^2/2:
//     delta = (sigma - tau) h'(a),           de/dv_k = delta g(h_{L,k})
//     d_L = delta v o g'(h_L)                (o: element-wise)
//     de/dW_{l+1} = d_{l+1} g(h_l)^T,        d_l = g'(h_l) o (W_{l+1}^T d_{l+1})
// and d_1 = de/dh_1 is the field error of the first layer: grad_{W_1} e = d_1 xi^T (Eq. 5).
// With one hidden layer these are exactly forward()/backward() of models/network.hpp.
#pragma once

#include "models/network.hpp"

#include <Eigen/Core>
#include <span>
#include <vector>

namespace plateau {

/// The weights above the first layer: W[l] maps g(h_{l+1}) to h_{l+2} (l = 0..L-2, size
/// widths[l+1] x widths[l]). The output weights v are kept apart (RunState::v).
using LayerWeights = std::vector<Eigen::MatrixXd>;

/// Scratch of one pass, sized once for a network: the fields h_l and activations g(h_l) of every
/// layer, and the errors d_l = de/dh_l.
struct DeepWorkspace {
    std::vector<Eigen::VectorXd> h;
    std::vector<Eigen::VectorXd> a;
    std::vector<Eigen::VectorXd> d;
    explicit DeepWorkspace(const NetworkSpec& net);
};

/// Zero-filled weights of the layers above the first of `net` (one matrix per deeper layer).
[[nodiscard]] LayerWeights zero_layers(const NetworkSpec& net);

/// The forward pass from the first layer's fields (K_1 values) down to the output.
ForwardPass deep_forward(const NetworkSpec& net, std::span<const double> fields,
                         const LayerWeights& W, std::span<const double> v, DeepWorkspace& ws);

/// The backward pass after deep_forward() on the same workspace: returns delta; fills
/// grad_fields = d_1 (K_1 values), grad_W[l] = de/dW[l] (if grad_W is not null) and
/// grad_v = de/dv (if not empty).
double deep_backward(const NetworkSpec& net, const LayerWeights& W, std::span<const double> v,
                     const ForwardPass& pass, double tau, DeepWorkspace& ws,
                     std::span<double> grad_fields, LayerWeights* grad_W, std::span<double> grad_v,
                     Loss loss);

/// Reference implementations on explicit weights (tests, small tools): the output, the cost
/// (Eq. 2) and every weight's gradient for input xi and target tau.
struct DeepGradient {
    RowMatrix dW1;      ///< K_1 x N: d_1 xi^T
    LayerWeights dW;    ///< de/dW[l]
    Eigen::VectorXd dv; ///< de/dv
};
[[nodiscard]] double deep_network_output(const NetworkSpec& net, const RowMatrix& W1,
                                         const LayerWeights& W, const Eigen::VectorXd& v,
                                         const Eigen::VectorXd& xi);
[[nodiscard]] double deep_per_example_cost(const NetworkSpec& net, const RowMatrix& W1,
                                           const LayerWeights& W, const Eigen::VectorXd& v,
                                           const Eigen::VectorXd& xi, double tau);
[[nodiscard]] DeepGradient deep_per_example_gradient(const NetworkSpec& net, const RowMatrix& W1,
                                                     const LayerWeights& W,
                                                     const Eigen::VectorXd& v,
                                                     const Eigen::VectorXd& xi, double tau);

} // namespace plateau
