// Which trainer a run gets, and what it costs in memory: the one place that chooses among the
// Trainer classes (engine/simulation/trainer.hpp, batch_trainer.hpp) from RunParams.
#pragma once

#include "engine/core/run_params.hpp"
#include "engine/simulation/trainer.hpp"

#include <cstdint>
#include <memory>

namespace plateau {

/// The trainer of a run: OnlineSgd for on-line SGD (batch = 1, weight-decay = 0, fresh
/// examples: today's runs, bit for bit), MiniBatchSgd (engine/simulation/batch_trainer.hpp)
/// otherwise.
[[nodiscard]] std::unique_ptr<Trainer> make_trainer(const RunParams& params, std::uint64_t seed,
                                                    std::uint64_t run);

/// Bytes the trainer of one run holds beyond its state (docs/theory.md §6): a training set of
/// P x N doubles and its labels, the batch block (B x N) and its fields. 0 for on-line SGD (two
/// examples of N doubles). A double, so that an absurd configuration cannot overflow.
[[nodiscard]] double trainer_memory_bytes(const RunParams& params) noexcept;

} // namespace plateau
