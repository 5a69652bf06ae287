#include "models/deep_network.hpp"

#include <cassert>

namespace plateau {

DeepWorkspace::DeepWorkspace(const NetworkSpec& net) {
    for (const int w : net.widths) { // zeros: every entry is written before it is read
        h.push_back(Eigen::VectorXd::Zero(w));
        a.push_back(Eigen::VectorXd::Zero(w));
        d.push_back(Eigen::VectorXd::Zero(w));
    }
}

LayerWeights zero_layers(const NetworkSpec& net) {
    LayerWeights W;
    for (std::size_t l = 1; l < net.widths.size(); ++l)
        W.push_back(Eigen::MatrixXd::Zero(net.widths[l], net.widths[l - 1]));
    return W;
}

ForwardPass deep_forward(const NetworkSpec& net, std::span<const double> fields,
                         const LayerWeights& W, std::span<const double> v, DeepWorkspace& ws) {
    const std::size_t L = ws.h.size();
    assert(W.size() + 1 == L);
    // Down the network (docs/theory.md §12, Eq. (12.1)): h_1 given, h_{l+1} = W_{l+1} g(h_l).
    for (std::size_t i = 0; i < fields.size(); ++i)
        ws.h[0][static_cast<Eigen::Index>(i)] = fields[i];
    for (std::size_t l = 0; l < L; ++l) {
        if (l > 0) // plain loops: the matrices are small (K_l x K_{l-1})
            for (Eigen::Index j = 0; j < W[l - 1].rows(); ++j) {
                double sum = 0.0;
                for (Eigen::Index k = 0; k < W[l - 1].cols(); ++k)
                    sum += W[l - 1](j, k) * ws.a[l - 1][k];
                ws.h[l][j] = sum;
            }
        for (Eigen::Index k = 0; k < ws.h[l].size(); ++k)
            ws.a[l][k] = net.g.value(ws.h[l][k]);
    }
    double a = 0.0;
    for (Eigen::Index k = 0; k < ws.a[L - 1].size(); ++k)
        a += v[static_cast<std::size_t>(k)] * ws.a[L - 1][k];
    return {a, net.h.value(a)};
}

double deep_backward(const NetworkSpec& net, const LayerWeights& W, std::span<const double> v,
                     const ForwardPass& pass, double tau, DeepWorkspace& ws,
                     std::span<double> grad_fields, LayerWeights* grad_W, std::span<double> grad_v,
                     Loss loss) {
    const std::size_t L = ws.h.size();
    // Up again (§12, Eq. (12.2)): delta at the output, then one error vector d_l per layer.
    const double delta = loss.error(pass.output, tau) * net.h.derivative(pass.preactivation);
    for (Eigen::Index k = 0; k < ws.d[L - 1].size(); ++k)
        ws.d[L - 1][k] = delta * v[static_cast<std::size_t>(k)] * net.g.derivative(ws.h[L - 1][k]);
    for (std::size_t k = 0; k < grad_v.size(); ++k)
        grad_v[k] = delta * ws.a[L - 1][static_cast<Eigen::Index>(k)];
    for (std::size_t l = L - 1; l > 0; --l) {
        const Eigen::MatrixXd& Wl = W[l - 1];
        if (grad_W != nullptr)
            for (Eigen::Index j = 0; j < Wl.rows(); ++j)
                for (Eigen::Index k = 0; k < Wl.cols(); ++k)
                    (*grad_W)[l - 1](j, k) = ws.d[l][j] * ws.a[l - 1][k];
        for (Eigen::Index k = 0; k < Wl.cols(); ++k) {
            double sum = 0.0;
            for (Eigen::Index j = 0; j < Wl.rows(); ++j)
                sum += Wl(j, k) * ws.d[l][j];
            ws.d[l - 1][k] = sum * net.g.derivative(ws.h[l - 1][k]);
        }
    }
    for (std::size_t m = 0; m < grad_fields.size(); ++m)
        grad_fields[m] = ws.d[0][static_cast<Eigen::Index>(m)];
    return delta;
}

double deep_network_output(const NetworkSpec& net, const RowMatrix& W1, const LayerWeights& W,
                           const Eigen::VectorXd& v, const Eigen::VectorXd& xi) {
    const Eigen::VectorXd fields = W1 * xi;
    DeepWorkspace ws(net);
    return deep_forward(net, as_span(fields), W, as_span(v), ws).output;
}

double deep_per_example_cost(const NetworkSpec& net, const RowMatrix& W1, const LayerWeights& W,
                             const Eigen::VectorXd& v, const Eigen::VectorXd& xi, double tau) {
    const double diff = deep_network_output(net, W1, W, v, xi) - tau;
    return 0.5 * diff * diff; // Eq. (2)
}

DeepGradient deep_per_example_gradient(const NetworkSpec& net, const RowMatrix& W1,
                                       const LayerWeights& W, const Eigen::VectorXd& v,
                                       const Eigen::VectorXd& xi, double tau) {
    const Eigen::VectorXd fields = W1 * xi;
    DeepWorkspace ws(net);
    const ForwardPass pass = deep_forward(net, as_span(fields), W, as_span(v), ws);
    DeepGradient out;
    out.dW = zero_layers(net);
    out.dv.resize(v.size());
    Eigen::VectorXd grad_fields(W1.rows());
    deep_backward(net, W, as_span(v), pass, tau, ws,
                  {grad_fields.data(), static_cast<std::size_t>(grad_fields.size())}, &out.dW,
                  {out.dv.data(), static_cast<std::size_t>(out.dv.size())}, Loss{});
    out.dW1 = grad_fields * xi.transpose(); // Eq. (5): outer product with the input
    return out;
}

} // namespace plateau
