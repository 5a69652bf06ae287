// Hidden-manifold examples (docs/theory.md §16): the one sampler of Eq. (16.1) that on-line SGD
// (ManifoldExamples), fresh mini-batches and finite training sets (MiniBatchSgd) and the
// observer's Monte-Carlo eps_g share. The run's fixed part, F and the teacher in the latent
// space, is RunState::manifold (drawn by make_initial_state, engine/simulation/state.hpp).
#pragma once

#include "engine/core/random.hpp"
#include "engine/core/run_params.hpp"
#include "engine/simulation/example_source.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/state.hpp"
#include "models/hidden_manifold.hpp"

#include <Eigen/Core>
#include <cstdint>
#include <span>

namespace plateau {

/// `rows` examples of the manifold `frame` from `stream` (Eq. (16.1)): the latent vectors C
/// (rows x D, the next D normals of the stream for each example in turn), the inputs X (rows x N)
/// and the teacher's fields Nu (rows x M).
void draw_manifold_examples(const ManifoldFrame& frame, NormalStream& stream, Eigen::Index rows,
                            RowMatrix& C, RowMatrix& X, RowMatrix& Nu);

/// On-line SGD's examples on the hidden manifold: from the run's "examples" stream, drawn
/// `block` examples at a time (one GEMM; the stream is read example after example, so the
/// examples do not depend on the block); teacher_fields() gives the teacher's fields of the
/// example drawn last (the label comes from them, not from the teacher rows of the weights).
class ManifoldExamples final : public ExampleSource {
public:
    static constexpr Eigen::Index block = 32;

    ManifoldExamples(std::uint64_t seed, std::uint64_t run)
        : stream_(StreamKey{seed, run, StreamPurpose::examples}) {}

    void attach(const RunState& state) override;
    [[nodiscard]] NormalStream* draw(std::span<double> x) override;
    [[nodiscard]] bool gives_teacher_fields() const noexcept override { return true; }
    [[nodiscard]] std::span<const double> teacher_fields() const noexcept override {
        return {nu_.row(next_ - 1).data(), static_cast<std::size_t>(nu_.cols())};
    }

private:
    const ManifoldFrame* frame_ = nullptr;
    NormalStream stream_;
    RowMatrix c_, x_, nu_;
    Eigen::Index next_ = block; ///< the next row of the block to hand out
};

/// eps_g = <e(sigma, tau)> on fresh manifold examples (docs/theory.md §16, "eps_g"): `samples`
/// examples from `rng`, the target without label noise; the mean and its standard error.
[[nodiscard]] EgEstimate manifold_generalization_error(const ModelParams& m, const RunState& s,
                                                       int samples, NormalStream& rng);

/// The order parameters of a state with hidden-manifold inputs: Q, R, T by the Gaussian
/// equivalence (Eq. (16.4), models/hidden_manifold.hpp), v, v*.
[[nodiscard]] OrderParameters manifold_order_parameters(const RunState& s);

} // namespace plateau
