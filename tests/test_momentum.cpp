// Heavy-ball momentum (docs/theory.md §6c; engine/simulation/batch_trainer.hpp): the update
// against a plain loop of Eq. (6c.1) (on-line, and a batch with weight decay, learned v), the
// velocities at rest at the start, the key and its refusals, and (slow) simulations against the
// N -> infinity flow, SGD's at eta/(1 - beta) (Eq. 6c.3), with a control the statistic refuses.
#include "cli/config.hpp"
#include "engine/core/errors.hpp"
#include "engine/simulation/batch_trainer.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/theory/fixed_point.hpp"
#include "engine/theory/flow.hpp"
#include "models/network.hpp"
#include "theory_helpers.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace plateau;

namespace {

RunParams small_run(std::int64_t N) {
    RunParams p;
    p.model.N = N;
    p.model.student.widths = {3};
    p.model.teacher.widths = {2};
    p.model.learn_v = true;
    p.model.noise = 0.1;
    p.training.eta = 1.5;
    p.training.eta_v = 0.7;
    p.training.momentum = 0.8;
    return p;
}

} // namespace

// u <- beta u - (eta/N) ((1/B) sum_b grad e^b + lambda w), w <- w + u for the rows and v, from
// velocities at zero; the examples read as the trainer reads them (B N normals per update from
// "examples", one label noise per example from "noise"). Checked against breaks: u updated
// after w (w <- w + beta u_old + step), or the velocity not decayed (beta = 1 inside the trainer)
// fail here; the control (momentum 0) must differ.
TEST_CASE("momentum: an update is the heavy-ball rule of Eq. (6c.1)", "[momentum][trainer]") {
    constexpr std::uint64_t seed = 7;
    constexpr std::uint64_t run = 2;
    constexpr std::int64_t updates = 30;
    constexpr double u = std::numeric_limits<double>::epsilon() / 2;
    for (const std::int64_t B : {1, 3})
        for (const std::int64_t N : {64, 500}) {
            RunParams p = small_run(N);
            p.training.batch = {B, false};
            p.training.weight_decay = B > 1 ? 0.05 : 0.0;
            RunState state = make_initial_state(p.model, seed, run);
            RunState plain_state = state;
            const auto trainer = make_trainer(p, seed, run);
            REQUIRE(dynamic_cast<MiniBatchSgd*>(trainer.get()) != nullptr);
            REQUIRE(trainer->advance(state, 11) == StepOutcome::ok);           // in two calls: the
            REQUIRE(trainer->advance(state, updates - 11) == StepOutcome::ok); // velocity stays
            REQUIRE(state.velocity.has_value());
            RunParams plain = p;
            plain.training.momentum = 0.0;
            REQUIRE(make_trainer(plain, seed, run)->advance(plain_state, updates) ==
                    StepOutcome::ok);
            CHECK_FALSE(plain_state.velocity.has_value());

            RowMatrix W = make_initial_state(p.model, seed, run).student();
            const RowMatrix teacher = state.teacher();
            Eigen::VectorXd v = make_initial_state(p.model, seed, run).v;
            RowMatrix uW = RowMatrix::Zero(W.rows(), W.cols());
            Eigen::VectorXd uv = Eigen::VectorXd::Zero(v.size());
            NormalStream examples(StreamKey{seed, run, StreamPurpose::examples});
            NormalStream noise(StreamKey{seed, run, StreamPurpose::noise});
            const double n = static_cast<double>(N);
            const double beta = p.training.momentum;
            const double lambda = p.training.weight_decay;
            for (std::int64_t t = 0; t < updates; ++t) {
                RowMatrix gW = RowMatrix::Zero(W.rows(), W.cols());
                Eigen::VectorXd gv = Eigen::VectorXd::Zero(v.size());
                for (std::int64_t b = 0; b < B; ++b) {
                    Eigen::VectorXd xi(N);
                    examples.fill({xi.data(), static_cast<std::size_t>(N)});
                    const Eigen::VectorXd y = teacher * xi;
                    const double tau =
                        forward(p.model.teacher, {y.data(), 2}, {state.v_star.data(), 2}).output +
                        std::sqrt(p.model.noise) * noise.next();
                    const PerExampleGradient g =
                        per_example_gradient(p.model.student, W, v, xi, tau);
                    gW += g.dW;
                    gv += g.dv;
                }
                const auto Bd = static_cast<double>(B);
                uW = beta * uW - (p.training.eta / n) * (gW / Bd + lambda * W);
                uv = beta * uv - (p.training.eta_v / n) * (gv / Bd + lambda * v);
                W += uW;
                v += uv;
            }
            const double tolerance = 16.0 * u * n * updates * W.cwiseAbs().maxCoeff();
            INFO("B = " << B << ", N = " << N);
            CHECK((RowMatrix(state.student()) - W).cwiseAbs().maxCoeff() < tolerance);
            CHECK((state.v - v).cwiseAbs().maxCoeff() < tolerance);
            CHECK((state.velocity->W - uW).cwiseAbs().maxCoeff() < tolerance);
            CHECK((RowMatrix(plain_state.student()) - W).cwiseAbs().maxCoeff() > 100.0 * tolerance);
        }
}

TEST_CASE("momentum: the key, its range and the options it refuses", "[momentum][keys]") {
    cli::Configuration c;
    c.set("momentum", "0, 0.75, 0.9");
    const CampaignSpec spec = c.expand();
    REQUIRE(spec.points.size() == 3);
    CHECK(spec.points[2].params.training.momentum == 0.9);
    CHECK(momentum_gain(spec.points[0].params.training) == 1.0); // the theory bit-identical
    CHECK(momentum_gain(spec.points[1].params.training) == 4.0);
    cli::Configuration wrong;
    CHECK_THROWS_WITH(wrong.set("momentum", "1"), Catch::Contains("'1'") &&
                                                      Catch::Contains("'momentum'") &&
                                                      Catch::Contains(">= 0 and < 1"));
    CHECK(std::isnan(theory_point_summary([] {
                         RunParams q;
                         q.training.momentum = 0.5;
                         return q;
                     }())
                         .escape_rate));
    const auto refused = [](const RunParams& p, const std::string& key, const std::string& text) {
        try {
            validate(p);
            FAIL("accepted");
        } catch (const ConfigError& e) {
            CHECK(e.key() == key);
            CHECK_THAT(e.what(), Catch::Matchers::Contains(text));
        }
    };
    RunParams p;
    for (const double bad : {1.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
        p.training.momentum = bad;
        refused(p, "momentum", "a finite number >= 0 and < 1");
    }
    p.training.momentum = 0.5;
    validate(p);
    RunParams sphere = p;
    sphere.model.constraint = Constraint::sphere;
    refused(sphere, "momentum", "constraint = sphere");
    RunParams gram = p;
    gram.dynamics = DynamicsKind::gram;
    refused(gram, "momentum", "dynamics = full");
    RunParams teachers = p;
    teachers.model.teachers = 2;
    refused(teachers, "teachers", "momentum = 0");
    try {
        (void)symmetric_fixed_point(p);
        FAIL("the fixed point accepted momentum");
    } catch (const ConfigError& e) {
        CHECK(e.key() == "momentum");
        CHECK_THAT(e.what(), Catch::Matchers::Contains("eta/(1 - beta)"));
    }
}

// The flow's rates are eta/(1 - beta) and eta_v/(1 - beta), in the drift and in the eta^2
// terms alike (Eq. 6c.3): the settings of a run with momentum are those of SGD at that rate.
TEST_CASE("momentum: the theory is SGD's flow at eta/(1 - beta)", "[momentum][theory]") {
    RunParams p = small_run(1000);
    p.training.momentum = 0.75;
    RunParams sgd = p;
    sgd.training.momentum = 0.0;
    sgd.training.eta = 4.0 * p.training.eta;
    sgd.training.eta_v = 4.0 * p.training.eta_v;
    const OrderParameters init = order_parameters_of(make_initial_state(p.model, 3, 0));
    p.schedule.alpha_max = 5;
    sgd.schedule = p.schedule;
    const RunResult a = integrate_theory(p, init);
    const RunResult b = integrate_theory(sgd, init);
    REQUIRE(a.records.size() == b.records.size());
    for (std::size_t i = 0; i < a.records.size(); ++i)
        CHECK(a.records[i].eg == b.records[i].eg);
}

// Simulation (N = 1000, 16 seeds) against plateau ode's flow, erf K = M = 2, label noise 0.1, to
// alpha = 20 through the plateau: beta = 0.5 and 0.9 at eta_eff = eta/(1 - beta) = 1, and a
// batch of 4 with weight decay and a learned v. The statistic of tests/theory_helpers.hpp
// (sim_vs_theory: k = 4.77 SE + 4/N eps_g); the control is SGD's flow at eta itself (no gain),
// which the statistic must refuse.
TEST_CASE("momentum: simulations follow SGD's flow at eta/(1 - beta)", "[momentum][theory][slow]") {
    RunParams p;
    p.model.N = 1000;
    p.model.noise = 0.1;
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 20;
    p.schedule.records = 21;
    SECTION("beta = 0.5") {
        p.training.momentum = 0.5;
        p.training.eta = 0.5;
    }
    SECTION("beta = 0.9") {
        p.training.momentum = 0.9;
        p.training.eta = 0.1;
    }
    SECTION("beta = 0.9, a batch of 4, weight decay, learned v") {
        p.training.momentum = 0.9;
        p.training.eta = 0.1;
        p.training.eta_v = 0.05;
        p.model.learn_v = true;
        p.training.batch = {4, false};
        p.training.weight_decay = 0.02;
    }
    RunParams control = p;
    control.training.momentum = 0.0;
    CHECK(test::sim_vs_theory(p, p, control) > 1.0);
}
