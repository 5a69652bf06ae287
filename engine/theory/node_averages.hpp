// The flow's averages over all K+M fields from a weighted set of nodes u (docs/theory.md §10,
// "Equations"): the ONE per-node integrand shared by the joint rule (§10, engine/theory/
// joint_rule.cpp) and the tensor rule (§9 "Smoothness", engine/theory/tensor_rule.cpp). At each
// node u = (x_1..x_K, y_1..y_M) with a = sum_j v_j g(x_j), b = sum_n v*_n g*(y_n):
//   tau = h*(b), sigma = h(a), e = tau - sigma, d_j = h'(a) v_j g'(x_j), c_j = e d_j,
// and the averages <c_j u_b>, <(e^2 + s^2) d_j d_k>, <e h'(a) g(x_j)>, eps_g = <e^2>/2. Since e is
// evaluated at every node, a rule's error is proportional to e: it vanishes where the student
// equals the teacher (Q = R = T, v = v*), node by node.
#pragma once

#include "engine/theory/flow.hpp"

#include <Eigen/Core>

namespace plateau {

/// The target tau = h*(b), b = sum_n v*_n g*(y_n), at node i of U (the teacher fields are rows
/// K..K+M-1): the one place where the teacher's output enters the flow's averages.
[[nodiscard]] double node_target(const FlowSettings& s, const Eigen::MatrixXd& U, Eigen::Index i,
                                 Eigen::Index K, const Eigen::VectorXd& v_star) noexcept;

/// The per-node values of the integrand at the columns of U ((K+M) x n fields).
struct NodeValues {
    Eigen::MatrixXd c;    ///< K x n: c_j = e d_j
    Eigen::MatrixXd d;    ///< K x n: d_j = h'(a) v_j g'(x_j)
    Eigen::MatrixXd gx;   ///< K x n: g(x_j)
    Eigen::VectorXd e_hp; ///< n: e h'(a)
    Eigen::VectorXd e2;   ///< n: e^2
};

/// Fills `out` at every column of U (docs/theory.md §10, "Equations").
void evaluate_nodes(const FlowSettings& s, const Eigen::MatrixXd& U, const Eigen::VectorXd& v,
                    const Eigen::VectorXd& v_star, NodeValues& out);

/// The averages of the flow (FlowAverages) over the nodes U with values `n`: the plain mean when
/// `weights` is empty (the joint rule's copies), else sum_i w_i (...) (the tensor rule, sum w = 1;
/// cc and eg then only when the flow needs them).
[[nodiscard]] FlowAverages average_nodes(const FlowSettings& s, const Eigen::MatrixXd& U,
                                         const NodeValues& n, const Eigen::VectorXd& weights);

/// eps_g = <e^2>/2 over the nodes (plain mean for empty weights).
[[nodiscard]] double average_eg(const NodeValues& n, const Eigen::VectorXd& weights);

/// C^(1/2), the symmetric square root from the eigen-decomposition (negative eigenvalues from
/// rounding set to 0): defined on the positive semi-definite cone's boundary, equal rows for
/// equal fields (a student equal to a teacher gives x_j = y_n at every node), continuous where
/// eigenvalues coincide (unlike a factor built from eigenvectors or a pivoted Cholesky factor).
[[nodiscard]] Eigen::MatrixXd symmetric_sqrt(const Eigen::MatrixXd& C);

} // namespace plateau
