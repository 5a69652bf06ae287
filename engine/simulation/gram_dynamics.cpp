#include "engine/simulation/gram_dynamics.hpp"

#include "engine/core/schedule.hpp"
#include "engine/simulation/state.hpp"

#include <Eigen/Cholesky>

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace plateau {

GammaSampler::GammaSampler(double shape) noexcept
    : boost_(shape < 1.0 ? 1.0 / shape : 0.0), d_((shape < 1.0 ? shape + 1.0 : shape) - 1.0 / 3.0),
      c_(1.0 / std::sqrt(9.0 * d_)) {}

double GammaSampler::operator()(NormalStream& rng) const noexcept {
    // Marsaglia & Tsang (2000): d v with v = (1 + c x)^3, x normal, accepted by the squeeze
    // u < 1 - 0.0331 x^4 or by log u < x^2/2 + d (1 - v + log v).
    double g = 0.0;
    for (;;) {
        double x = 0.0;
        double v = 0.0;
        do {
            x = rng.next();
            v = 1.0 + c_ * x;
        } while (v <= 0.0);
        v = v * v * v;
        const double u = rng.uniform().next_double();
        const double x2 = x * x;
        if (u < 1.0 - 0.0331 * (x2 * x2) || std::log(u) < 0.5 * x2 + d_ * (1.0 - v + std::log(v))) {
            g = d_ * v;
            break;
        }
    }
    if (boost_ == 0.0)
        return g;
    // Gamma(a) = Gamma(a + 1) U^(1/a) for a < 1 (Marsaglia & Tsang 2000, §6); U in (0, 1].
    const double u = 1.0 - rng.uniform().next_double();
    return g * std::pow(u, boost_);
}

double gamma_variate(NormalStream& rng, double shape) noexcept {
    return GammaSampler(shape)(rng);
}

double chi_squared_variate(NormalStream& rng, double dof) noexcept {
    return 2.0 * gamma_variate(rng, 0.5 * dof);
}

Eigen::MatrixXd wishart_bartlett(NormalStream& rng, int p, double dof) {
    // docs/theory.md §7 (Bartlett): S = A A^T with A lower triangular.
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(p, p);
    for (int i = 0; i < p; ++i) {
        for (int j = 0; j < i; ++j)
            A(i, j) = rng.next();
        A(i, i) = std::sqrt(chi_squared_variate(rng, dof - i));
    }
    Eigen::MatrixXd S(p, p);
    for (int i = 0; i < p; ++i)
        for (int j = 0; j <= i; ++j) {
            double s = 0.0;
            for (int k = 0; k <= j; ++k)
                s += A(i, k) * A(j, k);
            S(i, j) = S(j, i) = s;
        }
    return S;
}

namespace {

/// Several teachers (docs/theory.md §17): the teachers' rows as combinations of nM basis rows
/// (teacher 1's, then each later teacher's fresh part), b = A basis: block row t of A is
/// rho I at block 0 and sqrt(1 - rho^2) I at block t (Eq. (17.1)); teacher 1's is I.
Eigen::MatrixXd teacher_mixing(const ModelParams& m) {
    const Eigen::Index M = m.teacher.hidden();
    const Eigen::Index nM = teacher_units(m);
    const double rho = m.teacher_overlap;
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(nM, nM);
    A.topLeftCorner(M, M).setIdentity();
    for (Eigen::Index t = 1; t < m.teachers; ++t) {
        A.block(t * M, 0, M, M).diagonal().setConstant(rho);
        A.block(t * M, t * M, M, M).diagonal().setConstant(std::sqrt(1.0 - rho * rho));
    }
    return A;
}

/// The second layers of every teacher (Eq. (17.2)), from the stream `rng` after the first
/// layer's draws, as make_initial_state: M normals for u_perp per later teacher when
/// readout-overlap < 1.
Eigen::VectorXd teacher_readouts(const ModelParams& m, NormalStream& rng) {
    const Eigen::Index M = m.teacher.hidden();
    const Eigen::VectorXd v1 = Eigen::VectorXd::Constant(M, m.v_star);
    Eigen::VectorXd out(teacher_units(m));
    out.head(M) = v1;
    const double rho_v = m.readout_overlap;
    for (Eigen::Index t = 1; t < m.teachers; ++t) {
        Eigen::VectorXd vt = v1;
        if (rho_v < 1.0) {
            Eigen::VectorXd u(M);
            rng.fill({u.data(), static_cast<std::size_t>(M)});
            if (const double n1 = v1.norm(); n1 > 0.0)
                u -= (u.dot(v1) / (n1 * n1)) * v1;
            u /= u.norm();
            vt = rho_v * v1 + std::sqrt(1.0 - rho_v * rho_v) * v1.norm() * u;
        }
        out.segment(t * M, M) = vt;
    }
    return out;
}

/// sample_initial_gram without the constraint. Several teachers (docs/theory.md §17): the law of
/// §7 with M -> nM draws the nM basis rows (orthonormal teacher: teacher 1's rows and the
/// Gram-Schmidt of the fresh parts, a uniformly random frame independent of the students; gaussian
/// teacher: i.i.d. N(0, I/N) rows); the teachers are A times them (teacher_mixing): R = R_basis
/// A^T, T = A T_basis A^T, and their readouts come from the same stream after (Eq. (17.2)).
OrderParameters sample_unconstrained_gram(const RunParams& params, std::uint64_t seed,
                                          std::uint64_t init_index) {
    const auto& m = params.model;
    const int K = m.student.hidden();
    const int M = teacher_units(m); // every teacher's units: nM
    const int r = K + M;
    const auto N = static_cast<double>(m.N);
    assert(m.N > r);
    NormalStream rng(StreamKey{seed, init_index,
                               m.init_seed == InitSeed::shared ? StreamPurpose::gram_initial_shared
                                                               : StreamPurpose::gram_initial});
    OrderParameters op;
    op.v = Eigen::VectorXd::Constant(m.student.widths.back(), m.v0);
    op.v_star = Eigen::VectorXd::Constant(m.teacher.widths.back(), m.v_star);
    // Deeper networks (docs/theory.md §12): the weights above the first layer are those of a full
    // run (the same streams, engine/simulation/state.hpp); they never see xi.
    op.layers = draw_layers(m.student, StreamKey{seed, init_index, StreamPurpose::student_layers});
    op.layers_star = teacher_layers(m, StreamKey{seed, init_index, StreamPurpose::teacher_layers});
    const double student_var = m.q0 / N; // w^(j)_i ~ N(0, q0/N), docs/theory.md §1
    if (m.teacher_init == TeacherInit::orthonormal) {
        // docs/theory.md §7: T = I; R_jn = w^(j).B_n i.i.d. N(0, q0/N); Q = R R^T + (q0/N) S
        // with S ~ Wishart_K(N - M, I), the Gram matrix of the students' parts orthogonal to
        // the teacher rows, independent of R.
        op.T = Eigen::MatrixXd::Identity(M, M);
        op.R.resize(K, M);
        const double sd = std::sqrt(student_var);
        for (int j = 0; j < K; ++j)
            for (int n = 0; n < M; ++n)
                op.R(j, n) = sd * rng.next();
        const Eigen::MatrixXd S = wishart_bartlett(rng, K, N - M);
        op.Q.resize(K, K);
        for (int j = 0; j < K; ++j)
            for (int k = 0; k <= j; ++k) {
                double q = 0.0;
                for (int n = 0; n < M; ++n)
                    q += op.R(j, n) * op.R(k, n);
                op.Q(j, k) = op.Q(k, j) = q + student_var * S(j, k);
            }
    } else {
        // Gaussian teacher, docs/theory.md §7: all r rows independent, row a with i.i.d.
        // N(0, D_a) components (D = q0/N for students, 1/N for teachers): G = D^1/2 S D^1/2,
        // S ~ Wishart_r(N).
        const Eigen::MatrixXd S = wishart_bartlett(rng, r, N);
        Eigen::VectorXd sd(r);
        for (int a = 0; a < r; ++a)
            sd(a) = std::sqrt(a < K ? student_var : 1.0 / N);
        const Eigen::MatrixXd G = sd.asDiagonal() * S * sd.asDiagonal();
        op.Q = G.topLeftCorner(K, K);
        op.R = G.topRightCorner(K, M);
        op.T = G.bottomRightCorner(M, M);
    }
    if (m.teachers > 1) {
        const Eigen::MatrixXd A = teacher_mixing(m);
        op.R = op.R * A.transpose(); // products evaluate into a temporary: no aliasing
        op.T = A * op.T * A.transpose();
        op.T = 0.5 * (op.T + op.T.transpose()).eval();
        op.v_star = teacher_readouts(m, rng);
        if (m.heads == Heads::per_task)
            op.heads = op.v.replicate(1, m.teachers);
    }
    return op;
}

/// sample_initial_mixture_gram without the constraint.
MixtureStart sample_unconstrained_mixture_gram(const RunParams& params, std::uint64_t seed,
                                               std::uint64_t init_index) {
    const auto& m = params.model;
    const int K = m.student.hidden();
    const int M = m.teacher.hidden();
    const auto D = static_cast<int>(m.mixture.dims);
    const int p = M + D; // the fixed rows: teachers, then axes
    const auto N = static_cast<double>(m.N);
    assert(m.N > K + p);
    NormalStream rng(StreamKey{seed, init_index,
                               m.init_seed == InitSeed::shared ? StreamPurpose::gram_initial_shared
                                                               : StreamPurpose::gram_initial});
    MixtureStart start;
    OrderParameters& op = start.op;
    op.v = Eigen::VectorXd::Constant(m.student.widths.back(), m.v0);
    op.v_star = Eigen::VectorXd::Constant(m.teacher.widths.back(), m.v_star);
    // One hidden layer (validate() refuses deeper networks on mixtures): no layers above.
    op.layers = draw_layers(m.student, StreamKey{seed, init_index, StreamPurpose::student_layers});
    op.layers_star = teacher_layers(m, StreamKey{seed, init_index, StreamPurpose::teacher_layers});

    // The teacher rows and the axes, Eq. (15d.5): Z (M x N) i.i.d. N(0, 1) with Z_E = Z E^T
    // (M x D) its components on the axes and Z Z^T = Z_E Z_E^T + S_B, S_B ~ Wishart_M(N - D),
    // independent of Z_E. Gaussian teacher B = Z/sqrt(N); orthonormal teacher B = L_C^-1 Z, the
    // Gram-Schmidt of Z's rows (as engine/simulation/state.cpp), L_C the Cholesky factor of
    // Z Z^T.
    Eigen::MatrixXd ZE(M, D);
    for (int n = 0; n < M; ++n)
        for (int d = 0; d < D; ++d)
            ZE(n, d) = rng.next();
    const Eigen::MatrixXd SB = wishart_bartlett(rng, M, N - D);
    Eigen::MatrixXd BE(M, D); // B E^T
    if (m.teacher_init == TeacherInit::orthonormal) {
        const Eigen::MatrixXd C = ZE * ZE.transpose() + SB;
        const Eigen::LLT<Eigen::MatrixXd> chol(C);
        BE = chol.matrixL().solve(ZE);
        op.T = Eigen::MatrixXd::Identity(M, M);
    } else {
        BE = ZE / std::sqrt(N);
        op.T = (ZE * ZE.transpose() + SB) / N;
    }
    // H, the Gram matrix of the fixed rows [B; E] (p x p), and H = L_H L_H^T.
    Eigen::MatrixXd H(p, p);
    H << op.T, BE, BE.transpose(), Eigen::MatrixXd::Identity(D, D);
    const Eigen::LLT<Eigen::MatrixXd> chol_h(H);
    const Eigen::MatrixXd LH = chol_h.matrixL();

    // The students, Eq. (15d.6): independent of [B; E] = L_H U^T (U: N x p, orthonormal
    // columns), w_j = U y_j + w_j,perp with y_j ~ N(0, (q0/N) I_p), so [R, W E^T] = Y L_H^T and
    // Q = Y Y^T + (q0/N) S_W, S_W ~ Wishart_K(N - p) (the parts orthogonal to the fixed rows).
    const double student_var = m.q0 / N; // w^(j)_i ~ N(0, q0/N), docs/theory.md §1
    const double sd = std::sqrt(student_var);
    Eigen::MatrixXd Y(K, p);
    for (int j = 0; j < K; ++j)
        for (int a = 0; a < p; ++a)
            Y(j, a) = sd * rng.next();
    const Eigen::MatrixXd SW = wishart_bartlett(rng, K, N - p);
    const Eigen::MatrixXd fixed = Y * LH.transpose(); // K x p: [R, W E^T]
    op.R = fixed.leftCols(M);
    op.Q.resize(K, K);
    for (int j = 0; j < K; ++j)
        for (int k = 0; k <= j; ++k)
            op.Q(j, k) = op.Q(k, j) = Y.row(j).dot(Y.row(k)) + student_var * SW(j, k);
    start.axes.resize(K + M, D);
    start.axes.topRows(K) = fixed.rightCols(D);
    start.axes.bottomRows(M) = BE;
    return start;
}
} // namespace

MixtureStart sample_initial_mixture_gram(const RunParams& params, std::uint64_t seed,
                                         std::uint64_t init_index) {
    MixtureStart start = sample_unconstrained_mixture_gram(params, seed, init_index);
    if (params.model.constraint == Constraint::sphere) {
        // The students rescaled onto the sphere, as in a full run (docs/theory.md §14): a
        // function of the Gram matrix of (students, teachers, axes), so still its exact law.
        OrderParameters& op = start.op;
        const auto K = op.Q.rows();
        const auto M = op.T.rows();
        const auto D = start.axes.cols();
        Eigen::MatrixXd G = Eigen::MatrixXd::Identity(K + M + D, K + M + D);
        G.topLeftCorner(K + M, K + M) << op.Q, op.R, op.R.transpose(), op.T;
        G.topRightCorner(K + M, D) = start.axes;
        G.bottomLeftCorner(D, K + M) = start.axes.transpose();
        project_gram_to_sphere(G, static_cast<int>(K));
        op.Q = G.topLeftCorner(K, K);
        op.R = G.block(0, K, K, M);
        start.axes = G.topRightCorner(K + M, D);
    }
    return start;
}

OrderParameters sample_initial_gram(const RunParams& params, std::uint64_t seed,
                                    std::uint64_t init_index) {
    if (params.model.inputs == InputKind::mixture)
        return sample_initial_mixture_gram(params, seed, init_index).op;
    OrderParameters op = sample_unconstrained_gram(params, seed, init_index);
    if (params.model.constraint == Constraint::sphere) {
        // The students rescaled onto the sphere, as in a full run (docs/theory.md §14): a
        // function of G, so still its exact law.
        const auto K = op.Q.rows();
        Eigen::MatrixXd G(K + op.T.rows(), K + op.T.rows());
        G << op.Q, op.R, op.R.transpose(), op.T;
        project_gram_to_sphere(G, static_cast<int>(K));
        op.Q = G.topLeftCorner(K, K);
        op.R = G.topRightCorner(K, op.T.rows());
    }
    return op;
}

int gram_rows(const RunParams& p) noexcept {
    const int K = p.model.student.hidden();
    const int D = p.model.inputs == InputKind::mixture ? static_cast<int>(p.model.mixture.dims) : 0;
    return K + teacher_units(p.model) + D + (p.training.momentum != 0.0 ? K : 0);
}

void project_gram_to_sphere(Eigen::MatrixXd& G, int K) noexcept {
    // docs/theory.md §14: w^(j) <- w^(j)/|w^(j)| for the K students multiplies row and column j
    // of G by 1/sqrt(G_jj); the teacher rows stay. The lower triangle, mirrored (G stays exactly
    // symmetric), and G_jj = 1 exactly.
    const auto r = G.rows();
    Eigen::VectorXd scale = Eigen::VectorXd::Ones(r);
    for (Eigen::Index j = 0; j < K; ++j)
        scale(j) = 1.0 / std::sqrt(G(j, j));
    for (Eigen::Index i = 0; i < r; ++i)
        for (Eigen::Index j = 0; j < i; ++j) {
            if (i >= K && j >= K)
                continue;
            const double g = G(i, j) * scale(i) * scale(j);
            G(i, j) = g;
            G(j, i) = g;
        }
    for (Eigen::Index j = 0; j < K; ++j)
        G(j, j) = 1.0;
}

namespace {

// The small dense kernels of the chain, for an r x r column-major matrix; R = r fixed at
// compile time for the small r of most runs (fully unrolled: docs/PERFORMANCE.md, "The
// Gram-matrix sampler"), R = 0 for any r.

/// Cholesky-Banachiewicz, row by row, on the lower triangle: G = L L^T; inv[j] = 1/L_jj (0 for a
/// zero pivot). A pivot is |a_j,perp|^2, the squared distance of row j from the span of the rows
/// before it (docs/theory.md §7): zero up to rounding when G is rank-deficient (q0 = 0; a
/// student equal to its teacher), then L_jj and the column below it are 0. False if G is not
/// finite or a pivot is negative beyond rounding.
template <int R>
bool cholesky_psd(const double* __restrict__ G, double* __restrict__ L, double* __restrict__ inv,
                  int r_runtime) noexcept {
    const int r = R > 0 ? R : r_runtime;
    constexpr double zero_pivot = 1e-14; // relative to G_jj: a few hundred roundings
    constexpr double lost = 1e-8;        // a negative pivot this large is not rounding
    for (int i = 0; i < r; ++i) {
        for (int j = 0; j < i; ++j) {
            double s = G[i + j * r];
            for (int k = 0; k < j; ++k)
                s -= L[i + k * r] * L[j + k * r];
            L[i + j * r] = s * inv[j];
        }
        const double gii = G[i + i * r];
        double p = gii;
        for (int k = 0; k < i; ++k)
            p -= L[i + k * r] * L[i + k * r];
        if (!std::isfinite(p) || !std::isfinite(gii) || !(p >= -lost * gii))
            return false;
        const double l = p > zero_pivot * gii ? std::sqrt(p) : 0.0;
        L[i + i * r] = l;
        inv[i] = l > 0.0 ? 1.0 / l : 0.0;
    }
    return true;
}

/// block.template operator()<B>(ib) over rows 0 .. r - 1: blocks of B = 8 rows (one vector
/// register with AVX-512), then one of 4, then single rows.
template <class Block>
void by_row_blocks(int r, const Block& block) {
    int ib = 0;
    for (; ib + 8 <= r; ib += 8)
        block.template operator()<8>(ib);
    if (ib + 4 <= r) {
        block.template operator()<4>(ib);
        ib += 4;
    }
    for (; ib < r; ++ib)
        block.template operator()<1>(ib);
}

/// u = L z (L lower triangular, zero above the diagonal), Eq. (G1); returns |z|^2, the first
/// term of Eq. (G2).
template <int R>
double lower_times(const double* __restrict__ L, const double* __restrict__ z,
                   double* __restrict__ u, int r_runtime) noexcept {
    const int r = R > 0 ? R : r_runtime;
    double zz = 0.0;
    if constexpr (R == 0) {
        // Blocks of 8 rows, their sums in registers, by columns (for the vector units) up to
        // the block's last row: L is zero above the diagonal.
        for (int i = 0; i < r; ++i)
            zz += z[i] * z[i];
        const auto block = [&]<int B>(int ib) { // rows ib .. ib + B - 1
            using Block = Eigen::Array<double, B, 1>;
            Block acc = Block::Zero();
            for (int k = 0; k <= std::min(r - 1, ib + B - 1); ++k)
                acc += z[k] * Eigen::Map<const Block>(L + static_cast<std::ptrdiff_t>(k) * r + ib);
            Eigen::Map<Block>(u + ib) = acc;
        };
        by_row_blocks(r, block);
        return zz;
    }
    for (int i = 0; i < r; ++i) {
        double s = 0.0;
        for (int k = 0; k <= i; ++k)
            s += L[i + k * r] * z[k];
        u[i] = s;
        zz += z[i] * z[i];
    }
    return zz;
}

/// Eq. (G4) of docs/theory.md §7: L <- the Cholesky factor of
///     L L^T + b d^T + d b^T + xi2 d d^T,      b = L c,
/// in O(r^2), for d with its first K entries nonzero at most (the students' rows). In the
/// factor's basis the change is L (g f^T + f g^T) L^T with f = L^-1 d and g = c + (xi2/2) f;
/// balanced (tau^2 = |f|/|g|, a = tau g + f/tau, b' = tau g - f/tau) it is
/// L (I + a a^T/2 - b' b'^T/2) L^T = L N1 N2 D2 N2^T N1^T L^T, a rank-one update and a rank-one
/// downdate of the identity (Gill, Golub, Murray & Saunders 1974, method C1 with L = I), whose
/// unit lower triangular factors N = I + tril(p q^T, -1) are products of O(r) scalars; so
/// L' = L N1 N2 D2^(1/2), one sweep over the columns from the last. inv[j] = 1/L_jj as
/// factorize. False, L then undefined, when the update cannot be
/// trusted: a zero pivot, |g||f| > 1/2 (a change of G as large as G's smallest direction: the
/// downdate may lose positive definiteness), a new pivot below min_pivot G'_jj (`gdiag`, the
/// new G's diagonal, stride r + 1) or anything not finite. `work` holds 13 (r + 1) doubles.
bool rank_two_update(double* __restrict__ L, double* __restrict__ inv, int r, int K,
                     const double* __restrict__ c, const double* __restrict__ d, double xi2,
                     const double* __restrict__ gdiag, double* __restrict__ work) noexcept {
    constexpr double min_pivot = 1e-8; // relative to G'_jj: drift / L_jj stays <= 1e-10
    // The loops are written for the vector units: the recurrences (forward solve, prefix sums)
    // are short chains of multiply-adds, the divisions and square roots come in separate loops
    // over all j, and the sweep runs over blocks of 8 rows (the rows above the diagonal compute
    // zeros: L_ij = 0 and acc_i = 0 for i < j).
    const auto n = static_cast<std::ptrdiff_t>(r) + 1;
    const auto stride = static_cast<std::ptrdiff_t>(r); // of L's columns
    double* const x = work;
    double* const f = work + n;
    double* const a = work + 2 * n;
    double* const y = work + 3 * n;
    double* const t1 = work + 4 * n;
    double* const t2 = work + 5 * n;
    double* const it1 = work + 6 * n;
    double* const it2 = work + 7 * n;
    double* const beta1 = work + 8 * n;
    double* const beta2 = work + 9 * n;
    double* const d1 = work + 10 * n;
    double* const id1 = work + 11 * n;
    double* const scale = work + 12 * n;
    // f = L^-1 d by columns (d_j = 0 for j >= K); x_i for i <= j is spent once f_j is read.
    // Blocks of 4 columns: the block's 4 x 4 triangle by scalars held in registers, then the
    // rows below it by one vector loop.
    for (int j = 0; j < r; ++j)
        if (inv[j] == 0.0)
            return false; // a zero pivot: factorize() decides its column
    for (int i = 0; i < r; ++i)
        x[i] = i < K ? d[i] : 0.0;
    int jb = 0;
    for (; jb + 4 <= r; jb += 4) {
        const double* c0 = L + jb * stride;
        const double* c1 = c0 + r;
        const double* c2 = c1 + r;
        const double* c3 = c2 + r;
        double x1 = x[jb + 1];
        double x2 = x[jb + 2];
        double x3 = x[jb + 3];
        const double f0 = x[jb] * inv[jb];
        x1 -= f0 * c0[jb + 1];
        x2 -= f0 * c0[jb + 2];
        x3 -= f0 * c0[jb + 3];
        const double f1 = x1 * inv[jb + 1];
        x2 -= f1 * c1[jb + 2];
        x3 -= f1 * c1[jb + 3];
        const double f2 = x2 * inv[jb + 2];
        x3 -= f2 * c2[jb + 3];
        const double f3 = x3 * inv[jb + 3];
        f[jb] = f0;
        f[jb + 1] = f1;
        f[jb + 2] = f2;
        f[jb + 3] = f3;
        for (int i = jb + 4; i < r; ++i)
            x[i] -= (f0 * c0[i] + f1 * c1[i]) + (f2 * c2[i] + f3 * c3[i]);
    }
    for (int j = jb; j < r; ++j) { // the last r mod 4 columns
        const double fj = x[j] * inv[j];
        f[j] = fj;
        for (int i = j + 1; i < r; ++i)
            x[i] -= fj * L[i + j * stride];
    }
    double ff = 0.0;
    double gg = 0.0;
    for (int i = 0; i < r; ++i) {
        const double g = c[i] + 0.5 * xi2 * f[i];
        a[i] = g; // g, for now
        ff += f[i] * f[i];
        gg += g * g;
    }
    if (ff == 0.0)
        return true; // d = 0: G unchanged
    const double norm_f = std::sqrt(ff);
    const double norm_g = std::sqrt(gg);
    if (!(norm_f * norm_g <= 0.5))
        return false; // also catches NaN
    if (norm_g == 0.0)
        return true; // g f^T + f g^T = 0
    const double tau = std::sqrt(norm_f / norm_g);
    const double inv_tau = 1.0 / tau;
    for (int i = 0; i < r; ++i) {
        const double g = a[i];
        a[i] = tau * g + inv_tau * f[i];
        y[i] = tau * g - inv_tau * f[i]; // b', for now
    }
    // I + a a^T/2 = N1 D1 N1^T: t1_0 = 2, t1_j+1 = t1_j + a_j^2, D1_j = t1_j+1/t1_j,
    // beta1_j = a_j/t1_j+1 (N1 = I + tril(a beta1^T, -1)).
    double t = 2.0;
    t1[0] = t;
    for (int j = 0; j < r; ++j) {
        t += a[j] * a[j];
        t1[j + 1] = t;
    }
    for (int j = 0; j <= r; ++j)
        it1[j] = 1.0 / t1[j];
    for (int j = 0; j < r; ++j) {
        beta1[j] = a[j] * it1[j + 1];
        d1[j] = t1[j + 1] * it1[j];
        id1[j] = t1[j] * it1[j + 1];
    }
    // y = N1^-1 b' (N1 y = b': y_i = b'_i - a_i sum_k<i beta1_k y_k), and
    // D1 - y y^T/2 = N2 D2 N2^T: t2_0 = -2, t2_j+1 = t2_j + y_j^2/D1_j (positive definite as
    // long as every t2 stays negative), D2_j = D1_j t2_j+1/t2_j, beta2_j = y_j/(D1_j t2_j+1).
    double running = 0.0;
    t = -2.0;
    t2[0] = t;
    for (int j = 0; j < r; ++j) {
        const double yj = y[j] - a[j] * running;
        running += beta1[j] * yj;
        y[j] = yj;
        t += yj * yj * id1[j];
        t2[j + 1] = t;
    }
    for (int j = 0; j <= r; ++j)
        it2[j] = 1.0 / t2[j];
    int ok = 1;
    for (int j = 0; j < r; ++j) {
        const double d2 = d1[j] * t2[j + 1] * it2[j];
        beta2[j] = y[j] * id1[j] * it2[j + 1];
        const double ljj = L[j * n];
        const double pivot = d2 * ljj * ljj; // the new pivot L'_jj^2
        ok &= static_cast<int>(t2[j + 1] < 0.0) &
              static_cast<int>(pivot >= min_pivot * gdiag[j * n]) &
              static_cast<int>(pivot < std::numeric_limits<double>::infinity());
        scale[j] = std::sqrt(d2);
    }
    if (ok == 0)
        return false;
    // L' = L N1 N2 D2^(1/2), columns from the last: with acc1 = sum_k>j a_k L_k (old columns)
    // and acc2 = sum_k>j y_k (L N1)_k, (L N1)_j = L_j + beta1_j acc1 and
    // (L N1 N2)_j = (L N1)_j + beta2_j acc2. Rows are independent: blocks of 8 rows, their
    // acc1, acc2 in registers, every column from the block's last row down.
    const auto sweep = [&]<int B>(int ib) { // rows ib .. ib + B - 1
        using Block = Eigen::Array<double, B, 1>; // B = 8: one vector register with AVX-512
        Block acc1 = Block::Zero();
        Block acc2 = Block::Zero();
        for (int j = std::min(r - 1, ib + B - 1); j >= 0; --j) {
            Eigen::Map<Block> col(L + j * stride + ib);
            const Block l = col;
            const Block p = l + beta1[j] * acc1;
            acc1 += a[j] * l;
            col = (p + beta2[j] * acc2) * scale[j];
            acc2 += y[j] * p;
        }
    };
    by_row_blocks(r, sweep);
    for (int j = 0; j < r; ++j)
        inv[j] /= scale[j];
    return true;
}

template <int R>
constexpr GramChain::Kernels kernels_for() noexcept {
    return {&cholesky_psd<R>, &lower_times<R>};
}

/// The unrolled kernels for r = 2..8, the general ones beyond.
GramChain::Kernels kernels_of(int r) noexcept {
    switch (r) {
    case 2:
        return kernels_for<2>();
    case 3:
        return kernels_for<3>();
    case 4:
        return kernels_for<4>();
    case 5:
        return kernels_for<5>();
    case 6:
        return kernels_for<6>();
    case 7:
        return kernels_for<7>();
    case 8:
        return kernels_for<8>();
    default:
        return kernels_for<0>();
    }
}

} // namespace

GramChain::GramChain(const RunParams& params, const OrderParameters& initial)
    : GramChain(params, initial, Eigen::MatrixXd(initial.Q.rows() + initial.T.rows(), 0)) {}

GramChain::GramChain(const RunParams& params, const OrderParameters& initial,
                     const Eigen::MatrixXd& axes)
    : rule_(params), lambda_(params.training.weight_decay), K_(params.model.student.hidden()),
      M_(teacher_units(params.model)), D_(static_cast<int>(axes.cols())),
      V_(params.training.momentum != 0.0 ? params.model.student.hidden() : 0),
      beta_(params.training.momentum), mixture_(params.model.inputs == InputKind::mixture
                                                    ? std::optional<Mixture>(params.model.mixture)
                                                    : std::nullopt),
      G_(r(), r()), L_(Eigen::MatrixXd::Zero(r(), r())), inv_diag_(r()), v_(initial.v),
      v_star_(initial.v_star), u_(r()), grad_fields_(K_), d_(K_), grad_v_(initial.v.size()),
      velocity_v_(Eigen::VectorXd::Zero(initial.v.size())),
      velocity_layers_(zero_layers(rule_.student)), layers_(initial.layers),
      layers_star_(initial.layers_star), student_pass_(rule_.student), teacher_pass_(rule_.teacher),
      grad_layers_(zero_layers(rule_.student)), units_(params.model.teacher.hidden()),
      task_(initial.task), heads_(initial.heads) {
    assert(initial.Q.rows() == K_ && initial.T.rows() == M_);
    if (axes.rows() != K_ + M_ || D_ != (mixture_ ? static_cast<int>(mixture_->dims) : 0))
        throw std::logic_error("GramChain: the rows' overlaps with the axes must be (K + M) x D "
                               "with mixture inputs, empty otherwise");
    assert(r() == gram_rows(params)); // the estimates' count of the rows (cost model, memory)
    const Kernels k = kernels_of(r());
    factorize_kernel_ = k.factorize;
    fields_kernel_ = k.fields;
    coords_.resize(r());
    update_work_.resize(r() + 1, 13);
    set_factor_period(default_factor_period);
    // Rows: students, teachers, then the mixture's axes e_1 .. e_D (docs/theory.md §15d), then
    // with momentum the velocities (§6c), zero at the start.
    const int KM = K_ + M_;
    G_.setZero();
    G_.topLeftCorner(K_, K_) = initial.Q;
    G_.block(0, K_, K_, M_) = initial.R;
    G_.block(K_, 0, M_, K_) = initial.R.transpose();
    G_.block(K_, K_, M_, M_) = initial.T;
    G_.block(0, KM, KM, D_) = axes;
    G_.block(KM, 0, D_, KM) = axes.transpose();
    G_.block(KM, KM, D_, D_).setIdentity(); // e_d . e_d' = delta_dd'
    // Exactly symmetric (a T computed from weights may not be in its last bit); a no-op on
    // sample_initial_gram's G.
    for (int i = 0; i < r(); ++i)
        for (int j = 0; j < i; ++j)
            G_(i, j) = G_(j, i) = 0.5 * (G_(i, j) + G_(j, i));
}

bool GramChain::factorize() noexcept {
    ++counts_.fresh;
    const bool ok = factorize_kernel_(G_.data(), L_.data(), inv_diag_.data(), r());
    since_factor_ = ok ? 0 : -1;
    return ok;
}

bool GramChain::refresh_factor() noexcept {
    if (since_factor_ >= 0 && since_factor_ < factor_period_)
        return true;
    return factorize();
}

void GramChain::set_factor_period(int period, bool update_small) noexcept {
    factor_period_ = std::max(period, 1);
    update_rows_ = V_ == 0 && (update_small || r() >= update_min_rows);
    since_factor_ = -1;
}

bool GramChain::update_factor(double xi2, double s) noexcept {
    if (since_factor_ < 0 || !update_rows_ || factor_period_ <= 1)
        return false;
    const int rows = r();
    // Eq. (G3)'s decay, s W: rows j < K of L times s (the factor of S G S is S L).
    if (s != 1.0)
        for (int j = 0; j < K_; ++j) {
            for (int k = 0; k <= j; ++k)
                L_(j, k) *= s;
            inv_diag_(j) /= s;
        }
    if (!rank_two_update(L_.data(), inv_diag_.data(), rows, K_, coords_.data(), d_.data(), xi2,
                         G_.data(), update_work_.data())) {
        ++counts_.refused;
        return false;
    }
    ++counts_.updated;
    return true;
}

bool GramChain::step(std::span<const double> z, double chi2, double zeta,
                     RateFactors rates) noexcept {
    assert(!mixture_ && z.size() == static_cast<std::size_t>(r()));
    // Fields (x, y) = L z, Eq. (G1), and |xi|^2 = |z|^2 + chi^2_{N-r}, Eq. (G2) (docs/theory.md
    // §7).
    const double xi2 = chi2 + fields_kernel_(L_.data(), z.data(), u_.data(), r());
    std::copy(z.begin(), z.end(), coords_.data()); // the example's coordinates (Eq. (G4))
    return learn(xi2, std::nullopt, zeta, rates);
}

bool GramChain::mixture_step(std::span<const double> z, double chi2, std::size_t cluster,
                             double zeta, RateFactors rates) noexcept {
    assert(mixture_ && z.size() == static_cast<std::size_t>(r()) && cluster < mixture_->clusters());
    const Mixture& m = *mixture_;
    const int axes = K_ + M_; // the first axis row
    // docs/theory.md §15d: xi = mu_c + sqrt(Delta) z_full with mu_c = sum_d m_cd e_d. The rows'
    // projections of z_full are L z (Eq. (G1)), the axes' ones among them; then
    // A xi = A mu_c + sqrt(Delta) L z with A mu_c = sum_d m_cd G_{., e_d} (Eq. (15d.2)), and
    // |xi|^2 = |mu_c|^2 + 2 sqrt(Delta) mu_c . z_full + Delta (|z|^2 + chi^2_{N-r})
    // (Eq. (15d.3)).
    const double zz = fields_kernel_(L_.data(), z.data(), u_.data(), r());
    const double sd = std::sqrt(m.variance);
    double mu2 = 0.0;
    double mu_z = 0.0;
    for (int d = 0; d < D_; ++d) {
        const double mcd = m.mean(cluster, static_cast<std::size_t>(d));
        mu2 += mcd * mcd;
        mu_z += mcd * u_(axes + d);
    }
    for (int i = 0; i < r(); ++i) {
        double mean = 0.0;
        for (int d = 0; d < D_; ++d)
            mean += m.mean(cluster, static_cast<std::size_t>(d)) * G_(i, axes + d);
        u_(i) = mean + sd * u_(i);
    }
    // The example's coordinates in the factor's basis (Eq. (G4)): the axis e_d's are row
    // axes + d of L, so those of mu_c + sqrt(Delta) z_full are sum_d m_cd L_(axes+d, .) + sd z.
    if (update_rows_) {
        for (int i = 0; i < r(); ++i)
            coords_(i) = sd * z[static_cast<std::size_t>(i)];
        for (int d = 0; d < D_; ++d) {
            const double mcd = m.mean(cluster, static_cast<std::size_t>(d));
            for (int i = 0; i <= axes + d; ++i)
                coords_(i) += mcd * L_(axes + d, i);
        }
    }
    const double xi2 = mu2 + 2.0 * sd * mu_z + m.variance * (zz + chi2);
    return learn(xi2, m.labels[cluster], zeta, rates);
}

bool GramChain::learn(double xi2, std::optional<double> label, double zeta,
                      RateFactors rates) noexcept {
    const int rows = r();
    const auto K = static_cast<std::size_t>(K_);
    const auto M = static_cast<std::size_t>(units_);
    const std::span<const double> x{u_.data(), K};
    // Several teachers (docs/theory.md §17): the current task's block labels.
    const auto block = static_cast<std::size_t>(task_) * M;
    const std::span<const double> y{u_.data() + K_ + block, M};

    // The label, the forward and backward passes of models/network.hpp, as the trainer:
    // tau = tau(y) + zeta (the target, docs/theory.md §13: by default h*(sum_n v*_n g*(y_n))),
    // sigma of Eq. (1), de/dx_m and de/dv_k (Eqs. 3-5).
    // A deeper network (docs/theory.md §12): the same from models/deep_network.hpp, and the
    // weights above the first layer updated from the same fields (Eq. (12.3)), as the trainer.
    const auto KL = static_cast<std::size_t>(v_.size());
    const std::span<double> grad_v =
        rule_.learn_v ? std::span<double>{grad_v_.data(), KL} : std::span<double>{};
    if (rule_.deep) {
        const double tau_deep =
            rule_.target.deep_value(rule_.teacher, y, layers_star_,
                                    {v_star_.data(), static_cast<std::size_t>(v_star_.size())},
                                    teacher_pass_) +
            zeta;
        const std::span<const double> v{v_.data(), KL};
        const ForwardPass pass = deep_forward(rule_.student, x, layers_, v, student_pass_);
        if (!std::isfinite(pass.output))
            return false;
        deep_backward(rule_.student, layers_, v, pass, tau_deep, student_pass_,
                      {grad_fields_.data(), K}, rule_.learns_layers() ? &grad_layers_ : nullptr,
                      grad_v, rule_.loss);
        // W_l <- W_l - (eta_l/N) (de/dW_l + lambda W_l), Eq. (12.3) with the decay of Eq. (8)
        // as the trainer (MiniBatchSgd); with momentum the velocity's step (Eq. (6c.1)).
        for (std::size_t l = 0; l < rule_.layer_steps.size(); ++l)
            if (const auto step = rule_.layer_steps[l]) {
                const double c = *step * rates.layers;
                if (V_ > 0) {
                    velocity_layers_[l] =
                        beta_ * velocity_layers_[l] - c * (grad_layers_[l] + lambda_ * layers_[l]);
                    layers_[l] += velocity_layers_[l];
                } else if (lambda_ != 0.0) {
                    layers_[l] -= c * (grad_layers_[l] + lambda_ * layers_[l]);
                } else {
                    layers_[l].noalias() -= c * grad_layers_[l];
                }
            }
    } else {
        // With mixture inputs (docs/theory.md §15) the label is the cluster's y_c.
        const double tau =
            (label ? *label : rule_.target.value(rule_.teacher, y, {v_star_.data() + block, M})) +
            zeta;
        const ForwardPass pass = forward(rule_.student, x, {v_.data(), K});
        if (!std::isfinite(pass.output))
            return false;
        backward(rule_.student, x, {v_.data(), K}, pass, tau, {grad_fields_.data(), K}, grad_v,
                 rule_.loss);
    }

    // Eq. (5) with the weight decay of Eq. (8): w^(m) <- s w^(m) + d_m xi with
    // d_m = -(eta/N) de/dx_m and s = 1 - eta lambda/N (1 without decay), so (Eq. (G3) of
    // docs/theory.md §7, with the decay's rescaling) Q <- s^2 Q + s (d x^T + x d^T) + |xi|^2 d d^T
    // (the lower triangle, mirrored: G stays exactly symmetric), R <- s R + d y^T, T unchanged;
    // with mixture inputs the students' overlaps with the axes likewise, w_j . e_d <- s (w_j .
    // e_d) + d_j (xi . e_d) (Eq. (15d.4)), and the teachers' and axes' block unchanged.
    // eta(alpha) = eta s(alpha), eta_v(alpha) = eta_v s_v(alpha): this step's factors (§6b).
    const double eta_over_n = rule_.eta_over_n * rates.w;
    const double eta_v_over_n = rule_.eta_v_over_n * rates.v;
    const double s = 1.0 - eta_over_n * lambda_;
    for (int j = 0; j < K_; ++j)
        d_(j) = -eta_over_n * grad_fields_(j);
    if (V_ > 0) {
        learn_with_momentum(xi2, s, eta_v_over_n, grad_v);
        since_factor_ = -1; // the velocities mix the rows: a fresh factor (Eq. (G4) is for (G3))
        return true;
    }
    // By the columns k < K of the lower triangle (contiguous, for the vector units), then
    // mirrored into rows k.
    for (int k = 0; k < K_; ++k) {
        double* col = G_.data() + static_cast<std::ptrdiff_t>(k) * rows;
        const double dk = d_(k);
        const double uk = u_(k);
        for (int j = k; j < K_; ++j)
            col[j] = s * (s * col[j] + d_(j) * uk + u_(j) * dk) + xi2 * d_(j) * dk;
        for (int n = K_; n < rows; ++n)
            col[n] = s * col[n] + dk * u_(n);
    }
    for (int k = 0; k < K_; ++k)
        for (int j = k + 1; j < rows; ++j)
            G_(k, j) = G_(j, k);
    // v_k <- v_k - (eta_v/N) (de/dv_k + lambda v_k) (Eqs. 3 and 8), from the same fields.
    for (std::size_t k = 0; k < grad_v.size(); ++k) {
        const auto i = static_cast<Eigen::Index>(k);
        v_(i) = (1.0 - eta_v_over_n * lambda_) * v_(i) - eta_v_over_n * grad_v[k];
    }
    // The factor of the new G (Eq. (G4)), or a fresh one at the next step.
    const bool updated = update_factor(xi2, s);
    since_factor_ = updated ? since_factor_ + 1 : -1;
    if (rule_.sphere) { // rows rescaled: their rows and columns of G (docs/theory.md §14)
        // and the rows of L by the same factors (the factor of D G D is D L).
        if (updated)
            for (int j = 0; j < K_; ++j) {
                const double scale = 1.0 / std::sqrt(G_(j, j));
                for (int k = 0; k <= j; ++k)
                    L_(j, k) *= scale;
                inv_diag_(j) /= scale;
            }
        project_gram_to_sphere(G_, K_);
    }
    return true;
}

void GramChain::learn_with_momentum(double xi2, double s, double eta_v_over_n,
                                    std::span<const double> grad_v) noexcept {
    // Eq. (6c.1) on the rows (docs/theory.md §6c): with the step d_j xi + (s - 1) w_j of plain
    // SGD (s = 1 - eta lambda/N),
    //     u_j' = beta u_j + (s - 1) w_j + d_j xi,      w_j' = w_j + u_j' = s w_j + beta u_j + d_j
    //     xi.
    // Every moving row a' = P a + d_j xi with P a = c_w w_j + c_u u_j ((s, beta) for w_j,
    // (s - 1, beta) for u_j), the fixed rows (teachers, axes) unchanged, so
    //     a' . b' = (P a) . (P b) + d_a (P b) . xi + d_b (P a) . xi + |xi|^2 d_a d_b,
    //     a' . f  = (P a) . f + d_a (f . xi),
    // from G before the step and the fields u_ (which hold every row's, the velocities' too).
    const int fixed_end = K_ + M_ + D_; // the first velocity row
    G_before_ = G_;
    const auto mover = [&](int i) {
        return i < K_ ? i : fixed_end + (i - K_);
    }; // 0..2K-1
    const auto unit = [&](int i) {
        return i < K_ ? i : i - K_;
    };
    const auto c_w = [&](int i) {
        return i < K_ ? s : s - 1.0;
    };
    const auto projected_field = [&](int i) { // (P a) . xi
        const int j = unit(i);
        return c_w(i) * u_(j) + beta_ * u_(fixed_end + j);
    };
    const auto projected = [&](int i, int row) { // (P a) . (row `row` before the step)
        const int j = unit(i);
        return c_w(i) * G_before_(j, row) + beta_ * G_before_(fixed_end + j, row);
    };
    for (int i = 0; i < 2 * K_; ++i) {
        const int a = mover(i);
        const double da = d_(unit(i));
        const double pa_xi = projected_field(i);
        for (int k = 0; k <= i; ++k) {
            const int b = mover(k);
            const int jb = unit(k);
            const double pa_pb = c_w(k) * projected(i, jb) + beta_ * projected(i, fixed_end + jb);
            const double db = d_(jb);
            const double g = pa_pb + da * projected_field(k) + db * pa_xi + xi2 * da * db;
            G_(a, b) = g;
            G_(b, a) = g;
        }
        for (int f = K_; f < fixed_end; ++f) {
            const double g = projected(i, f) + da * u_(f);
            G_(a, f) = g;
            G_(f, a) = g;
        }
    }
    // v: the velocity's step of Eqs. (3), (8) and (6c.1).
    for (std::size_t k = 0; k < grad_v.size(); ++k) {
        const auto i = static_cast<Eigen::Index>(k);
        velocity_v_(i) = beta_ * velocity_v_(i) - eta_v_over_n * (grad_v[k] + lambda_ * v_(i));
        v_(i) += velocity_v_(i);
    }
}

OrderParameters GramChain::order_parameters() const {
    OrderParameters op{G_.topLeftCorner(K_, K_),
                       G_.block(0, K_, K_, M_),
                       G_.block(K_, K_, M_, M_),
                       v_,
                       v_star_,
                       layers_,
                       layers_star_};
    op.task = task_;
    if (heads_.size() > 0) { // per-task heads: every head, the learning one included
        op.heads = heads_;
        op.heads.col(task_) = v_;
    }
    return op;
}

void GramChain::switch_task(int task) noexcept {
    if (task == task_)
        return;
    if (heads_.size() > 0) { // as switch_task(RunState&) (engine/simulation/state.hpp)
        heads_.col(task_) = v_;
        v_ = heads_.col(task);
    }
    task_ = task;
}

Eigen::MatrixXd GramChain::mean_overlaps() const {
    assert(mixture_);
    const Mixture& m = *mixture_;
    const auto C = static_cast<Eigen::Index>(m.clusters());
    Eigen::MatrixXd overlaps = Eigen::MatrixXd::Zero(K_, C);
    // M_jc = w_j . mu_c = sum_d m_cd (w_j . e_d), Eq. (15d.4) (as MixtureSampler::mean_overlaps).
    for (Eigen::Index c = 0; c < C; ++c)
        for (int d = 0; d < D_; ++d)
            overlaps.col(c) += G_.block(0, K_ + M_ + d, K_, 1) *
                               m.mean(static_cast<std::size_t>(c), static_cast<std::size_t>(d));
    return overlaps;
}

namespace {

/// The chain of a gram run from its initial law: sample_initial_gram, or with mixture inputs
/// sample_initial_mixture_gram and the axes' rows.
GramChain initial_chain(const RunParams& params, std::uint64_t seed, std::uint64_t init_index) {
    if (params.model.inputs == InputKind::mixture) {
        const MixtureStart start = sample_initial_mixture_gram(params, seed, init_index);
        return {params, start.op, start.axes};
    }
    return {params, sample_initial_gram(params, seed, init_index)};
}

} // namespace

GramDynamics::GramDynamics(const RunParams& params, std::uint64_t seed, std::uint64_t run,
                           std::uint64_t init_index)
    : chain_(initial_chain(params, seed, init_index)), N_(params.model.N),
      half_chi2_(0.5 * (static_cast<double>(params.model.N) - static_cast<double>(chain_.r()))),
      noise_sd_(std::sqrt(params.model.noise)),
      draws_(StreamKey{seed, run, StreamPurpose::gram_steps}),
      noise_(StreamKey{seed, run, StreamPurpose::noise}), observer_(params, seed, run),
      clusters_(params.model.inputs == InputKind::mixture
                    ? std::optional<MixtureSampler>(params.model.mixture)
                    : std::nullopt),
      z_(chain_.r()), eg_exact_(eg_method(params.model) == EgMethod::closed_form), params_(params) {
    if (params.model.teachers > 1) {
        task_start_.assign(static_cast<std::size_t>(params.model.teachers),
                           std::numeric_limits<double>::quiet_NaN());
        task_start_.front() = 0.0;
    }
}

bool GramDynamics::advance_to(double alpha) {
    const std::int64_t target = record_step(alpha, N_);
    const auto r = static_cast<std::size_t>(chain_.r());
    for (; step_ < target; ++step_) {
        // Several teachers (docs/theory.md §17): the task of this step, as OnlineSgd.
        if (const int task = chain_.task_of(step_, threshold_switches_); task != chain_.task()) {
            chain_.switch_task(task);
            task_start_.at(static_cast<std::size_t>(task)) =
                static_cast<double>(step_) / static_cast<double>(N_);
        }
        if (!chain_.refresh_factor())
            return false;
        draws_.fill({z_.data(), r});
        if (clusters_) {
            // Mixture inputs (docs/theory.md §15d): the cluster from one uniform of the same
            // stream, as MixtureSampler::draw picks it, then chi^2_{N-r}.
            const std::size_t c = clusters_->cluster(draws_.uniform().next_double());
            const double chi2 = 2.0 * half_chi2_(draws_);
            const double zeta = noise_sd_ > 0.0 ? noise_sd_ * noise_.next() : 0.0;
            if (!chain_.mixture_step({z_.data(), r}, chi2, c, zeta, chain_.rate_factors(step_)))
                return false;
            continue;
        }
        const double chi2 = 2.0 * half_chi2_(draws_); // chi^2_{N-r}, Eq. (G2)
        const double zeta = noise_sd_ > 0.0 ? noise_sd_ * noise_.next() : 0.0;
        if (!chain_.step({z_.data(), r}, chi2, zeta, chain_.rate_factors(step_)))
            return false;
    }
    return true;
}

Observables GramDynamics::observe() {
    if (last_ && last_->first == step_ && eg_exact_)
        return last_->second;
    Observables o = clusters_ ? observer_.observe(chain_.order_parameters(), chain_.mean_overlaps())
                              : observer_.observe(chain_.order_parameters());
    if (params_.model.teachers > 1) {
        o.extras.emplace(extra_name::switch_alpha, task_starts(task_start_));
        // switch-eg-below (docs/theory.md §17): the next task from this record on.
        if (switches_below(params_, o.eg, chain_.task())) {
            ++threshold_switches_;
            const double alpha = static_cast<double>(step_) / static_cast<double>(N_);
            const int task = task_at(params_, alpha, threshold_switches_);
            chain_.switch_task(task);
            task_start_.at(static_cast<std::size_t>(task)) = alpha;
        }
    }
    last_.emplace(step_, o);
    return o;
}

} // namespace plateau
