#include "experiments/config.hpp"

#include "engine/errors.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

namespace plateau::cli {

namespace {

using enum ValueType;

const std::vector<std::string_view> activation_choices{"erf", "tanh", "sigmoid", "relu", "linear"};
const std::vector<std::string_view> output_choices{"identity", "tanh"};

} // namespace

const std::vector<KeyInfo>& keys() {
    static const std::vector<KeyInfo> registry{
        {"N", integer, "500", "", "input dimension", {}},
        {"K", integer, "2", "", "student hidden units", {}},
        {"M", integer, "2", "", "teacher hidden units", {}},
        {"eta", real, "0.5", "", "learning rate of the first layer: w += -(eta/N) grad_w e", {}},
        {"eta-v",
         real,
         "",
         "",
         "learning rate of the second layer: v += -(eta_v/N) de/dv (default: eta)",
         {}},
        {"learn-v", boolean, "false", "", "train the student's second layer v", {}},
        {"activation", choice, "erf", "", "student hidden activation g", activation_choices},
        {"teacher-activation", choice, "erf", "", "teacher hidden activation g*",
         activation_choices},
        {"output-activation", choice, "identity", "", "student output function h", output_choices},
        {"teacher-output-activation", choice, "identity", "", "teacher output function h*",
         output_choices},
        {"gamma", real, "1", "", "slope gamma of every tanh(gamma x), hidden or output", {}},
        {"v0", real, "1", "", "initial student second-layer weights v_j", {}},
        {"v-star", real, "1", "", "teacher second-layer weights v*_n", {}},
        {"q0", real, "0.2", "", "student initialization w_i ~ N(0, q0/N), so Q_jj(0) ~ q0", {}},
        {"teacher-init",
         choice,
         "orthonormal",
         "",
         "teacher vectors: orthonormal (T = I) or gaussian",
         {"orthonormal", "gaussian"}},
        {"noise", real, "0", "", "label-noise variance s^2", {}},
        // The record times are the alpha axis shared by every run of a file: not sweepable.
        {"alpha-max", real, "300", "examples/N", "length of a run in alpha = steps/N", {}, false},
        {"alpha-min",
         real,
         "0.01",
         "examples/N",
         "first non-zero record time (log schedule)",
         {},
         false},
        {"records", integer, "100", "", "number of record times, alpha = 0 included", {}, false},
        {"schedule",
         choice,
         "log",
         "",
         "record times: log-spaced or linear in alpha",
         {"log", "linear"},
         false},
        {"eg-samples",
         integer,
         "20000",
         "",
         "Monte-Carlo samples for eps_g where no closed form exists",
         {}},
        {"divergence-q", real, "1e8", "", "a run with Q_jj above this is marked diverged", {}},
        {"seeds", integer, "8", "", "runs per grid point", {}, false},
        {"seed", integer, "1", "", "master seed of all random streams", {}, false},
        {"threads",
         integer,
         "0",
         "",
         "worker threads (0: all cores); never changes results",
         {},
         false},
    };
    return registry;
}

const KeyInfo* find_key(std::string_view name) noexcept {
    for (const auto& k : keys())
        if (k.name == name)
            return &k;
    return nullptr;
}

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos)
        return {};
    const auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

std::string format_number(double x) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, x);
    return std::string(buf, res.ptr);
}

namespace {

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto pos = s.find(sep, start);
        out.push_back(trim(s.substr(start, pos - start)));
        if (pos == std::string_view::npos)
            return out;
        start = pos + 1;
    }
}

bool parse_double(std::string_view s, double& out) {
    const auto res = std::from_chars(s.data(), s.data() + s.size(), out);
    return res.ec == std::errc{} && res.ptr == s.data() + s.size();
}

bool parse_int(std::string_view s, long long& out) {
    const auto res = std::from_chars(s.data(), s.data() + s.size(), out);
    if (res.ec == std::errc{} && res.ptr == s.data() + s.size())
        return true;
    // Also accept integral numbers written as doubles: 1e4, 1000.0
    double d = 0.0;
    if (parse_double(s, d) && std::isfinite(d) && d == std::round(d) && std::fabs(d) < 9e18) {
        out = static_cast<long long>(d);
        return true;
    }
    return false;
}

std::string allowed_text(const KeyInfo& k) {
    std::string list;
    switch (k.type) {
    case integer:
        list = "an integer";
        break;
    case real:
        list = "a number";
        break;
    case boolean:
        list = "true or false";
        break;
    case choice:
        for (const auto c : k.choices)
            list += (list.empty() ? "one of " : ", ") + std::string(c);
        break;
    }
    if (k.sweepable && k.type != boolean)
        list += (k.type == choice ? "; " : ", ") + std::string("or a comma-separated list") +
                (k.type == choice ? "" : ", linspace(a, b, n) or logspace(a, b, n)");
    return list;
}

/// Canonical text of one scalar value, or throws.
std::string canonical(const KeyInfo& k, std::string_view token, std::string_view whole) {
    const auto fail = [&] {
        throw ConfigError(std::string(k.name), std::string(whole), allowed_text(k));
    };
    switch (k.type) {
    case integer: {
        long long v = 0;
        if (!parse_int(token, v))
            fail();
        return std::to_string(v);
    }
    case real: {
        double v = 0.0;
        if (!parse_double(token, v))
            fail();
        return format_number(v);
    }
    case boolean:
        if (token == "true" || token == "1" || token == "yes" || token == "on")
            return "true";
        if (token == "false" || token == "0" || token == "no" || token == "off")
            return "false";
        fail();
        break;
    case choice:
        if (std::find(k.choices.begin(), k.choices.end(), token) == k.choices.end()) {
            // "identity" and "linear" name the same function; accept both where one is allowed.
            if (token == "linear" &&
                std::find(k.choices.begin(), k.choices.end(), "identity") != k.choices.end())
                return "identity";
            if (token == "identity" &&
                std::find(k.choices.begin(), k.choices.end(), "linear") != k.choices.end())
                return "linear";
            fail();
        }
        return std::string(token);
    }
    return {};
}

/// linspace(a, b, n) / logspace(a, b, n) -> n numbers, or nullopt if text is not a range.
std::optional<std::vector<double>> parse_range(const KeyInfo& k, const std::string& text) {
    const bool lin = text.starts_with("linspace(");
    const bool log = text.starts_with("logspace(");
    if (!lin && !log)
        return std::nullopt;
    const auto fail = [&](const std::string& why) {
        throw ConfigError(std::string(k.name), text, why);
    };
    if (k.type != integer && k.type != real)
        fail(allowed_text(k));
    if (text.back() != ')')
        fail("linspace(a, b, n) or logspace(a, b, n) with a closing parenthesis");
    const auto args = split(std::string_view(text).substr(9, text.size() - 10), ',');
    double a = 0.0;
    double b = 0.0;
    long long n = 0;
    if (args.size() != 3 || !parse_double(args[0], a) || !parse_double(args[1], b) ||
        !parse_int(args[2], n) || !std::isfinite(a) || !std::isfinite(b))
        fail("linspace(a, b, n) or logspace(a, b, n) with finite numbers a, b and an integer n");
    if (n < 1 || n > 100000)
        fail("a range of 1 to 100000 points");
    if (log && (a <= 0.0 || b <= 0.0))
        fail("logspace(a, b, n) with a > 0 and b > 0 (the end points themselves, not exponents)");
    std::vector<double> out(static_cast<std::size_t>(n));
    for (long long i = 0; i < n; ++i) {
        const double t = n > 1 ? static_cast<double>(i) / static_cast<double>(n - 1) : 0.0;
        out[static_cast<std::size_t>(i)] =
            lin ? a + t * (b - a) : std::exp(std::log(a) + t * (std::log(b) - std::log(a)));
    }
    out.front() = a; // exact end points
    out.back() = n > 1 ? b : a;
    return out;
}

} // namespace

void Configuration::set(std::string_view key, std::string_view text) {
    const KeyInfo* k = find_key(key);
    if (k == nullptr) {
        std::string all;
        for (const auto& info : keys())
            all += (all.empty() ? "" : ", ") + std::string(info.name);
        throw ConfigError::unknown_key(std::string(key), trim(text), all);
    }
    const std::string whole = trim(text);
    std::vector<std::string> vals;
    if (auto range = parse_range(*k, whole)) {
        for (const double x : *range)
            vals.push_back(k->type == integer ? std::to_string(std::llround(x)) : format_number(x));
    } else {
        for (const auto& token : split(whole, ',')) {
            if (token.empty())
                throw ConfigError(std::string(key), whole,
                                  allowed_text(*k) + " (an empty list entry is not)");
            vals.push_back(canonical(*k, token, whole));
        }
    }
    if (vals.size() > 1 && !k->sweepable)
        throw ConfigError(std::string(key), whole, "a single value (this key cannot be swept)");
    // Repeated values would repeat grid points silently: keep the first of each.
    std::vector<std::string> unique;
    for (auto& v : vals)
        if (std::find(unique.begin(), unique.end(), v) == unique.end())
            unique.push_back(std::move(v));
    values_[std::string(key)] = std::move(unique);
}

bool Configuration::is_set(std::string_view key) const {
    return values_.contains(key);
}

std::vector<std::string> Configuration::values(std::string_view key) const {
    if (const auto it = values_.find(key); it != values_.end())
        return it->second;
    const KeyInfo* k = find_key(key);
    if (k == nullptr || k->default_value.empty())
        return {};
    return {canonical(*k, k->default_value, k->default_value)};
}

std::string Configuration::value(std::string_view key) const {
    const auto v = values(key);
    return v.empty() ? std::string{} : v.front();
}

std::string Configuration::to_ini(IniScope scope) const {
    std::ostringstream os;
    os << "# plateau run configuration (fully resolved)\n";
    for (const auto& k : keys()) {
        if (scope == IniScope::results && k.name == "threads")
            continue; // the thread count never changes results
        const auto v = values(k.name);
        if (v.empty())
            continue; // optional key left unset (eta-v follows eta)
        os << k.name << " = ";
        for (std::size_t i = 0; i < v.size(); ++i)
            os << (i ? ", " : "") << v[i];
        os << '\n';
    }
    return os.str();
}

namespace {

/// Applies one key's value to the parameters of a grid point.
void apply(RunParams& p, std::string_view key, const std::string& v) {
    const auto num = [&] {
        double d = 0.0;
        parse_double(v, d);
        return d;
    };
    const auto integral = [&] {
        long long i = 0;
        parse_int(v, i);
        return i;
    };
    const auto act = [&] {
        return *parse_activation(v);
    };
    auto& m = p.model;
    if (key == "N")
        m.N = integral();
    else if (key == "K")
        m.student.hidden = static_cast<int>(std::clamp<long long>(integral(), -1, 1 << 20));
    else if (key == "M")
        m.teacher.hidden = static_cast<int>(std::clamp<long long>(integral(), -1, 1 << 20));
    else if (key == "eta")
        p.training.eta = num();
    else if (key == "eta-v")
        p.training.eta_v = num();
    else if (key == "learn-v")
        m.learn_v = v == "true";
    else if (key == "activation")
        m.student.g.kind = act();
    else if (key == "teacher-activation")
        m.teacher.g.kind = act();
    else if (key == "output-activation")
        m.student.h.kind = act();
    else if (key == "teacher-output-activation")
        m.teacher.h.kind = act();
    else if (key == "gamma")
        m.student.g.gamma = m.student.h.gamma = m.teacher.g.gamma = m.teacher.h.gamma = num();
    else if (key == "v0")
        m.v0 = num();
    else if (key == "v-star")
        m.v_star = num();
    else if (key == "q0")
        m.q0 = num();
    else if (key == "teacher-init")
        m.teacher_init = v == "orthonormal" ? TeacherInit::orthonormal : TeacherInit::gaussian;
    else if (key == "noise")
        m.noise = num();
    else if (key == "alpha-max")
        p.schedule.alpha_max = num();
    else if (key == "alpha-min")
        p.schedule.alpha_min = num();
    else if (key == "records")
        p.schedule.records = static_cast<int>(std::clamp<long long>(integral(), -1, 1 << 24));
    else if (key == "schedule")
        p.schedule.kind = v == "log" ? ScheduleKind::log : ScheduleKind::linear;
    else if (key == "eg-samples")
        p.observer.eg_samples = static_cast<int>(std::clamp<long long>(integral(), -1, 1 << 30));
    else if (key == "divergence-q")
        p.observer.divergence_q = num();
}

} // namespace

CampaignSpec Configuration::expand() const {
    CampaignSpec spec;
    const auto single_int = [&](std::string_view key, long long lo, long long hi,
                                std::string_view allowed) {
        long long x = 0;
        parse_int(value(key), x);
        if (x < lo || x > hi)
            throw ConfigError(std::string(key), value(key), std::string(allowed));
        return x;
    };
    spec.seeds = single_int("seeds", 1, 1LL << 40, "an integer >= 1");
    spec.master_seed = static_cast<std::uint64_t>(
        single_int("seed", 0, std::numeric_limits<long long>::max(), "an integer >= 0"));
    spec.threads = static_cast<int>(single_int("threads", 0, 4096, "an integer from 0 to 4096"));

    // The keys of a run, in registry order; the grid is the Cartesian product of their value
    // lists (a single value for most), the last key varying fastest. seeds, seed and threads
    // describe the campaign, not a run.
    std::vector<const KeyInfo*> axes;
    for (const auto& k : keys())
        if (k.name != "seeds" && k.name != "seed" && k.name != "threads")
            axes.push_back(&k);
    std::size_t total = 1;
    for (const auto* k : axes)
        total *= std::max<std::size_t>(1, values(k->name).size());
    if (total * static_cast<std::size_t>(spec.seeds) > (std::size_t{1} << 40))
        throw ConfigError("seeds", value("seeds"), "a campaign of at most 2^40 runs");

    for (std::size_t index = 0; index < total; ++index) {
        GridPoint point;
        std::size_t rest = index;
        std::vector<std::pair<const KeyInfo*, std::string>> chosen(axes.size());
        for (std::size_t a = axes.size(); a-- > 0;) {
            const auto vals = values(axes[a]->name);
            if (vals.empty()) {
                chosen[a] = {axes[a], {}};
                continue;
            }
            chosen[a] = {axes[a], vals[rest % vals.size()]};
            rest /= vals.size();
        }
        for (const auto& [k, v] : chosen)
            if (!v.empty())
                apply(point.params, k->name, v);
        if (!is_set("eta-v"))
            point.params.training.eta_v = point.params.training.eta;
        for (const auto& [k, v] : chosen) {
            // N and eta always; other keys when swept.
            if (values(k->name).size() < 2 && k->name != "N" && k->name != "eta")
                continue;
            Coordinate c{std::string(k->name), 0.0, {}, k->type == integer, std::string(k->help)};
            if (k->type == choice || k->type == boolean)
                c.text = v;
            else
                parse_double(v, c.number);
            point.coordinates.push_back(std::move(c));
        }
        validate(point.params);
        spec.points.push_back(std::move(point));
    }
    return spec;
}

} // namespace plateau::cli
