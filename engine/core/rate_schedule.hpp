// The learning-rate schedule (docs/theory.md §6b): every learned layer's rate (eta, eta_v,
// eta_l) is multiplied by s(alpha), a function of alpha = steps/N alone, so that records,
// resume, shards and the Gram chain stay exact and bit-identical. A step rule's row
// (docs/ARCHITECTURE.md, "How to add a step-rule row"): simulation and Gram chain read it through
// StepRule::rate_factors, the theory through FlowSettings::rate_factors (both from
// rate_schedules, engine/core/run_params.hpp, with the per-layer forms).
#pragma once

#include "engine/core/enum_table.hpp"

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace plateau {

enum class RateScheduleKind {
    constant, ///< s = 1
    inverse,  ///< s = 1 up to alpha0, then alpha0/alpha (Saad & Rattray 1997)
    power,    ///< s = 1 up to alpha0, then (alpha0/alpha)^p
    cosine,   ///< from 1 at alpha = 0 down to a floor at the run's alpha_max (half a cosine)
    steps,    ///< s = 1, then F_i from alpha >= A_i (piecewise constant)
    table,    ///< (alpha, factor) pairs of a file, linear between them, constant beyond
};

[[nodiscard]] constexpr auto enum_table(RateScheduleKind) noexcept {
    return std::to_array<EnumEntry<RateScheduleKind>>({{RateScheduleKind::constant, "constant"},
                                                       {RateScheduleKind::inverse, "inverse"},
                                                       {RateScheduleKind::power, "power"},
                                                       {RateScheduleKind::cosine, "cosine"},
                                                       {RateScheduleKind::steps, "steps"},
                                                       {RateScheduleKind::table, "table"}});
}

/// One knot of a `steps` or `table` schedule: the factor from (steps) or at (table) alpha.
struct RateKnot {
    double alpha = 0.0;
    double factor = 1.0;
    friend bool operator==(const RateKnot&, const RateKnot&) = default;
};

struct RateSchedule {
    RateScheduleKind kind = RateScheduleKind::constant;
    double alpha0 = 1.0;         ///< inverse, power: where the decay starts (> 0)
    double exponent = 1.0;       ///< power: p (> 0)
    double floor = 0.0;          ///< cosine: s at alpha_max (0 <= floor <= 1)
    std::vector<RateKnot> knots; ///< steps, table: alpha strictly increasing, factors >= 0
    std::string path;            ///< table: the file, as written (the text is `table:PATH`)
    /// cosine: the run's alpha_max, not part of the text: set where the schedule is applied
    /// (StepRule, FlowSettings) by with_horizon, so that s stays a function of alpha alone
    /// within a run. 0 (unset) in the configuration.
    double horizon = 0.0;

    /// s(alpha), docs/theory.md §6b. Exactly 1 for constant (and for alpha <= alpha0).
    [[nodiscard]] double factor(double alpha) const noexcept;
    [[nodiscard]] bool is_constant() const noexcept { return kind == RateScheduleKind::constant; }
    /// What the forms need: alpha0 and exponent finite and > 0 (inverse, power), 0 <= floor
    /// <= 1 (cosine), knots non-empty with alpha finite, >= 0 and strictly increasing and
    /// factors finite and > 0 (steps) or >= 0 (table). The horizon is not checked here.
    [[nodiscard]] bool valid() const noexcept;
    /// A copy whose cosine ends at alpha_max (the run's; docs/theory.md §6b).
    [[nodiscard]] RateSchedule with_horizon(double alpha_max) const;

    friend bool operator==(const RateSchedule&, const RateSchedule&) = default;
};

/// The factors s(alpha) of one step (or one flow time) on each learned layer's rate (docs/theory.md
/// §6b): eta of the first layer, eta_v of v, eta_l of the layers W_2..W_L above the first.
struct RateFactors {
    double w = 1.0;
    double v = 1.0;
    double layers = 1.0;
    friend bool operator==(const RateFactors&, const RateFactors&) = default;
};

/// The schedules of the three rates (docs/theory.md §6b): eta-schedule on eta, and on eta_v and
/// the eta_l the per-layer forms eta-v-schedule and eta-layers-schedule, which follow
/// eta-schedule unless set (rate_schedules in engine/core/run_params.hpp makes them).
struct LayerSchedules {
    RateSchedule w{};
    RateSchedule v{};
    RateSchedule layers{};

    /// Each rate's s(alpha); exactly 1 for a constant schedule.
    [[nodiscard]] RateFactors factors(double alpha) const noexcept {
        return {w.factor(alpha), v.factor(alpha), layers.factor(alpha)};
    }
    [[nodiscard]] bool is_constant() const noexcept {
        return w.is_constant() && v.is_constant() && layers.is_constant();
    }
    friend bool operator==(const LayerSchedules&, const LayerSchedules&) = default;
};

/// The configuration text: "constant", "inverse:ALPHA0", "power:ALPHA0:P", "cosine:FLOOR",
/// "steps:A1=F1:A2=F2..." or "table:PATH" (':' and '=' separate, so that a sweep's ',' lists
/// schedules: `eta-schedule = inverse:10, cosine:0.1`).
[[nodiscard]] std::string to_text(const RateSchedule& s);
/// Parses to_text's form except `table:` (whose file the caller reads: parse_rate_table);
/// nullopt for anything else (a wrong form, a number out of its range, steps' A_i not
/// increasing).
[[nodiscard]] std::optional<RateSchedule> parse_rate_schedule(std::string_view text);
/// The prefix of a table schedule, `table:PATH`.
inline constexpr std::string_view rate_table_prefix = "table:";

/// A table file's problem, "PATH:LINE: what is wrong" (or "PATH: ..." for the whole file).
class RateTableError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
/// The schedule `table:PATH` from the text of the file PATH: one "alpha factor" pair a line
/// (blank lines and '#' comments skipped), alpha finite, >= 0 and strictly increasing,
/// factor finite and >= 0, at least one pair. Throws RateTableError naming the line.
[[nodiscard]] RateSchedule parse_rate_table(std::string_view text, std::string_view path);

/// What the forms take, for error messages.
inline constexpr std::string_view rate_schedule_forms =
    "constant, inverse:ALPHA0, power:ALPHA0:P (ALPHA0 > 0, P > 0), cosine:FLOOR (0 <= FLOOR "
    "<= 1), steps:A1=F1:A2=F2... (0 <= A1 < A2 < ..., F > 0) or table:PATH (a file of "
    "'alpha factor' lines), e.g. inverse:10";

} // namespace plateau
