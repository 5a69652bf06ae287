// What became of a run: the one definition of "learned", "still on a plateau", "failed" (the
// rule in words: analysis/SCHEMA.md, section "Outcomes"). A pure function of a run's status,
// recorded series (alpha, eps_g, Q, R, T: docs/theory.md §1) and two facts of its model
// (OutcomeModel), so it can be computed again from a file. The Python twin is
// analysis/plateau_analysis/outcomes.py (`assess_outcome`, `run_outcomes`) with the same thresholds
// as constants of the same names in upper case; tests/python/test_outcomes.py checks that the two
// agree and that the numbers below are the Python constants.
//
// `status` (pending / completed / diverged) says whether the run reached alpha_max; the
// outcome says whether it learned. Bounded activations (erf, tanh, sigmoid) never overflow, so
// a run that cannot learn (erf at eta >= 4: eps_g stuck near 0.25 while |w_j| grows without
// bound) completes: only its outcome says it failed.
#pragma once

#include "engine/core/enum_table.hpp"
#include "engine/core/run_params.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace plateau {

struct RunResult;

/// The outcome of a run; stored as the int8 flag variable `outcome` (schema 1.1).
enum class RunOutcome : std::int8_t {
    pending = 0,  ///< not run yet (or interrupted)
    learned = 1,  ///< reached its asymptote: specialized, eps_g down to 1 % of its start, or
                  ///< (K < M) a stationary eps_g
    plateau = 2,  ///< not converged at the end: on a plateau (unspecialized) or still descending
    failed = 3,   ///< completed without learning: eps_g not below its start, or eps_g stalling
                  ///< while the weights grow far beyond the teacher's
    diverged = 4, ///< status diverged: the weights blew up
    /// (a search-phase model only, OutcomeModel) eps_g at the end still within 1 % of its
    /// start: the overlaps are still growing from O(1/sqrt N)
    searching = 5,
    /// (a search-phase model only) eps_g fell below 99 % of its start but the run has not
    /// learned (yet): between the steps of a staircase, or still descending
    escaped = 6,
};

/// The outcomes' names, as the file's flag_meanings and the Python twin (OUTCOMES) spell them.
[[nodiscard]] constexpr auto enum_table(RunOutcome) noexcept {
    return std::to_array<EnumEntry<RunOutcome>>({{RunOutcome::pending, "pending"},
                                                 {RunOutcome::learned, "learned"},
                                                 {RunOutcome::plateau, "plateau"},
                                                 {RunOutcome::failed, "failed"},
                                                 {RunOutcome::diverged, "diverged"},
                                                 {RunOutcome::searching, "searching"},
                                                 {RunOutcome::escaped, "escaped"}});
}
inline constexpr auto all_run_outcomes = all_values<RunOutcome>();

/// The thresholds of the rule (analysis/SCHEMA.md, "Outcomes"). The trend is measured over the
/// *window*: the records with alpha >= alpha_end / window_factor (the last decade), at least
/// the last two records; `early` and `late` are the means over its first and last quarter (at
/// least one record each).
struct OutcomeThresholds {
    /// The window is the last factor window_factor in alpha (a decade).
    double window_factor = 10.0;
    /// learned: eps_g (late) <= learned_fraction * eps_g at the first record.
    double learned_fraction = 0.01;
    /// learned (K < M only): eps_g (late) >= stationary_ratio * eps_g (early), i.e. eps_g fell
    /// by less than 20 % over the window: the asymptote of a student too small for its teacher.
    double stationary_ratio = 0.8;
    /// failed: sum_j Q_jj (late) >= growth * sum_j Q_jj (early) ...
    double growth = 1.5;
    /// ... and sum_j Q_jj (late) >= excess * sum_n T_nn (|w| about 3 times the teacher's) ...
    double excess = 10.0;
    /// ... while eps_g (late) > slow_ratio * eps_g (early): it fell by less than a factor 10.
    double slow_ratio = 0.1;
    /// searching (a search-phase model): eps_g (late) > search_fraction * eps_g at the first
    /// record, the escape rule of analysis/plateau_analysis/search.py (DEFAULT_FRACTION) ...
    double search_fraction = 0.99;
    /// ... unless eps_g (late) > eps_g (start) / search_fraction: it rose, failed.
    /// learned (a search-phase model): every teacher direction B_n lies at least this much in
    /// the students' span, |P B_n|^2 / |B_n|^2 = R_n^T Q^+ R_n / T_nn (cos^2 of its angle to the
    /// span: 45 degrees) ...
    double captured_fraction = 0.5;
};

/// The fact of a run's model the rule needs beside its records (analysis/SCHEMA.md,
/// "Outcomes"); the default is a classic committee's (the rule of schema 1.1 to 1.6).
struct OutcomeModel {
    /// The overlaps start at O(1/sqrt N) and grow only after a search phase (docs/theory.md §13,
    /// §14b): a polynomial target (`target`), or a committee whose teacher activation g* has no
    /// linear part (<g*(u) u> = 0 for u ~ N(0, 1): square, he2, he3, he4, such a poly). Its
    /// runs are learned when every teacher direction is captured by the students' span at a
    /// stationary eps_g, searching or escaped otherwise; never plateau.
    bool search_phase = false;
};

/// The OutcomeModel of a model: search_phase as defined there.
[[nodiscard]] OutcomeModel outcome_model(const ModelParams& model);

/// The rule of analysis/SCHEMA.md, "Outcomes", on the records of one run (alphas[i] is the
/// record time of records[i]; only the first records.size() entries are used):
/// pending and diverged runs keep their status; a completed run is failed, learned or plateau
/// (a classic committee), failed, learned, searching or escaped (a search-phase model).
[[nodiscard]] RunOutcome assess_outcome(const RunResult& result, std::span<const double> alphas,
                                        const OutcomeModel& model = {},
                                        const OutcomeThresholds& thresholds = {});

} // namespace plateau
