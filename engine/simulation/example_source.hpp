// Where a trainer's examples come from. An example is N independent standard normals xi_i
// (docs/theory.md §1); a source hands out, step by step, the stream to draw the next example from.
// The trainer draws exactly N values from that stream, in order, before it asks for the next one,
// so a source costs nothing per column and the fused step kernel (engine/simulation/trainer.cpp)
// can draw the example chunk by chunk, just before it uses it.
//
//   FreshExamples       on-line learning: every step a new example, the next N normals of the
//                       run's "examples" stream.
//
// A finite training set is not a source: MiniBatchSgd draws it once per run
// (engine/simulation/training_set.hpp).
#pragma once

#include "engine/core/random.hpp"
#include "models/network.hpp"

#include <cstdint>

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

} // namespace plateau
