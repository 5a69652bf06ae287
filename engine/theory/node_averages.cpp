// The per-node integrand of the flow's averages over all fields; see node_averages.hpp.
#include "engine/theory/node_averages.hpp"

#include "models/loss.hpp"

#include <Eigen/Eigenvalues>

namespace plateau {

double node_target(const FlowSettings& s, const Eigen::MatrixXd& U, Eigen::Index i, Eigen::Index K,
                   const Eigen::VectorXd& v_star) noexcept {
    // tau without label noise (teacher_output, engine/theory/flow.hpp: the committee or a
    // polynomial target, docs/theory.md §10, §13) at the teacher fields of node i
    return teacher_output(s, {&U(K, i), static_cast<std::size_t>(U.rows() - K)}, v_star);
}

void evaluate_nodes(const FlowSettings& s, const Eigen::MatrixXd& U, const Eigen::VectorXd& v,
                    const Eigen::VectorXd& v_star, NodeValues& out) {
    const Eigen::Index K = v.size();
    const Eigen::Index n = U.cols();
    out.c.resize(K, n);
    out.d.resize(K, n);
    out.gx.resize(K, n);
    out.e_hp.resize(n);
    out.e2.resize(n);
    // docs/theory.md §10, "Equations": e = tau - sigma, d_j = h'(a) v_j g'(x_j), c_j = e d_j.
    for (Eigen::Index i = 0; i < n; ++i) {
        double a = 0.0;
        for (Eigen::Index j = 0; j < K; ++j) {
            const activations::ValueSlope g = s.g.value_and_derivative(U(j, i));
            out.gx(j, i) = g.value;
            out.d(j, i) = g.slope; // g'(x_j), times h'(a) v_j below
            a += v(j) * g.value;
        }
        const double tau = node_target(s, U, i, K, v_star);
        // e = tau - sigma = -de/dsigma (models/loss.hpp)
        const activations::ValueSlope h = s.h.value_and_derivative(a); // h(a), h'(a)
        const double e = -SquaredLoss::error(h.value, tau); // the theory is the squared loss's
        const double hp = h.slope;
        for (Eigen::Index j = 0; j < K; ++j) {
            out.d(j, i) = hp * v(j) * out.d(j, i);
            out.c(j, i) = e * out.d(j, i);
        }
        out.e_hp(i) = e * hp;
        out.e2(i) = e * e;
    }
}

FlowAverages average_nodes(const FlowSettings& s, const Eigen::MatrixXd& U, const NodeValues& n,
                           const Eigen::VectorXd& weights) {
    const Eigen::Index K = n.c.rows();
    const Eigen::Index M = U.rows() - K;
    const Eigen::Index P = U.rows();
    // docs/theory.md §10: cu(j, b) = <c_j u_b>, cc(j, k) = <(e^2 + s^2) d_j d_k>,
    // eg(j) = <e h'(a) g(x_j)>.
    FlowAverages a;
    a.cu.resize(K, P);
    if (weights.size() == 0) {
        const double inv_n = 1.0 / static_cast<double>(U.cols());
        a.cu.rightCols(M) = (n.c * U.bottomRows(M).transpose()) * inv_n; // <c_j y_n>
        a.cu.leftCols(K) = (n.c * U.topRows(K).transpose()) * inv_n;     // <c_j x_k>
        // <(e^2 + s^2) d_j d_k>, or s^2 <d_j d_k> with ode-eta2 = noise-only (docs/theory.md §3)
        a.cc =
            s.eta2 == Eta2Terms::keep
                ? (n.d * (n.e2.array() + s.noise).matrix().asDiagonal() * n.d.transpose()) * inv_n
                : ((s.noise * inv_n) * (n.d * n.d.transpose())).eval();
        a.eg = (n.gx * n.e_hp) * inv_n;
        return a;
    }
    const Eigen::MatrixXd cw = n.c * weights.asDiagonal();
    a.cu.noalias() = cw * U.transpose();
    if (needs_second_order(s)) {
        // <(e^2 + s^2) d_j d_k>, or s^2 <d_j d_k> with ode-eta2 = noise-only (docs/theory.md §3)
        const Eigen::VectorXd w2 =
            s.eta2 == Eta2Terms::keep
                ? (n.e2.array() + s.noise).matrix().cwiseProduct(weights).eval()
                : (s.noise * weights).eval();
        a.cc.noalias() = n.d * w2.asDiagonal() * n.d.transpose();
    } else {
        a.cc.setZero(K, K);
    }
    if (s.learn_v)
        a.eg.noalias() = n.gx * n.e_hp.cwiseProduct(weights);
    else
        a.eg.setZero(K);
    return a;
}

double average_eg(const NodeValues& n, const Eigen::VectorXd& weights) {
    // eps_g = <e^2>/2 (docs/theory.md §10)
    return weights.size() == 0 ? 0.5 * n.e2.mean() : 0.5 * n.e2.dot(weights);
}

Eigen::MatrixXd symmetric_sqrt(const Eigen::MatrixXd& C) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(C);
    return eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal() *
           eig.eigenvectors().transpose();
}

} // namespace plateau
