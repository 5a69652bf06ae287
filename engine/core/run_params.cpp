#include "engine/core/run_params.hpp"

#include "engine/core/errors.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <type_traits>
#include <utility>

namespace plateau {

namespace {

/// A value as an error message names it: numbers as the configuration writes them.
template <class T>
std::string to_text(T x) {
    if constexpr (std::is_floating_point_v<T>) {
        return number_text(x);
    } else if constexpr (std::is_integral_v<T>) {
        return std::to_string(x);
    } else {
        std::ostringstream os;
        os << x;
        return os.str();
    }
}

void require(bool ok, std::string_view key, auto value, std::string_view allowed) {
    if (!ok)
        throw ConfigError(std::string(key), to_text(value), std::string(allowed));
}

void check(IntRange r, std::string_view key, std::int64_t x) {
    require(r.contains(x), key, x, r.allowed());
}
void check(RealRange r, std::string_view key, double x) {
    require(contains(r, x), key, x, allowed(r));
}

void check_network(std::string_view key, const NetworkSpec& net) {
    require(!net.widths.empty() && net.widths.size() <= limits::max_hidden_layers, key,
            widths_text(net.widths),
            "1 to " + std::to_string(limits::max_hidden_layers) + " hidden-layer widths (8x4)");
    for (const int w : net.widths) // the registry's text: one width's range
        require(limits::hidden_units.contains(w), key, widths_text(net.widths),
                limits::hidden_units.allowed());
}

/// "0.5:0.2": a per-layer list as the configuration writes it.
template <class T>
std::string layer_list_text(const std::vector<T>& list) {
    std::string out;
    for (const T x : list) {
        if (!out.empty())
            out += layer_separator;
        if constexpr (std::is_same_v<T, bool>)
            out += x ? "true" : "false";
        else
            out += to_text(x);
    }
    return out;
}

/// A per-layer list of the student's weights above the first layer (docs/theory.md §12): one
/// value for all of them, or one per layer W_2..W_L.
template <class T>
void check_layer_list(std::string_view key, const std::vector<T>& list, const NetworkSpec& net,
                      std::string_view example) {
    const std::size_t deeper = net.widths.size() - 1;
    require(list.size() == 1 || (deeper > 1 && list.size() == deeper), key, layer_list_text(list),
            deeper > 1 ? "one value for every layer above the first, or " + std::to_string(deeper) +
                             " (one per layer W_2..W_" + std::to_string(deeper + 1) + " of K = " +
                             widths_text(net.widths) + ", as " + std::string(example) + ")"
                       : "a single value (K = " + widths_text(net.widths) +
                             (deeper == 0 ? " has no layer above the first)"
                                          : " has one layer above the first)"));
}

void check_output(std::string_view key, const Activation& h) {
    require(is_output_kind(h.kind), key, name(h.kind), "one of " + output_names());
    require(h.coefficients.is_zero(), key, name(h.kind), "an output function without coefficients");
}

/// The coefficients of a hidden activation: those of poly, finite and not all zero (the
/// configuration's poly:C0:C1:..., models/activation.hpp); none for every other kind.
void check_hidden(std::string_view key, const Activation& g) {
    std::string text(name(g.kind));
    bool finite = true;
    for (int k = 0; k <= g.coefficients.degree(); ++k) {
        const double c = g.coefficients.c[static_cast<std::size_t>(k)];
        finite = finite && std::isfinite(c);
        text += poly_separator + number_text(c);
    }
    if (g.kind == ActivationKind::poly)
        require(finite && !g.coefficients.is_zero(), key, text, poly_form);
    else
        require(g.coefficients.is_zero(), key, text,
                std::string(name(g.kind)) + " without coefficients (only poly has them)");
}

/// eta-schedule and its per-layer forms (docs/theory.md §6b): each a valid form; a per-layer
/// form only for a rate that is used (learn-v, a learned layer above the first), since it would
/// change nothing otherwise.
void check_rate_schedules(const RunParams& p) {
    const auto& t = p.training;
    const auto valid = [](std::string_view key, const RateSchedule& r) {
        require(r.valid(), key, to_text(r), rate_schedule_forms);
    };
    valid("eta-schedule", t.eta_schedule);
    if (t.eta_v_schedule) {
        valid("eta-v-schedule", *t.eta_v_schedule);
        require(p.model.learn_v, "eta-v-schedule", to_text(*t.eta_v_schedule),
                "same (the default) with learn-v = false: v is not learned");
    }
    if (t.eta_layers_schedule) {
        valid("eta-layers-schedule", *t.eta_layers_schedule);
        require(std::ranges::any_of(layer_steps(p), [](const auto& l) { return l.has_value(); }),
                "eta-layers-schedule", to_text(*t.eta_layers_schedule),
                "same (the default) without a learned layer above the first (a deeper student, "
                "learn-layers)");
    }
}

/// The training-regime keys (docs/theory.md §6): weight-decay, batch, train-set, alpha-train.
/// A key that also takes a word (batch = all, train-set = none) names it in its allowed text, as
/// the registry does.
void check_regime(const RunParams& p) {
    const auto& t = p.training;
    check(limits::weight_decay, "weight-decay", t.weight_decay);
    check(limits::momentum, "momentum", t.momentum);
    // Momentum moves the rows off the sphere between projections: no rule for it here.
    require(t.momentum == 0.0 || p.model.constraint == Constraint::none, "momentum", t.momentum,
            "0 with constraint = sphere (projected SGD has no velocity)");
    require(t.batch.all || limits::batch.contains(t.batch.size), "batch", t.batch.size,
            limits::batch.allowed() + " or all");
    if (t.train_set)
        require(limits::train_set.contains(*t.train_set), "train-set", *t.train_set,
                limits::train_set.allowed() + " or none");
    if (t.alpha_train)
        require(contains(limits::alpha_train, *t.alpha_train), "alpha-train", *t.alpha_train,
                std::string(allowed(limits::alpha_train)) + " or none");
    require(!(t.train_set && t.alpha_train), "alpha-train", t.alpha_train.value_or(0.0),
            "none when train-set is set (the training set's size is given once: train-set = P "
            "or alpha-train = P/N)");
    if (t.alpha_train) {
        // P = round(alpha_train N) must be a whole number of examples >= 1, counted exactly.
        const double P = std::round(*t.alpha_train * static_cast<double>(p.model.N));
        require(P >= 1.0 && P <= max_run_steps, "alpha-train", *t.alpha_train,
                "a number with 1 <= round(alpha-train x N) <= 2^53 (here N = " +
                    std::to_string(p.model.N) + ")");
    }
    const auto P = training_set_size(p);
    require(!t.batch.all || P.has_value(), "batch", "all",
            "an integer >= 1 (batch = all is gradient descent on a training set: it needs "
            "train-set or alpha-train)");
    require(t.batch.all || !P || t.batch.size <= *P, "batch", t.batch.size,
            "an integer <= the training set's size P = " + std::to_string(P.value_or(0)));
}

/// The hidden-manifold keys (docs/theory.md §16): latent-dim or latent-ratio, one of them with
/// inputs = hidden-manifold.
void check_manifold(const ModelParams& m) {
    const HiddenManifold& h = m.manifold;
    if (h.latent_dim)
        require(limits::latent_dim.contains(*h.latent_dim), "latent-dim", *h.latent_dim,
                limits::latent_dim.allowed() + " or none");
    if (h.latent_ratio)
        require(contains(limits::latent_ratio, *h.latent_ratio), "latent-ratio", *h.latent_ratio,
                std::string(allowed(limits::latent_ratio)) + " or none");
    require(!(h.latent_dim && h.latent_ratio), "latent-ratio", h.latent_ratio.value_or(0.0),
            "none when latent-dim is set (the latent dimension is given once: latent-dim = D or "
            "latent-ratio = D/N)");
    if (m.inputs != InputKind::hidden_manifold)
        return;
    require(h.latent_dim || h.latent_ratio, "latent-dim", "none",
            limits::latent_dim.allowed() +
                " (inputs = hidden-manifold needs latent-dim = D or latent-ratio = D/N)");
    const std::int64_t D = latent_dimension(m);
    if (h.latent_ratio)
        require(D >= 1 && D <= limits::latent_dim.max, "latent-ratio", *h.latent_ratio,
                "a number with 1 <= round(latent-ratio x N) <= " +
                    std::to_string(limits::latent_dim.max) + " (here N = " + std::to_string(m.N) +
                    ")");
    // The teacher acts on the latent vector c (docs/theory.md §16): its rows b_n live in R^D.
    require(m.teacher_init != TeacherInit::orthonormal || m.teacher.hidden() <= D, "M",
            m.teacher.hidden(),
            "an integer <= D = " + std::to_string(D) +
                " for an orthonormal teacher with inputs = hidden-manifold (its rows lie in the "
                "latent space)");
    require(!is_deep(m), "K", widths_text(m.student.widths),
            "one hidden layer (student and teacher) with inputs = hidden-manifold (deeper "
            "networks on the hidden manifold: not built yet)");
}

/// Several teachers (docs/theory.md §17): the keys teachers, teacher-overlap, readout-overlap,
/// switch-at, switch-eg-below, and the combinations that are not built.
void check_teachers(const RunParams& p) {
    const auto& m = p.model;
    check(limits::teachers, "teachers", m.teachers);
    check(limits::overlap, "teacher-overlap", m.teacher_overlap);
    check(limits::overlap, "readout-overlap", m.readout_overlap);
    if (m.switch_below)
        require(contains(limits::switch_below, *m.switch_below), "switch-eg-below", *m.switch_below,
                std::string(allowed(limits::switch_below)) + " or none");
    const auto switches = m.switch_at.size();
    bool increasing = true;
    for (std::size_t i = 0; i < switches; ++i)
        increasing = increasing && contains(limits::alpha, m.switch_at[i]) &&
                     (i == 0 || m.switch_at[i] > m.switch_at[i - 1]);
    if (!m.switch_at.empty())
        require(increasing && std::cmp_less(switches, m.teachers), "switch-at",
                layer_list_text(m.switch_at),
                "none or at most teachers - 1 = " + std::to_string(m.teachers - 1) +
                    " values of alpha > 0, strictly increasing, as 10:20");
    if (m.teachers == 1)
        return;
    const auto refuse = [&](bool bad, const std::string& why) {
        require(!bad, "teachers", m.teachers, "1 " + why);
    };
    refuse(m.inputs == InputKind::mixture,
           "with inputs = mixture (the clusters give the labels; docs/theory.md section 17)");
    refuse(m.inputs == InputKind::hidden_manifold,
           "with inputs = hidden-manifold (several teachers on the latent space: not built yet)");
    refuse(is_deep(m), "with a deeper network (K = " + widths_text(m.student.widths) +
                           ", M = " + widths_text(m.teacher.widths) +
                           "): several teachers are built for two-layer networks");
    refuse(!is_online_sgd(p), "without on-line SGD (batch = 1, weight-decay = 0, momentum = 0, "
                              "fresh examples): several teachers are built for on-line learning");
    require(m.teacher_init != TeacherInit::orthonormal ||
                static_cast<std::int64_t>(teacher_units(m)) <= m.N,
            "teachers", m.teachers,
            "an integer with teachers x M <= N = " + std::to_string(m.N) +
                " for an orthonormal teacher");
    require(m.readout_overlap == 1.0 || m.teacher.widths.back() > 1, "readout-overlap",
            m.readout_overlap,
            "1 with M = 1 (no second-layer direction orthogonal to v*; docs/theory.md section 17)");
}

} // namespace

std::optional<std::int64_t> training_set_size(const RunParams& p) noexcept {
    if (p.training.train_set)
        return p.training.train_set;
    if (p.training.alpha_train)
        return static_cast<std::int64_t>(
            std::llround(*p.training.alpha_train * static_cast<double>(p.model.N)));
    return std::nullopt;
}

std::int64_t examples_per_update(const RunParams& p) noexcept {
    if (p.training.batch.all)
        return training_set_size(p).value_or(1);
    return p.training.batch.size;
}

std::vector<std::optional<double>> layer_steps(const RunParams& p) {
    std::vector<std::optional<double>> out(p.model.student.widths.size() - 1);
    for (std::size_t l = 0; l < out.size(); ++l)
        if (layer_value(p.model.learn_layers, l))
            out[l] = layer_value(p.training.eta_layers, l) / static_cast<double>(p.model.N);
    return out;
}

StepRule::StepRule(const RunParams& p)
    : student(p.model.student), teacher(p.model.teacher), target(p.model.target),
      loss(p.model.loss), learn_v(p.model.learn_v), deep(is_deep(p.model)),
      sphere(p.model.constraint == Constraint::sphere), layer_steps(plateau::layer_steps(p)),
      eta_over_n(p.training.eta / static_cast<double>(p.model.N)),
      eta_v_over_n(p.training.eta_v / static_cast<double>(p.model.N)), schedules(rate_schedules(p)),
      n(static_cast<double>(p.model.N)), teachers(p.model.teachers) {
    for (const double a : p.model.switch_at) { // the first step with alpha = step/N >= a
        if (a * n > max_run_steps) { // beyond any run (validate() keeps alpha_max N <= 2^53)
            switch_steps.push_back(std::numeric_limits<std::int64_t>::max());
            continue;
        }
        auto step = static_cast<std::int64_t>(std::ceil(a * n));
        while (step > 0 && static_cast<double>(step - 1) / n >= a)
            --step;
        while (static_cast<double>(step) / n < a)
            ++step;
        switch_steps.push_back(step);
    }
}

bool StepRule::learns_layers() const noexcept {
    return std::ranges::any_of(layer_steps, [](const auto& step) { return step.has_value(); });
}

int task_at(const RunParams& p, double alpha, int threshold_switches) noexcept {
    // docs/theory.md §17: task t from the t-th switch point on, plus the threshold switches;
    // no cycling.
    const auto passed =
        std::ranges::count_if(p.model.switch_at, [alpha](double a) { return alpha >= a; });
    return static_cast<int>(
        std::min<std::ptrdiff_t>(passed + threshold_switches, p.model.teachers - 1));
}

bool switches_below(const RunParams& p, double eg, int task) noexcept {
    const auto& m = p.model;
    return m.switch_below.has_value() && eg < *m.switch_below && task < m.teachers - 1;
}

bool is_deep(const ModelParams& m) noexcept {
    return m.student.widths.size() > 1 || m.teacher.widths.size() > 1;
}

LayerSchedules rate_schedules(const RunParams& p) {
    const TrainingParams& t = p.training;
    const double end = p.schedule.alpha_max; // cosine: the run's alpha_max, §6b Eq. (6b.1)
    return {.w = t.eta_schedule.with_horizon(end),
            .v = t.eta_v_schedule.value_or(t.eta_schedule).with_horizon(end),
            .layers = t.eta_layers_schedule.value_or(t.eta_schedule).with_horizon(end)};
}

double momentum_gain(const TrainingParams& t) noexcept {
    return 1.0 / (1.0 - t.momentum); // Eq. (6c.3)
}

bool is_online_sgd(const RunParams& p) noexcept {
    return !p.training.batch.all && p.training.batch.size == 1 && p.training.weight_decay == 0.0 &&
           p.training.momentum == 0.0 && !training_set_size(p).has_value();
}

std::string IntRange::allowed() const {
    if (max == std::numeric_limits<std::int64_t>::max())
        return "an integer >= " + std::to_string(min);
    return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

bool contains(RealRange r, double x) noexcept {
    switch (r) {
    case RealRange::finite:
        return std::isfinite(x);
    case RealRange::non_negative:
        return std::isfinite(x) && x >= 0.0;
    case RealRange::positive:
        return std::isfinite(x) && x > 0.0;
    case RealRange::unit_interval:
        return std::isfinite(x) && x >= 0.0 && x <= 1.0;
    case RealRange::below_one:
        return std::isfinite(x) && x >= 0.0 && x < 1.0;
    }
    return false;
}

std::string_view allowed(RealRange r) noexcept {
    switch (r) {
    case RealRange::finite:
        return "a finite number";
    case RealRange::non_negative:
        return "a finite number >= 0";
    case RealRange::positive:
        return "a finite number > 0";
    case RealRange::unit_interval:
        return "a finite number from 0 to 1";
    case RealRange::below_one:
        return "a finite number >= 0 and < 1";
    }
    return "?";
}

std::optional<ConfigError> gram_exactness_error(const RunParams& params) {
    const auto& m = params.model;
    // With momentum the K velocity rows are rows too (§6c): r = 2K + M.
    const std::int64_t velocity = params.training.momentum != 0.0 ? m.student.hidden() : 0;
    const std::int64_t r =
        m.student.hidden() + static_cast<std::int64_t>(teacher_units(m)) + velocity;
    // docs/theory.md §7: the part of xi orthogonal to the K + M rows carries chi^2_{N-r}; with
    // mixture inputs the D axes of the means are rows too (§15d); with several teachers every
    // teacher's M rows are rows (r = K + teachers M, §17).
    // Hidden-manifold inputs (docs/theory.md §16) are not Gaussian: no chain samples them.
    if (m.inputs == InputKind::hidden_manifold)
        return ConfigError("inputs", "hidden-manifold",
                           "gaussian or mixture with dynamics = gram (the chain samples "
                           "Gaussian fields; hidden-manifold inputs need dynamics = full)");
    if (m.inputs == InputKind::mixture) {
        const auto D = static_cast<std::int64_t>(m.mixture.dims);
        if (m.N <= r + D)
            return ConfigError("N", std::to_string(m.N),
                               std::string(velocity > 0 ? "an integer > 2K + M + D = "
                                                        : "an integer > K + M + D = ") +
                                   std::to_string(r + D) +
                                   " with dynamics = gram and inputs = mixture (D = " +
                                   std::to_string(D) + " axes of the means)");
    } else if (m.N <= r)
        return ConfigError("N", std::to_string(m.N),
                           std::string(m.teachers > 1 ? "an integer > K + teachers x M = "
                                       : velocity > 0 ? "an integer > 2K + M = "
                                                      : "an integer > K + M = ") +
                               std::to_string(r) + " with dynamics = gram" +
                               (velocity > 0
                                    ? " and momentum (the velocity rows, docs/theory.md section 6c)"
                                    : ""));
    // The chain is the law of on-line steps on fresh Gaussian examples (one a step): a reused
    // example (a training set) or a batch's mean gradient is not a step of it.
    const auto& t = params.training;
    if (t.train_set)
        return ConfigError("train-set", std::to_string(*t.train_set),
                           "none with dynamics = gram (it needs a fresh example each step)");
    if (t.alpha_train)
        return ConfigError("alpha-train", number_text(*t.alpha_train),
                           "none with dynamics = gram (it needs a fresh example each step)");
    if (t.batch.all || t.batch.size != 1)
        return ConfigError("batch", t.batch.all ? "all" : std::to_string(t.batch.size),
                           "1 with dynamics = gram (one example a step)");
    return std::nullopt;
}

void validate(const RunParams& p) {
    const auto& m = p.model;
    check(limits::N, "N", m.N);
    check_network("K", m.student);
    check_network("M", m.teacher);
    require(m.teacher_init != TeacherInit::orthonormal || m.teacher.hidden() <= m.N, "M",
            m.teacher.hidden(), "an integer <= N for an orthonormal teacher");
    check_hidden("activation", m.student.g);
    check_hidden("teacher-activation", m.teacher.g);
    check_output("output-activation", m.student.h);
    check_output("teacher-output-activation", m.teacher.h);
    // The key `gamma` sets all four slopes; gamma-hidden the two g's, gamma-output the two h's.
    const bool one_gamma = m.student.g.gamma == m.student.h.gamma;
    check(limits::gamma, one_gamma ? "gamma" : "gamma-output", m.student.h.gamma);
    check(limits::gamma, one_gamma ? "gamma" : "gamma-hidden", m.student.g.gamma);
    check(limits::gamma, one_gamma ? "gamma" : "gamma-output", m.teacher.h.gamma);
    check(limits::gamma, one_gamma ? "gamma" : "gamma-hidden", m.teacher.g.gamma);
    check(limits::v0, "v0", m.v0);
    check(limits::v_star, "v-star", m.v_star);
    check(limits::q0, "q0", m.q0);
    check(limits::noise, "noise", m.noise);
    if (const auto& poly = m.target.polynomial) {
        // A polynomial of the first-layer fields y_1..y_M (docs/theory.md §13).
        require(m.teacher.widths.size() == 1, "target", poly->text(),
                "committee when the teacher has several hidden layers (M = " +
                    widths_text(m.teacher.widths) +
                    "): a polynomial target reads the fields of one hidden layer");
        require(poly->fields() <= m.teacher.hidden(), "target", poly->text(),
                "a polynomial of the teacher's fields y1 .. yM with M = " +
                    std::to_string(m.teacher.hidden()) + " (it uses y" +
                    std::to_string(poly->fields()) + ": set M to at least " +
                    std::to_string(poly->fields()) + ")");
    }
    // readout-scale = inverse-k divides the committee of Eq. (1) by K (M): two-layer networks
    // only (docs/theory.md §14).
    if (m.student.readout != ReadoutScale::one || m.teacher.readout != ReadoutScale::one)
        require(!is_deep(m), "readout-scale", name(ReadoutScale::inverse_k),
                "one with a deeper network (K = " + widths_text(m.student.widths) +
                    ", M = " + widths_text(m.teacher.widths) +
                    "): the readout scale is built for two-layer networks");
    check(limits::cluster_variance, "cluster-variance", m.mixture.variance);
    if (m.inputs == InputKind::mixture) {
        // docs/theory.md §15: the clusters label the examples; the teacher is drawn, unused.
        require(!m.target.polynomial.has_value(), "target", m.target.text(),
                "committee with inputs = mixture (the clusters give the labels)");
        require(!is_deep(m), "K", widths_text(m.student.widths),
                "one hidden layer (student and teacher) with inputs = mixture (deeper networks "
                "on mixtures: not built yet)");
        require(static_cast<std::int64_t>(m.mixture.dims) <= m.N, "clusters", m.mixture.source,
                "means with at most N = " + std::to_string(m.N) + " coordinates");
    }

    check_manifold(m);
    check_teachers(p);

    check(limits::eta, "eta", p.training.eta);
    check(limits::eta, "eta-v", p.training.eta_v);
    check_layer_list("eta-layers", p.training.eta_layers, m.student, "0.5:0.2");
    for (const double eta : p.training.eta_layers) // the registry's text: one value's range
        require(contains(limits::eta, eta), "eta-layers", layer_list_text(p.training.eta_layers),
                allowed(limits::eta));
    check_layer_list("learn-layers", m.learn_layers, m.student, "true:false");
    check_rate_schedules(p);
    check_regime(p);

    const auto& s = p.schedule;
    check(limits::alpha, "alpha-max", s.alpha_max);
    check(limits::records, "records", s.records);
    check(limits::alpha, "alpha-min", s.alpha_min);
    require(s.kind != ScheduleKind::log || s.alpha_min < s.alpha_max, "alpha-min", s.alpha_min,
            "a number < alpha-max for the log schedule");
    // Set by the campaign's expansion, never typed: the record grid ends at or after this run.
    require(s.axis_alpha_max == 0.0 ||
                (std::isfinite(s.axis_alpha_max) && s.axis_alpha_max >= s.alpha_max),
            "alpha-max", s.alpha_max, "a run no longer than the campaign's record grid");
    // The step count round(alpha_max N) (engine/core/schedule.hpp) must be counted exactly: a
    // double holds every integer up to 2^53, and llround of anything beyond 2^63 is undefined.
    require(s.alpha_max * static_cast<double>(m.N) <= max_run_steps, "alpha-max", s.alpha_max,
            "a number with alpha-max x N <= 2^53 (" + to_text(max_run_steps) +
                " steps; here N = " + std::to_string(m.N) + ")");

    check(limits::eg_samples, "eg-samples", p.observer.eg_samples);
    check(limits::joint_points, "joint-points", p.observer.joint_points);
    check(limits::divergence_q, "divergence-q", p.observer.divergence_q);
    if (p.dynamics == DynamicsKind::gram)
        if (auto error = gram_exactness_error(p))
            throw std::move(*error);
}

} // namespace plateau
