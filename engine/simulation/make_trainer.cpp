#include "engine/simulation/make_trainer.hpp"

#include "engine/core/linear_algebra.hpp"
#include "engine/simulation/batch_trainer.hpp"
#include "engine/simulation/manifold_source.hpp"

namespace plateau {

double trainer_memory_bytes(const RunParams& p) noexcept {
    // Hidden-manifold inputs (docs/theory.md §16) draw their examples in blocks: a block's
    // latent vectors (D), inputs (N) and teacher fields (M) per example.
    const bool manifold = p.model.inputs == InputKind::hidden_manifold;
    const auto D = static_cast<double>(manifold ? latent_dimension(p.model) : 0);
    if (is_online_sgd(p))
        return manifold ? 8.0 * static_cast<double>(ManifoldExamples::block) *
                              (D + static_cast<double>(p.model.N) +
                               static_cast<double>(p.model.teacher.hidden()))
                        : 0.0;
    const auto N = static_cast<double>(p.model.N);
    const auto K = static_cast<double>(p.model.student.hidden());
    const auto M = static_cast<double>(p.model.teacher.hidden());
    const auto P = static_cast<double>(training_set_size(p).value_or(0));
    const auto B = static_cast<double>(examples_per_update(p));
    // The set and its labels; the fields of every example when eps_train is measured.
    double values = P * (N + 1.0 + K);
    // The batch block (fresh examples, or gathered from the set; batch = all uses the set
    // itself), its labels, fields (K + M) and field errors (K).
    const double block_rows = p.training.batch.all ? 0.0 : B;
    values += block_rows * (N + 1.0) + B * (K + M + K);
    // The latent vectors of the training set while it is drawn (P x D), or of a fresh batch.
    values += D * (P > 0.0 ? P : B);
    // Momentum's velocities (docs/theory.md §6c): the rows' and v's (the layers' are small).
    if (p.training.momentum != 0.0)
        values += K * N + static_cast<double>(p.model.student.widths.back());
    return 8.0 * values;
}

std::unique_ptr<Trainer> make_trainer(const RunParams& params, std::uint64_t seed,
                                      std::uint64_t run) {
    fix_eigen_blocking(); // machine-independent products (engine/core/linear_algebra.hpp)
    if (is_online_sgd(params))
        return std::make_unique<OnlineSgd>(params, seed, run);
    return std::make_unique<MiniBatchSgd>(params, seed, run);
}

} // namespace plateau
