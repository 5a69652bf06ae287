// MiniBatchSgd: gradient descent on the mean gradient of B examples per update, with weight decay,
// on fresh examples or on a finite training set (docs/theory.md §1 Eqs. (6)-(7), §6):
//     w^(m) <- w^(m) - (eta/N) ((1/B) sum_{mu in batch} grad_{w^(m)} e^mu + lambda w^(m)),
//     v_k   <- v_k   - (eta_v/N) ((1/B) sum_{mu in batch} de^mu/dv_k + lambda v_k)  (v learned).
// One update is one step: alpha = updates / N. B = all (batch gradient descent) is the mean
// gradient of Eq. (7) over the whole training set, one update per 1/N of alpha.
//
// Where the batch comes from:
//   fresh examples    B new examples per update: the next B N normals of the run's "examples"
//                     stream (example b = normals bN .. bN+N-1), label noise from "noise", one
//                     value per example in order (B = 1 reads the streams as OnlineSgd does).
//   training set      P examples drawn once per run (FiniteTrainingSet: example mu and its label
//                     noise from its own stream, so the set is regenerated, never stored, and is
//                     the same on --resume) and held in memory, P x N doubles. Labels are fixed
//                     with the examples: tau^mu = teacher output + s z^mu, z^mu the normal after
//                     the N components of example mu's stream. Batches: `epochs` takes the next
//                     B indices of an endless sequence of independent shuffles (Fisher-Yates,
//                     stream "sampling"), so a batch may straddle two epochs when B does not
//                     divide P; `replacement` draws B indices uniformly with replacement (same
//                     stream); B = all uses every example, in order, without randomness.
//
// Every update is two matrix products (Eigen GEMM): the fields F = X A^T of the batch's B x N
// block X (A: the student rows, and the teacher rows for fresh examples), then, with the field
// errors D (B x K, D_bm = de^b/dx_m, Eqs. (3)-(5) by backward()), W <- (1 - eta lambda/N) W -
// (eta/(N B)) D^T X. A batch from a training set is first gathered into its own block; B = all
// multiplies the training set itself.
//
// With momentum beta (docs/theory.md §6c, Eq. (6c.1)) the step above is a velocity's increment:
// u <- beta u + (the step), w <- w + u, for every learned weight (rows, W_l, v); on-line SGD
// with momentum is this trainer with B = 1.
#pragma once

#include "engine/simulation/mixture_source.hpp"
#include "engine/simulation/trainer.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace plateau {

class MiniBatchSgd final : public Trainer {
public:
    MiniBatchSgd(const RunParams& params, std::uint64_t seed, std::uint64_t run);

    StepOutcome advance(RunState& state, std::int64_t steps) override;
    void measure(const RunState& state, Observables& o) const override;
    [[nodiscard]] std::int64_t examples_per_update() const noexcept override { return batch_; }

    /// Whether the run learns from a finite training set.
    [[nodiscard]] bool has_training_set() const noexcept { return set_size_ > 0; }
    /// The indices of the examples of the last update's batch (training set only).
    [[nodiscard]] const std::vector<std::int64_t>& last_batch() const noexcept { return picked_; }

private:
    /// Draws the training set and its labels from the teacher of `s`, once.
    void prepare(const RunState& s) const;
    /// The next batch's indices into picked_ (training set, B < P).
    void pick_batch();
    /// One update from the B x N block X (its labels `tau` when from the training set). False if
    /// an output was not finite (the state is then unchanged).
    bool update(RunState& s, const RowMatrix& X, const Eigen::VectorXd* tau);
    /// The teacher's output (without noise) from its first-layer fields y (M values).
    double teacher_output(const RunState& s, const double* y) const;

    StepRule rule_; ///< the networks, what learns, the step sizes
    double lambda_;
    double beta_; ///< momentum (docs/theory.md §6c); 0: none
    double noise_sd_;
    std::int64_t n_;
    std::int64_t batch_;    ///< examples per update (B, or P for batch = all)
    std::int64_t set_size_; ///< P, 0 for fresh examples
    bool full_batch_;
    Sampling sampling_;
    std::uint64_t seed_;
    std::uint64_t run_;
    NormalStream examples_;
    NormalStream noise_;
    UniformStream order_;
    /// With mixture inputs (docs/theory.md §15): the examples and their clusters' labels.
    std::optional<MixtureSampler> mixture_;
    // The training set, drawn at the first use (prepare() from measure() is const: the set is a
    // function of the run's key and teacher, not state).
    mutable RowMatrix set_;
    mutable Eigen::VectorXd labels_;
    std::vector<std::int64_t> shuffle_; ///< the current epoch's order
    std::size_t cursor_ = 0;            ///< next position in shuffle_
    std::vector<std::int64_t> picked_;
    // Scratch: the batch block, its labels, fields, field errors, dv.
    RowMatrix block_;
    Eigen::VectorXd block_labels_;
    RowMatrix latent_;       ///< hidden manifold (§16): the batch's latent vectors c
    RowMatrix block_fields_; ///< and the teacher's fields b_n . c
    RowMatrix fields_;
    RowMatrix errors_;
    Eigen::VectorXd grad_v_;
    // Deeper networks (docs/theory.md §12): the passes down and up per example, and the batch's
    // sum of de/dW_l of the layers above the first.
    mutable DeepWorkspace student_pass_;
    mutable DeepWorkspace teacher_pass_;
    LayerWeights grad_layers_;
    LayerWeights grad_layers_sum_;
};

} // namespace plateau
