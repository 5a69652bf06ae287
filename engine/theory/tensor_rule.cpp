// The tensor rule of docs/theory.md §9 "Smoothness"; see tensor_rule.hpp.
#include "engine/theory/tensor_rule.hpp"

#include "engine/theory/flow_paths.hpp"
#include "engine/theory/node_averages.hpp"
#include "models/gaussian_integrals.hpp"
#include "models/quadrature.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace plateau {

namespace {

/// Visits every multi-index k in {0..n-1}^dimension in lexicographic order (last index fastest).
template <class F>
void for_each_index(int dimension, int n, F&& f) {
    std::vector<int> k(static_cast<std::size_t>(dimension), 0);
    while (true) {
        f(k);
        int l = dimension - 1;
        while (l >= 0 && ++k[static_cast<std::size_t>(l)] == n) {
            k[static_cast<std::size_t>(l)] = 0;
            --l;
        }
        if (l < 0)
            return;
    }
}

} // namespace

TensorRule::TensorRule(int dimension, Trapezoid t) {
    if (dimension < 1 || !(t.h > 0.0) || !(t.radius > 0.0))
        throw std::invalid_argument("plateau theory: a tensor trapezoid rule needs dimension >= 1 "
                                    "and h, Z > 0");
    // z_k = k h, |k| <= Z/h per coordinate; the nodes with |z|^2 <= Z^2 (docs/theory.md §9).
    const int half = static_cast<int>(std::floor(t.radius / t.h));
    const int n = 2 * half + 1;
    const double r2 = t.radius * t.radius;
    std::vector<double> z, w;
    for_each_index(dimension, n, [&](const std::vector<int>& k) {
        double norm2 = 0.0;
        int first = 0; // the first non-zero centred index: its sign picks one of (z, -z)
        for (const int kl : k) {
            norm2 += (kl - half) * t.h * (kl - half) * t.h;
            if (first == 0)
                first = kl - half;
        }
        if (norm2 > r2 || (t.even && first < 0))
            return;
        for (const int kl : k)
            z.push_back((kl - half) * t.h);
        // prod_l phi(z_l), up to the normalisation; twice for the pair (z, -z) when folded
        const double pair = t.even && first > 0 ? 2.0 : 1.0;
        w.push_back(pair * std::exp(-0.5 * norm2));
    });
    const auto points = static_cast<Eigen::Index>(w.size());
    z_ = Eigen::Map<const Eigen::MatrixXd>(z.data(), dimension, points);
    w_ = Eigen::Map<const Eigen::VectorXd>(w.data(), points);
    w_ /= w_.sum(); // sum 1: constants exact
}

TensorRule::TensorRule(int dimension, int gauss_hermite_nodes) {
    if (dimension < 1 || gauss_hermite_nodes < 1 || gauss_hermite_nodes > 64)
        throw std::invalid_argument("plateau theory: a tensor Gauss-Hermite rule needs dimension "
                                    ">= 1 and 1..64 nodes; got " +
                                    std::to_string(gauss_hermite_nodes));
    const quadrature::Rule1d r = quadrature::make_gauss_hermite(gauss_hermite_nodes);
    std::vector<double> z, w;
    for_each_index(dimension, gauss_hermite_nodes, [&](const std::vector<int>& k) {
        double weight = 1.0;
        for (const int kl : k) {
            z.push_back(r.x[static_cast<std::size_t>(kl)]);
            weight *= r.w[static_cast<std::size_t>(kl)];
        }
        w.push_back(weight);
    });
    const auto points = static_cast<Eigen::Index>(w.size());
    z_ = Eigen::Map<const Eigen::MatrixXd>(z.data(), dimension, points);
    w_ = Eigen::Map<const Eigen::VectorXd>(w.data(), points);
}

TensorRule::Trapezoid production_trapezoid(const Activation& g, const Activation& h) noexcept {
    // docs/theory.md §9 "Smoothness": the accuracy tables there chose h0 and Z for unit slope;
    // the poles of tanh(kappa gamma u) come closer as 1/(kappa gamma), h with them. A tanh or
    // sigmoid output h(a), a = sum_j v_j g(x_j), adds the poles of h: h0 by the table of
    // "Tanh and sigmoid outputs" (~1e-5 absolute), by g's kind (erf is entire).
    constexpr double radius = 5.0;
    double h0 = 0.7;
    if (h.kind == ActivationKind::tanh || h.kind == ActivationKind::sigmoid)
        h0 = g.kind == ActivationKind::erf ? 0.65 : g.kind == ActivationKind::tanh ? 0.55 : 0.7;
    const auto scale = [](const Activation& f) {
        switch (f.kind) {
        case ActivationKind::sigmoid:
            return 0.5 * std::abs(f.gamma);
        case ActivationKind::tanh:
            return std::abs(f.gamma);
        case ActivationKind::erf: // erf(x / sqrt 2): no slope parameter
            return 1.0;
        default:
            return 0.0;
        }
    };
    return {h0 / std::max({1.0, scale(g), scale(h)}), radius, false};
}

int tensor_gauss_hermite_nodes(const Activation& g, const Activation& g_teacher) noexcept {
    const auto p = as_polynomial(g);
    const auto pt = as_polynomial(g_teacher);
    if (!p || !pt)
        return 0;
    const int dg = p->degree();
    const int D = std::max(dg, pt->degree());
    // <(e^2 + s^2) d_j d_k>: 2D + 2(dg - 1); <c_j u_b>: D + dg; <e g(x_j)>: D + dg; eps_g: 2D.
    const int degree = std::max({2 * D + 2 * std::max(dg - 1, 0), D + dg, 2 * D});
    return degree / 2 + 1;
}

std::shared_ptr<const TensorRule> make_tensor_rule(const ModelParams& m) {
    const int P = m.student.hidden() + m.teacher.hidden();
    const int gh = tensor_gauss_hermite_nodes(m.student.g, m.teacher.g);
    if (gh > 0)
        return std::make_shared<const TensorRule>(P, gh);
    TensorRule::Trapezoid t = production_trapezoid(m.student.g, m.student.h);
    const auto odd = [](const Activation& f) {
        return f.parity() == activations::Parity::odd;
    };
    t.even = odd(m.student.g) && odd(m.teacher.g) && odd(m.student.h) && odd(m.teacher.h);
    return std::make_shared<const TensorRule>(P, t);
}

namespace {

/// The rule of s and the per-node values at (Q, R, T, v, v*) (docs/theory.md §10): u = C^(1/2) z.
const TensorRule& evaluate_tensor_nodes(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                        const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                        const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                                        Eigen::MatrixXd& U, NodeValues& values) {
    const TensorRule* rule = s.tensor_rule.get();
    const auto P = Q.rows() + T.rows();
    if (rule == nullptr || rule->dimension() != P)
        throw std::invalid_argument("plateau theory: the tensor rule is missing or has the wrong "
                                    "dimension");
    U.noalias() = symmetric_sqrt(integrals::field_covariance(Q, R, T)) * rule->nodes();
    evaluate_nodes(s, U, v, v_star, values);
    return *rule;
}

/// The node matrix and values of one evaluation, reused by the next on the same thread: they
/// are megabytes at the rule's sizes, and allocated afresh for every right-hand side the
/// allocator returned them to the system and page-faulted them back in each time (28 % of a
/// quadrature theory run's time: docs/PERFORMANCE.md §28). Every entry is overwritten by each
/// evaluation, so nothing of one evaluation reaches the next.
struct TensorScratch {
    Eigen::MatrixXd U;
    NodeValues values;
};

TensorScratch& tensor_scratch() {
    thread_local TensorScratch scratch;
    return scratch;
}

} // namespace

TensorEstimate tensor_estimate(const FlowSettings& s, const Eigen::MatrixXd& Q,
                               const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                               const Eigen::VectorXd& v, const Eigen::VectorXd& v_star) {
    TensorScratch& scratch = tensor_scratch();
    const TensorRule& rule =
        evaluate_tensor_nodes(s, Q, R, T, v, v_star, scratch.U, scratch.values);
    TensorEstimate out;
    assemble_flow(s, average_nodes(s, scratch.U, scratch.values, rule.weights()), out.dQ, out.dR,
                  out.dv);
    out.eg = average_eg(scratch.values, rule.weights());
    return out;
}

void compute_tensor_flow(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                         const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                         const Eigen::VectorXd& v_star, Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR,
                         Eigen::VectorXd& dv) {
    TensorEstimate e = tensor_estimate(s, Q, R, T, v, v_star);
    dQ = std::move(e.dQ);
    dR = std::move(e.dR);
    dv = std::move(e.dv);
    add_weight_decay(s, Q, R, v, dQ, dR, dv); // exact, docs/theory.md §6
}

double tensor_generalization_error(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                   const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                   const Eigen::VectorXd& v, const Eigen::VectorXd& v_star) {
    // eps_g alone (at every record): the node values, without the flow's averages.
    TensorScratch& scratch = tensor_scratch();
    const TensorRule& rule =
        evaluate_tensor_nodes(s, Q, R, T, v, v_star, scratch.U, scratch.values);
    return average_eg(scratch.values, rule.weights());
}

} // namespace plateau
