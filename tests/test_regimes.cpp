// Training regimes beyond one fresh example per step (docs/theory.md §6;
// engine/simulation/batch_trainer.hpp): mini-batch and full-batch gradients against central finite
// differences of the mean cost (Eqs. 6-7) for every g and h with a learned v and weight decay;
// batch gradient descent against a plain loop over the examples; B = 1 on fresh examples against
// OnlineSgd; the batch order; the keys and their refusals; the new observables; and (slow)
// simulations against the ODEs with a batch and with weight decay, and finite training sets
// (on-line limit, over-fitting).
#include "cli/config.hpp"
#include "cli_helpers.hpp"
#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/io/writer.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/batch_trainer.hpp"
#include "engine/simulation/training_set.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/theory.hpp"

#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/simulate.hpp"
#include "stat_helpers.hpp"
#include "theory_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

using namespace plateau;

namespace {

/// A batch as the test sees it: its examples (rows) and labels.
struct Batch {
    RowMatrix X;
    Eigen::VectorXd tau;
};

/// The teacher's label of xi (no label noise): tau = h*(sum_n v*_n g*(B_n . xi)), Eq. (1).
double teacher_label(const RunParams& p, const RunState& s, const Eigen::VectorXd& xi) {
    return network_output(p.model.teacher, RowMatrix(s.teacher()), s.v_star, xi);
}

/// The mean cost over a batch, (1/B) sum_b e^b (Eq. 2 divided by B).
double mean_cost(const RunParams& p, const RowMatrix& W, const Eigen::VectorXd& v, const Batch& b) {
    double sum = 0.0;
    for (Eigen::Index i = 0; i < b.X.rows(); ++i)
        sum += per_example_cost(p.model.student, W, v, b.X.row(i).transpose(), b.tau(i));
    return sum / static_cast<double>(b.X.rows());
}

/// The examples of a training set (FiniteTrainingSet: example mu from its own stream) and their
/// labels with label noise s z^mu, z^mu the normal after the example in the same stream.
Batch training_set(const RunParams& p, const RunState& s, std::uint64_t seed, std::uint64_t run,
                   std::int64_t P) {
    const FiniteTrainingSet set(static_cast<std::uint64_t>(P), seed, run);
    Batch b{RowMatrix(P, p.model.N), Eigen::VectorXd(P)};
    for (std::int64_t mu = 0; mu < P; ++mu) {
        NormalStream stream = set.stream_of(static_cast<std::uint64_t>(mu));
        Eigen::VectorXd xi(p.model.N);
        stream.fill({xi.data(), static_cast<std::size_t>(p.model.N)});
        b.X.row(mu) = xi.transpose();
        b.tau(mu) = teacher_label(p, s, xi) + std::sqrt(p.model.noise) * stream.next();
    }
    return b;
}

using plateau::test::Stat;

double extra(const Observables& o, const char* name) {
    const auto it = o.extras.find(name);
    return it == o.extras.end() ? std::numeric_limits<double>::quiet_NaN() : it->second(0);
}

} // namespace

// One update of MiniBatchSgd changes W by -(eta/N)(grad C + lambda W) and v by
// -(eta_v/N)(dC/dv + lambda v), C the mean cost over the batch (Eqs. 6-7 divided by B). The
// gradient recovered from the update, -(N/eta) dW - lambda W, is compared with central finite
// differences of C (step 1e-5: truncation ~1e-10, rounding ~1e-11 of the gradient's scale). A
// wrong sign of the decay, a sum instead of a mean or a stale example is off by >= 1e-3.
TEST_CASE("regimes: mini-batch and full-batch gradients are finite differences of the mean cost",
          "[regimes]") {
    constexpr std::uint64_t seed = 7, run = 3;
    struct Regime {
        const char* what;
        std::int64_t B;
        std::optional<std::int64_t> P;
        bool all;
    };
    const std::vector<Regime> regimes{{"4 fresh examples", 4, std::nullopt, false},
                                      {"3 of a set of 6, replacement", 3, 6, false},
                                      {"the whole set of 6 (batch gradient descent)", 1, 6, true}};
    double worst = 0.0;
    for (const ActivationKind g : all_activation_kinds)
        for (const ActivationKind h : output_kinds)
            for (const auto& r : regimes) {
                RunParams p;
                p.model.N = 9;
                p.model.student.widths = {3};
                p.model.student.g = typical_activation(g);
                p.model.student.h.kind = h;
                p.model.learn_v = true;
                p.model.v0 = 0.8;
                p.training.eta = 0.7;
                p.training.eta_v = 0.4;
                p.training.weight_decay = 0.3;
                p.training.batch = {r.B, r.all};
                p.training.train_set = r.P;
                p.training.sampling = Sampling::replacement;
                validate(p);
                INFO("g = " << name(g) << ", h = " << output_name(h) << ", " << r.what);
                RunState state = make_initial_state(p.model, seed, run);
                const RunState before = state;
                MiniBatchSgd trainer(p, seed, run);
                REQUIRE(trainer.advance(state, 1) == StepOutcome::ok);
                CHECK(state.step == 1);

                Batch batch;
                if (!r.P) {
                    NormalStream examples(StreamKey{seed, run, StreamPurpose::examples});
                    batch = {RowMatrix(r.B, p.model.N), Eigen::VectorXd(r.B)};
                    for (Eigen::Index b = 0; b < r.B; ++b) {
                        Eigen::VectorXd xi(p.model.N);
                        examples.fill({xi.data(), static_cast<std::size_t>(p.model.N)});
                        batch.X.row(b) = xi.transpose();
                        batch.tau(b) = teacher_label(p, before, xi);
                    }
                } else {
                    const Batch set = training_set(p, before, seed, run, *r.P);
                    const std::vector<std::int64_t> all_of_them{0, 1, 2, 3, 4, 5};
                    const auto& picked = r.all ? all_of_them : trainer.last_batch();
                    REQUIRE(picked.size() == static_cast<std::size_t>(r.all ? 6 : r.B));
                    batch = {RowMatrix(picked.size(), p.model.N), Eigen::VectorXd(picked.size())};
                    for (std::size_t b = 0; b < picked.size(); ++b) {
                        batch.X.row(static_cast<Eigen::Index>(b)) = set.X.row(picked[b]);
                        batch.tau(static_cast<Eigen::Index>(b)) = set.tau(picked[b]);
                    }
                }

                const double n = static_cast<double>(p.model.N);
                const double lambda = p.training.weight_decay;
                const RowMatrix W0 = before.student();
                const RowMatrix grad_W =
                    -(n / p.training.eta) * (RowMatrix(state.student()) - W0) - lambda * W0;
                const Eigen::VectorXd grad_v =
                    -(n / p.training.eta_v) * (state.v - before.v) - lambda * before.v;
                const double step = 1e-5;
                const double scale = std::max(grad_W.cwiseAbs().maxCoeff(), 1e-3);
                for (Eigen::Index m = 0; m < W0.rows(); ++m)
                    for (Eigen::Index i = 0; i < W0.cols(); ++i) {
                        RowMatrix plus = W0, minus = W0;
                        plus(m, i) += step;
                        minus(m, i) -= step;
                        const double fd = (mean_cost(p, plus, before.v, batch) -
                                           mean_cost(p, minus, before.v, batch)) /
                                          (2 * step);
                        const double err = std::abs(fd - grad_W(m, i)) / scale;
                        worst = std::max(worst, err);
                        CHECK(err < 1e-6);
                    }
                for (Eigen::Index k = 0; k < before.v.size(); ++k) {
                    Eigen::VectorXd plus = before.v, minus = before.v;
                    plus(k) += step;
                    minus(k) -= step;
                    const double fd =
                        (mean_cost(p, W0, plus, batch) - mean_cost(p, W0, minus, batch)) /
                        (2 * step);
                    const double err =
                        std::abs(fd - grad_v(k)) / std::max(grad_v.cwiseAbs().maxCoeff(), 1e-3);
                    worst = std::max(worst, err);
                    CHECK(err < 1e-6);
                }
                CHECK(state.teacher() == before.teacher());
            }
    INFO("largest relative error: " << worst);
    CHECK(worst < 1e-6);
}

// Batch gradient descent (batch = all) against Eq. (7) written out: a plain loop over the P
// examples sums the per-example gradients, and the weights move by -(eta/N)(sum/P + lambda w).
// Twenty updates agree to rounding (the trainer's GEMMs sum in another order); the training error
// is (1/P) sum_mu e^mu by the same loop.
TEST_CASE("regimes: batch gradient descent is Eq. (7) evaluated by a plain loop", "[regimes]") {
    constexpr std::uint64_t seed = 11, run = 2;
    constexpr std::int64_t P = 7, steps = 20;
    RunParams p;
    p.model.N = 5;
    p.model.learn_v = true;
    p.model.noise = 0.1;
    p.training.eta = 0.8;
    p.training.eta_v = 0.6;
    p.training.weight_decay = 0.02;
    p.training.batch = {1, true};
    p.training.train_set = P;
    validate(p);
    RunState state = make_initial_state(p.model, seed, run);
    const Batch set = training_set(p, state, seed, run, P);
    RowMatrix W = state.student();
    Eigen::VectorXd v = state.v;
    MiniBatchSgd trainer(p, seed, run);
    REQUIRE(trainer.advance(state, steps) == StepOutcome::ok);

    const double n = static_cast<double>(p.model.N);
    for (std::int64_t t = 0; t < steps; ++t) {
        RowMatrix sum_W = RowMatrix::Zero(W.rows(), W.cols());
        Eigen::VectorXd sum_v = Eigen::VectorXd::Zero(v.size());
        for (std::int64_t mu = 0; mu < P; ++mu) { // Eq. (7): sum over the training set
            const PerExampleGradient g =
                per_example_gradient(p.model.student, W, v, set.X.row(mu).transpose(), set.tau(mu));
            sum_W += g.dW;
            sum_v += g.dv;
        }
        W -= (p.training.eta / n) * (sum_W / static_cast<double>(P) + p.training.weight_decay * W);
        v -=
            (p.training.eta_v / n) * (sum_v / static_cast<double>(P) + p.training.weight_decay * v);
    }
    CHECK(state.step == steps);
    CHECK((RowMatrix(state.student()) - W).cwiseAbs().maxCoeff() <=
          1e-12 * W.cwiseAbs().maxCoeff());
    CHECK((state.v - v).cwiseAbs().maxCoeff() <= 1e-12 * v.cwiseAbs().maxCoeff());

    double cost = 0.0;
    for (std::int64_t mu = 0; mu < P; ++mu)
        cost += per_example_cost(p.model.student, W, v, set.X.row(mu).transpose(), set.tau(mu));
    Observables o;
    trainer.measure(state, o);
    CHECK(extra(o, "eps_train") == Approx(cost / static_cast<double>(P)).epsilon(1e-12));
    CHECK(extra(o, "examples") == static_cast<double>(steps * P));
}

// B = 1 on fresh examples through MiniBatchSgd (weight decay 0, forced) reads the streams as
// OnlineSgd does: the same run to rounding (tolerance as in tests/test_trainer.cpp).
TEST_CASE("regimes: one fresh example per update is OnlineSgd", "[regimes]") {
    RunParams p;
    p.model.N = 300;
    p.model.student.widths = {3};
    p.model.learn_v = true;
    p.model.noise = 0.05;
    constexpr std::uint64_t seed = 4, run = 1;
    constexpr std::int64_t steps = 200;
    RunState a = make_initial_state(p.model, seed, run);
    RunState b = a;
    OnlineSgd online(p, seed, run);
    MiniBatchSgd batch(p, seed, run);
    REQUIRE(online.advance(a, steps) == StepOutcome::ok);
    REQUIRE(batch.advance(b, 77) == StepOutcome::ok);
    REQUIRE(batch.advance(b, steps - 77) == StepOutcome::ok);
    const double u = std::numeric_limits<double>::epsilon() / 2;
    const double scale = 8.0 * u * static_cast<double>(p.model.N * steps);
    CHECK((RowMatrix(a.student()) - RowMatrix(b.student())).cwiseAbs().maxCoeff() <=
          scale * RowMatrix(a.student()).cwiseAbs().maxCoeff());
    CHECK((a.v - b.v).cwiseAbs().maxCoeff() <= scale * a.v.cwiseAbs().maxCoeff());
    CHECK(a.step == b.step);
    // And make_trainer picks OnlineSgd for it (today's runs, bit for bit).
    CHECK(dynamic_cast<OnlineSgd*>(make_trainer(p, seed, run).get()) != nullptr);
    p.training.weight_decay = 0.1;
    CHECK(dynamic_cast<MiniBatchSgd*>(make_trainer(p, seed, run).get()) != nullptr);
}

TEST_CASE("regimes: epochs visit every example once, replacement repeats them", "[regimes]") {
    RunParams p;
    p.model.N = 4;
    p.training.train_set = 12;
    p.training.batch = {3, false};
    for (const Sampling s : all_values<Sampling>()) {
        p.training.sampling = s;
        RunState state = make_initial_state(p.model, 1, 0);
        MiniBatchSgd trainer(p, 1, 0);
        std::vector<std::int64_t> seen;
        for (int epoch = 0; epoch < 3; ++epoch) {
            std::multiset<std::int64_t> once;
            for (int b = 0; b < 4; ++b) {
                REQUIRE(trainer.advance(state, 1) == StepOutcome::ok);
                for (const auto mu : trainer.last_batch()) {
                    CHECK((mu >= 0 && mu < 12));
                    once.insert(mu);
                    seen.push_back(mu);
                }
            }
            const std::set<std::int64_t> distinct(once.begin(), once.end());
            if (s == Sampling::epochs)
                CHECK(distinct.size() == 12); // a permutation per epoch
        }
        if (s == Sampling::replacement) {
            const std::set<std::int64_t> distinct(seen.begin(), seen.end());
            CHECK(distinct.size() < seen.size()); // 36 draws of 12: repeats (p = 1 - 1e-14)
        }
        // Not the same order twice: the epochs are shuffled anew.
        CHECK(!std::equal(seen.begin(), seen.begin() + 12, seen.begin() + 12));
    }
}

TEST_CASE("regimes: the keys, their defaults and their refusals", "[regimes][keys]") {
    using cli::Configuration;
    const auto refused = [](std::initializer_list<std::pair<const char*, const char*>> kv) {
        return test::error_of<ConfigError>([&] {
            Configuration c;
            for (const auto& [k, v] : kv)
                c.set(k, v);
            (void)c.expand();
        });
    };
    CHECK(refused({{"train-set", "100"}, {"alpha-train", "2"}}) ==
          "invalid value '2' for 'alpha-train': allowed is none when train-set is set (the "
          "training set's size is given once: train-set = P or alpha-train = P/N)");
    CHECK(refused({{"batch", "all"}}) ==
          "invalid value 'all' for 'batch': allowed is an integer >= 1 (batch = all is gradient "
          "descent on a training set: it needs train-set or alpha-train)");
    CHECK(refused({{"batch", "20"}, {"train-set", "10"}}) ==
          "invalid value '20' for 'batch': allowed is an integer <= the training set's size P = "
          "10");
    CHECK(refused({{"batch", "0"}}) ==
          "invalid value '0' for 'batch': allowed is an integer >= 1 or all");
    CHECK(
        refused({{"batch", "most"}})
            .starts_with(
                "invalid value 'most' for 'batch': allowed is an integer >= 1 or all, or a comma"));
    CHECK(refused({{"alpha-train", "0.001"}, {"N", "100"}})
              .starts_with("invalid value '0.001' for 'alpha-train': allowed is a number with 1 <= "
                           "round(alpha-train "
                           "x N)"));

    // Words and numbers in one sweep; alpha-train gives P = round(alpha_train N).
    Configuration c;
    c.set("N", "100");
    c.set("batch", "5, all");
    c.set("alpha-train", "0.5");
    c.set("weight-decay", "0.01");
    c.set("sampling", "replacement");
    const CampaignSpec spec = c.expand();
    REQUIRE(spec.points.size() == 2);
    CHECK(spec.points[0].params.training.batch == BatchSize{5, false});
    CHECK(spec.points[1].params.training.batch == BatchSize{1, true});
    CHECK(training_set_size(spec.points[1].params) == 50);
    // The swept batch is a coordinate; its word is written as 0 (analysis/SCHEMA.md).
    const auto batch_coordinate = [&](std::size_t i) {
        for (const auto& co : spec.points[i].coordinates)
            if (co.key == "batch")
                return co.number;
        return -1.0;
    };
    CHECK(batch_coordinate(0) == 5.0);
    CHECK(batch_coordinate(1) == 0.0);
    CHECK(examples_per_update(spec.points[1].params) == 50);
    CHECK(c.to_ini(cli::IniScope::results).find("batch = 5, all\n") != std::string::npos);
    // The defaults are today's runs: none of the keys is in the hashed text.
    const std::string defaults = Configuration{}.to_ini(cli::IniScope::results);
    for (const char* k : {"weight-decay", "batch", "train-set", "alpha-train", "sampling"})
        CHECK(defaults.find(std::string("\n") + k + " =") == std::string::npos);
    CHECK(is_online_sgd(RunParams{}));
}

TEST_CASE("regimes: examples seen and the training error in the records", "[regimes]") {
    RunParams p;
    p.model.N = 50;
    p.schedule.alpha_max = 2;
    p.schedule.records = 5;
    p.schedule.kind = ScheduleKind::linear;
    // On-line: examples = steps, no training error (NaN in the file).
    RunResult r = simulate(p, 1, 0);
    REQUIRE(r.status == RunStatus::completed);
    const auto alphas = record_alphas(p.schedule);
    for (std::size_t i = 0; i < alphas.size(); ++i) {
        CHECK(extra(r.records[i], "examples") == static_cast<double>(record_step(alphas[i], 50)));
        CHECK(!r.records[i].extras.contains("eps_train"));
    }
    // A batch of 4 on a training set of 30: examples = 4 x updates, eps_train at every record.
    p.training.batch = {4, false};
    p.training.train_set = 30;
    r = simulate(p, 1, 0);
    REQUIRE(r.status == RunStatus::completed);
    for (std::size_t i = 0; i < alphas.size(); ++i) {
        CHECK(extra(r.records[i], "examples") ==
              4.0 * static_cast<double>(record_step(alphas[i], 50)));
        CHECK(std::isfinite(extra(r.records[i], "eps_train")));
    }
    CHECK(extra(r.records.back(), "eps_train") < extra(r.records.front(), "eps_train"));
    // A run is a pure function of (params, seed, run): the set is regenerated, never stored.
    const RunResult again = simulate(p, 1, 0);
    CHECK(again.records.back().Q == r.records.back().Q);
    CHECK(extra(again.records.back(), "eps_train") == extra(r.records.back(), "eps_train"));
}

TEST_CASE("regimes: the theory refuses a training set and takes batch and weight decay",
          "[regimes][theory]") {
    RunParams p;
    p.training.train_set = 100;
    CHECK(test::error_of<ConfigError>([&] { (void)flow_settings(p); })
              .starts_with("invalid value '100' for 'train-set': allowed is none: a finite "
                           "training set has no "
                           "closed theory"));
    const auto ode = test::run_plateau("ode --train-set 100 --alpha-max 1 --seeds 1 --quiet");
    CHECK(ode.status == 2);
    CHECK(std::count(ode.output.begin(), ode.output.end(), '\n') == 1);
    CHECK(ode.output.find("train-set") != std::string::npos);
    CHECK(ode.output.find("\\x") == std::string::npos); // printable as written: ASCII only

    // The flow: eta^2 terms / B, weight decay -2 eta lambda Q, -eta lambda R, -eta_v lambda v.
    RunParams q;
    q.model.learn_v = true;
    q.model.noise = 0.3;
    const OrderParameters op = order_parameters_of(make_initial_state(q.model, 3, 0));
    const OrderParameters base = flow(q, op);
    RunParams eta0 = q; // the first-order part alone: eta -> eta but eta^2 term removed, via B
    eta0.training.batch.size = 1000000000;
    const OrderParameters first = flow(eta0, op);
    q.training.batch.size = 8;
    q.training.weight_decay = 0.05;
    const OrderParameters d = flow(q, op);
    const double eta = q.training.eta, lambda = 0.05;
    const Eigen::MatrixXd quad = base.Q - first.Q; // eta^2 <delta delta> (B = 1)
    CHECK((d.Q - (first.Q + quad / 8.0 - 2 * eta * lambda * op.Q)).cwiseAbs().maxCoeff() < 1e-9);
    CHECK((d.R - (base.R - eta * lambda * op.R)).cwiseAbs().maxCoeff() < 1e-15);
    CHECK((d.v - (base.v - q.training.eta_v * lambda * op.v)).cwiseAbs().maxCoeff() < 1e-15);
}

TEST_CASE("regimes: a campaign whose training sets do not fit in memory is refused",
          "[regimes][cli]") {
    test::TempDir dir;
    const std::string out = (dir.path() / "big.h5").string();
    // P x N = 1e7 x 1e5 doubles = 8 TB per run in flight.
    const auto r = test::run_plateau("run --N 100000 --train-set 10000000 --alpha-max 1e-4 "
                                     "--records 2 --alpha-min 1e-5 --seeds 1 --threads 2 -o " +
                                     out);
    CHECK(r.status == 2);
    CHECK(r.output.find("run(s) in flight") != std::string::npos);
    CHECK(r.output.find("training sets") != std::string::npos);
    CHECK(!std::filesystem::exists(out));
    // The estimate: 2 threads, each a set of P x N doubles.
    cli::Configuration c;
    c.set("N", "1000");
    c.set("train-set", "5000");
    c.set("threads", "2");
    const CampaignEstimate e = estimate_campaign(c.expand());
    CHECK(e.runs_in_flight == 2);
    CHECK(e.training_bytes >= 2u * 5000u * 1000u * 8u);
    CHECK(e.training_bytes < 2u * 5000u * 1100u * 8u);
    CHECK(estimate_campaign(cli::Configuration{}.expand()).training_bytes == 0);
}

// A batch of B = 8 (the eta^2 term / 8) and weight decay lambda = 0.05 (B = 1): simulations at
// N = 1000 follow `plateau ode` with the §6 terms. Control: the ODE without them (B = 1, or
// lambda = 0) is refused by the same statistic, so the test sees the terms.
TEST_CASE("regimes: simulation versus theory with a batch of 8 and with weight decay",
          "[regimes][theory][slow]") {
    RunParams p;
    p.model.N = 1000;
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.records = 21;
    SECTION("batch 8") {
        p.training.eta = 2.0;
        p.training.batch = {8, false};
        p.schedule.alpha_max = 8;
        RunParams control = p;
        control.training.batch = {1, false};
        CHECK(test::sim_vs_theory(p, p, control) > 1.0);
    }
    SECTION("weight decay 0.05") {
        p.training.eta = 1.0;
        p.training.weight_decay = 0.05;
        p.model.learn_v = true;
        p.schedule.alpha_max = 20;
        RunParams control = p;
        control.training.weight_decay = 0.0;
        CHECK(test::sim_vs_theory(p, p, control) > 1.0);
    }
}

// Finite training sets with label noise s^2 = 0.3, K = M = 2 erf, N = 50, eta = 1, one example
// per update (epochs), alpha up to 100, S = 16 seeds; every regime of a seed starts from the same
// teacher and student (their streams do not depend on the regime).
//   alpha_train = 50 (P = 2500, two epochs): eps_g follows on-line learning, the seed mean of
//     eps_g(set) - eps_g(on-line) within k SE at every record (k = 4.77 as above); the same
//     statistic refuses alpha_train = 2 at the end (the control: it sees a small set).
//   alpha_train = 2 (P = 100 examples for 100 weights), SGD and batch gradient descent: over-
//     fitting. At the end eps_train < eps_g in the seed mean by more than k SE, and eps_g rose
//     after its minimum (the record of the smallest seed-mean eps_g) by more than k SE.
TEST_CASE("regimes: finite training sets approach on-line learning and over-fit when small",
          "[regimes][heavy]") {
    constexpr int seeds = 16;
    constexpr double k = 4.77;
    RunParams online;
    online.model.N = 50;
    online.model.noise = 0.3;
    online.training.eta = 1.0;
    online.schedule.alpha_max = 100;
    online.schedule.alpha_min = 1;
    online.schedule.records = 12;
    RunParams large = online, small = online, small_gd = online;
    large.training.alpha_train = 50.0;
    small.training.alpha_train = 2.0;
    small_gd.training.alpha_train = 2.0;
    small_gd.training.batch = {1, true};
    small_gd.training.eta = 2.0;
    const auto alphas = record_alphas(online.schedule);
    const std::size_t R = alphas.size();
    std::vector<Stat> d_large(R), d_small(R);
    std::vector<std::vector<double>> eg(2, std::vector<double>(R * seeds));
    std::vector<std::vector<double>> et(2, std::vector<double>(R * seeds));
    for (int s = 0; s < seeds; ++s) {
        const auto run = static_cast<std::uint64_t>(s);
        const RunResult on = simulate(online, 9, run);
        const RunResult l = simulate(large, 9, run);
        const std::array<RunResult, 2> sm{simulate(small, 9, run), simulate(small_gd, 9, run)};
        for (const RunResult* r : {&on, &l, &sm[0], &sm[1]})
            REQUIRE(r->status == RunStatus::completed);
        for (std::size_t i = 0; i < R; ++i) {
            d_large[i].add(l.records[i].eg - on.records[i].eg);
            d_small[i].add(sm[0].records[i].eg - on.records[i].eg);
            for (std::size_t c = 0; c < 2; ++c) {
                eg[c][i * seeds + static_cast<std::size_t>(s)] = sm[c].records[i].eg;
                et[c][i * seeds + static_cast<std::size_t>(s)] =
                    extra(sm[c].records[i], "eps_train");
            }
        }
        CHECK(!on.records.back().extras.contains("eps_train"));
    }
    for (std::size_t i = 1; i < R; ++i) {
        INFO("alpha = " << alphas[i] << ": eps_g(alpha_train = 50) - eps_g(on-line) = "
                        << d_large[i].mean() << " +- " << d_large[i].standard_error());
        CHECK(std::abs(d_large[i].mean()) < k * d_large[i].standard_error());
    }
    INFO("alpha_train = 2 at the end: " << d_small[R - 1].mean() << " +- "
                                        << d_small[R - 1].standard_error());
    CHECK(d_small[R - 1].mean() > k * d_small[R - 1].standard_error());

    for (std::size_t c = 0; c < 2; ++c) {
        INFO((c == 0 ? "SGD" : "batch gradient descent") << " on alpha_train = 2");
        std::size_t best = 0;
        std::vector<double> mean(R, 0.0);
        for (std::size_t i = 0; i < R; ++i) {
            for (int s = 0; s < seeds; ++s)
                mean[i] += eg[c][i * seeds + static_cast<std::size_t>(s)] / seeds;
            if (mean[i] < mean[best])
                best = i;
        }
        Stat gap, rise;
        for (int s = 0; s < seeds; ++s) {
            const auto at = [&](std::size_t i) {
                return i * seeds + static_cast<std::size_t>(s);
            };
            gap.add(eg[c][at(R - 1)] - et[c][at(R - 1)]);
            rise.add(eg[c][at(R - 1)] - eg[c][at(best)]);
        }
        INFO("gap eps_g - eps_train at the end "
             << gap.mean() << " +- " << gap.standard_error() << "; rise of eps_g after alpha = "
             << alphas[best] << ": " << rise.mean() << " +- " << rise.standard_error());
        CHECK(best < R - 1);
        CHECK(gap.mean() > k * gap.standard_error());
        CHECK(rise.mean() > k * rise.standard_error());
    }
}
