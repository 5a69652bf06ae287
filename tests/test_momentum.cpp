// Heavy-ball momentum (docs/theory.md §6c; engine/simulation/batch_trainer.hpp): the update
// against a plain loop of Eq. (6c.1) (on-line, and a batch with weight decay, learned v), the
// velocities at rest at the start, the key and its refusals, and (slow) simulations against the
// N -> infinity flow, SGD's at eta/(1 - beta) (Eq. 6c.3), with a control the statistic refuses.
#include "cli/config.hpp"
#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/simulation/batch_trainer.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/theory/fixed_point.hpp"
#include "engine/theory/flow.hpp"
#include "models/network.hpp"
#include "run_helpers.hpp"
#include "stat_helpers.hpp"
#include "theory_helpers.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
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
    RunParams gram = p; // the velocity rows count: N > 2K + M
    gram.dynamics = DynamicsKind::gram;
    gram.model.N = 6;
    refused(gram, "N", "an integer > 2K + M = 6 with dynamics = gram and momentum");
    gram.model.N = 7;
    validate(gram);
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

namespace {

/// z with L z = u, L lower triangular; z_i = 0 where the pivot L_ii is zero (row i is in the span
/// of the rows before it, and u_i follows from them: any z_i serves, docs/theory.md §7).
Eigen::VectorXd solve_with_zero_pivots(const Eigen::MatrixXd& L, const Eigen::VectorXd& u) {
    Eigen::VectorXd z = Eigen::VectorXd::Zero(u.size());
    for (Eigen::Index i = 0; i < u.size(); ++i) {
        if (L(i, i) == 0.0)
            continue;
        double s = u(i);
        for (Eigen::Index k = 0; k < i; ++k)
            s -= L(i, k) * z(k);
        z(i) = s / L(i, i);
    }
    return z;
}

} // namespace

// The chain with momentum (docs/theory.md §6c, r = 2K + M: students, teachers, velocities) fed
// the fields of the trainer's own examples must give, step after step, the Gram matrix of the
// trainer's rows and velocities, and its v. From rest: the velocity rows start at zero (zero
// pivots), rank K + M, then fill up. Breaks checked: the velocity rows not moved (u' = u), or
// decayed by s instead of s - 1, fail here at the first or second step.
TEST_CASE("momentum: the Gram chain's steps are the Gram matrices of the trainer's rows",
          "[momentum][gram]") {
    struct Case {
        const char* what;
        std::vector<int> K;
        std::vector<int> M;
        bool learn_v;
        double noise;
        double weight_decay;
        double momentum = 0.7;
    };
    // The last two: a deeper student (W_2 learned, with weight decay), with and without momentum
    // (the chain's W_2 step without momentum once lacked the decay the trainer applies).
    const Case cases[] = {
        {"erf K = M = 2", {2}, {2}, false, 0.0, 0.0},
        {"erf K = 3, M = 2, learned v, noise, weight decay", {3}, {2}, true, 0.3, 2.0},
        {"K = 3x2, M = 2x2, learned v, weight decay", {3, 2}, {2, 2}, true, 0.0, 2.0},
        {"K = 3x2, M = 2x2, weight decay, no momentum", {3, 2}, {2, 2}, true, 0.0, 2.0, 0.0}};
    for (const Case& c : cases) {
        INFO(c.what);
        RunParams p;
        p.model.N = 50;
        p.model.student.widths = c.K;
        p.model.teacher.widths = c.M;
        p.model.learn_v = c.learn_v;
        p.model.noise = c.noise;
        p.model.q0 = 1.0;
        p.model.v0 = 0.7;
        p.training.eta = 1.5;
        p.training.eta_v = 0.8;
        p.training.weight_decay = c.weight_decay;
        p.training.momentum = c.momentum;
        p.dynamics = DynamicsKind::gram;
        validate(p);
        const int K = c.K.front();
        const int M = c.M.front();
        const int V = c.momentum != 0.0 ? K : 0;
        constexpr std::uint64_t seed = 11;
        for (std::uint64_t run = 0; run < 3; ++run) {
            RunState s = make_initial_state(p.model, seed, run);
            GramChain chain(p, order_parameters_of(s));
            REQUIRE(chain.r() == K + M + V);
            const auto trainer = make_trainer(p, seed, run);
            NormalStream examples(StreamKey{seed, run, StreamPurpose::examples});
            NormalStream noise(StreamKey{seed, run, StreamPurpose::noise});
            const auto rows_of = [&](const RunState& state) {
                RowMatrix A = RowMatrix::Zero(chain.r(), p.model.N);
                A.topRows(K + M) = state.weights;
                if (state.velocity)
                    A.bottomRows(K) = state.velocity->W;
                return A;
            };
            for (int t = 0; t < 6; ++t) {
                INFO("step " << t);
                const RowMatrix A = rows_of(s);
                Eigen::VectorXd xi(p.model.N);
                examples.fill({xi.data(), static_cast<std::size_t>(xi.size())});
                const double zeta = c.noise > 0.0 ? std::sqrt(c.noise) * noise.next() : 0.0;
                REQUIRE(trainer->advance(s, 1) == StepOutcome::ok);
                REQUIRE(chain.factorize());
                const Eigen::VectorXd z = solve_with_zero_pivots(chain.factor(), A * xi);
                REQUIRE(chain.step({z.data(), static_cast<std::size_t>(z.size())},
                                   xi.squaredNorm() - z.squaredNorm(), zeta));
                const RowMatrix after = rows_of(s);
                const Eigen::MatrixXd expected = after * after.transpose();
                const double scale = expected.cwiseAbs().maxCoeff();
                CHECK((chain.gram() - expected).cwiseAbs().maxCoeff() < 1e-12 * scale);
                CHECK((chain.v() - s.v).cwiseAbs().maxCoeff() < 1e-13);
                CHECK(chain.gram() == chain.gram().transpose());
                const OrderParameters op = chain.order_parameters();
                for (std::size_t l = 0; l < s.layers.size(); ++l)
                    CHECK((op.layers[l] - s.layers[l]).cwiseAbs().maxCoeff() < 1e-13);
            }
            if (V > 0) // the velocities moved the weights
                CHECK(s.velocity->W.norm() > 1e-3);
        }
    }
}

// Whole runs of the chain with momentum against full runs (docs/theory.md §6c): 500 runs of each
// backend, N = 50, erf K = M = 2, beta = 0.5 at eta = 0.5; KS tests on Q_11, R_11 and eps_g at
// alpha = 5, 40, 100 and on the escape time (the first record after alpha = 1 with eps_g <
// 0.01): 10 tests, Bonferroni at a family-wise 1e-3, as the chain's own test
// (tests/test_gram.cpp, "whole runs have the law of full runs").
TEST_CASE("momentum: gram runs have the law of full runs (two-sample KS)",
          "[momentum][gram][slow]") {
    RunParams p;
    p.model.N = 50;
    p.training.eta = 0.5;
    p.training.momentum = 0.5;
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 200.0;
    p.schedule.records = 201;
    const std::vector<std::size_t> at{5, 40, 100};
    constexpr int runs = 500;
    RunParams q = p;
    q.dynamics = DynamicsKind::gram;
    const test::Sample gram = test::sample_runs(q, runs, at, 0.01, 91);
    q.dynamics = DynamicsKind::full;
    const test::Sample full = test::sample_runs(q, runs, at, 0.01, 91);
    const double smallest = test::check_same_law(gram, full, at, 1e-3 / 10.0);
    WARN("smallest KS p-value of 10: " << smallest);
}
