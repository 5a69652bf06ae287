#include "engine/core/rate_schedule.hpp"

#include "engine/core/errors.hpp"

#include <charconv>
#include <cmath>
#include <vector>

namespace plateau {

double RateSchedule::factor(double alpha) const noexcept {
    // docs/theory.md §6b: eta(alpha) = eta s(alpha).
    switch (kind) {
    case RateScheduleKind::constant:
        return 1.0;
    case RateScheduleKind::inverse:
        return alpha <= alpha0 ? 1.0 : alpha0 / alpha;
    case RateScheduleKind::power:
        return alpha <= alpha0 ? 1.0 : std::pow(alpha0 / alpha, exponent);
    }
    return 1.0;
}

bool RateSchedule::valid() const noexcept {
    const auto positive = [](double x) {
        return std::isfinite(x) && x > 0.0;
    };
    return kind == RateScheduleKind::constant || (positive(alpha0) && positive(exponent));
}

std::string to_text(const RateSchedule& s) {
    std::string out(name(s.kind));
    if (s.kind != RateScheduleKind::constant)
        out += ":" + number_text(s.alpha0);
    if (s.kind == RateScheduleKind::power)
        out += ":" + number_text(s.exponent);
    return out;
}

namespace {

std::optional<double> positive_number(std::string_view text) {
    double x = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(x) || !(x > 0.0))
        return std::nullopt;
    return x;
}

} // namespace

std::optional<RateSchedule> parse_rate_schedule(std::string_view text) {
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const std::size_t colon = text.find(':', start);
        parts.push_back(
            text.substr(start, colon == std::string_view::npos ? colon : colon - start));
        if (colon == std::string_view::npos)
            break;
        start = colon + 1;
    }
    RateSchedule s;
    const auto kind = parse<RateScheduleKind>(parts.front());
    if (!kind)
        return std::nullopt;
    s.kind = *kind;
    const std::size_t expected = s.kind == RateScheduleKind::constant  ? 1
                                 : s.kind == RateScheduleKind::inverse ? 2
                                                                       : 3;
    if (parts.size() != expected)
        return std::nullopt;
    if (expected >= 2) {
        const auto a = positive_number(parts[1]);
        if (!a)
            return std::nullopt;
        s.alpha0 = *a;
    }
    if (expected == 3) {
        const auto p = positive_number(parts[2]);
        if (!p)
            return std::nullopt;
        s.exponent = *p;
    }
    return s;
}

} // namespace plateau
