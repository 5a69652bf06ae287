// The two-layer network of Eq. (1) of docs/theory.md,
//     sigma(xi) = h( sum_j v_j g(w^(j) . xi) ),
// its forward pass and its per-example gradients, Eqs. (3)-(5).
//
// The pass is split at the hidden fields x_j = w^(j) . xi: the engine computes the fields of
// student and teacher together in one pass over a contiguous weight block, and the model works
// on the K fields only. The backward pass returns the error at each field, dE/dx_m, from which
// the weight gradient is the outer product with the input (Eq. 5). A deeper network repeats the
// same two steps layer by layer (the seed's closing remark on backpropagation): the field error
// of one layer, multiplied by the layer's weights, is the output error of the layer below.
#pragma once

#include "models/activation.hpp"
#include "models/loss.hpp"

#include <Eigen/Core>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace plateau {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A vector's entries as a span, without a copy.
[[nodiscard]] inline std::span<const double> as_span(const Eigen::VectorXd& x) noexcept {
    return {x.data(), static_cast<std::size_t>(x.size())};
}

/// The scale of the readout (the `readout-scale` key, docs/theory.md §14): the output of a
/// two-layer network is h(c sum_j v_j g(x_j)) with c = 1 (`one`, Eq. (1)) or c = 1/K
/// (`inverse-k`, the mean-field "1/p" convention; 1/M for the teacher's committee). Names in
/// engine/core/run_params.hpp (enum_table).
enum class ReadoutScale {
    one,       ///< c = 1: Eq. (1)
    inverse_k, ///< c = 1/K (1/M for the teacher)
};

/// Architecture: hidden-layer widths, hidden activation g, output function h. One width is the
/// two-layer network of Eq. (1), the only one built yet (validate() refuses more).
struct NetworkSpec {
    std::vector<int> widths{2}; ///< hidden-layer widths from the input up: {K} or {M}
    Activation g{ActivationKind::erf};
    Activation h{ActivationKind::linear};
    ReadoutScale readout = ReadoutScale::one; ///< c in a = c sum_j v_j g(x_j)

    /// Units of the (only) hidden layer: K for the student, M for the teacher.
    [[nodiscard]] int hidden() const noexcept { return widths.front(); }
    /// The one place of the readout scale c (docs/theory.md §14): 1, or 1/K of the hidden units.
    [[nodiscard]] double readout_factor() const noexcept {
        return readout == ReadoutScale::inverse_k ? 1.0 / static_cast<double>(hidden()) : 1.0;
    }

    friend bool operator==(const NetworkSpec&, const NetworkSpec&) = default;
};

/// Hidden-layer widths as the configuration writes them and group names hold them: "8x4".
[[nodiscard]] std::string widths_text(std::span<const int> widths);

/// Forward quantities from the fields: a = c sum_j v_j g(x_j) and sigma = h(a) (c the readout
/// factor, 1 unless readout-scale = inverse-k).
struct ForwardPass {
    double preactivation = 0.0; ///< a, the argument of h in Eq. (1)
    double output = 0.0;        ///< sigma = h(a), Eq. (1)
};

/// Eq. (1) evaluated from the hidden fields x_j = w^(j) . xi.
[[nodiscard]] inline ForwardPass forward(const NetworkSpec& net, std::span<const double> fields,
                                         std::span<const double> v) noexcept {
    double a = 0.0;
    for (std::size_t j = 0; j < fields.size(); ++j)
        a += v[j] * net.g.value(fields[j]);
    if (net.readout != ReadoutScale::one)
        a *= net.readout_factor();
    return {a, net.h.value(a)};
}

/// Backward pass of the per-example cost e(sigma, tau) of `loss` (Eq. (2): (sigma - tau)^2 / 2;
/// or the logistic loss, Eq. (15.3)).
///   delta = (de/dsigma) h'(a), (sigma - tau) h'(a) for Eq. (2)   shorthand of Eq. (3)
///   de/dv_k = delta g(x_k)                                   Eq. (3)  -> grad_v[k]
///   de/dx_m = delta v_m g'(x_m), so grad_{w^(m)} e = de/dx_m xi   Eqs. (4), (5) -> grad_fields[m]
/// with c the readout factor (1, or 1/K: docs/theory.md §14, the gradients carry it).
/// Returns delta. grad_v may be empty when the second layer is fixed.
inline double backward(const NetworkSpec& net, std::span<const double> fields,
                       std::span<const double> v, const ForwardPass& pass, double tau,
                       std::span<double> grad_fields, std::span<double> grad_v,
                       Loss loss) noexcept {
    double delta = loss.error(pass.output, tau) * net.h.derivative(pass.preactivation);
    if (net.readout != ReadoutScale::one)
        delta *= net.readout_factor();
    for (std::size_t m = 0; m < fields.size(); ++m)
        grad_fields[m] = delta * v[m] * net.g.derivative(fields[m]);
    for (std::size_t k = 0; k < grad_v.size(); ++k)
        grad_v[k] = delta * net.g.value(fields[k]);
    return delta;
}

/// Network output sigma(xi) of Eq. (1) for weights W (rows w^(j)) and second layer v.
[[nodiscard]] double network_output(const NetworkSpec& net, const RowMatrix& W,
                                    const Eigen::VectorXd& v, const Eigen::VectorXd& xi);

/// Full per-example gradients of e = (sigma - tau)^2/2 with respect to W (Eq. 5, one row per
/// hidden unit) and v (Eq. 3). A reference implementation for tests and small tools; the
/// trainer uses forward()/backward() on fields it computes itself.
struct PerExampleGradient {
    RowMatrix dW;       ///< row m: grad_{w^(m)} e, Eq. (5)
    Eigen::VectorXd dv; ///< de/dv_k, Eq. (3)
    double delta = 0.0; ///< (sigma - tau) h'(a)
};
[[nodiscard]] PerExampleGradient per_example_gradient(const NetworkSpec& net, const RowMatrix& W,
                                                      const Eigen::VectorXd& v,
                                                      const Eigen::VectorXd& xi, double tau,
                                                      Loss loss = Loss{});

/// Per-example cost e(sigma, tau) of `loss`: Eq. (2) by default, or Eq. (15.3).
[[nodiscard]] double per_example_cost(const NetworkSpec& net, const RowMatrix& W,
                                      const Eigen::VectorXd& v, const Eigen::VectorXd& xi,
                                      double tau, Loss loss = Loss{});

} // namespace plateau
