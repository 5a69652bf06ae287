#include "engine/simulation/state.hpp"

#include "engine/core/linear_algebra.hpp"
#include "engine/core/random.hpp"

#include <cmath>

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

} // namespace

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
    s.v_star = Eigen::VectorXd::Constant(p.teacher.widths.back(), p.v_star);
    s.layers = draw_layers(p.student, StreamKey{seed, init_index, StreamPurpose::student_layers});
    s.layers_star = teacher_layers(p, StreamKey{seed, init_index, StreamPurpose::teacher_layers});
    return s;
}

} // namespace plateau
