#include "cli/config.hpp"

#include "engine/core/errors.hpp"
#include "engine/io/start_weights.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_set>

namespace plateau::cli {

namespace {

constexpr auto int64_max = std::numeric_limits<std::int64_t>::max();

/// The names of every value of an enumeration, from its table and its name().
template <class E, std::size_t n>
std::vector<std::string_view> names_of(const std::array<E, n>& all,
                                       std::string_view (*name_of)(E) noexcept) {
    std::vector<std::string_view> out;
    out.reserve(n);
    for (const E e : all)
        out.push_back(name_of(e));
    return out;
}

/// A hidden activation's name in the list of choices; poly with example coefficients.
std::string_view activation_name(ActivationKind k) noexcept {
    return k == ActivationKind::poly ? poly_example : name(k);
}
/// A hidden activation: its name, or poly with its coefficients ("poly:0:1:1",
/// models/activation.hpp).
std::optional<std::string> canonical_activation(std::string_view token) {
    const auto g = parse_hidden_activation(token);
    return g ? std::optional(hidden_activation_text(*g)) : std::nullopt;
}
std::optional<std::string> canonical_output(std::string_view token) {
    const auto k = parse_output(token);
    return k ? std::optional(std::string(output_name(*k))) : std::nullopt;
}
/// Sets the kind and coefficients of g (its slope has keys of its own) from a canonical value.
void set_hidden(Activation& g, std::string_view v) {
    const Activation parsed = *parse_hidden_activation(v);
    g.kind = parsed.kind;
    g.coefficients = parsed.coefficients;
}
/// A learning-rate schedule (engine/core/rate_schedule.hpp, docs/theory.md §6b) of the key
/// `key`; `table:PATH` reads and parses the file PATH, a bad one refused with its line (as
/// `clusters = FILE`).
std::optional<RateSchedule> read_rate_schedule(std::string_view token, std::string_view key) {
    if (!token.starts_with(rate_table_prefix))
        return parse_rate_schedule(token);
    const std::string path(token.substr(rate_table_prefix.size()));
    std::ifstream in{path};
    if (path.empty() || !in)
        throw ConfigError(std::string(key), std::string(token),
                          std::string(rate_schedule_forms) + "; the file cannot be read");
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return parse_rate_table(text.str(), path);
    } catch (const RateTableError& e) {
        throw ConfigError(std::string(key), std::string(token),
                          std::string(rate_schedule_forms) + "; " + e.what());
    }
}
/// A schedule is kept as written when it parses (a table's path, not its content, is hashed).
std::optional<std::string> canonical_rate_schedule(std::string_view token) {
    return read_rate_schedule(token, "eta-schedule") ? std::optional(std::string(token))
                                                     : std::nullopt;
}
/// The per-layer forms (docs/theory.md §6b): `same` (eta-schedule's) or a schedule.
constexpr std::string_view same_schedule = "same";
/// nullopt for `same`; the token has passed canonical_layer_schedule.
std::optional<RateSchedule> read_layer_schedule(std::string_view token, std::string_view key) {
    if (token == same_schedule)
        return std::nullopt;
    return read_rate_schedule(token, key).value();
}
template <std::size_t N>
struct KeyName { // a key's name as a template argument, for a captureless canonical()
    char text[N]{};
    constexpr KeyName(const char (&s)[N]) { std::copy_n(s, N, text); } // NOLINT: implicit
};
template <KeyName key>
std::optional<std::string> canonical_layer_schedule(std::string_view token) {
    if (token == same_schedule || read_rate_schedule(token, key.text))
        return std::string(token);
    return std::nullopt;
}
/// What `target` accepts (docs/theory.md §13).
constexpr std::string_view target_forms =
    "committee or a polynomial of the teacher's fields y1 .. yM, e.g. he2(y1) or "
    "y1 + y1*y2 (he1(yN) .. he4(yN), numbers, +, -, *, ^ and parentheses; docs/theory.md "
    "section 13)";
/// A target is kept as written when it parses; a text that does not is refused with the
/// position and what was expected there.
std::optional<std::string> canonical_target(std::string_view token) {
    try {
        (void)parse_target(token);
    } catch (const TargetSyntaxError& e) {
        throw ConfigError("target", std::string(token),
                          "committee or a polynomial of the teacher's fields y1 .. yM (docs/"
                          "theory.md section 13); " +
                              std::string(e.what()));
    }
    return std::string(token);
}
/// Mixture inputs (docs/theory.md §15): the clusters of `clusters`, a built-in name or the
/// path of a clusters file (§15), read and parsed; a bad file is refused with the line.
constexpr std::string_view cluster_forms =
    "xor, two or the path of a clusters file (lines 'label m_1 .. m_D [weight w]', "
    "docs/theory.md section 15)";
Mixture read_clusters(std::string_view token) {
    if (token == "xor")
        return Mixture::exclusive_or();
    if (token == "two")
        return Mixture::two();
    std::ifstream in{std::string(token)};
    if (!in)
        throw ConfigError("clusters", std::string(token),
                          std::string(cluster_forms) + "; the file cannot be read");
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return Mixture::parse(text.str(), std::string(token));
    } catch (const MixtureSyntaxError& e) {
        throw ConfigError("clusters", std::string(token),
                          std::string(cluster_forms) + "; " + e.what());
    }
}
/// What `switch-at` accepts (docs/theory.md §17).
constexpr std::string_view switch_forms =
    "none or the alpha of each switch, > 0 and strictly increasing, ':'-separated (10:20)";
/// "none" -> no switch, "10:20" -> {10, 20}; nullopt if the text is not such a list.
std::optional<std::vector<double>> parse_switch_points(std::string_view token) {
    std::vector<double> out;
    if (token == "none")
        return out;
    std::size_t start = 0;
    for (;;) {
        const auto end = token.find(layer_separator, start);
        const std::string_view part = token.substr(start, end - start);
        double x = 0.0;
        const auto res = std::from_chars(part.data(), part.data() + part.size(), x);
        if (part.empty() || res.ec != std::errc{} || res.ptr != part.data() + part.size() ||
            !contains(limits::alpha, x) || (!out.empty() && x <= out.back()))
            return std::nullopt;
        out.push_back(x);
        if (end == std::string_view::npos)
            return out;
        start = end + 1;
    }
}
/// The canonical text of a switch list: "none" or the numbers as the configuration writes them.
std::optional<std::string> canonical_switch_points(std::string_view token) {
    const auto points = parse_switch_points(token);
    if (!points)
        return std::nullopt;
    if (points->empty())
        return std::string("none");
    std::string out;
    for (const double x : *points)
        out += (out.empty() ? "" : std::string(1, layer_separator)) + number_text(x);
    return out;
}
/// The names of the losses, from their table (models/loss.hpp).
std::vector<std::string_view> loss_choices() {
    std::vector<std::string_view> out;
    out.reserve(loss_names.size());
    for (const auto& entry : loss_names)
        out.push_back(entry.second);
    return out;
}
/// student-from, teacher-from: none, FILE or FILE:RUN, kept as written (the file is read when the
/// campaign starts, engine/io/start_weights.hpp).
std::optional<std::string> canonical_weight_source(std::string_view token) {
    if (token == "none" || parse_weight_source(token))
        return std::string(token);
    return std::nullopt;
}
std::optional<std::string> canonical_clusters(std::string_view token) {
    (void)read_clusters(token);
    return std::string(token);
}
} // namespace

namespace {

/// Runs of different lengths (alpha-max swept or scaled) share the record grid of the longest
/// (engine/core/schedule.hpp), and their lengths become a per-run coordinate `alpha-max`.
void share_record_grid(CampaignSpec& spec) {
    double longest = 0.0;
    bool differ = false;
    for (const auto& point : spec.points) {
        const double a = point.params.schedule.alpha_max;
        differ = differ || (longest > 0.0 && a != longest);
        longest = std::max(longest, a);
    }
    if (!differ)
        return;
    const KeyInfo& key = *find_key("alpha-max");
    const auto position = [](const Coordinate& c) {
        return find_key(c.key) - keys().data();
    };
    for (auto& point : spec.points) {
        point.params.schedule.axis_alpha_max = longest;
        auto& cs = point.coordinates;
        auto it = std::find_if(cs.begin(), cs.end(),
                               [](const Coordinate& c) { return c.key == "alpha-max"; });
        if (it == cs.end()) {
            const auto here = &key - keys().data();
            it =
                cs.insert(std::find_if(cs.begin(), cs.end(),
                                       [&](const Coordinate& c) { return position(c) > here; }),
                          Coordinate{std::string(key.name), 0.0, {}, false, std::string(key.help)});
        }
        it->number = point.params.schedule.alpha_max; // the run's length, scaled or not
        std::erase_if(point.settings, [](const Coordinate& c) { return c.key == "alpha-max"; });
    }
}

} // namespace

const std::vector<KeyInfo>& keys() {
    // Field paths in `fields` name what each setter writes; tests/test_keys.cpp checks them.
    // What the per-layer schedules take: eta-schedule's forms or `same` (docs/theory.md §6b).
    static const std::string layer_schedule_forms =
        "same (eta-schedule's) or " + std::string(rate_schedule_forms);
    static const std::vector<KeyInfo> registry{
        {.name = "N",
         .default_value = "500",
         .help = "input dimension",
         .always_coordinate = true,
         .fields = {"run.model.N"},
         .kind = IntegerKey{limits::N,
                            [](KeyTarget t, std::int64_t x) {
                                t.run.model.N = x;
                            }}},
        {.name = "K",
         .default_value = "2",
         .help = "student hidden units; widths from the input up for a deeper network (8x4)",
         .fields = {"run.model.student.widths"},
         .kind = WidthsKey{limits::hidden_units,
                           [](KeyTarget t, std::vector<int> w) {
                               t.run.model.student.widths = std::move(w);
                           }}},
        {.name = "M",
         .default_value = "2",
         .help = "teacher hidden units; widths from the input up for a deeper network (4x2)",
         .fields = {"run.model.teacher.widths"},
         .kind = WidthsKey{limits::hidden_units,
                           [](KeyTarget t, std::vector<int> w) {
                               t.run.model.teacher.widths = std::move(w);
                           }}},
        // Setting eta also changes eta_v, through eta-v, which follows it unless set.
        {.name = "eta",
         .default_value = "0.5",
         .help = "learning rate of the first layer: w += -(eta/N) grad_w e",
         .always_coordinate = true,
         .fields = {"run.training.eta", "run.training.eta_v", "run.training.eta_layers"},
         .kind = RealKey{limits::eta,
                         [](KeyTarget t, double x) {
                             t.run.training.eta = x;
                         }}},
        {.name = "eta-v",
         .follows = "eta",
         .help = "learning rate of the second layer: v += -(eta_v/N) de/dv (default: eta)",
         .fields = {"run.training.eta_v"},
         .kind = RealKey{limits::eta,
                         [](KeyTarget t, double x) {
                             t.run.training.eta_v = x;
                         }}},
        {.name = "eta-layers",
         .follows = "eta",
         .help = "learning rates of the weights above the first layer of a deeper network (K = "
                 "8x4x2): W_l += -(eta_l/N) de/dW_l; one for all, or one per layer from W_2 up "
                 "(0.5:0.2) (default: eta)",
         .hashed = Hashed::unless_default,
         .fields = {"run.training.eta_layers"},
         .kind = LayerRealsKey{limits::eta,
                               [](KeyTarget t, std::vector<double> x) {
                                   t.run.training.eta_layers = std::move(x);
                               }}},
        // Training regimes (docs/theory.md §6): weight decay, mini-batches, finite training sets.
        {.name = "weight-decay",
         .default_value = "0",
         .help = "weight decay lambda: w += -(eta/N) (grad_w E_batch + lambda w), likewise v",
         .hashed = Hashed::unless_default,
         .fields = {"run.training.weight_decay"},
         .kind = RealKey{limits::weight_decay,
                         [](KeyTarget t, double x) {
                             t.run.training.weight_decay = x;
                         }}},
        {.name = "momentum",
         .default_value = "0",
         .help = "heavy-ball momentum beta in [0, 1) on every learned weight: u <- beta u - (eta/N) "
                 "grad, w <- w + u; the N -> infinity flow is SGD's at eta/(1 - beta) "
                 "(docs/theory.md section 6c)",
         .hashed = Hashed::unless_default,
         .fields = {"run.training.momentum"},
         .kind = RealKey{limits::momentum,
                         [](KeyTarget t, double x) {
                             t.run.training.momentum = x;
                         }}},
        {.name = "eta-schedule",
         .default_value = "constant",
         .help = "learning-rate schedule s(alpha), applied to every learned layer's rate: constant, "
                 "inverse:A (1 up to alpha = A, then A/alpha), power:A:P ((A/alpha)^P after A), "
                 "cosine:FLOOR (half a cosine from 1 to FLOOR at alpha-max), steps:A1=F1:A2=F2.. "
                 "(F_i from alpha = A_i) or table:PATH (a file of 'alpha factor' lines, linear "
                 "between them); docs/theory.md section 6b",
         .hashed = Hashed::unless_default,
         .fields = {"run.training.eta_schedule"},
         .kind = ChoiceKey{{"constant", "inverse:10", "power:10:0.5", "cosine:0.1", "steps:50=0.1"},
                           canonical_rate_schedule,
                           [](KeyTarget t, std::string_view v) {
                               t.run.training.eta_schedule = *read_rate_schedule(v, "eta-schedule");
                           },
                           rate_schedule_forms}},
        {.name = "eta-v-schedule",
         .default_value = "same",
         .help = "the schedule of eta_v alone (learn-v): same (eta-schedule's) or any form of "
                 "eta-schedule, e.g. constant to keep eta_v fixed while eta decays; "
                 "docs/theory.md section 6b",
         .hashed = Hashed::unless_default,
         .fields = {"run.training.eta_v_schedule"},
         .kind = ChoiceKey{{"same", "constant", "inverse:10"},
                           canonical_layer_schedule<"eta-v-schedule">,
                           [](KeyTarget t, std::string_view v) {
                               t.run.training.eta_v_schedule =
                                   read_layer_schedule(v, "eta-v-schedule");
                           },
                           layer_schedule_forms}},
        {.name = "eta-layers-schedule",
         .default_value = "same",
         .help = "the schedule of the eta_l of the layers above the first (a deeper student): "
                 "same (eta-schedule's) or any form of eta-schedule; docs/theory.md section 6b",
         .hashed = Hashed::unless_default,
         .fields = {"run.training.eta_layers_schedule"},
         .kind = ChoiceKey{{"same", "constant", "inverse:10"},
                           canonical_layer_schedule<"eta-layers-schedule">,
                           [](KeyTarget t, std::string_view v) {
                               t.run.training.eta_layers_schedule =
                                   read_layer_schedule(v, "eta-layers-schedule");
                           },
                           layer_schedule_forms}},
        {.name = "batch",
         .default_value = "1",
         .unit = "examples",
         .help = "examples per update B (mean gradient), or all: gradient descent on the "
                 "training set; alpha counts updates/N",
         .hashed = Hashed::unless_default,
         .fields = {"run.training.batch"},
         .kind = IntegerKey{limits::batch,
                            [](KeyTarget t, std::int64_t x) {
                                t.run.training.batch = {.size = x, .all = false};
                            },
                            "all",
                            [](KeyTarget t) {
                                t.run.training.batch = {.size = 1, .all = true};
                            }}},
        {.name = "train-set",
         .default_value = "none",
         .unit = "examples",
         .help = "size P of a finite training set drawn once per run (none: a fresh example "
                 "for every gradient)",
         .hashed = Hashed::unless_default,
         .fields = {"run.training.train_set"},
         .kind = IntegerKey{limits::train_set,
                            [](KeyTarget t, std::int64_t x) {
                                t.run.training.train_set = x;
                            },
                            "none",
                            [](KeyTarget t) {
                                t.run.training.train_set.reset();
                            }}},
        {.name = "alpha-train",
         .default_value = "none",
         .unit = "examples/N",
         .help = "size of a finite training set as P/N (instead of train-set)",
         .hashed = Hashed::unless_default,
         .fields = {"run.training.alpha_train"},
         .kind = RealKey{limits::alpha_train,
                         [](KeyTarget t, double x) {
                             t.run.training.alpha_train = x;
                         },
                         "none",
                         [](KeyTarget t) {
                             t.run.training.alpha_train.reset();
                         }}},
        {.name = "sampling",
         .default_value = "epochs",
         .help = "batches of a training set: epochs (shuffle, then sweep) or replacement",
         .hashed = Hashed::unless_default,
         .fields = {"run.training.sampling"},
         .kind = ChoiceKey{name_list<Sampling>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.training.sampling = parse<Sampling>(v).value();
                           }}},
        {.name = "learn-v",
         .default_value = "false",
         .help = "train the student's second layer v",
         .fields = {"run.model.learn_v"},
         .kind = BooleanKey{[](KeyTarget t, bool x) {
             t.run.model.learn_v = x;
         }}},
        {.name = "learn-layers",
         .default_value = "true",
         .help = "train the student's weights above the first layer of a deeper network (K = "
                 "8x4x2); one flag for all, or one per layer from W_2 up (false:true)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.learn_layers"},
         .kind = LayerBooleansKey{[](KeyTarget t, std::vector<bool> x) {
             t.run.model.learn_layers = std::move(x);
         }}},
        {.name = "activation",
         .default_value = "erf",
         .help = "student hidden activation g; poly:C0:C1:... is the polynomial C0 + C1 x + ...",
         .fields = {"run.model.student.g.kind", "run.model.student.g.coefficients"},
         .kind = ChoiceKey{names_of(all_activation_kinds, activation_name), canonical_activation,
                           [](KeyTarget t, std::string_view v) {
                               set_hidden(t.run.model.student.g, v);
                           },
                           hidden_activation_forms()}},
        {.name = "teacher-activation",
         .default_value = "erf",
         .help = "teacher hidden activation g*; poly:C0:C1:... is the polynomial C0 + C1 x + ...",
         .fields = {"run.model.teacher.g.kind", "run.model.teacher.g.coefficients"},
         .kind = ChoiceKey{names_of(all_activation_kinds, activation_name), canonical_activation,
                           [](KeyTarget t, std::string_view v) {
                               set_hidden(t.run.model.teacher.g, v);
                           },
                           hidden_activation_forms()}},
        {.name = "output-activation",
         .default_value = "identity",
         .help = "student output function h",
         .fields = {"run.model.student.h.kind"},
         .kind = ChoiceKey{names_of(output_kinds, output_name), canonical_output,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.student.h.kind = *parse_output(v);
                           }}},
        {.name = "teacher-output-activation",
         .default_value = "identity",
         .help = "teacher output function h*",
         .fields = {"run.model.teacher.h.kind"},
         .kind = ChoiceKey{names_of(output_kinds, output_name), canonical_output,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.teacher.h.kind = *parse_output(v);
                           }}},
        {.name = "target",
         .default_value = "committee",
         .help = "the label: the teacher's committee h*(sum_n v*_n g*(y_n)), or a polynomial "
                 "of its fields y1 .. yM such as he2(y1) or y1 + y1*y2 (M = the teacher "
                 "directions it uses at least; docs/theory.md section 13)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.target"},
         .kind = ChoiceKey{{"committee", "he2(y1)", "y1 + y1*y2"},
                           canonical_target,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.target = parse_target(v);
                           },
                           target_forms}},
        {.name = "readout-scale",
         .default_value = "one",
         .help = "scale c of the readout h(c sum_j v_j g(x_j)): one (c = 1) or inverse-k (c = 1/K; "
                 "the teacher's committee 1/M); docs/theory.md section 14",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.student.readout", "run.model.teacher.readout"},
         .kind = ChoiceKey{name_list<ReadoutScale>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.student.readout = t.run.model.teacher.readout =
                                   parse<ReadoutScale>(v).value();
                           }}},
        {.name = "constraint",
         .default_value = "none",
         .help = "none, or sphere: each student row starts on |w_j|^2 = 1 (Q_jj = 1; q0 unused) "
                 "and is rescaled to it after every update; docs/theory.md section 14",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.constraint"},
         .kind = ChoiceKey{name_list<Constraint>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.constraint = parse<Constraint>(v).value();
                           }}},
        // Gaussian-mixture inputs and the loss (docs/theory.md §15).
        {.name = "inputs",
         .default_value = "gaussian",
         .help = "what an example is: gaussian (labelled by the target), mixture (the "
                 "clusters' means plus noise, labelled +-1 by their cluster; the teacher is "
                 "drawn but unused; docs/theory.md section 15) or hidden-manifold (x = "
                 "f(F^T c/sqrt D) of a latent c ~ N(0, I_D), labelled by the target on the "
                 "teacher's fields b_n . c/sqrt D; docs/theory.md section 16)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.inputs"},
         .kind = ChoiceKey{name_list<InputKind>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.inputs = parse<InputKind>(v).value();
                           }}},
        {.name = "clusters",
         .default_value = "xor",
         .help = "the clusters of inputs = mixture: xor (means +-e1 labelled +1, +-e2 labelled "
                 "-1), two (+-e1 labelled +-1) or a clusters file",
         .sweepable = false, // one cluster axis a file (analysis/SCHEMA.md)
         .hashed = Hashed::unless_default,
         .fields = {"run.model.mixture.clusters"},
         .kind = ChoiceKey{{"xor", "two"},
                           canonical_clusters,
                           [](KeyTarget t, std::string_view v) {
                               const double delta = t.run.model.mixture.variance;
                               t.run.model.mixture = read_clusters(v);
                               t.run.model.mixture.variance = delta;
                           },
                           cluster_forms}},
        {.name = "cluster-variance",
         .default_value = "0.1",
         .help = "the variance Delta of every cluster of inputs = mixture (xi = mu_c + "
                 "sqrt(Delta) z)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.mixture.variance"},
         .kind = RealKey{limits::cluster_variance,
                         [](KeyTarget t, double x) {
                             t.run.model.mixture.variance = x;
                         }}},
        // Hidden-manifold inputs (docs/theory.md §16).
        {.name = "latent-dim",
         .default_value = "none",
         .help = "the latent dimension D of inputs = hidden-manifold (instead of latent-ratio)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.manifold.latent_dim"},
         .kind = IntegerKey{limits::latent_dim,
                            [](KeyTarget t, std::int64_t x) {
                                t.run.model.manifold.latent_dim = x;
                            },
                            "none",
                            [](KeyTarget t) {
                                t.run.model.manifold.latent_dim.reset();
                            }}},
        {.name = "latent-ratio",
         .default_value = "none",
         .help = "the latent dimension of inputs = hidden-manifold as delta = D/N (D = "
                 "round(delta N); instead of latent-dim)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.manifold.latent_ratio"},
         .kind = RealKey{limits::latent_ratio,
                         [](KeyTarget t, double x) {
                             t.run.model.manifold.latent_ratio = x;
                         },
                         "none",
                         [](KeyTarget t) {
                             t.run.model.manifold.latent_ratio.reset();
                         }}},
        {.name = "feature-map",
         .default_value = "sign",
         .help = "the feature map f of inputs = hidden-manifold, centred: sign, erf (erf(u/sqrt "
                 "2)), relu (max(0, u) - 1/sqrt(2 pi)) or linear",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.manifold.feature_map"},
         .kind = ChoiceKey{name_list<FeatureMap>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.manifold.feature_map = parse<FeatureMap>(v).value();
                           }}},
        {.name = "loss",
         .default_value = "squared",
         .help = "the per-example loss minimised and averaged by eg: squared (sigma - tau)^2/2 "
                 "or logistic log(1 + exp(-tau sigma)) (labels +-1)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.loss"},
         .kind = ChoiceKey{loss_choices(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.loss = Loss{parse_loss(v).value()};
                           }}},
        {.name = "gamma",
         .default_value = "1",
         .help = "slope gamma of every tanh(gamma x), hidden or output",
         .fields = {"run.model.student.g.gamma", "run.model.student.h.gamma",
                    "run.model.teacher.g.gamma", "run.model.teacher.h.gamma"},
         .kind = RealKey{limits::gamma,
                         [](KeyTarget t, double x) {
                             auto& m = t.run.model;
                             m.student.g.gamma = m.student.h.gamma = x;
                             m.teacher.g.gamma = m.teacher.h.gamma = x;
                         }}},
        // The slopes of hidden and output units separately: each follows gamma unless set.
        {.name = "gamma-hidden",
         .follows = "gamma",
         .help = "slope gamma of tanh(gamma x) as hidden activation g, student and teacher "
                 "(default: gamma)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.student.g.gamma", "run.model.teacher.g.gamma"},
         .kind = RealKey{limits::gamma,
                         [](KeyTarget t, double x) {
                             t.run.model.student.g.gamma = t.run.model.teacher.g.gamma = x;
                         }}},
        {.name = "gamma-output",
         .follows = "gamma",
         .help = "slope gamma of tanh(gamma x) as output function h, student and teacher "
                 "(default: gamma)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.student.h.gamma", "run.model.teacher.h.gamma"},
         .kind = RealKey{limits::gamma,
                         [](KeyTarget t, double x) {
                             t.run.model.student.h.gamma = t.run.model.teacher.h.gamma = x;
                         }}},
        {.name = "v0",
         .default_value = "1",
         .help = "initial student second-layer weights v_j",
         .fields = {"run.model.v0"},
         .kind = RealKey{limits::v0,
                         [](KeyTarget t, double x) {
                             t.run.model.v0 = x;
                         }}},
        {.name = "v-star",
         .default_value = "1",
         .help = "teacher second-layer weights v*_n",
         .fields = {"run.model.v_star"},
         .kind = RealKey{limits::v_star,
                         [](KeyTarget t, double x) {
                             t.run.model.v_star = x;
                         }}},
        {.name = "q0",
         .default_value = "0.2",
         .help = "student initialization w_i ~ N(0, q0/N), so Q_jj(0) ~ q0",
         .fields = {"run.model.q0"},
         .kind = RealKey{limits::q0,
                         [](KeyTarget t, double x) {
                             t.run.model.q0 = x;
                         }}},
        {.name = "teacher-init",
         .default_value = "orthonormal",
         .help = "teacher vectors: orthonormal (T = I) or gaussian",
         .fields = {"run.model.teacher_init"},
         .kind = ChoiceKey{name_list<TeacherInit>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.teacher_init = parse<TeacherInit>(v).value();
                           }}},
        {.name = "teacher-upper",
         .default_value = "random",
         .help = "the teacher's weights above its first layer (M = 4x2; docs/theory.md section "
                 "12): random ((W*_l)_jk ~ N(0, 1/M_(l-1))) or equal (every entry "
                 "1/sqrt(M_(l-1)): the teacher's units interchangeable, a symmetric plateau)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.teacher_upper"},
         .kind = ChoiceKey{name_list<TeacherUpper>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.teacher_upper = parse<TeacherUpper>(v).value();
                           }}},
        // Several teachers (docs/theory.md §17): continual learning, task switches.
        {.name = "teachers",
         .default_value = "1",
         .help = "teachers of M units each on the same inputs; the task (which one gives the "
                 "labels) switches at switch-at (docs/theory.md section 17)",
         .sweepable = false, // one task axis a file (analysis/SCHEMA.md)
         .hashed = Hashed::unless_default,
         .fields = {"run.model.teachers"},
         .kind = IntegerKey{limits::teachers,
                            [](KeyTarget t, std::int64_t x) {
                                t.run.model.teachers = static_cast<int>(x);
                            }}},
        {.name = "teacher-overlap",
         .default_value = "0",
         .help = "cosine rho of teacher t's first-layer vectors with teacher 1's: b^t_n = rho "
                 "b^1_n + sqrt(1 - rho^2) b^(t,perp)_n (exact for an orthonormal teacher)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.teacher_overlap"},
         .kind = RealKey{limits::overlap,
                         [](KeyTarget t, double x) {
                             t.run.model.teacher_overlap = x;
                         }}},
        {.name = "readout-overlap",
         .default_value = "1",
         .help = "cosine rho_v of teacher t's second layer with teacher 1's: v*^t = rho_v v*^1 + "
                 "sqrt(1 - rho_v^2) |v*^1| u_perp (u_perp a unit vector orthogonal to v*^1)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.readout_overlap"},
         .kind = RealKey{limits::overlap,
                         [](KeyTarget t, double x) {
                             t.run.model.readout_overlap = x;
                         }}},
        {.name = "switch-at",
         .default_value = "none",
         .unit = "examples/N",
         .help = "the alpha of each switch to the next teacher, ':'-separated and increasing "
                 "(10:20), at most teachers - 1; a switch happens at the first step with alpha "
                 ">= its point",
         .sweepable = false, // a per-run list, not a sweep
         .hashed = Hashed::unless_default,
         .fields = {"run.model.switch_at"},
         .kind = ChoiceKey{{"none", "10", "10:20"},
                           canonical_switch_points,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.switch_at = *parse_switch_points(v);
                           },
                           switch_forms}},
        {.name = "switch-eg-below",
         .default_value = "none",
         .help = "also switch to the next teacher when eps_g of the current task, measured at a "
                 "record time, is below this",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.switch_below"},
         .kind = RealKey{limits::switch_below,
                         [](KeyTarget t, double x) {
                             t.run.model.switch_below = x;
                         },
                         "none",
                         [](KeyTarget t) {
                             t.run.model.switch_below.reset();
                         }}},
        {.name = "heads",
         .default_value = "shared",
         .help = "the student's second layer with several teachers: shared (one v) or per-task "
                 "(one head v^t per task, used for task t; only the current task's head learns)",
         .hashed = Hashed::unless_default,
         .fields = {"run.model.heads"},
         .kind = ChoiceKey{name_list<Heads>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.heads = parse<Heads>(v).value();
                           }}},
        {.name = "init-seed",
         .default_value = "run",
         .help = "initial teacher and student: 'run' (each run its own) or 'shared' (seed s "
                 "starts from the same weights at every grid point of the same N, K, M)",
         .sweepable = false,
         .hashed = Hashed::unless_default,
         .fields = {"run.model.init_seed"},
         .kind = ChoiceKey{name_list<InitSeed>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.model.init_seed = parse<InitSeed>(v).value();
                           }}},
        {.name = "noise",
         .default_value = "0",
         .help = "label-noise variance s^2",
         .fields = {"run.model.noise"},
         .kind = RealKey{limits::noise,
                         [](KeyTarget t, double x) {
                             t.run.model.noise = x;
                         }}},
        // Runs of different lengths share one record grid, up to the longest run (expand()).
        {.name = "alpha-max",
         .default_value = "300",
         .unit = "examples/N",
         .help = "length of a run in alpha = steps/N",
         .fields = {"run.schedule.alpha_max"},
         .kind = RealKey{limits::alpha,
                         [](KeyTarget t, double x) {
                             t.run.schedule.alpha_max = x;
                         }}},
        {.name = "alpha-max-scale",
         .default_value = "none",
         .help = "'inverse-eta': a run with learning rate eta lasts alpha-max / eta (an eta sweep "
                 "stops each point after the same eta alpha)",
         .sweepable = false,
         .hashed = Hashed::unless_default,
         .fields = {"run.schedule.alpha_max_scale", "run.schedule.alpha_max"},
         .kind = ChoiceKey{name_list<AlphaMaxScale>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.schedule.alpha_max_scale = parse<AlphaMaxScale>(v).value();
                           }}},
        {.name = "alpha-min",
         .default_value = "0.01",
         .unit = "examples/N",
         .help = "first non-zero record time (log schedule)",
         .sweepable = false,
         .fields = {"run.schedule.alpha_min"},
         .kind = RealKey{limits::alpha,
                         [](KeyTarget t, double x) {
                             t.run.schedule.alpha_min = x;
                         }}},
        {.name = "records",
         .default_value = "100",
         .help = "number of record times, alpha = 0 included",
         .sweepable = false,
         .fields = {"run.schedule.records"},
         .kind = IntegerKey{limits::records,
                            [](KeyTarget t, std::int64_t x) {
                                t.run.schedule.records = static_cast<int>(x);
                            }}},
        {.name = "schedule",
         .default_value = "log",
         .help = "record times: log-spaced or linear in alpha",
         .sweepable = false,
         .fields = {"run.schedule.kind"},
         .kind = ChoiceKey{name_list<ScheduleKind>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.schedule.kind = parse<ScheduleKind>(v).value();
                           }}},
        {.name = "eg-samples",
         .default_value = "20000",
         .help = "Monte-Carlo samples for eps_g where no closed form exists",
         .fields = {"run.observer.eg_samples"},
         .kind = IntegerKey{limits::eg_samples,
                            [](KeyTarget t, std::int64_t x) {
                                t.run.observer.eg_samples = static_cast<int>(x);
                            }}},
        {.name = "joint-points",
         .default_value = "16384",
         .help = "points of the theory's joint rule (plateau ode with output-activation or "
                 "teacher-output-activation tanh, or teacher-activation != activation; "
                 "docs/theory.md section 10): 16 shifted quasi-random copies. The default "
                 "gives eps_g to ~0.3% and the flow to ~0.5% at K = M = 2 (~5 ms per "
                 "right-hand side); cost linear in the points. Practical up to K+M ~ 10 (flow "
                 "to a few %); K+M = 20 only with more points (4% at the default, 1% needs "
                 "~16x); ode prints the estimated errors",
         .hashed = Hashed::unless_default,
         .fields = {"run.observer.joint_points"},
         .kind = IntegerKey{limits::joint_points,
                            [](KeyTarget t, std::int64_t x) {
                                t.run.observer.joint_points = static_cast<int>(x);
                            }}},
        {.name = "divergence-q",
         .default_value = "1e8",
         .help = "a run with Q_jj above this is marked diverged",
         .fields = {"run.observer.divergence_q"},
         .kind = RealKey{limits::divergence_q,
                         [](KeyTarget t, double x) {
                             t.run.observer.divergence_q = x;
                         }}},
        {.name = "dynamics",
         .default_value = "full",
         .help = "how a run advances: full (the K+M weight vectors, O((K+M) N) per step) or "
                 "gram (the exact chain of their Gram matrix, O((K+M)^3) per step, any N > K+M; "
                 "with inputs = mixture the means' D axes are rows too, N > K+M+D; the same "
                 "law, other random numbers)",
         .hashed = Hashed::unless_default,
         .fields = {"run.dynamics"},
         .kind = ChoiceKey{name_list<DynamicsKind>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.dynamics = parse<DynamicsKind>(v).value();
                           }}},
        {.name = "ode-eta2",
         .default_value = "keep",
         .help = "plateau ode only: the eta^2 terms of the flow, keep (all) or noise-only (the "
                 "small-eta limit of the literature with label noise: dQ keeps "
                 "(eta^2/B) noise <d_j d_k> and drops (eta^2/B) <e^2 d_j d_k>; docs/theory.md "
                 "section 3)",
         .hashed = Hashed::unless_default,
         .fields = {"run.ode_eta2"},
         .kind = ChoiceKey{name_list<Eta2Terms>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.run.ode_eta2 = parse<Eta2Terms>(v).value();
                           }}},
        // The campaign's own keys: checked here only (the engine has no validate(CampaignSpec)).
        {.name = "seeds",
         .default_value = "8",
         .help = "runs per grid point",
         .sweepable = false,
         .fields = {"campaign.seeds"},
         .kind = IntegerKey{{1, int64_max},
                            [](KeyTarget t, std::int64_t x) {
                                t.campaign.seeds = x;
                            }}},
        {.name = "seed",
         .default_value = "1",
         .help = "master seed of all random streams",
         .sweepable = false,
         .fields = {"campaign.master_seed"},
         .kind = IntegerKey{{0, int64_max},
                            [](KeyTarget t, std::int64_t x) {
                                t.campaign.master_seed = static_cast<std::uint64_t>(x);
                            }}},
        {.name = "threads",
         .default_value = "0",
         .help = "worker threads (0: all cores; at most what the system can start now); never "
                 "changes results",
         .sweepable = false,
         .hashed = Hashed::never,
         .fields = {"campaign.threads"},
         .kind =
             IntegerKey{
                 {0, 4096},
                 [](KeyTarget t, std::int64_t x) {
                     t.campaign.threads = static_cast<int>(x);
                 }}},
        {.name = "save-weights",
         .default_value = "none",
         .help = "plateau run only: write every run's weights into the campaign file, the "
                 "student's W (K x N) and v and the teacher's B (M x N) and v*, at the start "
                 "(initial) or at the end (final) of the run, or those at the end and the "
                 "student's W and v at every record time too (records: K (N + 1) doubles a "
                 "record, records x more); none writes no weights (analysis/SCHEMA.md, Saved "
                 "weights)",
         .sweepable = false,
         .hashed = Hashed::unless_default,
         .fields = {"campaign.save_weights"},
         .kind = ChoiceKey{name_list<SaveWeights>(), nullptr,
                           [](KeyTarget t, std::string_view v) {
                               t.campaign.save_weights = parse<SaveWeights>(v).value();
                           }}},
        {.name = "student-from",
         .default_value = "none",
         .help = "plateau run only: start each run's student (W and v) from the weights saved "
                 "in FILE (save-weights = initial or final; records: its final weights), run r "
                 "from run_index r, or every run from run_index RUN with FILE:RUN; K and N must "
                 "match (analysis/SCHEMA.md, Saved weights)",
         .sweepable = false,
         .hashed = Hashed::unless_default,
         .fields = {"campaign.student_from"},
         .kind = ChoiceKey{{"none", "FILE", "FILE:RUN"}, canonical_weight_source,
                           [](KeyTarget t, std::string_view v) {
                               t.campaign.student_from = v == "none" ? "" : std::string(v);
                           },
                           weight_source_forms}},
        {.name = "teacher-from",
         .default_value = "none",
         .help = "plateau run only: start each run's teacher (B and v*) from the weights saved "
                 "in FILE, as student-from; M and N must match",
         .sweepable = false,
         .hashed = Hashed::unless_default,
         .fields = {"campaign.teacher_from"},
         .kind = ChoiceKey{{"none", "FILE", "FILE:RUN"}, canonical_weight_source,
                           [](KeyTarget t, std::string_view v) {
                               t.campaign.teacher_from = v == "none" ? "" : std::string(v);
                           },
                           weight_source_forms}},
    };
    return registry;
}

const std::vector<std::string_view>& KeyInfo::choices() const noexcept {
    static const std::vector<std::string_view> none;
    const auto* c = std::get_if<ChoiceKey>(&kind);
    return c != nullptr ? c->choices : none;
}

std::string KeyInfo::allowed_values() const {
    switch (type()) {
    case ValueType::integer: {
        const auto& k = std::get<IntegerKey>(kind);
        return k.range.allowed() + (k.word.empty() ? "" : " or " + std::string(k.word));
    }
    case ValueType::real: {
        const auto& k = std::get<RealKey>(kind);
        return std::string(allowed(k.range)) + (k.word.empty() ? "" : " or " + std::string(k.word));
    }
    case ValueType::widths:
        return std::get<WidthsKey>(kind).range.allowed();
    case ValueType::boolean:
    case ValueType::layer_booleans:
        return "true or false";
    case ValueType::layer_reals:
        return std::string(allowed(std::get<LayerRealsKey>(kind).range));
    case ValueType::choice: {
        if (const auto& c = std::get<ChoiceKey>(kind); !c.allowed.empty())
            return std::string(c.allowed);
        std::string list;
        for (const auto c : choices())
            list += (list.empty() ? "one of " : ", ") + std::string(c);
        return list;
    }
    }
    return {};
}

const KeyInfo* find_key(std::string_view name) noexcept {
    for (const auto& k : keys())
        if (k.name == name)
            return &k;
    return nullptr;
}

std::string key_names() {
    std::string all;
    for (const auto& k : keys())
        all += (all.empty() ? "" : ", ") + std::string(k.name);
    return all;
}

std::vector<std::string_view> key_name_list() {
    std::vector<std::string_view> out;
    out.reserve(keys().size());
    for (const auto& k : keys())
        out.push_back(k.name);
    return out;
}

namespace {

/// `s` in lower case with '_' for '-': alpha_max and Alpha-Max are both alpha-max.
std::string folded(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// The optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
/// adjacent characters, each one edit (eat -> eta is one swap).
std::size_t edit_distance(std::string_view a, std::string_view b) {
    const std::size_t n = a.size();
    const std::size_t m = b.size();
    std::vector<std::size_t> d((n + 1) * (m + 1));
    const auto at = [&](std::size_t i, std::size_t j) -> std::size_t& {
        return d[i * (m + 1) + j];
    };
    for (std::size_t i = 0; i <= n; ++i)
        at(i, 0) = i;
    for (std::size_t j = 0; j <= m; ++j)
        at(0, j) = j;
    for (std::size_t i = 1; i <= n; ++i)
        for (std::size_t j = 1; j <= m; ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
        }
    return at(n, m);
}

} // namespace

std::string_view closest_name(std::string_view typo, const std::vector<std::string_view>& names) {
    // A name cannot be that long by mistake: the distance table stays small.
    constexpr std::size_t longest = 64;
    if (typo.empty() || typo.size() > longest)
        return {};
    const std::string t = folded(typo);
    const std::size_t limit = std::max<std::size_t>(1, t.size() / 3);
    std::string_view best;
    std::size_t best_distance = limit + 1;
    for (const std::string_view name : names) {
        if (name.size() > longest + limit)
            continue;
        const std::size_t d = edit_distance(t, folded(name));
        if (d < best_distance) {
            best = name;
            best_distance = d;
        }
    }
    return best;
}

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos)
        return {};
    const auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
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

bool parse_int(std::string_view s, std::int64_t& out) {
    const auto res = std::from_chars(s.data(), s.data() + s.size(), out);
    if (res.ec == std::errc{} && res.ptr == s.data() + s.size())
        return true;
    // Also accept integral numbers written as doubles: 1e4, 1000.0
    double d = 0.0;
    if (parse_double(s, d) && std::isfinite(d) && d == std::round(d) && std::fabs(d) < 9e18) {
        out = static_cast<std::int64_t>(d);
        return true;
    }
    return false;
}

/// What `k` accepts as text: its values, and the sweep syntax if it can be swept.
std::string allowed_text(const KeyInfo& k) {
    std::string list = k.allowed_values();
    if (k.type() == ValueType::widths)
        list += " per hidden layer, layers as 8x4 from the input up";
    if (k.type() == ValueType::layer_reals || k.type() == ValueType::layer_booleans)
        list += std::string(", one for every layer above the first or one per layer as ") +
                (k.type() == ValueType::layer_reals ? "0.5:0.2" : "true:false");
    if (k.sweepable && k.type() != ValueType::boolean && k.type() != ValueType::layer_booleans)
        list += (k.type() == ValueType::choice ? "; " : ", ") +
                std::string("or a comma-separated list") +
                (k.type() == ValueType::choice || k.type() == ValueType::layer_booleans
                     ? ""
                     : ", linspace(a, b, n) or logspace(a, b, n)");
    return list;
}

/// Canonical text of one scalar value, or throws: a value that is not of the key's type
/// names `whole` (the text as given) and the syntax; one outside the key's range names
/// `token` and the range.
std::string canonical(const KeyInfo& k, std::string_view token, std::string_view whole) {
    const auto fail = [&] {
        throw ConfigError(std::string(k.name), std::string(whole), allowed_text(k));
    };
    const auto out_of_range = [&] {
        throw ConfigError(std::string(k.name), std::string(token), k.allowed_values());
    };
    switch (k.type()) {
    case ValueType::integer: {
        if (const auto& word = std::get<IntegerKey>(k.kind).word; !word.empty() && token == word)
            return std::string(token);
        std::int64_t v = 0;
        if (!parse_int(token, v))
            fail();
        if (!std::get<IntegerKey>(k.kind).range.contains(v))
            out_of_range();
        return std::to_string(v);
    }
    case ValueType::real: {
        if (const auto& word = std::get<RealKey>(k.kind).word; !word.empty() && token == word)
            return std::string(token);
        double v = 0.0;
        if (!parse_double(token, v))
            fail();
        if (!contains(std::get<RealKey>(k.kind).range, v))
            out_of_range();
        return number_text(v);
    }
    case ValueType::widths: {
        // "8x4": the layers' widths; "x" cannot be confused with the "," of a sweep.
        std::string out;
        for (const auto& width : split(token, 'x')) {
            std::int64_t v = 0;
            if (width.empty() || !parse_int(width, v))
                fail();
            if (!std::get<WidthsKey>(k.kind).range.contains(v))
                out_of_range();
            out += (out.empty() ? "" : "x") + std::to_string(v);
        }
        return out;
    }
    case ValueType::boolean:
        if (const auto b = parse_bool(token))
            return *b ? "true" : "false";
        fail();
        break;
    case ValueType::layer_reals:
    case ValueType::layer_booleans: {
        // "0.5:0.2": one value per layer above the first, each checked as a scalar of the key.
        std::string out;
        for (const auto& value : split(token, layer_separator)) {
            std::string one;
            if (k.type() == ValueType::layer_booleans) {
                const auto b = parse_bool(value);
                if (!b)
                    fail();
                one = *b ? "true" : "false";
            } else {
                double v = 0.0;
                if (value.empty() || !parse_double(value, v))
                    fail();
                if (!contains(std::get<LayerRealsKey>(k.kind).range, v))
                    out_of_range();
                one = number_text(v);
            }
            out += (out.empty() ? "" : std::string(1, layer_separator)) + one;
        }
        return out;
    }
    case ValueType::choice: {
        const auto& c = std::get<ChoiceKey>(k.kind);
        if (c.canonical != nullptr) {
            if (const auto name = c.canonical(token))
                return std::string(*name);
        } else if (std::ranges::find(c.choices, token) != c.choices.end()) {
            return std::string(token);
        }
        fail();
    }
    }
    return {};
}

/// A generated range value rounded to 15 significant digits, i.e. to the shortest decimal that
/// the arithmetic of linspace/logspace only missed by its last bits: in linspace(0.1, 1, 10),
/// 0.1 + (8/9) * 0.9 is 0.8999999999999999, stored as 0.9 so that a file's coordinate equals
/// the number a user types (`sel(eta=0.9)`). 15 digits always survive the round trip through a
/// double.
double round_generated(double x) {
    std::array<char, 32> buf{};
    const auto res =
        std::to_chars(buf.data(), buf.data() + buf.size(), x, std::chars_format::general, 15);
    double rounded = x;
    if (res.ec != std::errc{} || std::from_chars(buf.data(), res.ptr, rounded).ec != std::errc{})
        return x;
    return rounded;
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
    if (k.type() != ValueType::integer && k.type() != ValueType::real &&
        k.type() != ValueType::widths && k.type() != ValueType::layer_reals)
        fail(allowed_text(k));
    if (text.back() != ')')
        fail("linspace(a, b, n) or logspace(a, b, n) with a closing parenthesis");
    const auto args = split(std::string_view(text).substr(9, text.size() - 10), ',');
    double a = 0.0;
    double b = 0.0;
    std::int64_t n = 0;
    if (args.size() != 3 || !parse_double(args[0], a) || !parse_double(args[1], b) ||
        !parse_int(args[2], n) || !std::isfinite(a) || !std::isfinite(b))
        fail("linspace(a, b, n) or logspace(a, b, n) with finite numbers a, b and an integer n");
    if (n < 1 || n > 100000)
        fail("a range of 1 to 100000 points");
    if (log && (a <= 0.0 || b <= 0.0))
        fail("logspace(a, b, n) with a > 0 and b > 0 (the end points themselves, not exponents)");
    std::vector<double> out(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        const double t = n > 1 ? static_cast<double>(i) / static_cast<double>(n - 1) : 0.0;
        out[static_cast<std::size_t>(i)] = round_generated(
            lin ? a + t * (b - a) : std::exp(std::log(a) + t * (std::log(b) - std::log(a))));
    }
    out.front() = a; // exact end points
    out.back() = n > 1 ? b : a;
    return out;
}

} // namespace

void apply(const KeyInfo& key, std::string_view v, KeyTarget target) {
    std::visit(
        [&](const auto& kind) {
            using Kind = std::decay_t<decltype(kind)>;
            if constexpr (std::is_same_v<Kind, IntegerKey> || std::is_same_v<Kind, RealKey>) {
                if (!kind.word.empty() && v == kind.word) {
                    kind.set_word(target);
                    return;
                }
            }
            if constexpr (std::is_same_v<Kind, IntegerKey>) {
                std::int64_t x = 0;
                parse_int(v, x);
                kind.set(target, x);
            } else if constexpr (std::is_same_v<Kind, RealKey>) {
                double x = 0.0;
                parse_double(v, x);
                kind.set(target, x);
            } else if constexpr (std::is_same_v<Kind, WidthsKey>) {
                std::vector<int> widths;
                for (const auto& width : split(v, 'x')) {
                    std::int64_t x = 0;
                    parse_int(width, x);
                    widths.push_back(static_cast<int>(x)); // in range: checked when read
                }
                kind.set(target, std::move(widths));
            } else if constexpr (std::is_same_v<Kind, LayerRealsKey>) {
                std::vector<double> values;
                for (const auto& value : split(v, layer_separator)) {
                    double x = 0.0;
                    parse_double(value, x);
                    values.push_back(x);
                }
                kind.set(target, std::move(values));
            } else if constexpr (std::is_same_v<Kind, LayerBooleansKey>) {
                std::vector<bool> values;
                for (const auto& value : split(v, layer_separator))
                    values.push_back(value == "true");
                kind.set(target, std::move(values));
            } else if constexpr (std::is_same_v<Kind, BooleanKey>) {
                kind.set(target, v == "true");
            } else {
                kind.set(target, v);
            }
        },
        key.kind);
}

std::optional<bool> parse_bool(std::string_view s) noexcept {
    if (s == "true" || s == "1" || s == "yes" || s == "on")
        return true;
    if (s == "false" || s == "0" || s == "no" || s == "off")
        return false;
    return std::nullopt;
}

bool in_ini(const KeyInfo& key, const std::vector<std::string>& values, IniScope scope) {
    if (values.empty())
        return false; // optional key left unset (eta-v follows eta)
    if (scope == IniScope::everything)
        return true;
    switch (key.hashed) {
    case Hashed::always:
        return true;
    case Hashed::never:
        return false;
    case Hashed::unless_default:
        return values.size() != 1 || key.default_value.empty() ||
               values.front() != canonical(key, key.default_value, key.default_value);
    }
    return true;
}

void Configuration::set(std::string_view key, std::string_view text) {
    const KeyInfo* k = find_key(key);
    if (k == nullptr)
        throw ConfigError::unknown_key(std::string(key), trim(text), key_names(),
                                       closest_name(key, key_name_list()));
    const std::string whole = trim(text);
    std::vector<std::string> vals;
    if (auto range = parse_range(*k, whole)) {
        for (const double x : *range) {
            const std::string token =
                k->type() == ValueType::real || k->type() == ValueType::layer_reals
                    ? number_text(x)
                    : std::to_string(std::llround(x));
            vals.push_back(canonical(*k, token, whole));
        }
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
    std::unordered_set<std::string> seen;
    for (auto& v : vals)
        if (seen.insert(v).second)
            unique.push_back(std::move(v));
    values_[std::string(key)] = std::move(unique);
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
        const auto v = values(k.name);
        if (scope == IniScope::everything && v.empty() && !k.follows.empty())
            os << "# " << k.name << " follows " << k.follows << '\n';
        if (!in_ini(k, v, scope))
            continue;
        os << k.name << " = ";
        for (std::size_t i = 0; i < v.size(); ++i)
            os << (i ? ", " : "") << v[i];
        os << '\n';
    }
    return os.str();
}

bool Configuration::any_value(std::string_view key,
                              const std::function<bool(const std::string&)>& pred) const {
    return std::ranges::any_of(values(key), pred);
}

bool Configuration::any_layered(std::string_view key) const {
    return any_value(key, [](const std::string& v) { return v.find('x') != std::string::npos; });
}

std::optional<ConfigError> Configuration::ineffective_key() const {
    const auto any = [this](std::string_view key, auto pred) {
        return any_value(key, pred);
    };
    const auto is = [](std::string_view word) {
        return [word](const std::string& v) {
            return v == word;
        };
    };
    const auto is_not = [](std::string_view word) {
        return [word](const std::string& v) {
            return v != word;
        };
    };
    const bool deep_student = any_layered("K");
    const bool deep_teacher = any_layered("M");
    const bool training_set =
        any("train-set", is_not("none")) || any("alpha-train", is_not("none"));
    const bool tanh_hidden = any("activation", is("tanh")) || any("teacher-activation", is("tanh"));
    const bool tanh_output =
        any("output-activation", is("tanh")) || any("teacher-output-activation", is("tanh"));
    const bool manifold = any("inputs", is("hidden-manifold"));
    const std::string manifold_why =
        "it shapes the inputs of inputs = hidden-manifold (docs/theory.md section 16), and "
        "inputs = " +
        value("inputs");
    const bool several_teachers = any("teachers", is_not("1"));
    const std::string teachers_why =
        "it shapes several teachers (docs/theory.md section 17), and teachers = " +
        value("teachers");
    const bool gamma_hidden_set = values_.contains("gamma-hidden");
    const bool gamma_output_set = values_.contains("gamma-output");

    // Each rule: the key, whether it acts at some grid point, and why not.
    struct Rule {
        std::string_view key;
        bool acts;
        std::string why;
    };
    const std::vector<Rule> rules{
        {"sampling", training_set && any("batch", is_not("all")),
         training_set ? "batch = all takes the whole training set at every update"
                      : "it picks the batches of a training set, and train-set and alpha-train "
                        "are none"},
        // (eta-layers with learn-layers = false at every point acts on nothing either, but
        // tests/golden's deep-4x2 campaign sweeps it so: left, that file must stay the same.)
        {"eta-layers", deep_student,
         "the student has one hidden layer, K = " + value("K") +
             "; it is the rate of the weights above the first layer of a deeper student such as "
             "K = 4x2"},
        {"learn-layers", deep_student,
         "the student has one hidden layer, K = " + value("K") +
             "; it trains the weights above the first layer of a deeper student such as K = 4x2"},
        {"eta-v", any("learn-v", is("true")), "it is the learning rate of v, and learn-v = false"},
        {"gamma", (tanh_hidden && !gamma_hidden_set) || (tanh_output && !gamma_output_set),
         tanh_hidden || tanh_output
             ? "every tanh here takes its slope from gamma-hidden or gamma-output"
             : "it is the slope of tanh(gamma x), and no activation is tanh"},
        {"gamma-hidden", tanh_hidden,
         "it is the slope of a hidden tanh(gamma x), and activation and teacher-activation are "
         "not tanh"},
        {"gamma-output", tanh_output,
         "it is the slope of an output tanh(gamma x), and output-activation and "
         "teacher-output-activation are not tanh"},
        {"q0", any("constraint", is("none")),
         "every student row starts on the sphere, Q_jj = 1 (constraint = sphere, docs/theory.md "
         "section 14)"},
        {"latent-dim", manifold, manifold_why},
        {"latent-ratio", manifold, manifold_why},
        {"feature-map", manifold, manifold_why},
        {"teacher-overlap", several_teachers, teachers_why},
        {"readout-overlap", several_teachers, teachers_why},
        {"switch-at", several_teachers, teachers_why},
        {"switch-eg-below", several_teachers, teachers_why},
        {"heads", several_teachers, teachers_why},
        {"teacher-upper", deep_teacher,
         "the teacher has one hidden layer, M = " + value("M") +
             "; it sets the weights above the first layer of a deeper teacher such as M = 4x2"},
    };
    for (const Rule& rule : rules) {
        const auto it = values_.find(rule.key);
        if (rule.acts || it == values_.end())
            continue;
        const KeyInfo& k = *find_key(rule.key);
        const std::string fallback = k.default_value.empty()
                                         ? std::string{}
                                         : canonical(k, k.default_value, k.default_value);
        if (std::ranges::all_of(it->second, is(fallback)))
            continue; // its default, as the resolved configuration writes it
        std::string given;
        for (const auto& v : it->second)
            given += (given.empty() ? "" : ", ") + v;
        return ConfigError(std::string(rule.key), given,
                           "to leave it out" +
                               (fallback.empty() ? std::string{} : " (or " + fallback + ")") +
                               ": it has no effect here (" + rule.why + ")");
    }
    return std::nullopt;
}

namespace {

/// The grid's points: the product of the keys' list sizes, refusing more than 2^40 runs (grid
/// points x seeds) before any product can overflow.
std::int64_t
count_points(const std::vector<std::pair<const KeyInfo*, std::vector<std::string>>>& lists,
             std::int64_t seeds, const std::string& seeds_text) {
    constexpr std::int64_t max_runs = std::int64_t{1} << 40;
    std::int64_t points = 1;
    for (const auto& [k, v] : lists) {
        const auto n = static_cast<std::int64_t>(std::max<std::size_t>(1, v.size()));
        if (points > max_runs / n)
            throw ConfigError(std::string(k->name), std::to_string(n) + " values",
                              "a list that keeps the campaign at most 2^40 runs (grid points x "
                              "seeds)");
        points *= n;
    }
    if (points > max_runs / seeds)
        throw ConfigError("seeds", seeds_text, "a campaign of at most 2^40 runs");
    return points;
}

} // namespace

CampaignSpec Configuration::expand() const {
    return expand_sample(std::numeric_limits<std::int64_t>::max());
}

std::int64_t Configuration::grid_points() const {
    std::vector<std::pair<const KeyInfo*, std::vector<std::string>>> lists;
    for (const auto& k : keys())
        lists.emplace_back(&k, values(k.name));
    CampaignSpec spec;
    RunParams scratch;
    for (const auto& [k, v] : lists)
        if (!v.empty())
            apply(*k, v.front(), {scratch, spec});
    return count_points(lists, spec.seeds, value("seeds"));
}

CampaignSpec Configuration::expand_sample(std::int64_t max_points) const {
    CampaignSpec spec;
    // Every key's values in registry order: the grid is their Cartesian product (a single
    // value for most), the last key varying fastest.
    std::vector<std::pair<const KeyInfo*, std::vector<std::string>>> lists;
    for (const auto& k : keys())
        lists.emplace_back(&k, values(k.name));

    // The campaign's keys (seeds, seed, threads) cannot be swept: set them once.
    RunParams scratch;
    for (const auto& [k, v] : lists)
        if (!v.empty())
            apply(*k, v.front(), {scratch, spec});

    const std::int64_t points = count_points(lists, spec.seeds, value("seeds"));

    // Where each key's value comes from: its own list, or that of the key it follows.
    std::vector<std::size_t> source(lists.size());
    for (std::size_t a = 0; a < lists.size(); ++a) {
        source[a] = a;
        const KeyInfo& k = *lists[a].first;
        if (lists[a].second.empty() && !k.follows.empty())
            for (std::size_t b = 0; b < a; ++b)
                if (lists[b].first->name == k.follows)
                    source[a] = b;
    }

    // A setting "8x4" stays text, a swept width is one integer; per-layer values are numbers
    // unless some value of the key is a list ("0.5:0.2"). Decided once per key: a scan of the
    // key's values for every point made the sample of a grid of 10^5 x 10^5 points cost 2 s.
    std::vector<char> layer_text(lists.size(), 0);
    for (std::size_t a = 0; a < lists.size(); ++a) {
        const KeyInfo& k = *lists[a].first;
        layer_text[a] = static_cast<char>(
            k.type() == ValueType::layer_booleans ||
            (k.type() == ValueType::layer_reals &&
             std::ranges::any_of(lists[source[a]].second, [](const std::string& x) {
                 return x.find(layer_separator) != std::string::npos;
             })));
    }

    const std::int64_t made = std::min(points, std::max<std::int64_t>(1, max_points));
    spec.points.reserve(static_cast<std::size_t>(made));
    std::vector<std::string_view> chosen(lists.size());
    for (std::int64_t i = 0; i < made; ++i) {
        // A sample: the fractional parts of i / golden ratio, spread evenly over every digit of
        // the mixed-radix index (every key's values about equally often).
        const std::int64_t index =
            made == points
                ? i
                : std::min(points - 1,
                           static_cast<std::int64_t>(
                               std::fmod(static_cast<double>(i) * 0.6180339887498949, 1.0) *
                               static_cast<double>(points)));
        GridPoint point;
        auto rest = static_cast<std::size_t>(index);
        for (std::size_t a = lists.size(); a-- > 0;) {
            const auto& vals = lists[a].second;
            chosen[a] =
                vals.empty() ? std::string_view{} : std::string_view{vals[rest % vals.size()]};
            if (!vals.empty())
                rest /= vals.size();
        }
        for (std::size_t a = 0; a < lists.size(); ++a)
            if (!chosen[source[a]].empty())
                apply(*lists[a].first, chosen[source[a]], {point.params, spec});
        for (std::size_t a = 0; a < lists.size(); ++a) {
            const KeyInfo& k = *lists[a].first;
            const bool coordinate = lists[a].second.size() >= 2 || k.always_coordinate;
            if (!coordinate && k.fields.front().starts_with("campaign."))
                continue; // seeds and seed are root attributes, threads changes nothing
            const std::string_view value = chosen[source[a]];
            Coordinate c{
                std::string(k.name), 0.0, {}, k.type() == ValueType::integer, std::string(k.help)};
            if (k.type() == ValueType::choice || k.type() == ValueType::boolean ||
                layer_text[a] != 0 || (k.type() == ValueType::widths && !coordinate))
                c.text = value;
            else
                parse_double(value, c.number);
            c.is_integer = c.is_integer || (k.type() == ValueType::widths && coordinate);
            (coordinate ? point.coordinates : point.settings).push_back(std::move(c));
        }
        if (point.params.schedule.alpha_max_scale == AlphaMaxScale::inverse_eta)
            point.params.schedule.alpha_max /= point.params.training.eta;
        spec.points.push_back(std::move(point));
    }
    share_record_grid(spec);
    for (const auto& point : spec.points)
        validate(point.params);
    return spec;
}

} // namespace plateau::cli
