// What a theory file says about itself (schema 1.5, analysis/SCHEMA.md): how it was made (root
// attributes theory_*: method, tolerances, initial condition), and what the theory predicts at
// each grid point besides its runs (plateau_eg, escape_predicted beside escape_rate).
#include "cli_helpers.hpp"
#include "engine/campaign/theory_runs.hpp"
#include "engine/io/h5/h5.hpp"
#include "engine/io/reader.hpp"
#include "engine/io/theory_attributes.hpp"
#include "engine/io/writer.hpp"
#include "engine/theory/escape.hpp"
#include "engine/theory/fixed_point.hpp"
#include "engine/theory/theory.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

using namespace plateau;
using plateau::test::run_plateau;
using plateau::test::TempDir;

namespace {

GridPoint erf_point(double eta, std::int64_t N) {
    GridPoint g;
    g.params.model.N = N;
    g.params.model.student.widths = {2};
    g.params.model.teacher.widths = {2};
    g.params.training.eta = g.params.training.eta_v = eta;
    g.params.schedule.alpha_max = 5;
    g.params.schedule.records = 4;
    return g;
}

/// The value of per-run variable `name` of run `run` of group K2_M2.
double run_value(const std::string& path, const std::string& name, std::size_t run) {
    const h5::File f = h5::File::open_readonly(path);
    return h5::read_all<double>(f.root().open_group("K2_M2").open_dataset(name)).at(run);
}

} // namespace

TEST_CASE("theory file: theory_method names the method of the flow of every grid point",
          "[theory][writer]") {
    CampaignSpec spec;
    spec.points = {erf_point(0.5, 100), erf_point(0.5, 100), erf_point(0.5, 100)};
    CHECK(theory_method_text(spec) == "closed-form");
    spec.points[1].params.model.student.g.kind = ActivationKind::tanh;
    spec.points[1].params.model.teacher.g.kind = ActivationKind::tanh;
    spec.points[2].params.model.student.h.kind = ActivationKind::tanh;
    CHECK(theory_method(spec.points[1].params.model) == TheoryMethod::tensor);
    CHECK(theory_method(spec.points[2].params.model) == TheoryMethod::joint);
    // Several methods: one word per grid point, in grid-point order.
    CHECK(theory_method_text(spec) == "closed-form tensor joint");
    spec.points.erase(spec.points.begin());
    spec.points.pop_back();
    CHECK(theory_method_text(spec) == "tensor");
    // K + M > 4: tanh by the nested quadrature (docs/theory.md §9).
    spec.points[0].params.model.student.widths = {3};
    CHECK(theory_method_text(spec) == "quadrature");
}

TEST_CASE("theory file: the writer stores how it was made as root attributes, the reader reads "
          "them back",
          "[theory][writer]") {
    TempDir dir;
    CampaignSpec spec;
    spec.points = {erf_point(0.5, 100)};
    spec.seeds = 1;
    TheoryAttributes how{"closed-form", 1e-7, 1e-11, "symmetric"};
    how.r0 = 0.05;
    how.asymmetry = 1e-6;
    {
        CampaignWriter w = CampaignWriter::create(dir / "t.h5", spec,
                                                  {"config text", "cmd", "theory", how}, false);
        w.close();
        CampaignWriter s =
            CampaignWriter::create(dir / "s.h5", spec, {"config text", "cmd", "simulation"}, false);
        s.close();
    }
    {
        const h5::File f = h5::File::open_readonly(dir / "t.h5");
        const h5::Group root = f.root();
        CHECK(h5::get_string_attribute(root, "theory_method") == "closed-form");
        CHECK(h5::get_double_attribute(root, "theory_rtol") == 1e-7);
        CHECK(h5::get_double_attribute(root, "theory_atol") == 1e-11);
        CHECK(h5::get_string_attribute(root, "theory_init") == "symmetric");
        CHECK(h5::get_double_attribute(root, "theory_r0") == 0.05);
        CHECK(h5::get_double_attribute(root, "theory_asymmetry") == 1e-6);
        // Only the attributes of the file's initial condition.
        CHECK_FALSE(h5::has_attribute(root, "theory_init_from"));
        CHECK_FALSE(h5::has_attribute(root, "theory_init_average"));
    }
    CHECK(CampaignReader::open(dir / "t.h5").metadata().theory == how);
    // A simulation file has none.
    CHECK_FALSE(CampaignReader::open(dir / "s.h5").metadata().theory.has_value());
    CHECK_FALSE(h5::has_attribute(h5::File::open_readonly(dir / "s.h5").root(), "theory_method"));
}

TEST_CASE("theory file: plateau ode writes its options as attributes, and merge keeps them",
          "[theory][writer][cli]") {
    TempDir dir;
    const std::string config = "--K 2 --M 2 --eta 0.5 --alpha-max 3 --records 4 --quiet";
    auto r = run_plateau("ode " + config +
                         " --init symmetric --r0 0.01 --asymmetry 1e-5 --rtol 1e-7 --atol 1e-10 "
                         "-o " +
                         dir / "sym.h5");
    REQUIRE(r.status == 0);
    const auto sym = CampaignReader::open(dir / "sym.h5").metadata().theory;
    REQUIRE(sym.has_value());
    TheoryAttributes expected{"closed-form", 1e-7, 1e-10, "symmetric"};
    expected.r0 = 0.01;
    expected.asymmetry = 1e-5;
    CHECK(*sym == expected);
    // With the fixed point's predictions (a closed-form flow at K + M <= 8).
    CHECK(run_value(dir / "sym.h5", "plateau_eg", 0) > 0.0);
    CHECK(run_value(dir / "sym.h5", "escape_predicted", 0) > 0.0);

    // The default start, in two shards merged: the merged file says what the parts say
    // (without the predictions: their attribute is merged too).
    const std::string sample =
        config + " --activation tanh --teacher-activation tanh --seeds 2 --predictions none";
    REQUIRE(run_plateau("ode " + sample + " --shard 0/2 -o " + dir / "p0.h5").status == 0);
    REQUIRE(run_plateau("ode " + sample + " --shard 1/2 -o " + dir / "p1.h5").status == 0);
    r = run_plateau("merge " + dir / "m.h5" + " " + dir / "p0.h5" + " " + dir / "p1.h5");
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto part = CampaignReader::open(dir / "p0.h5").metadata().theory;
    REQUIRE(part.has_value());
    CHECK(part->method == "tensor");
    CHECK(part->init == "sample");
    CHECK(part->rtol == OdeParams{}.rtol);
    CHECK(part->atol == OdeParams{}.atol);
    CHECK_FALSE(part->r0.has_value());
    CHECK(part->predictions == PredictionMode::none);
    CHECK(CampaignReader::open(dir / "m.h5").metadata().theory == part);

    // Started from a simulation file, averaged over its seeds.
    REQUIRE(run_plateau("run " + config + " --N 50 --seeds 2 -o " + dir / "sim.h5").status == 0);
    r = run_plateau("ode " + config + " --N 50 --seeds 2 --init-from " + dir / "sim.h5" +
                    " --init-average --predictions none -o " + dir / "avg.h5");
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto avg = CampaignReader::open(dir / "avg.h5").metadata().theory;
    REQUIRE(avg.has_value());
    CHECK(avg->init == "file");
    CHECK(avg->init_from == dir / "sim.h5");
    CHECK(avg->init_average == true);
    CHECK_FALSE(avg->asymmetry.has_value());
}

TEST_CASE("theory file: plateau ode --predictions none stores NaN and says so",
          "[theory][writer][cli]") {
    TempDir dir;
    // One grid point: its predictions take about 1 s of CPU (about 7 under ASan).
    const std::string config = "ode --K 2 --M 2 --eta 0.5 --seeds 2 --alpha-max 3 --records 4 "
                               "--quiet";
    REQUIRE(run_plateau(config + " --predictions auto -o " + dir / "auto.h5").status == 0);
    const auto r = run_plateau(config + " --predictions none -o " + dir / "none.h5");
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto with = CampaignReader::open(dir / "auto.h5").metadata().theory;
    const auto without = CampaignReader::open(dir / "none.h5").metadata().theory;
    REQUIRE(with.has_value());
    REQUIRE(without.has_value());
    CHECK(with->predictions == PredictionMode::automatic);
    CHECK(without->predictions == PredictionMode::none);
    {
        const h5::File f = h5::File::open_readonly(dir / "none.h5");
        CHECK(h5::get_string_attribute(f.root(), "theory_predictions") == "none");
        const h5::File g = h5::File::open_readonly(dir / "auto.h5");
        CHECK_FALSE(h5::get_string_attribute(g.root(), "theory_predictions").has_value());
    }
    for (std::size_t run = 0; run < 2; ++run) {
        CHECK(run_value(dir / "auto.h5", "plateau_eg", run) > 0.0);
        for (const char* name : {"escape_rate", "eta_max", "plateau_eg", "escape_predicted"}) {
            INFO(name);
            CHECK(std::isnan(run_value(dir / "none.h5", name, run)));
        }
    }
    {
        const h5::File a = h5::File::open_readonly(dir / "auto.h5");
        const h5::File b = h5::File::open_readonly(dir / "none.h5");
        CHECK(h5::read_all<double>(a.root().open_group("K2_M2").open_dataset("eg")) ==
              h5::read_all<double>(b.root().open_group("K2_M2").open_dataset("eg")));
    }
    // Bad input: one line naming the key, the value and what is allowed; exit 2; no file.
    const auto bad = run_plateau(config + " --predictions some -o " + dir / "bad.h5");
    CHECK(bad.status == 2);
    CHECK(bad.output ==
          "plateau ode: invalid value 'some' for 'predictions': allowed is auto or none\n");
    CHECK_FALSE(std::filesystem::exists(dir / "bad.h5"));
    const auto fixed = run_plateau("ode --fixed-point --predictions none");
    CHECK(fixed.status == 2);
    CHECK(fixed.output.find("--predictions does not go with --fixed-point") != std::string::npos);
    // A file is resumed with the setting it was written with.
    const auto resumed = run_plateau(config + " --resume -o " + dir / "none.h5");
    CHECK(resumed.status == 2);
}

// [slow]: three escape predictions and an integration to alpha = 3000, about 5 s of CPU.
TEST_CASE("theory file: each run carries its grid point's plateau height and predicted escape",
          "[theory][campaign][slow]") {
    CampaignSpec spec;
    // Two N of one flow: the prediction differs only through the initial asymmetry ~ 1/sqrt(N).
    // N = 10^5 and 10^7 (10^6 and 10^8 before: 29 s, nearly all of it drawing 4 x 10^8 weights
    // for the runs' initial order parameters; now 2.5 s): the slope below is 3.2 % off its
    // asymptote here (4.0 % at 10^4 and 10^6), inside its 5 %.
    spec.points = {erf_point(0.5, 100000), erf_point(0.5, 10000000)};
    spec.seeds = 1;
    const RunParams& params = spec.points.front().params;
    const FixedPoint fp = symmetric_fixed_point(params);
    REQUIRE(fp.converged);
    const EscapePrediction prediction = predict_escape(params, fp);
    REQUIRE(prediction.valid);
    const RunFunction run = theory_runs(spec, sampled_initial_conditions(spec), OdeParams{});
    std::vector<double> escape;
    for (std::int64_t r = 0; r < spec.runs(); ++r) {
        const RunResult result = run(r);
        const auto& extras = result.records.front().extras;
        REQUIRE(extras.count("plateau_eg") == 1);
        REQUIRE(extras.count("escape_predicted") == 1);
        CHECK(extras.at("plateau_eg")(0) == fp.eg);
        CHECK(extras.at("escape_rate")(0) == fp.escape_rate);
        escape.push_back(extras.at("escape_predicted")(0));
        // At the run's own N.
        const auto N = static_cast<double>(spec.point_of(r).params.model.N);
        CHECK(escape.back() == predicted_mean_escape(prediction, N));
        // The law (schema 1.9, docs/theory.md §11.2b): its spread and quantiles at that N.
        CHECK(extras.at("escape_predicted_sd")(0) == predicted_escape_sd(prediction, N));
        CHECK(extras.at("escape_predicted_q10")(0) ==
              predicted_escape_quantile(prediction, N, 0.1));
        CHECK(extras.at("escape_predicted_q50")(0) ==
              predicted_escape_quantile(prediction, N, 0.5));
        CHECK(extras.at("escape_predicted_q90")(0) ==
              predicted_escape_quantile(prediction, N, 0.9));
        CHECK(extras.at("escape_predicted_q10")(0) < extras.at("escape_predicted_q50")(0));
        CHECK(extras.at("escape_predicted_q50")(0) < extras.at("escape_predicted_q90")(0));
        // The whole law (schema 1.13): its quantiles at 0.01 ... 0.99, increasing, the printed
        // ones among them bit for bit, each the quantile function's at its level.
        const Eigen::VectorXd& law = extras.at("escape_predicted_law");
        REQUIRE(law.size() == static_cast<Eigen::Index>(escape_law_levels));
        CHECK(law(9) == extras.at("escape_predicted_q10")(0));
        CHECK(law(49) == extras.at("escape_predicted_q50")(0));
        CHECK(law(89) == extras.at("escape_predicted_q90")(0));
        for (Eigen::Index j = 0; j < law.size(); ++j) {
            CHECK(law(j) ==
                  predicted_escape_quantile(prediction, N,
                                            escape_law_level_values[static_cast<std::size_t>(j)]));
            if (j > 0)
                CHECK(law(j) > law(j - 1));
        }
        // The law it stores is the law whose mean and standard deviation the file prints: the
        // 99 quantiles as equally likely points (the outer 1 % on each side left out) give
        // them up to what the truncation costs. For the d = 1 law of -ln|Z|/lambda (Eq. (11.9)
        // with r = 0) that is, computed: mean 0.019/lambda low (0.2 % here), SD x 0.9309;
        // measured here 0.932 at both N. A law of another N (sigma off by sqrt(10)) would move
        // the mean by ln(10)/(2 lambda), 9 % at least; a law of the wrong width the SD.
        const double points_mean = law.mean();
        const double points_sd =
            std::sqrt((law.array() - points_mean).square().sum() / static_cast<double>(law.size()));
        CHECK(points_mean == Approx(escape.back()).epsilon(0.005));
        CHECK(points_sd == Approx(0.931 * extras.at("escape_predicted_sd")(0)).epsilon(0.005));
    }
    // The escape grows like ln(N) / (2 lambda) (docs/theory.md §11): 100 times N, ln(100) /
    // (2 lambda) later, up to the escape law's departure from its asymptote at these
    // asymmetries (the ODE's escape times have slope fit_slope, not 1/lambda, in -ln eps: 1.3 %
    // apart here; the tabulated departure r(eps) adds about as much): 5 %.
    const double lambda = fp.escape_rate;
    REQUIRE(lambda > 0.0);
    CHECK(escape[1] - escape[0] == Approx(std::log(100.0) / (2.0 * lambda)).epsilon(0.05));
    // The height is where the symmetric trajectory (no asymmetry) settles: eps_g of an
    // integration from the symmetric start, well inside the plateau (its slowest mode decays
    // like e^{-0.0019 alpha}: 1e-4 of the height by alpha = 3000).
    RunParams longer = params;
    longer.schedule.alpha_max = 3000.0;
    longer.schedule.records = 2;
    const RunResult symmetric = integrate_theory(
        longer, symmetric_initial_conditions(params.model, params.model.q0, 0.0, 0.0));
    CHECK(symmetric.records.back().eg == Approx(fp.eg).epsilon(1e-4));
}

TEST_CASE("theory file: a grid point without a fixed point has NaN for its predictions",
          "[theory][campaign]") {
    CampaignSpec spec;
    spec.points = {erf_point(4.0, 100)}; // too large a rate for a plateau (docs/theory.md §11)
    spec.seeds = 1;
    const RunFunction run = theory_runs(spec, sampled_initial_conditions(spec), OdeParams{});
    const RunResult result = run(0);
    const auto& extras = result.records.front().extras;
    CHECK(std::isnan(extras.at("escape_rate")(0)));
    CHECK(std::isnan(extras.at("plateau_eg")(0)));
    CHECK(std::isnan(extras.at("escape_predicted")(0)));
    // The law too, all of it (schema 1.13).
    REQUIRE(extras.at("escape_predicted_law").size() ==
            static_cast<Eigen::Index>(escape_law_levels));
    CHECK(extras.at("escape_predicted_law").array().isNaN().all());
}

TEST_CASE("theory progress: alpha_done moves inside one record interval, step by step",
          "[theory][progress]") {
    // One interval from 0 to alpha_max: before, alpha_done jumped from 0 to alpha_max at its end.
    GridPoint g = erf_point(0.5, 100);
    g.params.model.student.widths = {6};
    g.params.model.teacher.widths = {6};
    OdeParams ode;
    ode.rtol = 1e-11;
    const OrderParameters init =
        symmetric_initial_conditions(g.params.model, g.params.model.q0, 0.0, 1e-3);
    StepCounter done{0};
    TheoryDynamics dynamics(g.params, init, ode, &done);
    std::atomic<bool> finished{false};
    bool ok = false; // Catch2's macros are not thread-safe: checked after the join
    std::vector<std::int64_t> seen;
    std::thread integrate([&] {
        ok = dynamics.advance_to(3000.0);
        finished = true;
    });
    while (!finished) {
        const std::int64_t now = done.load();
        if (seen.empty() || seen.back() != now)
            seen.push_back(now);
        std::this_thread::yield();
    }
    integrate.join();
    REQUIRE(ok);
    const auto end = static_cast<std::int64_t>(3000.0 * alpha_progress_scale);
    CHECK(done.load() == end);
    INFO("accepted steps: " << dynamics.statistics().accepted);
    REQUIRE(dynamics.statistics().accepted > 100);
    // Values strictly between the start and the end were seen while it integrated.
    CHECK(std::count_if(seen.begin(), seen.end(),
                        [&](std::int64_t v) { return v > 0 && v < end; }) > 0);
    CHECK(std::is_sorted(seen.begin(), seen.end()));
}
