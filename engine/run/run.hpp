// One run: a backend that advances the order parameters in alpha, sampled at the record times.
// The backend is swappable behind `Dynamics` (the simulation and the exact Gram chain in
// simulation/, the ODEs in theory/), and a run is a pure function of (params, seed, run index):
// nothing depends on threads or on other runs.
#pragma once

#include "engine/core/enum_table.hpp"
#include "engine/core/order_parameters.hpp"
#include "engine/core/run_params.hpp"
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

/// When a record ends its run as diverged (docs/theory.md §12, "Divergence"; analysis/SCHEMA.md,
/// "Outcomes"). Every learned weight has a bound in the units of Q_jj = |w_j|^2, the squared norm
/// of one unit's incoming weights, which starts O(1) in every layer:
///   first layer    Q_jj                          <= divergence_q  (Q_jj(0) ~ q0)
///   W_l (l >= 2)   |row j of W_l|^2, if learned  <= divergence_q  (~ 1 at the start)
///   v              v_j^2, if learned             <= divergence_q  (v0^2 at the start)
/// and every value of the record must be finite, but those NaN by design (may_be_nan()).
/// A weight that does not learn keeps its initial value and is judged only for being finite.
struct DivergenceRule {
    double divergence_q = ObserverParams{}.divergence_q;
    /// The student's hidden-layer widths from the input up: the shapes of W_2..W_L in the extra
    /// `student_layers` (W_2 row-major, ..., W_L, then v).
    std::vector<int> widths{1};
    /// Which of W_2..W_L learn (one entry per layer; empty with one hidden layer).
    std::vector<bool> learn_layers{};
    bool learn_v = false;
    /// The deeper-network layout of the record: v is NaN by design, the weights above the first
    /// layer (v included) are the extra `student_layers` (student or teacher deeper, §12).
    bool deep = false;
};

/// The rule of a run with these parameters.
[[nodiscard]] DivergenceRule divergence_rule(const RunParams& p);

/// Whether the extra observable `name` may be NaN in a record by design (an estimate that does
/// not exist there, e.g. flow_error where the flow vanishes; engine/io/variables.cpp says which).
[[nodiscard]] bool may_be_nan(std::string_view extra) noexcept;

/// Whether a record is within the rule: false means the run diverged at this record.
[[nodiscard]] bool within_bounds(const Observables& o, const DivergenceRule& rule);

/// Samples `dynamics` at the record times `alphas` (increasing). A record outside the rule
/// (within_bounds), or an advance that fails, ends the run as diverged; that record is absent.
/// The result's outcome is assess_outcome() of its status and records, for `model`
/// (outcome_model(params.model)).
[[nodiscard]] RunResult record_run(Dynamics& dynamics, const std::vector<double>& alphas,
                                   const DivergenceRule& rule, const OutcomeModel& model);

} // namespace plateau
