// The per-node integrand of the flow's averages over all fields; see node_averages.hpp.
#include "engine/theory/node_averages.hpp"

#include "models/loss.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace plateau {

double node_target(const FlowSettings& s, const Eigen::MatrixXd& U, Eigen::Index i, Eigen::Index K,
                   const Eigen::VectorXd& v_star) noexcept {
    // tau without label noise (teacher_output, engine/theory/flow.hpp: the committee or a
    // polynomial target, docs/theory.md §10, §13) at the teacher fields of node i
    return teacher_output(s, {&U(K, i), static_cast<std::size_t>(U.rows() - K)}, v_star);
}

namespace {

/// The most fields (K + M) evaluate_nodes takes.
constexpr Eigen::Index max_block_fields = 64;

/// The integrand at the columns i0 .. i0 + count - 1 of U (count <= 4), four nodes in the lanes
/// of vmath::Vec (docs/theory.md §10, "Equations"; §9 "Vector math at the nodes"): each lane's
/// operations are the one-node formulas' in their order, so a lane's values depend on its node
/// alone (the padding lanes, fields 0, are dropped). With GCC cloned for AVX2 and chosen at load
/// time (target_clones); the clones give the same bits (models/vector_math.hpp: no FMA). flatten:
/// every call inside is inlined into each clone, so that no four-double vector crosses a call
/// between code built for AVX2 and code built without (their ABIs pass it differently). Clang
/// (the asan preset, -march=native) does not combine the two attributes: one version there.
#if defined(__clang__)
#define PLATEAU_NODE_BLOCK_TARGETS
#else
#define PLATEAU_NODE_BLOCK_TARGETS [[gnu::target_clones("avx2", "default"), gnu::flatten]]
#endif
PLATEAU_NODE_BLOCK_TARGETS void evaluate_node_block(const FlowSettings& s, const Eigen::MatrixXd& U,
                                                    const Eigen::VectorXd& v,
                                                    const Eigen::VectorXd& v_star, Eigen::Index i0,
                                                    Eigen::Index count, NodeValues& out) {
    using vmath::Vec;
    const Eigen::Index K = v.size();
    const Eigen::Index P = U.rows();
    // only the first P (K) entries are used, each set here: no zeroing of the rest per block
    std::array<Vec, max_block_fields> u; // NOLINT(cppcoreguidelines-pro-type-member-init)
    for (Eigen::Index r = 0; r < P; ++r) {
        Vec& ur = u[static_cast<std::size_t>(r)];
        ur = Vec{};
        for (Eigen::Index l = 0; l < count; ++l)
            ur[l] = U(r, i0 + l);
    }
    // e = tau - sigma, d_j = h'(a) v_j g'(x_j), c_j = e d_j
    std::array<Vec, max_block_fields> gx, gd; // NOLINT(cppcoreguidelines-pro-type-member-init)
    Vec a{};
    for (Eigen::Index j = 0; j < K; ++j) {
        const auto g = s.g.value_and_derivative(u[static_cast<std::size_t>(j)]);
        gx[static_cast<std::size_t>(j)] = g.value;
        gd[static_cast<std::size_t>(j)] = g.slope;
        a += v(j) * g.value;
    }
    Vec tau{};
    if (s.target.polynomial) {
        for (Eigen::Index l = 0; l < count; ++l)
            tau[l] = node_target(s, U, i0 + l, K, v_star);
    } else {
        tau = committee_output<Vec>(s, &u[static_cast<std::size_t>(K)],
                                    static_cast<std::size_t>(P - K), v_star);
    }
    const auto h = s.h.value_and_derivative(a); // h(a), h'(a)
    Vec e{};
    for (Eigen::Index l = 0; l < count; ++l)
        e[l] = -SquaredLoss::error(h.value[l], tau[l]); // the theory is the squared loss's
    const Vec hp = h.slope;
    for (Eigen::Index l = 0; l < count; ++l) {
        const Eigen::Index i = i0 + l;
        for (Eigen::Index j = 0; j < K; ++j) {
            const auto jj = static_cast<std::size_t>(j);
            out.gx(j, i) = gx[jj][l];
            out.d(j, i) = hp[l] * v(j) * gd[jj][l];
            out.c(j, i) = e[l] * out.d(j, i);
        }
        out.e_hp(i) = e[l] * hp[l];
        out.e2(i) = e[l] * e[l];
    }
}

#undef PLATEAU_NODE_BLOCK_TARGETS

} // namespace

void evaluate_nodes(const FlowSettings& s, const Eigen::MatrixXd& U, const Eigen::VectorXd& v,
                    const Eigen::VectorXd& v_star, NodeValues& out) {
    const Eigen::Index K = v.size();
    const Eigen::Index n = U.cols();
    if (U.rows() > max_block_fields)
        throw std::invalid_argument("plateau theory: evaluate_nodes takes at most 64 fields");
    out.c.resize(K, n);
    out.d.resize(K, n);
    out.gx.resize(K, n);
    out.e_hp.resize(n);
    out.e2.resize(n);
    constexpr auto width = static_cast<Eigen::Index>(vmath::lanes);
    for (Eigen::Index i = 0; i < n; i += width)
        evaluate_node_block(s, U, v, v_star, i, std::min(width, n - i), out);
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
