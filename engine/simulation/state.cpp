#include "engine/simulation/state.hpp"

#include "engine/core/linear_algebra.hpp"
#include "engine/core/random.hpp"

#include <cmath>
#include <limits>
#include <utility>

namespace plateau {

namespace {

void fill_normal(NormalStream& rng, RowMatrix& block, double scale) {
    rng.fill({block.data(), static_cast<std::size_t>(block.size())});
    block *= scale;
}

/// Modified Gram-Schmidt on the rows: orthonormal rows spanning the same space.
void orthonormalize_rows(RowMatrix& B) {
    for (Eigen::Index n = 0; n < B.rows(); ++n) {
        for (Eigen::Index m = 0; m < n; ++m)
            B.row(n) -= B.row(m).dot(B.row(n)) * B.row(m);
        B.row(n) /= B.row(n).norm();
    }
}

/// Teachers 2 .. n (docs/theory.md §17, Eqs. (17.1)-(17.2)) after teacher 1 (`first`, M x N),
/// from the teachers' stream, which continues where teacher 1 ended: for t = 2 .. n, M fresh
/// Gaussian rows g, then (readout-overlap < 1) M normals for u_perp.
///   first layer  b^t_n = rho b^1_n + sqrt(1 - rho^2) b^{t,perp}_n: for an orthonormal teacher
///                b^{t,perp}_n is g_n made orthonormal to teacher 1's rows and every earlier
///                b^{s,perp} (Gram-Schmidt), so T^{1t} = rho I and T^{st} = rho^2 I exactly (s, t
///                >= 2, s != t); for a gaussian teacher b^{t,perp}_n = g_n ~ N(0, I/N), the same
///                overlaps to O(1/sqrt N);
///   second layer v*^t = rho_v v*^1 + sqrt(1 - rho_v^2) |v*^1| u_perp, u_perp the unit vector of
///                the normals' part orthogonal to v*^1 (no draw when rho_v = 1: v*^t = v*^1).
/// `first` becomes (n M) x N, teacher after teacher; `v_star` (n M).
void add_teachers(const ModelParams& p, NormalStream& rng, RowMatrix& first,
                  Eigen::VectorXd& v_star) {
    const Eigen::Index M = first.rows();
    const Eigen::Index N = first.cols();
    const auto n = static_cast<Eigen::Index>(p.teachers);
    const double rho = p.teacher_overlap;
    const double rho_perp = std::sqrt(1.0 - rho * rho);
    const double rho_v = p.readout_overlap;
    const bool orthonormal = p.teacher_init == TeacherInit::orthonormal;
    const double inv_sqrt_n = 1.0 / std::sqrt(static_cast<double>(N));
    RowMatrix all(n * M, N);
    all.topRows(M) = first;
    RowMatrix basis(n * M, N); // teacher 1's rows, then every b^{t,perp}: orthonormal rows
    basis.topRows(M) = first;
    const Eigen::VectorXd v1 = v_star;
    Eigen::VectorXd stars(n * M);
    stars.head(M) = v1;
    const double norm_v1 = v1.norm();
    for (Eigen::Index t = 1; t < n; ++t) {
        RowMatrix fresh(M, N);
        fill_normal(rng, fresh, inv_sqrt_n);
        if (orthonormal)
            for (Eigen::Index m = 0; m < M; ++m) { // modified Gram-Schmidt against all before
                const Eigen::Index row = t * M + m;
                basis.row(row) = fresh.row(m);
                for (Eigen::Index b = 0; b < row; ++b)
                    basis.row(row) -= basis.row(b).dot(basis.row(row)) * basis.row(b);
                basis.row(row) /= basis.row(row).norm();
            }
        else
            basis.middleRows(t * M, M) = fresh;
        // Eq. (17.1): b^t = rho b^1 + sqrt(1 - rho^2) b^{t,perp}
        all.middleRows(t * M, M) = rho * first + rho_perp * basis.middleRows(t * M, M);
        Eigen::VectorXd vt = v1;
        if (rho_v < 1.0) { // Eq. (17.2)
            Eigen::VectorXd u(M);
            rng.fill({u.data(), static_cast<std::size_t>(M)});
            if (norm_v1 > 0.0)
                u -= (u.dot(v1) / (norm_v1 * norm_v1)) * v1;
            u /= u.norm();
            vt = rho_v * v1 + std::sqrt(1.0 - rho_v * rho_v) * norm_v1 * u;
        }
        stars.segment(t * M, M) = vt;
    }
    first = std::move(all);
    v_star = std::move(stars);
}

} // namespace

void switch_task(RunState& s, int task) {
    if (task == s.task)
        return;
    if (s.heads.size() > 0) { // per-task heads: the learning head goes back to its column
        s.heads.col(s.task) = s.v;
        s.v = s.heads.col(task);
    }
    s.task = task;
    s.task_start.at(static_cast<std::size_t>(task)) = s.alpha();
}

Eigen::VectorXd task_head(const RunState& s, int t) {
    return s.heads.size() == 0 || t == s.task ? s.v : Eigen::VectorXd(s.heads.col(t));
}

Eigen::VectorXd task_starts(const std::vector<double>& start) {
    return Eigen::Map<const Eigen::VectorXd>(start.data(), static_cast<Eigen::Index>(start.size()));
}

LayerWeights draw_layers(const NetworkSpec& net, StreamKey key) {
    NormalStream rng(key);
    LayerWeights W = zero_layers(net);
    for (auto& m : W) {
        const double sd = 1.0 / std::sqrt(static_cast<double>(m.cols()));
        for (Eigen::Index j = 0; j < m.rows(); ++j)
            for (Eigen::Index k = 0; k < m.cols(); ++k)
                m(j, k) = sd * rng.next();
    }
    return W;
}

LayerWeights teacher_layers(const ModelParams& p, StreamKey key) {
    if (p.teacher_upper == TeacherUpper::random)
        return draw_layers(p.teacher, key);
    LayerWeights W = zero_layers(p.teacher);
    for (auto& m : W) // docs/theory.md §12, Eq. (12.4): (W*_l)_jk = 1/sqrt(M_{l-1})
        m.setConstant(1.0 / std::sqrt(static_cast<double>(m.cols())));
    return W;
}

RunState make_initial_state(const ModelParams& p, std::uint64_t seed, std::uint64_t init_index) {
    fix_eigen_blocking(); // machine-independent products (engine/core/linear_algebra.hpp)
    const bool shared = p.init_seed == InitSeed::shared;
    RunState s;
    s.K = p.student.hidden();
    s.M = p.teacher.hidden();
    const auto N = static_cast<Eigen::Index>(p.N);
    const double inv_sqrt_n = 1.0 / std::sqrt(static_cast<double>(p.N));

    // The teacher's rows live in R^N, or in the latent space R^D of hidden-manifold inputs
    // (docs/theory.md §16), where the teacher rows of the weights stay zero.
    const bool manifold = p.inputs == InputKind::hidden_manifold;
    const Eigen::Index teacher_dims = manifold ? latent_dimension(p) : N;
    RowMatrix teacher(s.M, teacher_dims);
    NormalStream teacher_rng(StreamKey{
        seed, init_index, shared ? StreamPurpose::teacher_shared : StreamPurpose::teacher});
    fill_normal(teacher_rng, teacher, 1.0 / std::sqrt(static_cast<double>(teacher_dims)));
    if (p.teacher_init == TeacherInit::orthonormal)
        orthonormalize_rows(teacher);
    if (manifold) {
        ManifoldFrame frame{RowMatrix(teacher_dims, N), std::move(teacher), p.manifold.feature_map};
        NormalStream features_rng(StreamKey{
            seed, init_index, shared ? StreamPurpose::features_shared : StreamPurpose::features});
        fill_normal(features_rng, frame.features, 1.0);
        s.manifold.emplace(std::move(frame));
        teacher = RowMatrix::Zero(s.M, N);
    }
    Eigen::VectorXd v_star = Eigen::VectorXd::Constant(p.teacher.widths.back(), p.v_star);
    if (p.teachers > 1)
        add_teachers(p, teacher_rng, teacher, v_star);
    s.M = static_cast<int>(teacher.rows());
    s.teachers = p.teachers;

    RowMatrix student(s.K, N);
    NormalStream student_rng(
        StreamKey{seed, init_index,
                  shared ? StreamPurpose::student_init_shared : StreamPurpose::student_init});
    fill_normal(student_rng, student, std::sqrt(p.q0) * inv_sqrt_n);
    if (p.constraint == Constraint::sphere) // on the sphere from the start (docs/theory.md §14)
        for (Eigen::Index j = 0; j < s.K; ++j)
            student.row(j) /= student.row(j).norm();

    s.weights.resize(s.K + s.M, N);
    s.weights.topRows(s.K) = student;
    s.weights.bottomRows(s.M) = teacher;
    s.v = Eigen::VectorXd::Constant(p.student.widths.back(), p.v0);
    s.v_star = std::move(v_star);
    if (p.teachers > 1) {
        s.task_start.assign(static_cast<std::size_t>(p.teachers),
                            std::numeric_limits<double>::quiet_NaN());
        s.task_start.front() = 0.0;
        if (p.heads == Heads::per_task)
            s.heads = s.v.replicate(1, p.teachers);
    }
    s.layers = draw_layers(p.student, StreamKey{seed, init_index, StreamPurpose::student_layers});
    s.layers_star = teacher_layers(p, StreamKey{seed, init_index, StreamPurpose::teacher_layers});
    return s;
}

void apply_start_weights(RunState& s, const StartWeights& start) {
    if (start.W)
        s.weights.topRows(s.K) = *start.W;
    if (start.v)
        s.v = *start.v;
    if (start.B)
        s.weights.bottomRows(s.M) = *start.B;
    if (start.v_star)
        s.v_star = *start.v_star;
}

} // namespace plateau
