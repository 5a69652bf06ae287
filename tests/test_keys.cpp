// The key registry (cli/config.hpp): every key sets the fields it names and nothing
// else, its range is the one validate() checks, the README lists the keys in registry order,
// and the hashed INI of old configurations does not change.
#include "cli/config.hpp"
#include "cli_helpers.hpp"
#include "engine/core/errors.hpp"
#include "engine/core/run_params.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>

using namespace plateau;
using namespace plateau::cli;

namespace {

using FieldSet = std::set<std::string>;

void diff_activation(const Activation& a, const Activation& b, const std::string& path,
                     FieldSet& out) {
    if (a.kind != b.kind)
        out.insert(path + ".kind");
    if (a.gamma != b.gamma)
        out.insert(path + ".gamma");
    if (a.coefficients != b.coefficients)
        out.insert(path + ".coefficients");
}

void diff_network(const NetworkSpec& a, const NetworkSpec& b, const std::string& path,
                  FieldSet& out) {
    if (a.widths != b.widths)
        out.insert(path + ".widths");
    diff_activation(a.g, b.g, path + ".g", out);
    diff_activation(a.h, b.h, path + ".h", out);
    if (a.readout != b.readout)
        out.insert(path + ".readout");
}

/// The fields, as "run.<path>", in which two RunParams differ.
FieldSet differing_fields(const RunParams& a, const RunParams& b) {
    FieldSet out;
    const auto field = [&](bool differs, const char* path) {
        if (differs)
            out.insert(path);
    };
    field(a.model.N != b.model.N, "run.model.N");
    diff_network(a.model.student, b.model.student, "run.model.student", out);
    diff_network(a.model.teacher, b.model.teacher, "run.model.teacher", out);
    field(a.model.learn_v != b.model.learn_v, "run.model.learn_v");
    field(a.model.learn_layers != b.model.learn_layers, "run.model.learn_layers");
    field(a.model.v0 != b.model.v0, "run.model.v0");
    field(a.model.v_star != b.model.v_star, "run.model.v_star");
    field(a.model.q0 != b.model.q0, "run.model.q0");
    field(a.model.teacher_init != b.model.teacher_init, "run.model.teacher_init");
    field(a.model.teacher_upper != b.model.teacher_upper, "run.model.teacher_upper");
    field(a.model.init_seed != b.model.init_seed, "run.model.init_seed");
    field(a.model.noise != b.model.noise, "run.model.noise");
    field(a.model.target != b.model.target, "run.model.target");
    field(a.model.constraint != b.model.constraint, "run.model.constraint");
    field(a.model.inputs != b.model.inputs, "run.model.inputs");
    {
        Mixture x = a.model.mixture; // every field of the mixture but the variance
        x.variance = b.model.mixture.variance;
        field(x != b.model.mixture, "run.model.mixture.clusters");
    }
    field(a.model.mixture.variance != b.model.mixture.variance, "run.model.mixture.variance");
    field(a.model.manifold.latent_dim != b.model.manifold.latent_dim,
          "run.model.manifold.latent_dim");
    field(a.model.manifold.latent_ratio != b.model.manifold.latent_ratio,
          "run.model.manifold.latent_ratio");
    field(a.model.manifold.feature_map != b.model.manifold.feature_map,
          "run.model.manifold.feature_map");
    field(a.model.loss != b.model.loss, "run.model.loss");
    field(a.model.teachers != b.model.teachers, "run.model.teachers");
    field(a.model.teacher_overlap != b.model.teacher_overlap, "run.model.teacher_overlap");
    field(a.model.readout_overlap != b.model.readout_overlap, "run.model.readout_overlap");
    field(a.model.switch_at != b.model.switch_at, "run.model.switch_at");
    field(a.model.switch_below != b.model.switch_below, "run.model.switch_below");
    field(a.model.heads != b.model.heads, "run.model.heads");
    field(a.training.eta != b.training.eta, "run.training.eta");
    field(a.training.eta_v != b.training.eta_v, "run.training.eta_v");
    field(a.training.eta_layers != b.training.eta_layers, "run.training.eta_layers");
    field(a.training.weight_decay != b.training.weight_decay, "run.training.weight_decay");
    field(a.training.momentum != b.training.momentum, "run.training.momentum");
    field(a.training.eta_schedule != b.training.eta_schedule, "run.training.eta_schedule");
    field(a.training.eta_v_schedule != b.training.eta_v_schedule, "run.training.eta_v_schedule");
    field(a.training.eta_layers_schedule != b.training.eta_layers_schedule,
          "run.training.eta_layers_schedule");
    field(a.training.batch != b.training.batch, "run.training.batch");
    field(a.training.train_set != b.training.train_set, "run.training.train_set");
    field(a.training.alpha_train != b.training.alpha_train, "run.training.alpha_train");
    field(a.training.sampling != b.training.sampling, "run.training.sampling");
    field(a.schedule.alpha_max != b.schedule.alpha_max, "run.schedule.alpha_max");
    field(a.schedule.records != b.schedule.records, "run.schedule.records");
    field(a.schedule.kind != b.schedule.kind, "run.schedule.kind");
    field(a.schedule.alpha_min != b.schedule.alpha_min, "run.schedule.alpha_min");
    field(a.schedule.alpha_max_scale != b.schedule.alpha_max_scale, "run.schedule.alpha_max_scale");
    field(a.schedule.axis_alpha_max != b.schedule.axis_alpha_max, "run.schedule.axis_alpha_max");
    field(a.observer.eg_samples != b.observer.eg_samples, "run.observer.eg_samples");
    field(a.observer.joint_points != b.observer.joint_points, "run.observer.joint_points");
    field(a.observer.divergence_q != b.observer.divergence_q, "run.observer.divergence_q");
    field(a.dynamics != b.dynamics, "run.dynamics");
    field(a.ode_eta2 != b.ode_eta2, "run.ode_eta2");
    // A field of RunParams missing above would let a difference go unseen.
    if (out.empty())
        REQUIRE(a == b);
    return out;
}

FieldSet differing_fields(const CampaignSpec& a, const CampaignSpec& b) {
    FieldSet out = differing_fields(a.points.at(0).params, b.points.at(0).params);
    if (a.seeds != b.seeds)
        out.insert("campaign.seeds");
    if (a.master_seed != b.master_seed)
        out.insert("campaign.master_seed");
    if (a.threads != b.threads)
        out.insert("campaign.threads");
    if (a.save_weights != b.save_weights)
        out.insert("campaign.save_weights");
    if (a.student_from != b.student_from)
        out.insert("campaign.student_from");
    if (a.teacher_from != b.teacher_from)
        out.insert("campaign.teacher_from");
    return out;
}

/// A valid value of `k` other than its default.
std::string other_value(const KeyInfo& k) {
    switch (k.type()) {
    case ValueType::integer:
    case ValueType::widths: {
        const auto* i = std::get_if<IntegerKey>(&k.kind);
        const auto& range = i != nullptr ? i->range : std::get<WidthsKey>(k.kind).range;
        if (i != nullptr && k.default_value == i->word)
            return std::to_string(range.min); // the default is the key's word ("none")
        const std::int64_t d = std::stoll(std::string(k.default_value));
        return std::to_string(range.contains(d + 1) ? d + 1 : d - 1);
    }
    case ValueType::real: {
        if (k.default_value.empty() || k.default_value == std::get<RealKey>(k.kind).word)
            return "0.25";
        const double d = std::stod(std::string(k.default_value));
        if (std::get<RealKey>(k.kind).range == RealRange::unit_interval)
            return d != 0.5 ? "0.5" : "0.25"; // a cosine (teacher-overlap): within [0, 1]
        return number_text(d != 0.0 ? 2.0 * d : 0.5);
    }
    case ValueType::boolean:
    case ValueType::layer_booleans:
        return k.default_value == "true" ? "false" : "true";
    case ValueType::layer_reals:
        return "0.25"; // eta-layers follows eta: no default of its own
    case ValueType::choice: {
        // A choice with parameters (inverse:10, poly:1:0:-0.5) sets every field the key names.
        const auto default_name = Configuration{}.value(k.name);
        for (const auto c : k.choices())
            if (c != default_name && c.find(':') != std::string_view::npos)
                return std::string(c);
        for (const auto c : k.choices())
            if (c != default_name)
                return std::string(c);
        break;
    }
    }
    FAIL("no value other than the default for " << k.name);
    return {};
}

} // namespace

TEST_CASE("every key sets the fields it names and nothing else", "[keys]") {
    for (const auto& k : keys()) {
        const std::string v = other_value(k);
        INFO("key " << k.name << " = " << v);
        // switch-at = 10:20 needs three teachers (at most teachers - 1 switches), a per-layer
        // schedule its rate (docs/theory.md §6b): set in both.
        Configuration c;
        if (k.name == "switch-at")
            c.set("teachers", "3");
        if (k.name == "eta-v-schedule")
            c.set("learn-v", "true");
        if (k.name == "eta-layers-schedule")
            c.set("K", "3x2");
        const CampaignSpec base = c.expand();
        c.set(k.name, v);
        const FieldSet named(k.fields.begin(), k.fields.end());
        CHECK(differing_fields(base, c.expand()) == named);
    }
}

TEST_CASE("the registry's defaults are the engine's defaults", "[keys]") {
    CHECK(Configuration{}.expand().points.at(0).params == RunParams{});
}

TEST_CASE("validate() checks every run key against the range the registry reads", "[keys]") {
    // Each key's setter writes a value just outside the key's range straight into RunParams;
    // validate() must refuse it naming this key and the same allowed text.
    for (const auto& k : keys()) {
        if (k.type() != ValueType::integer && k.type() != ValueType::real &&
            k.type() != ValueType::widths && k.type() != ValueType::layer_reals)
            continue;
        if (k.fields.front().starts_with("campaign."))
            continue; // checked by the registry only
        INFO("key " << k.name);
        RunParams p;
        CampaignSpec spec;
        const KeyTarget target{p, spec};
        if (const auto* i = std::get_if<IntegerKey>(&k.kind))
            i->set(target, i->range.min - 1);
        else if (const auto* w = std::get_if<WidthsKey>(&k.kind))
            w->set(target, {static_cast<int>(w->range.min - 1)});
        else if (const auto* l = std::get_if<LayerRealsKey>(&k.kind))
            l->set(target, {l->range == RealRange::positive ? 0.0 : -1.0});
        else {
            const auto& r = std::get<RealKey>(k.kind);
            r.set(target, r.range == RealRange::finite     ? std::numeric_limits<double>::infinity()
                          : r.range == RealRange::positive ? 0.0
                                                           : -1.0);
        }
        try {
            validate(p);
            FAIL("validate() accepted an out-of-range " << k.name);
        } catch (const ConfigError& e) {
            CHECK(e.key() == k.name);
            CHECK(e.allowed() == k.allowed_values());
        }
    }
}

TEST_CASE("a value outside its range is refused when read, naming the range", "[keys][errors]") {
    Configuration c;
    CHECK(plateau::test::error_of<ConfigError>([&] { c.set("records", "1e12"); }) ==
          "invalid value '1e12' for 'records': allowed is an integer from 2 to 2147483647");
    CHECK(plateau::test::error_of<ConfigError>([&] { c.set("K", "2147483648"); }) ==
          "invalid value '2147483648' for 'K': allowed is an integer from 1 to 2147483647");
    CHECK(plateau::test::error_of<ConfigError>([&] { c.set("eg-samples", "1e12"); }) ==
          "invalid value '1e12' for 'eg-samples': allowed is an integer from 100 to 2147483647");
    CHECK(plateau::test::error_of<ConfigError>([&] { c.set("eta", "0.1, -1"); }) ==
          "invalid value '-1' for 'eta': allowed is a finite number > 0");
    CHECK(plateau::test::error_of<ConfigError>([&] { c.set("threads", "5000"); }) ==
          "invalid value '5000' for 'threads': allowed is an integer from 0 to 4096");
}

TEST_CASE("per-layer keys take one value for all layers or one per layer, ':'-separated",
          "[keys][deep]") {
    const auto expand = [](std::string_view K, std::string_view eta_layers,
                           std::string_view learn_layers) {
        Configuration c;
        c.set("K", K);
        c.set("eta-layers", eta_layers);
        c.set("learn-layers", learn_layers);
        return c.expand();
    };
    const CampaignSpec spec = expand("8x4x2", "0.5:2e-1", "off:on");
    const RunParams& p = spec.points.at(0).params;
    CHECK(p.training.eta_layers == std::vector<double>{0.5, 0.2});
    CHECK(p.model.learn_layers == std::vector<bool>{false, true});
    CHECK(layer_value(p.training.eta_layers, 1) == 0.2);
    // Settings record the canonical text of a list, and a single value stays a number.
    const auto setting = [&](const CampaignSpec& s, std::string_view key) {
        for (const auto& c : s.points.at(0).settings)
            if (c.key == key)
                return c;
        FAIL("no setting " << key);
        return Coordinate{};
    };
    CHECK(setting(spec, "eta-layers").text == "0.5:0.2");
    CHECK(setting(spec, "learn-layers").text == "false:true");
    const CampaignSpec one = expand("8x4x2", "0.3", "true");
    CHECK(setting(one, "eta-layers").text.empty());
    CHECK(setting(one, "eta-layers").number == 0.3);
    CHECK(one.points.at(0).params.training.eta_layers == std::vector<double>{0.3});

    // Errors name the key, the value and what is allowed.
    using plateau::test::error_of;
    CHECK(error_of<ConfigError>([&] { expand("8x4x2", "0.5:0.2:0.1", "true"); }) ==
          "invalid value '0.5:0.2:0.1' for 'eta-layers': allowed is one value for every layer "
          "above the first, or 2 (one per layer W_2..W_3 of K = 8x4x2, as 0.5:0.2)");
    CHECK(error_of<ConfigError>([&] { expand("8x4", "true", "true:false"); }) ==
          "invalid value 'true' for 'eta-layers': allowed is a finite number > 0, one for every "
          "layer above the first or one per layer as 0.5:0.2, or a comma-separated list, "
          "linspace(a, b, n) or logspace(a, b, n)");
    CHECK(error_of<ConfigError>([&] { expand("8x4", "0.5", "true:false"); }) ==
          "invalid value 'true:false' for 'learn-layers': allowed is a single value (K = 8x4 has "
          "one layer above the first)");
    CHECK(error_of<ConfigError>([&] { expand("8", "0.5:0.5", "true"); }) ==
          "invalid value '0.5:0.5' for 'eta-layers': allowed is a single value (K = 8 has no "
          "layer above the first)");
    CHECK(error_of<ConfigError>([&] { expand("8x4x2", "0.5:-1", "true"); }) ==
          "invalid value '0.5:-1' for 'eta-layers': allowed is a finite number > 0");
    CHECK(error_of<ConfigError>([&] { expand("8x4x2", "0.5:", "true"); }) ==
          "invalid value '0.5:' for 'eta-layers': allowed is a finite number > 0, one for every "
          "layer above the first or one per layer as 0.5:0.2, or a comma-separated list, "
          "linspace(a, b, n) or logspace(a, b, n)");
    CHECK(error_of<ConfigError>([&] { expand("8x4x2", "0.5", "true:maybe"); }) ==
          "invalid value 'true:maybe' for 'learn-layers': allowed is true or false, one for every "
          "layer above the first or one per layer as true:false");
    // A sweep of lists: one text coordinate.
    Configuration c;
    c.set("K", "8x4x2");
    c.set("eta-layers", "0.5, 0.5:0.1");
    const CampaignSpec sweep = c.expand();
    REQUIRE(sweep.points.size() == 2);
    CHECK(sweep.points.at(1).params.training.eta_layers == std::vector<double>{0.5, 0.1});
}

TEST_CASE("activation names and their alias come from models/activation.hpp", "[keys]") {
    const auto* g = find_key("activation");
    const auto* h = find_key("output-activation");
    REQUIRE(g != nullptr);
    REQUIRE(h != nullptr);
    REQUIRE(g->choices().size() == all_activation_kinds.size());
    for (std::size_t i = 0; i + 1 < all_activation_kinds.size(); ++i)
        CHECK(g->choices()[i] == name(all_activation_kinds[i]));
    CHECK(g->choices().back() == "poly:1:0:-0.5"); // poly's choice is an example of its form
    REQUIRE(h->choices().size() == output_kinds.size());
    for (std::size_t i = 0; i < output_kinds.size(); ++i)
        CHECK(h->choices()[i] == output_name(output_kinds[i]));
    // "identity" and "linear" name the same function: each key writes its own canonical name.
    Configuration c;
    c.set("activation", "identity");
    c.set("teacher-output-activation", "linear");
    CHECK(c.value("activation") == "linear");
    CHECK(c.value("teacher-output-activation") == "identity");
    CHECK(plateau::test::error_of<ConfigError>([&] { c.set("output-activation", "relu"); }) ==
          "invalid value 'relu' for 'output-activation': allowed is one of identity, tanh; or a "
          "comma-separated list");
}

TEST_CASE("the hashed INI of the default configuration does not change", "[keys]") {
    // This text's SHA-256 identifies the files of the default configuration
    // (tests/python/test_golden.py checks the hashes of five more).
    CHECK(Configuration{}.to_ini(IniScope::results) ==
          "# plateau run configuration (fully resolved)\n"
          "N = 500\nK = 2\nM = 2\neta = 0.5\nlearn-v = false\nactivation = erf\n"
          "teacher-activation = erf\noutput-activation = identity\n"
          "teacher-output-activation = identity\ngamma = 1\nv0 = 1\nv-star = 1\nq0 = 0.2\n"
          "teacher-init = orthonormal\nnoise = 0\nalpha-max = 300\nalpha-min = 0.01\n"
          "records = 100\nschedule = log\neg-samples = 20000\ndivergence-q = 1e+08\n"
          "seeds = 8\nseed = 1\n");
}

TEST_CASE("keys added later are hashed only when set away from their default", "[keys]") {
    const KeyInfo later{.name = "later",
                        .default_value = "3",
                        .help = "a key added after files exist",
                        .hashed = Hashed::unless_default,
                        .fields = {},
                        .kind = IntegerKey{{0, 10}, nullptr}};
    CHECK_FALSE(in_ini(later, {"3"}, IniScope::results));
    CHECK(in_ini(later, {"4"}, IniScope::results));
    CHECK(in_ini(later, {"3", "4"}, IniScope::results));
    CHECK(in_ini(later, {"3"}, IniScope::everything));
    // The keys of the files written before keys could be added (a frozen list, not the
    // registry retyped): each stays listed at its default (threads never); every other key must
    // be unless_default, or the files of old configurations would hash differently.
    std::istringstream words("N K M eta eta-v learn-v activation teacher-activation "
                             "output-activation teacher-output-activation gamma v0 v-star q0 "
                             "teacher-init noise alpha-max alpha-min records schedule eg-samples "
                             "divergence-q seeds seed threads");
    const std::set<std::string> first{std::istream_iterator<std::string>(words), {}};
    for (const auto& k : keys()) {
        INFO("key " << k.name);
        if (k.name == "threads")
            CHECK(k.hashed == Hashed::never);
        else if (first.contains(std::string(k.name)))
            CHECK(k.hashed == Hashed::always);
        else
            CHECK(k.hashed == Hashed::unless_default);
    }
}

TEST_CASE("the README lists every key in registry order", "[keys]") {
    std::ifstream in(std::string(PLATEAU_SOURCE_DIR) + "/README.md");
    REQUIRE(in);
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    const std::string bullet = "- Keys: `";
    const auto begin = text.find(bullet);
    REQUIRE(begin != std::string::npos);
    const auto end = text.find('`', begin + bullet.size());
    REQUIRE(end != std::string::npos);
    // Compare the words as one line each, so that a failure shows both lists.
    std::istringstream words(text.substr(begin + bullet.size(), end - begin - bullet.size()));
    std::string readme;
    for (std::string word; words >> word;)
        readme += (readme.empty() ? "" : " ") + word;
    std::string registry;
    for (const auto& k : keys())
        registry += (registry.empty() ? "" : " ") + std::string(k.name);
    CHECK(readme == registry);
}

TEST_CASE("a grid too large for 2^40 runs is refused before its size overflows", "[keys][errors]") {
    // 32^12 * 2^4 = 2^64 grid points: the product wrapped to 0 before.
    Configuration c;
    for (const char* key : {"eta", "eta-v", "gamma", "v0", "v-star", "q0", "noise", "divergence-q"})
        c.set(key, "linspace(0.1, 3.2, 32)");
    for (const char* key : {"N", "K", "M", "eg-samples"})
        c.set(key, "linspace(100, 131, 32)");
    c.set("learn-v", "true, false");
    c.set("teacher-init", "orthonormal, gaussian");
    c.set("output-activation", "identity, tanh");
    c.set("teacher-output-activation", "identity, tanh");
    const std::string e = plateau::test::error_of<ConfigError>([&] { (void)c.expand(); });
    CHECK(e.ends_with("allowed is a list that keeps the campaign at most 2^40 runs (grid points x "
                      "seeds)"));
}

TEST_CASE("a long range is read in linear time", "[keys]") {
    // Removing repeated values compared every pair before: minutes for 100000 points.
    const auto start = std::chrono::steady_clock::now();
    Configuration c;
    c.set("eta", "linspace(1, 2, 100000)");
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    CHECK(c.values("eta").size() == 100000);
    CHECK(took.count() < 10.0);
}

TEST_CASE("plateau run accepts exact option names only", "[keys][cli]") {
    // "--n" was taken for "--noise" (Program_options' prefix guessing).
    const auto guessed = plateau::test::run_plateau("run --n 0.1 --print-config");
    CHECK(guessed.status == 2);
    CHECK(guessed.output.starts_with("plateau run: unknown key 'n' (value '0.1'): did you mean "
                                     "'N'? allowed keys are N, K, M,"));
    const auto exact = plateau::test::run_plateau("run --noise 0.1 --print-config");
    CHECK(exact.status == 0);
    CHECK(exact.output.find("\nnoise = 0.1\n") != std::string::npos);
}

TEST_CASE("a key follows an earlier key of its own type", "[keys]") {
    for (std::size_t a = 0; a < keys().size(); ++a) {
        const KeyInfo& k = keys()[a];
        if (k.follows.empty())
            continue;
        INFO("key " << k.name << " follows " << k.follows);
        CHECK(k.default_value.empty());
        const KeyInfo* followed = find_key(k.follows);
        REQUIRE(followed != nullptr);
        CHECK(followed < &k);
        // ... or a per-layer key follows a scalar (one value for every layer): eta-layers.
        CHECK((followed->type() == k.type() ||
               (k.type() == ValueType::layer_reals && followed->type() == ValueType::real)));
    }
    // eta-v takes each grid point's eta unless set.
    Configuration c;
    c.set("eta", "0.1, 0.3");
    const auto spec = c.expand();
    CHECK(spec.points.at(1).params.training.eta_v == 0.3);
    c.set("eta-v", "0.2");
    CHECK(c.expand().points.at(1).params.training.eta_v == 0.2);
}

TEST_CASE("gamma-hidden and gamma-output set the slopes of g and h apart", "[keys]") {
    Configuration c;
    c.set("gamma", "1.5, 2");
    const auto both = c.expand();
    const auto& m0 = both.points.at(1).params.model;
    CHECK(m0.student.g.gamma == 2.0);
    CHECK(m0.teacher.h.gamma == 2.0);
    c.set("gamma-hidden", "3");
    c.set("gamma-output", "0.25");
    const auto split = c.expand();
    REQUIRE(split.points.size() == 2); // gamma is still swept, but sets nothing any more
    for (const auto& point : split.points) {
        const auto& m = point.params.model;
        CHECK(m.student.g.gamma == 3.0);
        CHECK(m.teacher.g.gamma == 3.0);
        CHECK(m.student.h.gamma == 0.25);
        CHECK(m.teacher.h.gamma == 0.25);
    }
    // Unset, they are not in the hashed text: existing files keep their config_sha256.
    Configuration plain;
    CHECK(plain.to_ini(IniScope::results).find("gamma-") == std::string::npos);
    CHECK(plain.to_ini(IniScope::everything).find("# gamma-output follows gamma\n") !=
          std::string::npos);
}

TEST_CASE("boolean keys work as bare flags, INI lines take comments", "[keys][cli]") {
    using plateau::test::run_plateau;
    const auto bare = run_plateau("run --learn-v --print-config");
    CHECK(bare.status == 0);
    CHECK(bare.output.find("\nlearn-v = true\n") != std::string::npos);
    const auto before_option = run_plateau("run --learn-v --eta 0.3 --print-config");
    CHECK(before_option.status == 0);
    CHECK(before_option.output.find("\nlearn-v = true\n") != std::string::npos);
    const auto valued = run_plateau("run --learn-v off --print-config");
    CHECK(valued.status == 0);
    CHECK(valued.output.find("\nlearn-v = false\n") != std::string::npos);

    plateau::test::TempDir dir;
    const std::string ini = dir / "c.ini";
    std::ofstream(ini) << "# a campaign\neta = 0.3  # faster\nK = 3 ; three\n";
    const auto read = run_plateau("run " + ini + " --print-config");
    CHECK(read.status == 0);
    CHECK(read.output.find("\neta = 0.3\n") != std::string::npos);
    CHECK(read.output.find("\nK = 3\n") != std::string::npos);
    // --print-config names eta-v even when it follows eta (as a comment: the hashed text of
    // the results INI is unchanged).
    CHECK(read.output.find("\n# eta-v follows eta\n") != std::string::npos);
}

TEST_CASE("a key set twice in one INI file is refused, naming both lines", "[keys][cli]") {
    using plateau::test::run_plateau;
    plateau::test::TempDir dir;
    const std::string ini = dir / "c.ini";
    // A sweep meant as a list, written as two lines: the last value used to win silently.
    std::ofstream(ini) << "# a sweep\neta = 0.5\nK = 3\n\neta = 0.9 ; meant as a list\n";
    const std::string out = dir / "out.h5";
    const auto twice = run_plateau("run " + ini + " --alpha-max 0.1 -o " + out);
    CHECK(twice.status == 2);
    CHECK(twice.output == "plateau run: " + ini +
                              ":5: key 'eta' is set twice, on lines 2 and 5: allowed is one line "
                              "per key (a sweep is one list: 'eta = a, b, c')\n");
    CHECK_FALSE(std::filesystem::exists(out));
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path()),
                        std::filesystem::directory_iterator{}) == 1); // only c.ini
    // The same in a file with \r\n line ends: the line numbers count each line once.
    std::ofstream(ini, std::ios::binary) << "K = 3\r\nK = 2\r\n";
    const auto crlf = run_plateau("run " + ini + " --print-config");
    CHECK(crlf.status == 2);
    CHECK(crlf.output.find(":2: key 'K' is set twice, on lines 1 and 2:") != std::string::npos);
    // Once per file, the command line still overrides it.
    std::ofstream(ini) << "eta = 0.5\n";
    const auto over = run_plateau("run " + ini + " --eta 0.9 --print-config");
    CHECK(over.status == 0);
    CHECK(over.output.find("\neta = 0.9\n") != std::string::npos);
}

TEST_CASE("hidden-layer widths: 8x4 is one value, a comma still sweeps", "[keys]") {
    Configuration c;
    c.set("K", "8x4");
    CHECK(c.values("K") == std::vector<std::string>{"8x4"});
    c.set("K", "8x4, 4x4");
    CHECK(c.values("K") == std::vector<std::string>{"8x4", "4x4"});
    c.set("M", "4x2");
    CHECK(c.values("M") == std::vector<std::string>{"4x2"});
    CHECK(
        plateau::test::error_of<ConfigError>([&] { c.set("K", "8x"); })
            .starts_with(
                "invalid value '8x' for 'K': allowed is an integer from 1 to 2147483647 per hidden "
                "layer, layers as 8x4 from the input up"));
    CHECK(plateau::test::error_of<ConfigError>([&] { c.set("K", "8x0"); }) ==
          "invalid value '8x0' for 'K': allowed is an integer from 1 to 2147483647");
    // One layer is the two-layer network of Eq. (1): K = 3 sets widths {3}.
    Configuration one;
    one.set("K", "3");
    CHECK(one.expand().points.at(0).params.model.student.widths == std::vector<int>{3});
    // Deeper networks (docs/theory.md §12): K = 8x4 sets widths {8, 4}; at most
    // limits::max_hidden_layers layers.
    Configuration deep;
    deep.set("K", "8x4");
    CHECK(deep.expand().points.at(0).params.model.student.widths == std::vector<int>{8, 4});
    RunParams p;
    p.model.teacher.widths = std::vector<int>(limits::max_hidden_layers + 1, 2);
    CHECK(plateau::test::error_of<ConfigError>([&] { validate(p); }) ==
          "invalid value '2x2x2x2x2x2x2x2x2' for 'M': allowed is 1 to 8 hidden-layer widths (8x4)");
}
