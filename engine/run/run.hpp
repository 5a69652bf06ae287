// One run: a backend that advances the order parameters in alpha, sampled at the record times.
// The backend is swappable behind `Dynamics` (the simulation and the exact Gram chain in
// simulation/, the ODEs in theory/), and a run is a pure function of (params, seed, run index):
// nothing depends on threads or on other runs.
#pragma once

#include "engine/core/enum_table.hpp"
#include "engine/core/order_parameters.hpp"
#include "engine/run/outcome.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace plateau {

enum class RunStatus : std::int8_t {
    pending = 0,   ///< not run yet (or killed before it finished)
    completed = 1, ///< reached alpha_max
    diverged = 2,  ///< weights blew up; records after the divergence are absent
};

[[nodiscard]] constexpr auto enum_table(RunStatus) noexcept {
    return std::to_array<EnumEntry<RunStatus>>({{RunStatus::pending, "pending"},
                                                {RunStatus::completed, "completed"},
                                                {RunStatus::diverged, "diverged"}});
}

/// How a run advances. advance_to() moves to the nominal record time alpha (a simulation
/// rounds it to a whole step); observe() measures without changing the dynamics.
class Dynamics {
public:
    Dynamics() = default;
    Dynamics(const Dynamics&) = delete;
    Dynamics& operator=(const Dynamics&) = delete;
    virtual ~Dynamics() = default;

    /// Returns false when the run diverged on the way.
    [[nodiscard]] virtual bool advance_to(double alpha) = 0;
    [[nodiscard]] virtual Observables observe() = 0;
};

/// Steps done so far by the runs of a campaign, added up as they go, for a progress display
/// on another thread (relaxed order: a count, not a synchronization).
using StepCounter = std::atomic<std::int64_t>;

/// The steps advance_to() does between two reports to its StepCounter: about 2^24 normals' worth
/// (some 30 ms), never fewer than 2^14 steps. Splitting a trainer's advance() changes nothing in
/// the results (tests/test_cost_model.cpp checks it bit for bit).
[[nodiscard]] constexpr std::int64_t progress_chunk(std::int64_t N) noexcept {
    return std::max<std::int64_t>(std::int64_t{1} << 14, (std::int64_t{1} << 24) / N);
}

struct RunResult {
    RunStatus status = RunStatus::pending;
    /// One entry per record time reached: every record time of the run when completed.
    std::vector<Observables> records;
    /// What became of the run (engine/run/outcome.hpp): set by record_run from status and records.
    RunOutcome outcome = RunOutcome::pending;
};

/// Samples `dynamics` at the record times `alphas` (increasing). A record whose Q_jj exceeds
/// the divergence threshold, or that is not finite, ends the run as diverged. The result's
/// outcome is assess_outcome() of its status and records.
[[nodiscard]] RunResult record_run(Dynamics& dynamics, const std::vector<double>& alphas,
                                   double divergence_q);

} // namespace plateau
