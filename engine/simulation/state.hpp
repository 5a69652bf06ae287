// State role: the weights of one run. Created once, changed only by the trainer, read by the
// observer.
#pragma once

#include "engine/core/random.hpp"
#include "engine/core/run_params.hpp"
#include "models/deep_network.hpp"
#include "models/hidden_manifold.hpp"
#include "models/network.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace plateau {

/// Heavy-ball momentum (docs/theory.md §6c): the velocity of every learned weight, shaped as the
/// student's rows (K x N), its output weights v and its layers W_2..W_L. Zero at the start.
struct Velocity {
    RowMatrix W;
    Eigen::VectorXd v;
    LayerWeights layers;
};

struct RunState {
    /// (K+M) x N, one contiguous block: rows 0..K-1 are the student vectors w^(j), rows
    /// K..K+M-1 the teacher vectors B_n, so that one pass computes all K+M fields.
    RowMatrix weights;
    Eigen::VectorXd v;      ///< student second layer v_j (K), the output weights (K_L) if deeper
    Eigen::VectorXd v_star; ///< teacher second layer v*_n (M), the output weights (M_L); constant
    /// Deeper networks (docs/theory.md §12): the student's weights W_2..W_L above the first
    /// layer (W_l is K_l x K_{l-1}), and the teacher's (constant). Empty with one hidden layer.
    LayerWeights layers;
    LayerWeights layers_star;
    /// Hidden-manifold inputs (docs/theory.md §16): the feature matrix F and the teacher's rows
    /// in the latent space, fixed for the run. The teacher rows of `weights` are then zero and
    /// unused (the teacher acts on the latent vector c, not on x). Empty for other inputs.
    std::optional<ManifoldFrame> manifold;
    int K = 0;
    int M = 0;             ///< every teacher row: teachers x M_1 (docs/theory.md §17)
    std::int64_t step = 0; ///< examples seen so far; alpha = step / N
    /// Several teachers (docs/theory.md §17): teacher t is rows K + t M_1 .. K + (t+1) M_1 - 1
    /// (M_1 = M / teachers) and v_star's entries t M_1 .. (t+1) M_1 - 1.
    int teachers = 1;
    int task = 0;               ///< the current task (the teacher that labels), 0-based
    int threshold_switches = 0; ///< switches made by switch-eg-below so far
    /// heads = per-task: every task's head (K x teachers); v is the current task's, which
    /// learns, and its column here is written back at the switch (switch_task). Empty: shared.
    Eigen::MatrixXd heads;
    /// The alpha at which each task began (entry 0 is 0), NaN for a task not reached yet.
    std::vector<double> task_start;
    /// With momentum > 0 (docs/theory.md §6c): the velocities, made by the trainer at its first
    /// step. Empty without momentum.
    std::optional<Velocity> velocity;

    [[nodiscard]] std::int64_t N() const noexcept { return weights.cols(); }
    [[nodiscard]] auto student() const noexcept { return weights.topRows(K); }
    [[nodiscard]] auto teacher() const noexcept { return weights.bottomRows(M); }
    [[nodiscard]] int units_per_teacher() const noexcept { return M / teachers; }
    [[nodiscard]] double alpha() const noexcept {
        return static_cast<double>(step) / static_cast<double>(N());
    }
};

/// Weights a run starts from instead of the drawn ones (`student-from`, `teacher-from`;
/// analysis/SCHEMA.md "Saved weights"): the student's W (K x N) and v, the teacher's B (M x N)
/// and v*, each where given. Two-layer networks, one teacher, Gaussian inputs (the caller checks
/// the shapes).
struct StartWeights {
    std::optional<Eigen::MatrixXd> W;
    std::optional<Eigen::VectorXd> v;
    std::optional<Eigen::MatrixXd> B;
    std::optional<Eigen::VectorXd> v_star;
};

/// Replaces the weights of the state `s` (made by make_initial_state) by those `start` gives.
void apply_start_weights(RunState& s, const StartWeights& start);

/// Draws the teacher (stream purpose "teacher") and the student initialization (purpose
/// "student_init") keyed by (master seed `seed`, `init_index`): the run index, or with
/// p.init_seed == InitSeed::shared the seed index within the grid point (purposes
/// "teacher_shared", "student_init_shared"; see CampaignSpec::init_index_of).
///   teacher: orthonormal rows (Gram-Schmidt of Gaussian vectors) or B_n,i ~ N(0, 1/N);
///   student: w^(j)_i ~ N(0, q0/N); v_j = v0; v*_n = v_star.
/// The weights above the first layer of a deeper network (docs/theory.md §12): student
/// (W_l)_jk ~ N(0, 1/K_{l-1}) from purpose "student_layers" (13), teacher (W*_l)_jk ~
/// N(0, 1/M_{l-1}) from purpose "teacher_layers" (14), keyed as the first layer; drawn after it,
/// so a two-layer run's streams are untouched.
/// The weights above the first layer of `net` (docs/theory.md §12): (W_l)_jk ~ N(0, 1/width_{l-1}),
/// layer by layer, row by row, from stream `key` (purpose student_layers or teacher_layers).
/// Empty for one hidden layer. make_initial_state and the Gram chain draw them alike.
[[nodiscard]] LayerWeights draw_layers(const NetworkSpec& net, StreamKey key);

/// The teacher's weights above its first layer (docs/theory.md §12): draw_layers from `key` for
/// TeacherUpper::random, every entry of W*_l equal to 1/sqrt(M_{l-1}) (rows of squared norm 1,
/// as the random rows on average; no stream drawn) for TeacherUpper::equal.
[[nodiscard]] LayerWeights teacher_layers(const ModelParams& p, StreamKey key);

/// Makes `task` the current task at the state's step (docs/theory.md §17): with per-task heads
/// v goes back to its column of `heads` and task's head becomes v; task_start records alpha.
void switch_task(RunState& s, int task);

/// The head of task t (docs/theory.md §17): v for the current task or shared heads, else the
/// stored head of t.
[[nodiscard]] Eigen::VectorXd task_head(const RunState& s, int t);

/// The extra switch_alpha of a record: the alpha at which each task began (NaN: not yet).
[[nodiscard]] Eigen::VectorXd task_starts(const std::vector<double>& start);

/// With inputs = hidden-manifold (docs/theory.md §16) the teacher is drawn as above in R^D
/// instead of R^N (from the same stream: orthonormal rows, or entries N(0, 1/D)), and the
/// feature matrix F (D x N, entries N(0, 1), row after row) from purpose "features" (15), or
/// "features_shared" (16) with init-seed = shared, keyed as the teacher; the teacher rows of
/// the weights are zero.
[[nodiscard]] RunState make_initial_state(const ModelParams& p, std::uint64_t seed,
                                          std::uint64_t init_index);

} // namespace plateau
