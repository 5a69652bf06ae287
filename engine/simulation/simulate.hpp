// The simulated run: SimulationDynamics (the weights of student and teacher, trained by a
// Trainer and measured by an Observer) and simulate(), which picks the simulation backend that
// RunParams::dynamics names (SimulationDynamics, or GramDynamics, the exact chain of
// engine/simulation/gram_dynamics.hpp) and samples it at the record times with record_run.
#pragma once

#include "engine/core/run_params.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace plateau {

/// The microscopic simulation: the weights of student and teacher, trained on-line.
class SimulationDynamics final : public Dynamics {
public:
    /// Run `run` of a campaign with master seed `seed`; its initial weights are keyed by
    /// `init_index` (make_initial_state). `steps_done` (optional, outliving the run) is told
    /// the steps as they are done, at least every progress_chunk(N) steps: what the run
    /// computes never depends on it.
    /// `start` (optional): weights that replace the drawn ones (apply_start_weights).
    SimulationDynamics(const RunParams& params, std::uint64_t seed, std::uint64_t run,
                       std::uint64_t init_index, StepCounter* steps_done = nullptr,
                       const StartWeights* start = nullptr);

    [[nodiscard]] bool advance_to(double alpha) override;
    [[nodiscard]] Observables observe() override;
    [[nodiscard]] const RunState& state() const noexcept { return state_; }

    struct Statistics {
        std::int64_t observations = 0; ///< calls of the observer (measurements of the weights)
    };
    [[nodiscard]] Statistics statistics() const noexcept { return statistics_; }

private:
    RunState state_;
    std::unique_ptr<Trainer> trainer_;
    Observer observer_;
    /// The last observation and its step: record times that round to the same step (small N)
    /// are measured once when the measurement is exact (eps_g in closed form).
    std::optional<std::pair<std::int64_t, Observables>> last_;
    bool eg_exact_ = false;
    Statistics statistics_;
    StepCounter* steps_done_ = nullptr;
    RunParams params_; ///< the task schedule (docs/theory.md §17)
};

/// One simulated run of a campaign, by the backend params.dynamics selects (SimulationDynamics
/// or GramDynamics, engine/simulation/gram_dynamics.hpp), its initial state keyed by `init_index`
/// (CampaignSpec::init_index_of): validate(params) is the caller's job. `steps_done`: see
/// SimulationDynamics (the Gram chain, whose steps cost nothing, does not report).
/// With `save` != none (dynamics = full, two-layer networks: the caller checks), the weights at
/// the start or at the end are the extras weights_* of the result's first record
/// (save_weights()); with `records`, those at the end and the student's W and v at every record
/// (extras record_weights_W, record_weights_v of each record); the run itself is the same. With
/// `start`, the run starts from those weights (student-from, teacher-from) instead of the drawn
/// ones; its random streams are unchanged.
[[nodiscard]] RunResult simulate(const RunParams& params, std::uint64_t seed, std::uint64_t run,
                                 std::uint64_t init_index, StepCounter* steps_done = nullptr,
                                 SaveWeights save = SaveWeights::none,
                                 const StartWeights* start = nullptr);

/// The extras weights_* (engine/core/order_parameters.hpp) of the state `s`: its alpha, the
/// student's W and v, the teacher's B and v*.
void save_weights(const RunState& s, Observables& into);
/// The same for a run whose initial state is its own (init_index = run).
[[nodiscard]] inline RunResult simulate(const RunParams& params, std::uint64_t seed,
                                        std::uint64_t run) {
    return simulate(params, seed, run, run);
}

/// The exact initial order parameters of simulation run `run_index` whose initial state is keyed
/// by `init_index` (CampaignSpec::init_index_of): order_parameters_of(make_initial_state(...))
/// for dynamics = full, sample_initial_gram(...) for dynamics = gram. The start of `plateau ode
/// --init sample` (docs/theory.md §7); with hidden-manifold inputs also the weights resolved by
/// input mode, OrderParameters::manifold (§16b: an eigendecomposition of min(D, N) modes).
[[nodiscard]] OrderParameters sample_initial_order_parameters(const RunParams& params,
                                                              std::uint64_t seed,
                                                              std::uint64_t init_index);

} // namespace plateau
