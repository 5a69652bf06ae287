// What became of a run: the one definition of "learned", "still on a plateau", "failed" (the
// rule in words: analysis/SCHEMA.md, section "Outcomes"). A pure function of a run's status and
// recorded series (alpha, eps_g, Q, R, T: docs/theory.md §1), so it can be computed again from a
// file. The Python twin is analysis/plateau_analysis/outcomes.py (`assess_outcome`,
// `run_outcomes`) with the same thresholds as constants of the same names in upper case;
// tests/python/test_outcomes.py checks that the two agree and that the numbers below are the
// Python constants.
//
// `status` (pending / completed / diverged) says whether the run reached alpha_max; the
// outcome says whether it learned. Bounded activations (erf, tanh, sigmoid) never overflow, so
// a run that cannot learn (erf at eta >= 4: eps_g stuck near 0.25 while |w_j| grows without
// bound) completes: only its outcome says it failed.
#pragma once

#include "engine/core/enum_table.hpp"

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
};

/// The outcomes' names, as the file's flag_meanings and the Python twin (OUTCOMES) spell them.
[[nodiscard]] constexpr auto enum_table(RunOutcome) noexcept {
    return std::to_array<EnumEntry<RunOutcome>>({{RunOutcome::pending, "pending"},
                                                 {RunOutcome::learned, "learned"},
                                                 {RunOutcome::plateau, "plateau"},
                                                 {RunOutcome::failed, "failed"},
                                                 {RunOutcome::diverged, "diverged"}});
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
};

/// The rule of analysis/SCHEMA.md, "Outcomes", on the records of one run (alphas[i] is the
/// record time of records[i]; only the first records.size() entries are used):
/// pending and diverged runs keep their status; a completed run is failed, learned or plateau.
[[nodiscard]] RunOutcome assess_outcome(const RunResult& result, std::span<const double> alphas,
                                        const OutcomeThresholds& thresholds = {});

} // namespace plateau
