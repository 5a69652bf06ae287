// A finite training set of P examples (docs/theory.md §6). Example mu is the first N normals of
// its own stream, keyed by (seed, run, training_set) and mu, so it is regenerated whenever it is
// needed: the set is the same whatever the order it is asked in, and survives --resume (it is a
// function of the key alone).
#pragma once

#include "engine/core/random.hpp"
#include "models/network.hpp"

#include <cstdint>
#include <span>

namespace plateau {

/// A finite training set of P examples, regenerated on demand. The mini-batch trainer
/// (engine/simulation/batch_trainer.hpp) materializes the whole set once per run with matrix().
class FiniteTrainingSet {
public:
    /// P >= 1 examples of run (seed, run).
    FiniteTrainingSet(std::uint64_t size, std::uint64_t seed, std::uint64_t run);

    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

    /// The stream whose first N normals are example mu (0 <= mu < size()): a function of
    /// (seed, run, mu) alone.
    [[nodiscard]] NormalStream stream_of(std::uint64_t mu) const noexcept;

    /// Example mu: fills out (out.size() = N) with its N components.
    void example(std::uint64_t mu, std::span<double> out) const noexcept;

    /// The whole set, P x N (row mu = example mu), and in `extra` the next normal of each
    /// example's stream after its N components (the label noise of a fixed example: it belongs
    /// to the example, docs/theory.md §6).
    [[nodiscard]] RowMatrix matrix(std::int64_t N, Eigen::VectorXd& extra) const;

private:
    std::uint64_t size_;
    std::uint64_t base_; ///< key_hash of (seed, run, training_set)
};

} // namespace plateau
