// Learning-rate schedules (engine/core/rate_schedule.hpp, docs/theory.md §6b): the forms and
// their text; the on-line step applies eta s(t/N) at step t (against a plain reference loop);
// and simulations (on-line SGD, mini-batches with weight decay, the Gram chain) follow the
// time-dependent ODEs, which a constant-rate ODE does not match.
#include "engine/core/rate_schedule.hpp"

#include "cli/config.hpp"
#include "cli_helpers.hpp"
#include "engine/core/errors.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"
#include "engine/theory/fixed_point.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/mixture_flow.hpp"
#include "engine/theory/theory.hpp"
#include "models/network.hpp"
#include "theory_helpers.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

using namespace plateau;

TEST_CASE("rate schedules: forms, text and factor", "[schedule]") {
    const auto inverse = parse_rate_schedule("inverse:10");
    REQUIRE(inverse.has_value());
    CHECK(inverse->kind == RateScheduleKind::inverse);
    CHECK(inverse->alpha0 == 10.0);
    CHECK(to_text(*inverse) == "inverse:10");
    const auto power = parse_rate_schedule("power:2.5:0.5");
    REQUIRE(power.has_value());
    CHECK(to_text(*power) == "power:2.5:0.5");
    CHECK(to_text(RateSchedule{}) == "constant");
    CHECK(parse_rate_schedule("constant") == RateSchedule{});
    for (const char* bad : {"", "inverse", "inverse:", "inverse:0", "inverse:-1", "inverse:nan",
                            "inverse:inf", "inverse:10:2", "power:10", "power:10:0", "constant:1",
                            "cosine:10", "inverse:1e400", "inverse: 10", "Inverse:10"}) {
        INFO("'" << bad << "'");
        CHECK_FALSE(parse_rate_schedule(bad).has_value());
    }
    // s(alpha): 1 up to alpha0, then alpha0/alpha or (alpha0/alpha)^p (docs/theory.md §6b).
    CHECK(RateSchedule{}.factor(1e9) == 1.0);
    CHECK(inverse->factor(0.0) == 1.0);
    CHECK(inverse->factor(10.0) == 1.0);
    CHECK(inverse->factor(40.0) == 0.25);
    CHECK(power->factor(10.0) == Approx(0.5));
    CHECK(power->factor(1.0) == 1.0);
    RateSchedule bad_alpha0 = *inverse;
    bad_alpha0.alpha0 = 0.0;
    CHECK_FALSE(bad_alpha0.valid());
    RunParams p;
    p.training.eta_schedule = bad_alpha0;
    CHECK_THROWS_WITH(validate(p),
                      Catch::Contains("'eta-schedule'") && Catch::Contains("inverse:0"));
}

TEST_CASE("rate schedules: the configuration key", "[schedule][keys]") {
    cli::Configuration c;
    c.set("eta-schedule", "inverse:20, power:5:0.5");
    const CampaignSpec spec = c.expand();
    REQUIRE(spec.points.size() == 2);
    CHECK(to_text(spec.points[0].params.training.eta_schedule) == "inverse:20");
    CHECK(to_text(spec.points[1].params.training.eta_schedule) == "power:5:0.5");
    cli::Configuration wrong;
    CHECK_THROWS_WITH(wrong.set("eta-schedule", "inverse:-3"),
                      Catch::Contains("'inverse:-3'") && Catch::Contains("'eta-schedule'") &&
                          Catch::Contains("ALPHA0 > 0"));
    // A fixed point has a constant flow: refused with the key named.
    RunParams p;
    p.training.eta_schedule = *parse_rate_schedule("inverse:10");
    CHECK_THROWS_WITH(symmetric_fixed_point(p), Catch::Contains("'eta-schedule'"));
    CHECK(std::isnan(theory_point_summary(p).escape_rate));
}

// The on-line step with a schedule against the reference loop of Eqs. (1)-(5) with eta s(t/N)
// and eta_v s(t/N) at step t. Tolerance from rounding as in tests/test_trainer.cpp
// (c u N S max|W|); a schedule that is ignored, or applied one step late, differs by far more
// (checked: the constant-rate run is refused by the same bound).
// With a per-layer form (eta-v-schedule) v takes eta_v s_v(t/N) instead: `constant` keeps
// eta_v, `inverse:0.01` decays it sooner than eta.
TEST_CASE("rate schedules: the on-line step uses eta s(t/N) at step t", "[schedule][trainer]") {
    constexpr std::uint64_t seed = 5;
    constexpr std::int64_t steps = 40;
    constexpr double u = std::numeric_limits<double>::epsilon() / 2;
    for (const char* form : {"inverse:0.05", "power:0.02:1.5"})
        for (const char* v_form : {"same", "constant", "inverse:0.01"})
            for (const std::int64_t N : {64, 600}) {
                RunParams p;
                p.model.N = N;
                p.model.student.widths = {3};
                p.model.teacher.widths = {2};
                p.model.learn_v = true;
                p.model.noise = 0.1;
                p.training.eta = 2.0;
                p.training.eta_v = 1.0;
                p.training.eta_schedule = *parse_rate_schedule(form);
                if (std::string_view(v_form) != "same")
                    p.training.eta_v_schedule = *parse_rate_schedule(v_form);
                const RateSchedule v_schedule =
                    p.training.eta_v_schedule.value_or(p.training.eta_schedule);
                const std::uint64_t run = 3;
                RunState state = make_initial_state(p.model, seed, run);
                RunState unscheduled = state;
                RowMatrix W = state.student();
                const RowMatrix B = state.teacher();
                Eigen::VectorXd v = state.v;
                OnlineSgd trainer(p, seed, run);
                REQUIRE(trainer.advance(state, steps) == StepOutcome::ok);
                RunParams constant = p;
                constant.training.eta_schedule = {};
                constant.training.eta_v_schedule.reset();
                OnlineSgd plain(constant, seed, run);
                REQUIRE(plain.advance(unscheduled, steps) == StepOutcome::ok);

                NormalStream examples(StreamKey{seed, run, StreamPurpose::examples});
                NormalStream noise(StreamKey{seed, run, StreamPurpose::noise});
                const double n = static_cast<double>(N);
                for (std::int64_t t = 0; t < steps; ++t) {
                    Eigen::VectorXd xi(N);
                    examples.fill({xi.data(), static_cast<std::size_t>(N)});
                    const Eigen::VectorXd y = B * xi;
                    const double tau =
                        forward(p.model.teacher, {y.data(), 2}, {state.v_star.data(), 2}).output +
                        std::sqrt(p.model.noise) * noise.next();
                    const PerExampleGradient g =
                        per_example_gradient(p.model.student, W, v, xi, tau);
                    const double s = p.training.eta_schedule.factor(static_cast<double>(t) / n);
                    const double s_v = v_schedule.factor(static_cast<double>(t) / n);
                    W -= (p.training.eta * s / n) * g.dW;
                    v -= (p.training.eta_v * s_v / n) * g.dv;
                }
                const double tolerance = 8.0 * u * n * steps * W.cwiseAbs().maxCoeff();
                INFO(form << ", eta-v-schedule = " << v_form << ", N = " << N);
                CHECK((state.student() - W).cwiseAbs().maxCoeff() < tolerance);
                CHECK((state.v - v).cwiseAbs().maxCoeff() < tolerance);
                CHECK((unscheduled.student() - W).cwiseAbs().maxCoeff() > 100.0 * tolerance);
            }
}

// Simulation against the ODEs with eta(alpha) = eta alpha0/alpha (inverse:2), erf K = M = 2,
// label noise s^2 = 0.1, N = 1000, to alpha = 20 (eta falls to a tenth): on-line SGD, mini-batches
// of 4 with weight decay 0.02, and the Gram chain. The statistic of tests/theory_helpers.hpp
// (sim_vs_theory: 16 seeds, k = 4.77 SE + 4/N eps_g at each record); the control is the same ODE
// with constant rates, which the statistic must refuse (the comparison sees the schedule). With
// learned v and eta-v-schedule = constant (v keeps eta_v while eta decays) the control is the ODE
// whose v follows eta's schedule.
TEST_CASE("rate schedules: simulations follow the time-dependent ODEs",
          "[schedule][theory][slow]") {
    RunParams p;
    p.model.N = 1000;
    p.model.noise = 0.1;
    p.training.eta = 1.0;
    p.training.eta_schedule = *parse_rate_schedule("inverse:2");
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 20;
    p.schedule.records = 21;
    SECTION("on-line SGD") {}
    SECTION("mini-batches of 4 with weight decay") {
        p.training.batch = {4, false};
        p.training.weight_decay = 0.02;
    }
    SECTION("the Gram chain") {
        p.dynamics = DynamicsKind::gram;
    }
    bool per_layer = false;
    SECTION("learned v keeping its rate (eta-v-schedule = constant)") {
        p.model.learn_v = true;
        p.model.v0 = 0.2; // v far from v* = 1: its rate matters
        p.training.eta_v_schedule = RateSchedule{};
        per_layer = true;
    }
    // The control: rates constant, or here v's rate decaying with eta's.
    RunParams control = p;
    if (per_layer)
        control.training.eta_v_schedule.reset();
    else
        control.training.eta_schedule = {};
    CHECK(test::sim_vs_theory(p, p, control) > 1.0);
}

// cosine:FLOOR, steps:A=F:.. and table:PATH (docs/theory.md §6b, Eqs. 6b.1-6b.2): values at
// chosen alpha, continuity, the text, and the forms refused. Checked against breaks: cos(pi
// alpha/(2 alpha_max)) in the cosine, steps taking F_i only for alpha > A_i, the table
// interpolating from the wrong end (w and 1 - w swapped) each fail here.
TEST_CASE("rate schedules: cosine, steps and their text", "[schedule]") {
    const auto cosine = parse_rate_schedule("cosine:0.1");
    REQUIRE(cosine.has_value());
    CHECK(cosine->kind == RateScheduleKind::cosine);
    CHECK(to_text(*cosine) == "cosine:0.1");
    const RateSchedule c = cosine->with_horizon(20.0);
    CHECK(c.factor(0.0) == 1.0);
    CHECK(c.factor(10.0) == Approx(0.55).epsilon(1e-14)); // half-way: (1 + floor)/2
    CHECK(c.factor(5.0) == Approx(0.1 + 0.9 * (1.0 + std::sqrt(0.5)) / 2).epsilon(1e-14));
    CHECK(c.factor(20.0) == 0.1);
    CHECK(c.factor(25.0) == 0.1);                         // the floor beyond alpha_max
    CHECK(std::abs(c.factor(20.0 - 1e-9) - 0.1) < 1e-15); // continuous at alpha_max
    CHECK(cosine->with_horizon(40.0).factor(20.0) == Approx(0.55).epsilon(1e-14));
    CHECK(parse_rate_schedule("cosine:0")->with_horizon(1.0).factor(1.0) == 0.0);
    CHECK(c != *cosine); // the horizon is set where the schedule is applied, not in the text
    CHECK(to_text(c) == "cosine:0.1");

    const auto steps = parse_rate_schedule("steps:5=0.5:10=0.1");
    REQUIRE(steps.has_value());
    CHECK(to_text(*steps) == "steps:5=0.5:10=0.1");
    CHECK(steps->knots == std::vector<RateKnot>{{5.0, 0.5}, {10.0, 0.1}});
    CHECK(steps->factor(0.0) == 1.0);
    CHECK(steps->factor(std::nextafter(5.0, 0.0)) == 1.0);
    CHECK(steps->factor(5.0) == 0.5);
    CHECK(steps->factor(9.99) == 0.5);
    CHECK(steps->factor(10.0) == 0.1);
    CHECK(steps->factor(1e9) == 0.1);
    CHECK(parse_rate_schedule("steps:0=2")->factor(0.0) == 2.0); // from the start, may rise

    for (const char* bad : {"cosine",
                            "cosine:",
                            "cosine:-0.1",
                            "cosine:1.5",
                            "cosine:0.1:2",
                            "cosine:nan",
                            "steps",
                            "steps:",
                            "steps:5",
                            "steps:5=",
                            "steps:=0.5",
                            "steps:5=0",
                            "steps:5=-1",
                            "steps:10=0.5:5=0.1",
                            "steps:5=0.5:5=0.1",
                            "steps:-1=0.5",
                            "steps:5=0.5=1",
                            "steps:5=0.5:",
                            "steps:5=inf",
                            "table",
                            "table:",
                            "table:rates.txt"}) {
        INFO("'" << bad << "'");
        CHECK_FALSE(parse_rate_schedule(bad).has_value());
    }
    RunParams p;
    p.training.eta_schedule = *steps;
    p.training.eta_schedule.knots[1].alpha = 2.0; // not increasing
    CHECK_THROWS_WITH(validate(p),
                      Catch::Contains("'eta-schedule'") && Catch::Contains("steps:5=0.5:2=0.1"));
}

TEST_CASE("rate schedules: a table file", "[schedule]") {
    const RateSchedule t =
        parse_rate_table("# alpha factor\n0 1\n\n10 0.5  # knee\n20\t0.1\n", "rates.txt");
    CHECK(t.kind == RateScheduleKind::table);
    CHECK(to_text(t) == "table:rates.txt");
    CHECK(t.knots == std::vector<RateKnot>{{0.0, 1.0}, {10.0, 0.5}, {20.0, 0.1}});
    CHECK(t.valid());
    CHECK(t.factor(0.0) == 1.0);
    CHECK(t.factor(2.5) == Approx(0.875).epsilon(1e-14));
    CHECK(t.factor(10.0) == 0.5);
    CHECK(t.factor(15.0) == Approx(0.3).epsilon(1e-14));
    CHECK(t.factor(std::nextafter(10.0, 0.0)) == Approx(0.5).epsilon(1e-14)); // continuous
    CHECK(t.factor(std::nextafter(10.0, 20.0)) == Approx(0.5).epsilon(1e-14));
    CHECK(t.factor(20.0) == 0.1);
    CHECK(t.factor(1e6) == 0.1); // constant beyond the ends
    const RateSchedule late = parse_rate_table("2 0.5\n4 0\n", "late.txt");
    CHECK(late.factor(0.0) == 0.5);
    CHECK(late.factor(3.0) == 0.25);
    CHECK(late.factor(9.0) == 0.0);

    // {file text, the message}: the file and line named, one line.
    const std::vector<std::pair<std::string, std::string>> refused{
        {"0 1\n1\n", "r.txt:2: expected two numbers 'alpha factor', found 1 fields"},
        {"0 1 2\n", "r.txt:1: expected two numbers 'alpha factor', found 3 fields"},
        {"# c\n-1 1\n", "r.txt:2: alpha '-1' is not a finite number >= 0"},
        {"0 x\n", "r.txt:1: factor 'x' is not a finite number >= 0"},
        {"0 -0.5\n", "r.txt:1: factor '-0.5' is not a finite number >= 0"},
        {"0 1\n5 1\n5 0.5\n", "r.txt:3: alpha 5 is not greater than the previous line's 5"},
        {"0 1\n5 1\n3 0.5\n", "r.txt:3: alpha 3 is not greater than the previous line's 5"},
        {"# nothing\n\n", "r.txt: no 'alpha factor' line"},
    };
    for (const auto& entry : refused) {
        const std::string& text = entry.first;     // not a structured binding: Clang 14 cannot
        const std::string& message = entry.second; // capture one in the lambda below
        INFO(text);
        CHECK(test::error_of<RateTableError>([&] { (void)parse_rate_table(text, "r.txt"); }) ==
              message);
    }
}

// The horizon of cosine is the run's alpha-max, in the simulation's step rule and the theory's
// flow alike (checked against a break: flow_settings without with_horizon fails).
TEST_CASE("rate schedules: cosine ends at the run's alpha-max", "[schedule]") {
    RunParams p;
    p.model.N = 100;
    p.schedule.alpha_max = 20;
    p.training.eta_schedule = *parse_rate_schedule("cosine:0.1");
    p.training.eta_v_schedule = *parse_rate_schedule("cosine:0.2");
    p.model.learn_v = true;
    const StepRule rule(p);
    CHECK(rule.rate_factors(0) == RateFactors{1.0, 1.0, 1.0});
    CHECK(rule.rate_factors(1000).w == Approx(0.55).epsilon(1e-14));
    CHECK(rule.rate_factors(1000).v == Approx(0.6).epsilon(1e-14));
    CHECK(rule.rate_factors(2000) == RateFactors{0.1, 0.2, 0.1});
    const FlowSettings s = flow_settings(p);
    CHECK(s.schedules.w.factor(10.0) == Approx(0.55).epsilon(1e-14));
    CHECK(s.schedules.v.factor(10.0) == Approx(0.6).epsilon(1e-14));
    CHECK(s.schedules.w.factor(20.0) == 0.1);
    // The mixture flow too (its settings once kept the schedule without the horizon: s = FLOOR
    // from alpha = 0).
    p.model.inputs = InputKind::mixture;
    p.model.mixture = Mixture::exclusive_or();
    p.model.teacher.widths = {1};
    const MixtureFlowSettings m = mixture_flow_settings(p);
    CHECK(m.schedules.w.factor(0.0) == 1.0);
    CHECK(m.schedules.w.factor(10.0) == Approx(0.55).epsilon(1e-14));
    CHECK(m.schedules.v.factor(10.0) == Approx(0.6).epsilon(1e-14));
}

TEST_CASE("rate schedules: the new forms through the configuration and the CLI",
          "[schedule][keys][cli]") {
    const test::TempDir dir;
    const std::string rates = dir / "rates.txt";
    std::ofstream(rates) << "0 1\n10 0.5\n";
    cli::Configuration c;
    c.set("eta-schedule", "cosine:0.1, steps:5=0.5:10=0.1, table:" + rates);
    const CampaignSpec spec = c.expand();
    REQUIRE(spec.points.size() == 3);
    CHECK(to_text(spec.points[0].params.training.eta_schedule) == "cosine:0.1");
    CHECK(to_text(spec.points[1].params.training.eta_schedule) == "steps:5=0.5:10=0.1");
    CHECK(spec.points[2].params.training.eta_schedule.knots ==
          std::vector<RateKnot>{{0.0, 1.0}, {10.0, 0.5}});
    CHECK(to_text(spec.points[2].params.training.eta_schedule) == "table:" + rates);

    std::ofstream(dir / "bad.txt") << "0 1\n10 -2\n";
    const std::string bad = "table:" + (dir / "bad.txt");
    cli::Configuration wrong;
    CHECK_THROWS_WITH(wrong.set("eta-schedule", bad),
                      Catch::Contains("'eta-schedule'") && Catch::Contains("'" + bad + "'") &&
                          Catch::Contains("bad.txt:2: factor '-2' is not a finite number >= 0"));
    CHECK_THROWS_WITH(wrong.set("eta-schedule", "table:" + (dir / "missing.txt")),
                      Catch::Contains("the file cannot be read"));
    CHECK_THROWS_WITH(wrong.set("eta-schedule", "cosine:2"),
                      Catch::Contains("'cosine:2'") && Catch::Contains("0 <= FLOOR <= 1"));

    // On the command line: one line, exit status 2, no file.
    const std::string out = dir / "out.h5";
    for (const std::string& value :
         {bad, std::string("steps:10=0.5:5=0.1"), std::string("cosine:-1")}) {
        INFO(value);
        const auto r = test::run_plateau("run --eta-schedule " + value + " -o " + out);
        CHECK(r.status == 2);
        CHECK(r.output.starts_with("plateau run: "));
        CHECK(r.output.find("'eta-schedule'") != std::string::npos);
        CHECK(std::ranges::count(r.output, '\n') == 1);
        CHECK_FALSE(std::filesystem::exists(out));
    }

    // A fixed point has a constant flow: every new form refused with the key named.
    for (const std::string& value :
         {std::string("cosine:0.1"), std::string("steps:5=0.5"), "table:" + rates}) {
        INFO(value);
        cli::Configuration one;
        one.set("eta-schedule", value);
        const RunParams p = one.expand().points.front().params;
        CHECK_THROWS_WITH(symmetric_fixed_point(p), Catch::Contains("'eta-schedule'"));
        const auto r = test::run_plateau("ode --fixed-point --eta-schedule " + value);
        CHECK(r.status == 2);
        CHECK(r.output.find("'eta-schedule'") != std::string::npos);
        CHECK(std::ranges::count(r.output, '\n') == 1);
    }
}

// Simulation against the ODEs with the cosine schedule to a floor of 0.1 at alpha_max = 20,
// erf K = M = 2, label noise 0.1, N = 1000 (the inverse test's setting above): on-line SGD and
// the Gram chain, with a constant-rate control the statistic must refuse.
TEST_CASE("rate schedules: simulations follow the ODEs with a cosine schedule",
          "[schedule][theory][slow]") {
    RunParams p;
    p.model.N = 1000;
    p.model.noise = 0.1;
    p.training.eta = 1.0;
    p.training.eta_schedule = *parse_rate_schedule("cosine:0.1");
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 20;
    p.schedule.records = 21;
    SECTION("on-line SGD") {}
    SECTION("the Gram chain") {
        p.dynamics = DynamicsKind::gram;
    }
    RunParams control = p;
    control.training.eta_schedule = {};
    CHECK(test::sim_vs_theory(p, p, control) > 1.0);
}

namespace {

/// Linear K = M = 1, label noise 0.1, eta = eta0/alpha after alpha = 10 (docs/theory.md §6b,
/// "The 1/alpha law"), records at 0, alpha_min and alpha_max on a log schedule.
RunParams linear_inverse(double eta0, double alpha_min, double alpha_max) {
    RunParams p;
    p.model.student.widths = {1};
    p.model.teacher.widths = {1};
    p.model.student.g.kind = p.model.teacher.g.kind = ActivationKind::linear;
    p.model.noise = 0.1;
    p.training.eta = eta0 / 10.0;
    p.training.eta_schedule = *parse_rate_schedule("inverse:10");
    p.schedule.kind = ScheduleKind::log;
    p.schedule.alpha_min = alpha_min;
    p.schedule.alpha_max = alpha_max;
    p.schedule.records = 3; // alpha = 0, alpha_min, alpha_max
    return p;
}

/// C(eta0) of Eq. (6b.4).
double limit_of(double eta0, double noise) {
    return eta0 * eta0 * noise / (2.0 * (2.0 * eta0 - 1.0));
}

} // namespace

// The ODE against Eqs. (6b.4)-(6b.5) at alpha = 10^5 and 10^6: alpha eps_g -> C(eta0) for eta0 =
// 1, 2, 4 (0.1 % at 10^6: the start's memory is down to 0.02 % at eta0 = 1); the slope -2 eta0 of
// ln eps_g at eta0 = 0.3; alpha eps_g - (s^2/8) ln alpha constant at eta0 = 1/2. A schedule applied
// to the drift alone (or to the eta^2 term alone) moves C by far more.
TEST_CASE("rate schedules: the 1/alpha law of linear networks", "[schedule][theory][heavy]") {
    const auto records = [&](double eta0) {
        const RunParams p = linear_inverse(eta0, 1e5, 1e6);
        const OrderParameters start = order_parameters_of(make_initial_state(p.model, 1, 0));
        const RunResult r = integrate_theory(p, start);
        REQUIRE(r.status == RunStatus::completed);
        REQUIRE(r.records.size() == 3); // alpha = 0, 1e5, 1e6
        return std::pair{r.records[1].eg, r.records[2].eg};
    };
    for (const double eta0 : {1.0, 2.0, 4.0}) {
        const auto [at5, at6] = records(eta0);
        INFO("eta0 = " << eta0 << ": alpha eps_g = " << 1e6 * at6
                       << ", C = " << limit_of(eta0, 0.1));
        CHECK(std::abs(1e6 * at6 / limit_of(eta0, 0.1) - 1.0) < 1e-3);
    }
    {
        const auto [at5, at6] = records(0.3);
        INFO("slope " << std::log(at6 / at5) / std::log(10.0));
        CHECK(std::abs(std::log(at6 / at5) / std::log(10.0) + 0.6) < 1e-3);
    }
    {
        const auto [at5, at6] = records(0.5);
        const double c5 = 1e5 * at5 - 0.1 / 8.0 * std::log(1e5);
        const double c6 = 1e6 * at6 - 0.1 / 8.0 * std::log(1e6);
        INFO("alpha eps_g - (s^2/8) ln alpha: " << c5 << " at 1e5, " << c6 << " at 1e6");
        CHECK(std::abs(c6 / c5 - 1.0) < 1e-3);
        CHECK(std::abs(1e6 * at6 / (1e5 * at5) - 1.0) > 1e-2); // the ln alpha term is seen
    }
}

// The exact Gram chain at N = 1000 (16 seeds) to alpha = 2000 for eta0 = 2 and 4 (their start is
// forgotten as alpha^-4 and alpha^-8): the seed mean of alpha eps_g against C(eta0) (1 + 2/N)
// (docs/theory.md §6b, the E|xi|^4 correction), within k = 3.02 standard errors (two tests at a
// family-wise 1 %, t_15 with Bonferroni) plus 0.5 % of C.
TEST_CASE("rate schedules: simulations reach the 1/alpha law", "[schedule][gram][slow]") {
    for (const double eta0 : {2.0, 4.0}) {
        RunParams p = linear_inverse(eta0, 1000, 2000);
        p.model.N = 1000;
        p.dynamics = DynamicsKind::gram;
        std::vector<double> scaled;
        for (std::uint64_t run = 0; run < 16; ++run) {
            const RunResult r = simulate(p, 2026, run);
            REQUIRE(r.status == RunStatus::completed);
            scaled.push_back(2000.0 * r.records.back().eg);
        }
        double mean = 0.0;
        for (const double x : scaled)
            mean += x / 16.0;
        double ss = 0.0;
        for (const double x : scaled)
            ss += (x - mean) * (x - mean);
        const double se = std::sqrt(ss / 15.0 / 16.0);
        const double C = limit_of(eta0, 0.1) * (1.0 + 2.0 / 1000.0);
        INFO("eta0 = " << eta0 << ": alpha eps_g = " << mean << " +- " << se << ", C = " << C);
        CHECK(std::abs(mean - C) < 3.02 * se + 0.005 * C);
    }
}

// The per-layer forms (docs/theory.md §6b) reach the rate they name and no other, in every
// dynamics and every flow: a form `steps:0=0.5` (s = 1/2 from the start) is exactly the run with
// that rate halved (eta_v/N 0.5 and (eta_v/2)/N are the same double), and differs from the run
// without it. Checked against breaks: the Gram chain, the trainers or a flow reading s_w for v
// (or s_v for the layers) each fail here.
// [heavy]: 30 s under ASan (4.8 s in the ci build): the manifold's and mixture's flows.
TEST_CASE("rate schedules: a per-layer form scales its own rate alone",
          "[schedule][gram][theory][heavy]") {
    const RateSchedule half = *parse_rate_schedule("steps:0=0.5");
    const auto same_records = [](const RunResult& a, const RunResult& b) {
        REQUIRE(a.records.size() == b.records.size());
        for (std::size_t i = 0; i < a.records.size(); ++i)
            if (a.records[i].eg != b.records[i].eg || a.records[i].R != b.records[i].R)
                return false;
        return true;
    };
    RunParams p;
    p.model.N = 200;
    p.model.student.widths = {3};
    p.model.teacher.widths = {2};
    p.model.learn_v = true;
    p.model.noise = 0.05;
    p.training.eta = 1.0;
    p.training.eta_v = 0.5;
    p.training.eta_schedule = *parse_rate_schedule("inverse:1");
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 3;
    p.schedule.records = 4;
    struct Form {
        const char* what;
        bool layers; ///< eta-layers-schedule (a deeper student), else eta-v-schedule
    };
    for (const Form form : {Form{"eta-v-schedule", false}, Form{"eta-layers-schedule", true}}) {
        RunParams q = p;
        if (form.layers) {
            q.model.student.widths = {3, 2};
            q.model.teacher.widths = {2, 2};
            q.training.eta_layers = {0.8};
        }
        for (const auto& [what, dynamics, batch, momentum] :
             {std::tuple{"on-line SGD", DynamicsKind::full, 1, 0.0},
              std::tuple{"mini-batches of 3 with momentum", DynamicsKind::full, 3, 0.5},
              std::tuple{"the Gram chain with momentum", DynamicsKind::gram, 1, 0.5}}) {
            INFO(form.what << ", " << what);
            RunParams scheduled = q;
            scheduled.dynamics = dynamics;
            scheduled.training.batch = {batch, false};
            scheduled.training.momentum = momentum;
            RunParams halved = scheduled;
            RunParams plain = scheduled; // the rate whole, with a constant schedule
            if (form.layers) {
                scheduled.training.eta_layers_schedule = half;
                halved.training.eta_layers = {0.4};
                halved.training.eta_layers_schedule = RateSchedule{};
                plain.training.eta_layers_schedule = RateSchedule{};
            } else {
                scheduled.training.eta_v_schedule = half;
                halved.training.eta_v = 0.25;
                halved.training.eta_v_schedule = RateSchedule{};
                plain.training.eta_v_schedule = RateSchedule{};
            }
            validate(scheduled);
            const RunResult a = simulate(scheduled, 7, 1);
            const RunResult b = simulate(halved, 7, 1);
            const RunResult c = simulate(plain, 7, 1);
            REQUIRE(a.status == RunStatus::completed);
            CHECK(same_records(a, b));
            CHECK_FALSE(same_records(a, c));
        }
    }
    // The flows: eta-v-schedule = steps:0=0.5 is eta_v/2 with v's rate constant, for Gaussian
    // inputs, mixtures, the hidden manifold and two teachers.
    RunParams gaussian = p;
    RunParams mixture = p;
    mixture.model.inputs = InputKind::mixture;
    mixture.model.mixture = Mixture::exclusive_or();
    mixture.model.teacher.widths = {1};
    RunParams manifold = p;
    manifold.model.inputs = InputKind::hidden_manifold;
    manifold.model.manifold.latent_ratio = 0.5;
    RunParams teachers = p;
    teachers.model.teachers = 2;
    teachers.model.switch_at = {1.5};
    for (const auto& [what, base] :
         {std::pair{"Gaussian inputs", gaussian}, std::pair{"mixture", mixture},
          std::pair{"hidden manifold", manifold}, std::pair{"two teachers", teachers}}) {
        INFO(what);
        RunParams scheduled = base;
        scheduled.training.eta_v_schedule = half;
        validate(scheduled);
        RunParams halved = base;
        halved.training.eta_v = 0.25;
        halved.training.eta_v_schedule = RateSchedule{};
        RunParams plain = halved;
        plain.training.eta_v = 0.5;
        const OrderParameters init = sample_initial_order_parameters(base, 7, 1);
        const RunResult a = integrate_theory(scheduled, init);
        REQUIRE(a.status == RunStatus::completed);
        CHECK(same_records(a, integrate_theory(halved, init)));
        CHECK_FALSE(same_records(a, integrate_theory(plain, init)));
    }
    // A form that changes in time: at alpha = 4 the flow with eta s(4) = eta/4 (inverse:1) and
    // eta_v kept (eta-v-schedule = constant) is the flow at those constant rates.
    RunParams kept = p;
    kept.training.eta_v_schedule = RateSchedule{};
    RunParams frozen = p;
    frozen.training.eta = 0.25;
    frozen.training.eta_schedule = RateSchedule{};
    const OrderParameters init = sample_initial_order_parameters(p, 7, 1);
    PackedFlow f(kept, init);
    PackedFlow g(frozen, init);
    Eigen::VectorXd y;
    f.packing().pack(init.Q, init.R, init.v, y);
    Eigen::VectorXd df;
    Eigen::VectorXd dg;
    REQUIRE(f(4.0, y, df));
    REQUIRE(g(y, dg));
    CHECK(df == dg);
    REQUIRE(f(2.0, y, df));
    CHECK(df != dg);
}

// eta-v-schedule and eta-layers-schedule (docs/theory.md §6b): `same` by default (eta-schedule's
// s for every rate), any form of eta-schedule otherwise; a form for a rate that is not used is
// refused (it would change nothing), as is a bad form, with its key named; fixed points refuse a
// per-layer form that is not constant.
TEST_CASE("rate schedules: the per-layer keys", "[schedule][keys][cli]") {
    cli::Configuration defaults;
    const RunParams d = defaults.expand().points.front().params;
    CHECK_FALSE(d.training.eta_v_schedule.has_value());
    CHECK_FALSE(d.training.eta_layers_schedule.has_value());
    CHECK(rate_schedules(d).is_constant());

    cli::Configuration c;
    c.set("learn-v", "true");
    c.set("K", "3x2");
    c.set("eta-schedule", "inverse:5");
    c.set("eta-v-schedule", "same, constant, cosine:0.1");
    c.set("eta-layers-schedule", "steps:2=0.5");
    const CampaignSpec spec = c.expand();
    REQUIRE(spec.points.size() == 3);
    const LayerSchedules first = rate_schedules(spec.points[0].params);
    CHECK(first.v == first.w);
    CHECK(to_text(first.layers) == "steps:2=0.5");
    CHECK(rate_schedules(spec.points[1].params).v.is_constant());
    const LayerSchedules third = rate_schedules(spec.points[2].params);
    CHECK(to_text(third.v) == "cosine:0.1");
    CHECK(third.v.horizon == spec.points[2].params.schedule.alpha_max);
    CHECK(third.factors(8.0).w == 5.0 / 8.0);

    const auto refused = [](const std::string& settings, const std::string& key,
                            const std::string& allowed) {
        INFO(settings);
        const auto r = test::run_plateau("run " + settings + " -o /nonexistent-dir/x.h5");
        CHECK(r.status == 2);
        CHECK(std::ranges::count(r.output, '\n') == 1);
        CHECK(r.output.find("'" + key + "'") != std::string::npos);
        CHECK(r.output.find(allowed) != std::string::npos);
    };
    refused("--eta-v-schedule inverse:0", "eta-v-schedule", "same (eta-schedule's) or");
    refused("--learn-v true --eta-layers-schedule cosine:3", "eta-layers-schedule",
            "0 <= FLOOR <= 1");
    refused("--eta-v-schedule constant", "eta-v-schedule", "learn-v = false");
    refused("--learn-v true --eta-layers-schedule inverse:2", "eta-layers-schedule",
            "without a learned layer above the first");
    refused("--K 3x2 --learn-layers false --eta-layers-schedule inverse:2", "eta-layers-schedule",
            "without a learned layer above the first");
    refused("--learn-v true --eta-v-schedule table:/nonexistent-dir/r.txt", "eta-v-schedule",
            "the file cannot be read");

    RunParams p;
    p.model.learn_v = true;
    p.training.eta_v_schedule = *parse_rate_schedule("inverse:10");
    CHECK_THROWS_WITH(symmetric_fixed_point(p),
                      Catch::Contains("'eta-v-schedule'") && Catch::Contains("inverse:10"));
    CHECK(std::isnan(theory_point_summary(p).escape_rate));
    p.training.eta_v_schedule = RateSchedule{}; // constant: a fixed point exists
    CHECK_NOTHROW(validate(p));
}
