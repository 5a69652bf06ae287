// The learning-rate schedule (docs/theory.md §6b): every learned layer's rate (eta, eta_v,
// eta_l) is multiplied by s(alpha), a function of alpha = steps/N alone, so that records,
// resume, shards and the Gram chain stay exact and bit-identical. A step rule's row
// (docs/ARCHITECTURE.md, "How to add a step-rule row"): simulation and Gram chain read it through
// StepRule::rate_factor, the theory through FlowSettings::rate_factor.
#pragma once

#include "engine/core/enum_table.hpp"

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace plateau {

enum class RateScheduleKind {
    constant, ///< s = 1
    inverse,  ///< s = 1 up to alpha0, then alpha0/alpha (Saad & Rattray 1997)
    power,    ///< s = 1 up to alpha0, then (alpha0/alpha)^p
};

[[nodiscard]] constexpr auto enum_table(RateScheduleKind) noexcept {
    return std::to_array<EnumEntry<RateScheduleKind>>({{RateScheduleKind::constant, "constant"},
                                                       {RateScheduleKind::inverse, "inverse"},
                                                       {RateScheduleKind::power, "power"}});
}

struct RateSchedule {
    RateScheduleKind kind = RateScheduleKind::constant;
    double alpha0 = 1.0;   ///< inverse, power: where the decay starts (> 0)
    double exponent = 1.0; ///< power: p (> 0)

    /// s(alpha), docs/theory.md §6b. Exactly 1 for constant (and for alpha <= alpha0).
    [[nodiscard]] double factor(double alpha) const noexcept;
    [[nodiscard]] bool is_constant() const noexcept { return kind == RateScheduleKind::constant; }
    /// alpha0 and exponent finite and > 0 (what the forms need; constant ignores them).
    [[nodiscard]] bool valid() const noexcept;

    friend bool operator==(const RateSchedule&, const RateSchedule&) = default;
};

/// The configuration text: "constant", "inverse:ALPHA0", "power:ALPHA0:P" (':' separates, so
/// that a sweep's ',' lists schedules: `eta-schedule = inverse:10, inverse:100`).
[[nodiscard]] std::string to_text(const RateSchedule& s);
/// Parses to_text's form; nullopt for anything else (a wrong form, alpha0 or p not a finite
/// number > 0).
[[nodiscard]] std::optional<RateSchedule> parse_rate_schedule(std::string_view text);
/// What parse_rate_schedule takes, for error messages.
inline constexpr std::string_view rate_schedule_forms =
    "constant, inverse:ALPHA0 or power:ALPHA0:P with ALPHA0 > 0 and P > 0 (e.g. inverse:10)";

} // namespace plateau
