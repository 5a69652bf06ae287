// The tensor rule behind FlowMethod::tensor (docs/theory.md §9 "Smoothness", §8): a fixed
// weighted node set z over the K+M standard normals, symmetric under z_l -> -z_l for each l, and
// the flow's averages over the fields u = C^(1/2) z with the per-node integrand of
// engine/theory/node_averages.hpp (e = tau - sigma at every node, so the rule's error is
// proportional to e and vanishes at the specialized point Q = R = T, v = v*).
//   - trapezoid: z_k = k h per coordinate, the product pruned to the ball |z|^2 <= Z^2, weights
//     proportional to prod_l phi(z_l) normalised to sum 1 (constants exact, odd moments 0);
//     for smooth g = g* (tanh, sigmoid; erf too with outputs h = h* in {tanh, sigmoid}) and
//     K + M <= 4.
//   - Gauss-Hermite: the full product of n-node rules, exact for polynomials of degree <= 2n - 1
//     in each variable; for polynomial g != g* (n from the degrees, tensor_gauss_hermite_nodes).
#pragma once

#include "engine/theory/flow.hpp"

#include <Eigen/Core>

#include <memory>

namespace plateau {

class TensorRule {
public:
    /// The trapezoid rule: step h, ball radius Z (both > 0).
    struct Trapezoid {
        double h = 0.0;
        double radius = 0.0;
        /// The integrand is even under z -> -z (odd g, g*, h, h*: then e, c_j, u_b, g(x_j) are
        /// odd and d_j even, so every average of the flow is over an even function): one node of
        /// each pair (z, -z), with twice the weight. The same sums, half the nodes.
        bool even = false;
    };
    /// The ball-pruned tensor trapezoid rule in `dimension` variables. Throws
    /// std::invalid_argument for dimension < 1 or h, Z not positive.
    TensorRule(int dimension, Trapezoid t);
    /// The full tensor product of the n-node Gauss-Hermite rule (1 <= n <= 64).
    TensorRule(int dimension, int gauss_hermite_nodes);

    [[nodiscard]] int dimension() const noexcept { return static_cast<int>(z_.rows()); }
    [[nodiscard]] Eigen::Index points() const noexcept { return z_.cols(); }
    /// dimension() x points() standard normal coordinates.
    [[nodiscard]] const Eigen::MatrixXd& nodes() const noexcept { return z_; }
    /// points() weights, sum 1.
    [[nodiscard]] const Eigen::VectorXd& weights() const noexcept { return w_; }

private:
    Eigen::MatrixXd z_;
    Eigen::VectorXd w_;
};

/// The production trapezoid rule for g = g* in {tanh(gamma x), sigmoid, erf} and outputs
/// h = h* in {identity, tanh, sigmoid} (docs/theory.md §9, "Smoothness": h and Z chosen by the
/// measured tables there): h = h0 / max(1, kappa gamma of g, kappa gamma of h) with kappa = 1 for
/// tanh and erf (gamma 1), 1/2 for sigmoid (sigmoid(x) = (1 + tanh(x/2))/2), 0 for identity;
/// h0 = 0.7 (identity outputs, or sigmoid g), 0.65 (erf g), 0.55 (tanh g); Z = 5.
[[nodiscard]] TensorRule::Trapezoid production_trapezoid(const Activation& g,
                                                         const Activation& h = Activation{
                                                             ActivationKind::linear}) noexcept;

/// Gauss-Hermite nodes per variable that make the tensor rule exact for identity outputs with
/// polynomial g, g* (degrees dg, dg*, D = max(dg, dg*)): the integrands have degree at most
/// max(2D + 2(dg - 1), D + dg, 2D), so n = that / 2 + 1. 0 when g or g* is not a polynomial.
[[nodiscard]] int tensor_gauss_hermite_nodes(const Activation& g,
                                             const Activation& g_teacher) noexcept;

/// The rule FlowMethod::tensor uses for (K + M) fields and the model's activations (folded,
/// Trapezoid::even, when g, g*, h, h* are all odd).
[[nodiscard]] std::shared_ptr<const TensorRule> make_tensor_rule(const ModelParams& m);

/// The averages of the tensor rule at one point (docs/theory.md §10 "Equations"): the flow
/// without weight decay and eps_g.
struct TensorEstimate {
    Eigen::MatrixXd dQ, dR; ///< K x K, K x M
    Eigen::VectorXd dv;     ///< K (zero unless s.learn_v)
    double eg = 0.0;
};

/// Evaluates s.tensor_rule (which must be set, for K + M fields) at (Q, R, T, v, v*).
[[nodiscard]] TensorEstimate tensor_estimate(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                             const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                             const Eigen::VectorXd& v,
                                             const Eigen::VectorXd& v_star);

} // namespace plateau
