// Learning-rate schedules (engine/core/rate_schedule.hpp, docs/theory.md §6b): the forms and
// their text; the on-line step applies eta s(t/N) at step t (against a plain reference loop);
// and simulations (on-line SGD, mini-batches with weight decay, the Gram chain) follow the
// time-dependent ODEs, which a constant-rate ODE does not match.
#include "engine/core/rate_schedule.hpp"

#include "cli/config.hpp"
#include "engine/core/errors.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"
#include "engine/theory/fixed_point.hpp"
#include "models/network.hpp"
#include "theory_helpers.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

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
    RateSchedule bad_alpha0{RateScheduleKind::inverse, 0.0, 1.0};
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
TEST_CASE("rate schedules: the on-line step uses eta s(t/N) at step t", "[schedule][trainer]") {
    constexpr std::uint64_t seed = 5;
    constexpr std::int64_t steps = 40;
    constexpr double u = std::numeric_limits<double>::epsilon() / 2;
    for (const char* form : {"inverse:0.05", "power:0.02:1.5"})
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
                const PerExampleGradient g = per_example_gradient(p.model.student, W, v, xi, tau);
                const double s = p.training.eta_schedule.factor(static_cast<double>(t) / n);
                W -= (p.training.eta * s / n) * g.dW;
                v -= (p.training.eta_v * s / n) * g.dv;
            }
            const double tolerance = 8.0 * u * n * steps * W.cwiseAbs().maxCoeff();
            INFO(form << ", N = " << N);
            CHECK((state.student() - W).cwiseAbs().maxCoeff() < tolerance);
            CHECK((state.v - v).cwiseAbs().maxCoeff() < tolerance);
            CHECK((unscheduled.student() - W).cwiseAbs().maxCoeff() > 100.0 * tolerance);
        }
}

// Simulation against the ODEs with eta(alpha) = eta alpha0/alpha (inverse:2), erf K = M = 2,
// label noise s^2 = 0.1, N = 1000, to alpha = 20 (eta falls to a tenth): on-line SGD, mini-batches
// of 4 with weight decay 0.02, and the Gram chain. The statistic of tests/theory_helpers.hpp
// (sim_vs_theory: 16 seeds, k = 4.77 SE + 4/N eps_g at each record); the control is the same ODE
// with constant rates, which the statistic must refuse (the comparison sees the schedule).
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
    RunParams control = p;
    control.training.eta_schedule = {};
    CHECK(test::sim_vs_theory(p, p, control) > 1.0);
}
