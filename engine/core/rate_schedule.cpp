#include "engine/core/rate_schedule.hpp"

#include "engine/core/errors.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>
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
    case RateScheduleKind::cosine:
        // §6b Eq. (6b.1): floor + (1 - floor)(1 + cos(pi alpha/alpha_max))/2, floor beyond.
        return alpha >= horizon ? floor
                                : floor + (1.0 - floor) * 0.5 *
                                              (1.0 + std::cos(std::numbers::pi * alpha / horizon));
    case RateScheduleKind::steps: {
        // §6b: 1 before A_1, F_i for A_i <= alpha < A_{i+1}.
        double s = 1.0;
        for (const RateKnot& k : knots) {
            if (alpha < k.alpha)
                break;
            s = k.factor;
        }
        return s;
    }
    case RateScheduleKind::table: {
        // §6b Eq. (6b.2): linear between the knots, the end values beyond them.
        if (knots.empty())
            return 1.0;
        if (alpha <= knots.front().alpha)
            return knots.front().factor;
        if (alpha >= knots.back().alpha)
            return knots.back().factor;
        const auto upper = std::ranges::upper_bound(knots, alpha, {}, &RateKnot::alpha);
        const RateKnot& b = *upper;
        const RateKnot& a = *(upper - 1);
        const double w = (alpha - a.alpha) / (b.alpha - a.alpha);
        return a.factor + w * (b.factor - a.factor);
    }
    }
    return 1.0;
}

namespace {

bool finite_positive(double x) noexcept {
    return std::isfinite(x) && x > 0.0;
}

/// Knots with alpha finite, >= 0 and strictly increasing and factors finite and > 0 (or >= 0).
bool valid_knots(const std::vector<RateKnot>& knots, bool zero_factor) noexcept {
    if (knots.empty())
        return false;
    double previous = -1.0;
    for (const RateKnot& k : knots) {
        if (!std::isfinite(k.alpha) || !(k.alpha >= 0.0) || !(k.alpha > previous) ||
            !std::isfinite(k.factor) || !(zero_factor ? k.factor >= 0.0 : k.factor > 0.0))
            return false;
        previous = k.alpha;
    }
    return true;
}

} // namespace

bool RateSchedule::valid() const noexcept {
    switch (kind) {
    case RateScheduleKind::constant:
        return true;
    case RateScheduleKind::inverse:
    case RateScheduleKind::power:
        return finite_positive(alpha0) && finite_positive(exponent);
    case RateScheduleKind::cosine:
        return floor >= 0.0 && floor <= 1.0;
    case RateScheduleKind::steps:
        return valid_knots(knots, false);
    case RateScheduleKind::table:
        return valid_knots(knots, true);
    }
    return false;
}

RateSchedule RateSchedule::with_horizon(double alpha_max) const {
    RateSchedule out = *this;
    out.horizon = alpha_max;
    return out;
}

std::string to_text(const RateSchedule& s) {
    std::string out(name(s.kind));
    switch (s.kind) {
    case RateScheduleKind::constant:
        break;
    case RateScheduleKind::inverse:
        out += ":" + number_text(s.alpha0);
        break;
    case RateScheduleKind::power:
        out += ":" + number_text(s.alpha0) + ":" + number_text(s.exponent);
        break;
    case RateScheduleKind::cosine:
        out += ":" + number_text(s.floor);
        break;
    case RateScheduleKind::steps:
        for (const RateKnot& k : s.knots)
            out += ":" + number_text(k.alpha) + "=" + number_text(k.factor);
        break;
    case RateScheduleKind::table:
        out += ":" + s.path;
        break;
    }
    return out;
}

namespace {

std::optional<double> finite_number(std::string_view text) {
    double x = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(x))
        return std::nullopt;
    return x;
}

std::optional<double> positive_number(std::string_view text) {
    const auto x = finite_number(text);
    return x && *x > 0.0 ? x : std::nullopt;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const std::size_t at = text.find(separator, start);
        parts.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
        if (at == std::string_view::npos)
            return parts;
        start = at + 1;
    }
}

} // namespace

std::optional<RateSchedule> parse_rate_schedule(std::string_view text) {
    const std::vector<std::string_view> parts = split(text, ':');
    RateSchedule s;
    const auto kind = parse<RateScheduleKind>(parts.front());
    if (!kind || *kind == RateScheduleKind::table)
        return std::nullopt;
    s.kind = *kind;
    switch (s.kind) {
    case RateScheduleKind::constant:
        if (parts.size() != 1)
            return std::nullopt;
        break;
    case RateScheduleKind::inverse:
    case RateScheduleKind::power: {
        if (parts.size() != (s.kind == RateScheduleKind::inverse ? 2U : 3U))
            return std::nullopt;
        const auto a = positive_number(parts[1]);
        if (!a)
            return std::nullopt;
        s.alpha0 = *a;
        if (parts.size() == 3) {
            const auto p = positive_number(parts[2]);
            if (!p)
                return std::nullopt;
            s.exponent = *p;
        }
        break;
    }
    case RateScheduleKind::cosine: {
        if (parts.size() != 2)
            return std::nullopt;
        const auto f = finite_number(parts[1]);
        if (!f)
            return std::nullopt;
        s.floor = *f;
        break;
    }
    case RateScheduleKind::steps:
        if (parts.size() < 2)
            return std::nullopt;
        for (std::size_t i = 1; i < parts.size(); ++i) {
            const std::vector<std::string_view> pair = split(parts[i], '=');
            if (pair.size() != 2)
                return std::nullopt;
            const auto a = finite_number(pair[0]);
            const auto f = finite_number(pair[1]);
            if (!a || !f)
                return std::nullopt;
            s.knots.push_back({*a, *f});
        }
        break;
    case RateScheduleKind::table:
        return std::nullopt;
    }
    return s.valid() ? std::optional(s) : std::nullopt;
}

RateSchedule parse_rate_table(std::string_view text, std::string_view path) {
    RateSchedule s;
    s.kind = RateScheduleKind::table;
    s.path = std::string(path);
    const std::string where(path);
    std::size_t line_number = 0;
    for (std::string_view line : split(text, '\n')) {
        ++line_number;
        const std::string at = where + ":" + std::to_string(line_number) + ": ";
        if (const std::size_t hash = line.find('#'); hash != std::string_view::npos)
            line = line.substr(0, hash);
        std::vector<std::string_view> fields;
        for (std::size_t i = 0; i < line.size();) {
            const std::size_t start = line.find_first_not_of(" \t\r", i);
            if (start == std::string_view::npos)
                break;
            const std::size_t end = std::min(line.find_first_of(" \t\r", start), line.size());
            fields.push_back(line.substr(start, end - start));
            i = end;
        }
        if (fields.empty())
            continue;
        if (fields.size() != 2)
            throw RateTableError(at + "expected two numbers 'alpha factor', found " +
                                 std::to_string(fields.size()) + " fields");
        const auto alpha = finite_number(fields[0]);
        if (!alpha || *alpha < 0.0)
            throw RateTableError(at + "alpha '" + std::string(fields[0]) +
                                 "' is not a finite number >= 0");
        const auto f = finite_number(fields[1]);
        if (!f || *f < 0.0)
            throw RateTableError(at + "factor '" + std::string(fields[1]) +
                                 "' is not a finite number >= 0");
        if (!s.knots.empty() && !(*alpha > s.knots.back().alpha))
            throw RateTableError(at + "alpha " + std::string(fields[0]) +
                                 " is not greater than the previous line's " +
                                 number_text(s.knots.back().alpha));
        s.knots.push_back({*alpha, *f});
    }
    if (s.knots.empty())
        throw RateTableError(where + ": no 'alpha factor' line");
    return s;
}

} // namespace plateau
