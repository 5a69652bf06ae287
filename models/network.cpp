#include "models/network.hpp"

namespace plateau {

std::string widths_text(std::span<const int> widths) {
    std::string out;
    for (const int w : widths)
        out += (out.empty() ? "" : "x") + std::to_string(w);
    return out;
}

double network_output(const NetworkSpec& net, const RowMatrix& W, const Eigen::VectorXd& v,
                      const Eigen::VectorXd& xi) {
    const Eigen::VectorXd fields = W * xi;
    return forward(net, as_span(fields), as_span(v)).output;
}

PerExampleGradient per_example_gradient(const NetworkSpec& net, const RowMatrix& W,
                                        const Eigen::VectorXd& v, const Eigen::VectorXd& xi,
                                        double tau, Loss loss) {
    const Eigen::VectorXd fields = W * xi;
    const ForwardPass pass = forward(net, as_span(fields), as_span(v));
    Eigen::VectorXd grad_fields(W.rows());
    PerExampleGradient out;
    out.dv.resize(W.rows());
    out.delta = backward(net, as_span(fields), as_span(v), pass, tau,
                         {grad_fields.data(), static_cast<std::size_t>(grad_fields.size())},
                         {out.dv.data(), static_cast<std::size_t>(out.dv.size())}, loss);
    out.dW = grad_fields * xi.transpose(); // Eq. (5): outer product with the input
    return out;
}

double per_example_cost(const NetworkSpec& net, const RowMatrix& W, const Eigen::VectorXd& v,
                        const Eigen::VectorXd& xi, double tau, Loss loss) {
    return loss.value(network_output(net, W, v, xi), tau); // Eq. (2) or (15.3)
}

} // namespace plateau
