// Where a trainer's examples come from. A source either hands out, step by step, the stream to
// draw the next example from (Gaussian examples, N independent standard normals xi_i,
// docs/theory.md §1: the trainer draws exactly N values from that stream, in order, before it
// asks for the next one, so a source costs nothing per column and the fused step kernel
// (engine/simulation/trainer.cpp) can draw the example chunk by chunk, just before it uses it),
// or writes the whole example itself (a mixture, §15) and may give its label.
//
//   FreshExamples       on-line learning: every step a new example, the next N normals of the
//                       run's "examples" stream.
//   MixtureExamples     a Gaussian mixture's examples and their clusters' labels
//                       (engine/simulation/mixture_source.hpp).
//   ManifoldExamples    hidden-manifold examples x = f(F^T c / sqrt D) and the teacher's fields
//                       on the latent vector c (engine/simulation/manifold_source.hpp).
//
// A finite training set is not a source: MiniBatchSgd draws it once per run
// (engine/simulation/training_set.hpp).
#pragma once

#include "engine/core/random.hpp"
#include "models/network.hpp"

#include <cstdint>
#include <optional>
#include <span>

namespace plateau {

struct RunState; // engine/simulation/state.hpp

class ExampleSource {
public:
    ExampleSource() = default;
    ExampleSource(const ExampleSource&) = delete;
    ExampleSource& operator=(const ExampleSource&) = delete;
    virtual ~ExampleSource() = default;

    /// The next example: either the stream whose next N normals are the example (x untouched:
    /// the caller draws them), or nullptr after writing the example into x (N values).
    [[nodiscard]] virtual NormalStream* draw(std::span<double> x) = 0;

    /// Called by the trainer before it draws examples for `state`: a source whose examples
    /// depend on the run's fixed random part (the hidden manifold's F, §16) reads it here.
    virtual void attach(const RunState& /*state*/) {}

    /// The teacher's first-layer fields of the example drawn last, when the source gives them
    /// (the hidden manifold's nu_n = b_n . c, §16); empty: the trainer computes them from the
    /// teacher rows of the weights and the example.
    [[nodiscard]] virtual std::span<const double> teacher_fields() const noexcept { return {}; }
    /// Whether teacher_fields() gives the teacher's fields of every example.
    [[nodiscard]] virtual bool gives_teacher_fields() const noexcept { return false; }

    /// The label of the example drawn last, when the source gives it (a cluster's y_c, §15);
    /// nullopt: the target labels it from the teacher's fields.
    [[nodiscard]] virtual std::optional<double> label() const noexcept { return std::nullopt; }
};

/// A fresh Gaussian example every step: the run's stream of purpose "examples", read straight on.
class FreshExamples final : public ExampleSource {
public:
    FreshExamples(std::uint64_t seed, std::uint64_t run) noexcept
        : stream_(StreamKey{seed, run, StreamPurpose::examples}) {}

    /// The stream of the next example: its next N normals are the example.
    [[nodiscard]] NormalStream& next() noexcept { return stream_; }
    [[nodiscard]] NormalStream* draw(std::span<double> /*x*/) noexcept override { return &stream_; }

private:
    NormalStream stream_;
};

} // namespace plateau
