// Trainer role: the only code that changes a run's state. `Trainer` is the seam: a run holds one
// (engine/run/run.hpp) and calls advance(); a new way of training (mini-batches, another optimizer)
// is a new class here, not an edit of the fused kernel. Where the examples come from is a second
// seam, `ExampleSource` (engine/simulation/example_source.hpp): today fresh Gaussian examples (a
// finite training set is MiniBatchSgd's, engine/simulation/batch_trainer.hpp).
//
// OnlineSgd, stochastic gradient descent one example at a time: every step takes the next example
// xi of its source (by default a fresh xi ~ N(0, I_N)) and applies the per-example gradients of
// Eqs. (3)-(5):
//     w^(m) <- w^(m) - (eta/N) grad_{w^(m)} e,     v_k <- v_k - (eta_v/N) de/dv_k.
//
// Performance (docs/PERFORMANCE.md). A step costs N normals, (K+M) N multiply-adds for the fields
// and K N for the update. advance() software-pipelines the steps: the example of step t+1 is
// drawn before the update of step t, so that one sweep over the weight block both applies the
// update of step t to the student rows and computes the fields of step t+1 from the updated rows
// (each student row is read and written once per step instead of read twice and written once).
// The sweep goes chunk by chunk (step_kernels::chunk columns): the chunk of example t+1 is drawn
// just before the rows pass over it, so both examples' chunks stay in L1. Within one advance()
// call the pipeline carries from step to step; when advance() returns, the state is complete
// (the last update applied), so observers see exactly the weights after state.step steps.
// The example source is read in the same order as by a step-by-step loop (next() once per step,
// then exactly N normals from the stream it returns, in order), the label noise is drawn (from
// its own stream) only when s^2 > 0, and the arithmetic of every step is that of Eqs. (3)-(5);
// only the summation order of the dot products (and FMA contraction, where the target has FMA)
// differs from a plain matrix-vector product (tests/test_trainer.cpp checks the step against the
// plain per-example gradients). Results are deterministic for one binary: the vector width is
// fixed at compile time, nothing depends on the data layout in memory, the thread or other runs.
#pragma once

#include "engine/core/random.hpp"
#include "engine/core/run_params.hpp"
#include "engine/simulation/example_source.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/state.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace plateau {

enum class StepOutcome {
    ok,
    diverged, ///< a field or the output became infinite or NaN: the weights blew up
};

/// The inner loops of the step on a row-major block of rows of length n (row stride n). Exposed
/// for the benchmarks (bench/bench_step.cpp times each on its own); the trainer is their only
/// user in the engine.
namespace step_kernels {

/// Columns per chunk of sweep(): a chunk of both examples (2 x 4 KiB) stays in L1 while every
/// row passes over it.
inline constexpr std::size_t chunk = 512;
/// Scratch doubles per row that sweep() needs (its partial sums).
inline constexpr std::size_t scratch_per_row = 16;

/// One pass over the rows, chunk by chunk: rows r < updated get W_r += c[r] x_old (Eq. 5), then
/// every row r < rows gives out[r] = W_r . x_new, from the updated W_r. If `draw` is not null,
/// x_new is filled from it a chunk at a time, just before the chunk is used: the values of
/// draw->fill(x_new) (the stream is consumed in the same order). x_old and c may be null when
/// updated == 0. scratch: at least rows * scratch_per_row doubles.
void sweep(double* W, std::size_t rows, std::size_t updated, std::size_t n, const double* c,
           const double* x_old, double* x_new, double* out, NormalStream* draw,
           double* scratch) noexcept;

/// W_r += c[r] x for r < rows (the rank-one update of Eq. 5 alone).
void update(double* W, std::size_t rows, std::size_t n, const double* c, const double* x) noexcept;

/// The projection of constraint = sphere (docs/theory.md §14): each of the `rows` rows W_r
/// divided by its norm, so |W_r|^2 = 1 to rounding, and fields[r] with it (fields may be null).
void project_rows(double* W, std::size_t rows, std::size_t n, double* fields) noexcept;

} // namespace step_kernels

/// How a run's weights change. The only role that writes a RunState.
class Trainer {
public:
    Trainer() = default;
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;
    virtual ~Trainer() = default;

    /// Applies `steps` steps to `state` (state.step counts them). Stops early, leaving
    /// state.step at the step that failed, when the run diverges. When it returns, the state is
    /// complete: an observer sees exactly the weights after state.step steps.
    virtual StepOutcome advance(RunState& state, std::int64_t steps) = 0;

    /// Adds what only the trainer knows to a record of `state` (never changes the dynamics):
    /// the extra `examples` (examples seen: state.step updates of examples_per_update() each)
    /// and, with a finite training set, `eps_train` (engine/io/variables.cpp).
    virtual void measure(const RunState& state, Observables& o) const;

    /// Examples that one update (one step, 1/N of alpha) uses: 1 for on-line SGD.
    [[nodiscard]] virtual std::int64_t examples_per_update() const noexcept { return 1; }
};

class OnlineSgd final : public Trainer {
public:
    /// Fresh examples from stream purpose "examples" (FreshExamples), label noise from purpose
    /// "noise".
    OnlineSgd(const RunParams& params, std::uint64_t seed, std::uint64_t run);
    /// Examples from `examples`, label noise from purpose "noise".
    OnlineSgd(const RunParams& params, std::uint64_t seed, std::uint64_t run,
              std::unique_ptr<ExampleSource> examples);

    StepOutcome advance(RunState& state, std::int64_t steps) override;

private:
    /// From the fields of the current example: the label, the forward and backward passes,
    /// the v update; the row coefficients -(eta/N) de/dx_m go to coef_. False if diverged.
    bool learn_from_fields(RunState& s);
    /// The same for a deeper network (docs/theory.md §12): backpropagation through the layers
    /// above the first, whose weights (and v) it updates; coef_ as above.
    bool learn_deep_from_fields(RunState& s);

    StepRule rule_; ///< the networks, what learns, the step sizes
    double noise_sd_;
    std::size_t n_;
    std::unique_ptr<ExampleSource> examples_;
    NormalStream noise_;
    // Scratch, sized once: the current and the next example, the K+M fields, the field errors,
    // the row coefficients of the update, dv.
    Eigen::VectorXd xi_;
    Eigen::VectorXd xi_next_;
    Eigen::VectorXd fields_;
    Eigen::VectorXd grad_fields_;
    Eigen::VectorXd coef_;
    Eigen::VectorXd grad_v_;
    std::vector<double> scratch_;
    // Deeper networks only: the passes' workspaces and the gradient of W_2..W_L.
    DeepWorkspace student_pass_;
    DeepWorkspace teacher_pass_;
    LayerWeights grad_layers_;
};

} // namespace plateau
