// Where a trainer's examples come from. An example is N independent standard normals xi_i
// (docs/theory.md §1); a source hands out, step by step, the stream to draw the next example from.
// The trainer draws exactly N values from that stream, in order, before it asks for the next one,
// so a source costs nothing per column and the fused step kernel (engine/simulation/trainer.cpp)
// can draw the example chunk by chunk, just before it uses it.
//
//   FreshExamples       on-line learning: every step a new example, the next N normals of the
//                       run's "examples" stream (today's trainer; results unchanged).
//   FiniteTrainingSet   P examples; example mu is the first N normals of its own stream, keyed by
//                       (seed, run, training_set) and mu, so it is regenerated whenever it is
//                       needed: the set costs no storage, is the same in every pass, whatever the
//                       order, and survives --resume (it is a function of the key alone).
#pragma once

#include "engine/core/random.hpp"
#include "models/network.hpp"

#include <cstdint>
#include <span>

namespace plateau {

class ExampleSource {
public:
    ExampleSource() = default;
    ExampleSource(const ExampleSource&) = delete;
    ExampleSource& operator=(const ExampleSource&) = delete;
    virtual ~ExampleSource() = default;

    /// The stream of the next example: its next N normals are the example.
    [[nodiscard]] virtual NormalStream& next() = 0;
};

/// A fresh Gaussian example every step: the run's stream of purpose "examples", read straight on.
class FreshExamples final : public ExampleSource {
public:
    FreshExamples(std::uint64_t seed, std::uint64_t run) noexcept
        : stream_(StreamKey{seed, run, StreamPurpose::examples}) {}

    [[nodiscard]] NormalStream& next() noexcept override { return stream_; }

private:
    NormalStream stream_;
};

/// A finite training set of P examples, regenerated on demand. next() picks mu uniformly at
/// random (with replacement) from the run's "sampling" stream. The mini-batch trainer
/// (engine/simulation/batch_trainer.hpp) materializes the whole set once per run with matrix().
class FiniteTrainingSet final : public ExampleSource {
public:
    /// P >= 1 examples of run (seed, run).
    FiniteTrainingSet(std::uint64_t size, std::uint64_t seed, std::uint64_t run);

    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

    /// The stream whose first N normals are example mu (0 <= mu < size()): a function of
    /// (seed, run, mu) alone.
    [[nodiscard]] NormalStream stream_of(std::uint64_t mu) const noexcept;

    /// Example mu: fills out (out.size() = N) with its N components.
    void example(std::uint64_t mu, std::span<double> out) const noexcept;

    /// The index of the example that the last next() returned.
    [[nodiscard]] std::uint64_t current() const noexcept { return current_mu_; }

    [[nodiscard]] NormalStream& next() override;

    /// The whole set, P x N (row mu = example mu), and in `extra` the next normal of each
    /// example's stream after its N components (the label noise of a fixed example: it belongs
    /// to the example, docs/theory.md §6).
    [[nodiscard]] RowMatrix matrix(std::int64_t N, Eigen::VectorXd& extra) const;

private:
    std::uint64_t size_;
    std::uint64_t base_; ///< key_hash of (seed, run, training_set)
    UniformStream order_;
    NormalStream current_;
    std::uint64_t current_mu_ = 0;
};

} // namespace plateau
