// State role: the weights of one run. Created once, changed only by the trainer, read by the
// observer.
#pragma once

#include "engine/run_params.hpp"
#include "models/network.hpp"

#include <cstdint>

namespace plateau {

struct RunState {
    /// (K+M) x N, one contiguous block: rows 0..K-1 are the student vectors w^(j), rows
    /// K..K+M-1 the teacher vectors B_n, so that one pass computes all K+M fields.
    RowMatrix weights;
    Eigen::VectorXd v;      ///< student second layer v_j (K)
    Eigen::VectorXd v_star; ///< teacher second layer v*_n (M), constant
    int K = 0;
    int M = 0;
    std::int64_t step = 0; ///< examples seen so far; alpha = step / N

    [[nodiscard]] std::int64_t N() const noexcept { return weights.cols(); }
    [[nodiscard]] auto student() const noexcept { return weights.topRows(K); }
    [[nodiscard]] auto teacher() const noexcept { return weights.bottomRows(M); }
    [[nodiscard]] double alpha() const noexcept {
        return static_cast<double>(step) / static_cast<double>(N());
    }
};

/// Draws the teacher (stream purpose "teacher") and the student initialization (purpose
/// "student_init") keyed by (master seed `seed`, `init_index`): the run index, or with
/// p.init_seed == InitSeed::shared the seed index within the grid point (purposes
/// "teacher_shared", "student_init_shared"; see CampaignSpec::init_index_of).
///   teacher: orthonormal rows (Gram-Schmidt of Gaussian vectors) or B_n,i ~ N(0, 1/N);
///   student: w^(j)_i ~ N(0, q0/N); v_j = v0; v*_n = v_star.
[[nodiscard]] RunState make_initial_state(const ModelParams& p, std::uint64_t seed,
                                          std::uint64_t init_index);

} // namespace plateau
