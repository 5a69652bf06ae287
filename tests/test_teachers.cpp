// Several teachers (issue 28, docs/theory.md §17): the teachers' construction against the keys,
// every step against a one-teacher trainer on the current task's block and head, eps_g on every
// teacher against Monte Carlo, the schedule (switch-at, switch-eg-below), the refusals, runs as
// pure functions of their arguments, the file's variables, and the Gram chain against full runs
// through a switch (two-sample KS).
#include "cli/config.hpp"
#include "cli_helpers.hpp"
#include "engine/core/errors.hpp"
#include "engine/core/run_params.hpp"
#include "engine/core/schedule.hpp"
#include "engine/io/reader.hpp"
#include "engine/io/variables.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"
#include "run_helpers.hpp"
#include "stat_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

using namespace plateau;
using plateau::cli::Configuration;

namespace {

RunParams teachers_params(std::int64_t N, int teachers, double rho, double rho_v) {
    RunParams p = test::params_of(N, 2, 2);
    p.model.teachers = teachers;
    p.model.teacher_overlap = rho;
    p.model.readout_overlap = rho_v;
    return p;
}

/// The teachers' overlaps the construction promises (Eq. (17.1)): I on the diagonal blocks, rho I
/// between teacher 1 and t, rho^2 I between later teachers.
Eigen::MatrixXd expected_T(int teachers, int M, double rho) {
    Eigen::MatrixXd T = Eigen::MatrixXd::Zero(teachers * M, teachers * M);
    for (int s = 0; s < teachers; ++s)
        for (int t = 0; t < teachers; ++t) {
            const double c = s == t ? 1.0 : (s == 0 || t == 0) ? rho : rho * rho;
            T.block(s * M, t * M, M, M).diagonal().setConstant(c);
        }
    return T;
}

} // namespace

TEST_CASE("teachers: the constructed overlaps are the keys (exactly for orthonormal teachers)",
          "[teachers]") {
    for (const double rho : {0.0, 0.5, 1.0}) {
        INFO("teacher-overlap " << rho);
        const RunParams p = teachers_params(60, 3, rho, 0.3);
        const RunState s = make_initial_state(p.model, 7, 1);
        REQUIRE(s.M == 6);
        REQUIRE(s.teachers == 3);
        const Eigen::MatrixXd B = s.teacher();
        CHECK((B * B.transpose() - expected_T(3, 2, rho)).cwiseAbs().maxCoeff() < 1e-13);
        // Teacher 1 and the student are those of the one-teacher run, bit for bit.
        const RunState one = make_initial_state(test::params_of(60, 2, 2).model, 7, 1);
        CHECK(Eigen::MatrixXd(s.teacher().topRows(2)) == Eigen::MatrixXd(one.teacher()));
        CHECK(Eigen::MatrixXd(s.student()) == Eigen::MatrixXd(one.student()));
        // Second layers: cosine rho_v with v*^1, the same norm (Eq. (17.2)).
        const Eigen::VectorXd v1 = s.v_star.head(2);
        CHECK(v1 == one.v_star);
        for (int t = 1; t < 3; ++t) {
            const Eigen::VectorXd vt = s.v_star.segment(2 * t, 2);
            CHECK(vt.norm() == Approx(v1.norm()).epsilon(1e-14));
            CHECK(vt.dot(v1) / (vt.norm() * v1.norm()) == Approx(0.3).epsilon(1e-13));
        }
    }
    // readout-overlap = 1: every teacher's v* is v*^1 and no normal is drawn for it.
    const RunState same = make_initial_state(teachers_params(60, 2, 0.5, 1.0).model, 7, 1);
    CHECK(same.v_star == Eigen::VectorXd::Ones(4));
    // A gaussian teacher: the same overlaps to O(1/sqrt N) (each entry of T has a standard
    // deviation <= sqrt(2/N)); 5 of them.
    RunParams g = teachers_params(4000, 2, 0.5, 1.0);
    g.model.teacher_init = TeacherInit::gaussian;
    const RunState sg = make_initial_state(g.model, 7, 1);
    const Eigen::MatrixXd Bg = sg.teacher();
    CHECK((Bg * Bg.transpose() - expected_T(2, 2, 0.5)).cwiseAbs().maxCoeff() <
          5.0 * std::sqrt(2.0 / 4000.0));
}

TEST_CASE("teachers: every step learns from the current task's teacher block and head",
          "[teachers]") {
    // A two-teacher run, step by step, against a one-teacher trainer of the same streams whose
    // state mirrors it before each step: the student rows of the run, the teacher rows and v* of
    // the current task's block, and the current task's head. Both must agree bit for bit (the
    // fused kernel computes each row's field alike whatever the other rows).
    for (const Heads heads : {Heads::shared, Heads::per_task}) {
        INFO("heads " << name(heads));
        RunParams p = teachers_params(64, 2, 0.5, 0.5);
        p.model.learn_v = true;
        p.model.noise = 0.01;
        p.model.heads = heads;
        p.model.switch_at = {0.3}; // the first step with step/64 >= 0.3: step 20
        RunParams one = test::params_of(64, 2, 2);
        one.model.learn_v = true;
        one.model.noise = 0.01;
        RunState two = make_initial_state(p.model, 3, 5);
        RunState mirror = make_initial_state(one.model, 3, 5);
        const auto trainer_two = make_trainer(p, 3, 5);
        const auto trainer_one = make_trainer(one, 3, 5);
        const Eigen::VectorXd v0 = two.v;
        Eigen::VectorXd head0_at_switch;
        for (int step = 0; step < 30; ++step) {
            INFO("step " << step);
            const int task = step < 20 ? 0 : 1;
            mirror.weights.topRows(2) = two.weights.topRows(2);
            mirror.weights.bottomRows(2) = two.weights.middleRows(2 + 2 * task, 2);
            mirror.v_star = two.v_star.segment(2 * task, 2);
            if (step == 20) {
                head0_at_switch = two.v;
                if (heads == Heads::per_task)
                    mirror.v = v0; // head 2 has not learned yet
            }
            if (step != 20 || heads == Heads::shared)
                mirror.v = two.v;
            mirror.step = two.step;
            REQUIRE(trainer_two->advance(two, 1) == StepOutcome::ok);
            REQUIRE(trainer_one->advance(mirror, 1) == StepOutcome::ok);
            CHECK(two.task == task);
            CHECK(Eigen::MatrixXd(two.weights.topRows(2)) ==
                  Eigen::MatrixXd(mirror.weights.topRows(2)));
            CHECK(two.v == mirror.v);
        }
        CHECK(two.task_start[1] == 20.0 / 64.0);
        if (heads == Heads::per_task) // head 1 froze at the switch
            CHECK(Eigen::VectorXd(two.heads.col(0)) == head0_at_switch);
    }
}

TEST_CASE("teachers: eps_g on every teacher agrees with Monte Carlo over fresh inputs",
          "[teachers]") {
    RunParams p = teachers_params(64, 2, 0.3, 0.5);
    p.model.learn_v = true;
    p.model.heads = Heads::per_task;
    p.model.switch_at = {2.0};
    p.training.eta = 1.0;
    p.training.eta_v = 1.0;
    RunState s = make_initial_state(p.model, 11, 0);
    const auto trainer = make_trainer(p, 11, 0);
    REQUIRE(trainer->advance(s, 64 * 3) == StepOutcome::ok); // one alpha past the switch
    REQUIRE(s.task == 1);
    s.heads.col(0) *= 0.3; // heads far apart: eps_g on teacher 1 must use head 1, not v
    Observer observer(p, 11, 0);
    const Observables o = observer.observe(s);
    const Eigen::VectorXd eg = o.extras.at(std::string(extra_name::eg_tasks));
    REQUIRE(eg.size() == 2);
    CHECK(o.eg == eg[1]);
    CHECK(o.extras.at(std::string(extra_name::current_task))[0] == 1.0);
    const Eigen::MatrixXd B = s.teacher();
    CHECK((o.R - Eigen::MatrixXd(s.student() * B.middleRows(2, 2).transpose()))
              .cwiseAbs()
              .maxCoeff() < 1e-12);
    // Monte Carlo: (sigma_t - tau_t)^2 / 2 over fresh xi, head t against teacher t's committee.
    NormalStream rng(StreamKey{99, 0, StreamPurpose::examples});
    const int samples = 40000;
    Eigen::VectorXd xi(64);
    for (int t = 0; t < 2; ++t) {
        INFO("teacher " << t);
        const Eigen::VectorXd head = task_head(s, t);
        const Eigen::VectorXd vt = s.v_star.segment(2 * t, 2);
        double sum = 0.0;
        double sum_sq = 0.0;
        for (int i = 0; i < samples; ++i) {
            rng.fill({xi.data(), 64});
            const Eigen::VectorXd x = s.student() * xi;
            const Eigen::VectorXd y = B.middleRows(2 * t, 2) * xi;
            const double sigma = forward(p.model.student, {x.data(), 2}, {head.data(), 2}).output;
            const double tau = forward(p.model.teacher, {y.data(), 2}, {vt.data(), 2}).output;
            const double e = 0.5 * (sigma - tau) * (sigma - tau);
            sum += e;
            sum_sq += e * e;
        }
        const double mean = sum / samples;
        const double se = std::sqrt((sum_sq / samples - mean * mean) / samples);
        INFO("eg_tasks " << eg[t] << ", Monte Carlo " << mean << " +- " << se);
        CHECK(std::abs(eg[t] - mean) < 4.0 * se);
    }
}

TEST_CASE("teachers: switch-at and switch-eg-below act where documented, runs are pure",
          "[teachers]") {
    RunParams p = teachers_params(50, 3, 0.5, 1.0);
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 4.0;
    p.schedule.records = 9; // alpha = 0, 0.5, ..., 4
    p.model.switch_at = {0.51, 2.0};
    const RunResult a = simulate(p, 1, 2);
    const RunResult b = simulate(p, 1, 2);
    REQUIRE(a.records.size() == 9);
    const auto extra = [](const Observables& o, std::string_view key) {
        return o.extras.at(std::string(key));
    };
    std::vector<double> tasks;
    for (std::size_t i = 0; i < a.records.size(); ++i) {
        tasks.push_back(extra(a.records[i], extra_name::current_task)[0]);
        CHECK(extra(a.records[i], extra_name::eg_tasks) ==
              extra(b.records[i], extra_name::eg_tasks));
        CHECK(a.records[i].Q == b.records[i].Q);
    }
    // The record at 2.0 was trained on task 1 up to then; task 2 from the step at alpha 2.
    CHECK(tasks == std::vector<double>{0, 0, 1, 1, 1, 2, 2, 2, 2});
    const Eigen::VectorXd starts = extra(a.records.back(), extra_name::switch_alpha);
    CHECK(starts[0] == 0.0);
    CHECK(starts[1] == 26.0 / 50.0); // the first step with step/50 >= 0.51
    CHECK(starts[2] == 2.0);
    CHECK(task_at(p, 0.5) == 0);
    CHECK(task_at(p, 0.51) == 1);
    CHECK(task_at(p, 100.0) == 2);

    // switch-eg-below: decided at a record (here the first, eps_g < 10), acting from it on.
    RunParams q = teachers_params(50, 2, 0.5, 1.0);
    q.schedule = p.schedule;
    q.model.switch_below = 10.0;
    const RunResult c = simulate(q, 1, 2);
    CHECK(extra(c.records[0], extra_name::current_task)[0] == 0.0);
    CHECK(extra(c.records[1], extra_name::current_task)[0] == 1.0);
    CHECK(extra(c.records.back(), extra_name::switch_alpha)[1] == 0.0);
    q.dynamics = DynamicsKind::gram;
    const RunResult d = simulate(q, 1, 2);
    CHECK(extra(d.records[1], extra_name::current_task)[0] == 1.0);
}

TEST_CASE("teachers: bad keys and combinations are refused in one line naming the key",
          "[teachers][errors]") {
    using test::error_of;
    Configuration c;
    CHECK(error_of<ConfigError>([&] { c.set("teachers", "17"); }) ==
          "invalid value '17' for 'teachers': allowed is an integer from 1 to 16");
    CHECK(error_of<ConfigError>([&] { c.set("teacher-overlap", "1.5"); }) ==
          "invalid value '1.5' for 'teacher-overlap': allowed is a finite number from 0 to 1");
    CHECK(error_of<ConfigError>([&] { c.set("switch-at", "20:10"); }) ==
          "invalid value '20:10' for 'switch-at': allowed is none or the alpha of each switch, > 0 "
          "and strictly increasing, ':'-separated (10:20)");
    CHECK(error_of<ConfigError>([&] { c.set("teachers", "2, 3"); }) ==
          "invalid value '2, 3' for 'teachers': allowed is a single value (this key cannot be "
          "swept)");
    const auto expanded = [](std::vector<std::pair<const char*, const char*>> keys) {
        Configuration x;
        for (const auto& [k, v] : keys)
            x.set(k, v);
        return error_of<ConfigError>([&] { (void)x.expand(); });
    };
    CHECK(expanded({{"teachers", "2"}, {"switch-at", "10:20"}}) ==
          "invalid value '10:20' for 'switch-at': allowed is none or at most teachers - 1 = 1 "
          "values of alpha > 0, strictly increasing, as 10:20");
    CHECK(expanded({{"teachers", "2"}, {"inputs", "mixture"}}) ==
          "invalid value '2' for 'teachers': allowed is 1 with inputs = mixture (the clusters "
          "give the labels; docs/theory.md section 17)");
    CHECK(expanded({{"teachers", "2"}, {"batch", "4"}})
              .starts_with("invalid value '2' for 'teachers': allowed is 1 without on-line SGD"));
    CHECK(expanded({{"teachers", "2"}, {"K", "4x2"}})
              .starts_with("invalid value '2' for 'teachers': allowed is 1 with a deeper network"));
    CHECK(expanded({{"teachers", "3"}, {"N", "5"}}) ==
          "invalid value '3' for 'teachers': allowed is an integer with teachers x M <= N = 5 for "
          "an orthonormal teacher");
    CHECK(expanded({{"teachers", "2"}, {"M", "1"}, {"readout-overlap", "0.5"}}) ==
          "invalid value '0.5' for 'readout-overlap': allowed is 1 with M = 1 (no second-layer "
          "direction orthogonal to v*; docs/theory.md section 17)");
    CHECK(expanded({{"teachers", "2"}, {"N", "6"}, {"dynamics", "gram"}}) ==
          "invalid value '6' for 'N': allowed is an integer > K + teachers x M = 6 with dynamics "
          "= gram");
    // The program: exit status 2, one line, no file.
    test::TempDir dir;
    const std::string out = dir / "t.h5";
    const auto r = test::run_plateau("run --teachers 2 --switch-at 1:2 --alpha-max 3 -o " + out);
    CHECK(r.status == 2);
    CHECK(r.output.find("'switch-at'") != std::string::npos);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK_FALSE(std::filesystem::exists(out));
}

TEST_CASE("teachers: a file holds the variables of several teachers only when it has them",
          "[teachers][writer]") {
    test::TempDir dir;
    const std::string common = " --N 40 --alpha-max 2 --records 5 --seeds 2 --schedule linear";
    REQUIRE(test::run_plateau("run" + common + " -o " + (dir / "one.h5")).status == 0);
    REQUIRE(test::run_plateau("run" + common +
                              " --teachers 2 --teacher-overlap 0.5 --switch-at 1 --heads per-task"
                              " --learn-v true -o " +
                              (dir / "two.h5"))
                .status == 0);
    const CampaignReader one = CampaignReader::open(dir / "one.h5");
    const auto& vars = one.groups().front().variables;
    CHECK(std::find(vars.begin(), vars.end(), "eg_tasks") == vars.end());
    const CampaignReader two = CampaignReader::open(dir / "two.h5");
    // The writer's version, which has the variables of several teachers (1.8) or later.
    CHECK(two.metadata().version.minor == campaign_schema_version().minor);
    CHECK(two.metadata().version.minor >= 8);
    CHECK(two.groups().front().tasks == 2);
    const Observables last = two.read_records(*two.find_run(0)).back();
    CHECK(last.extras.at("eg_tasks").size() == 2);
    CHECK(last.extras.at("R_teachers").size() == 2 * 4);
    CHECK(last.extras.at("T_teachers").size() == 16);
    CHECK(last.extras.at("switch_alpha")[1] == 1.0);
    CHECK(last.extras.at("current_task")[0] == 1.0);
    CHECK(last.eg == last.extras.at("eg_tasks")[1]);
}

TEST_CASE("teachers: gram runs have the law of full runs through a switch (two-sample KS)",
          "[teachers][gram][heavy]") {
    // 300 runs of each backend, K = M = 2, two teachers at overlap 0.5, per-task heads that learn,
    // a switch at alpha = 3: KS tests on eps_g of both teachers, R_11 with teacher 2 and Q_11 at
    // alpha 3 (before the switch acts) and 6; 8 tests, Bonferroni at a family-wise level of 1e-3.
    RunParams p = teachers_params(40, 2, 0.5, 0.5);
    p.model.learn_v = true;
    p.model.heads = Heads::per_task;
    p.model.switch_at = {3.0};
    p.training.eta = 1.0;
    p.training.eta_v = 1.0;
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 6.0;
    p.schedule.records = 3; // 0, 3, 6
    const int runs = 300;
    struct Sample {
        std::vector<double> values[2][4];
    };
    const auto sample = [&](DynamicsKind kind) {
        RunParams q = p;
        q.dynamics = kind;
        Sample s;
        for (int r = 0; r < runs; ++r) {
            const RunResult res = simulate(q, 21, static_cast<std::uint64_t>(r));
            REQUIRE(res.records.size() == 3);
            for (int i = 0; i < 2; ++i) {
                const Observables& o = res.records[static_cast<std::size_t>(i) + 1];
                const Eigen::VectorXd eg = o.extras.at(std::string(extra_name::eg_tasks));
                const Eigen::VectorXd R = o.extras.at(std::string(extra_name::R_teachers));
                s.values[i][0].push_back(eg[0]);
                s.values[i][1].push_back(eg[1]);
                s.values[i][2].push_back(R[2]); // R with teacher 2's first unit, row-major K x 4
                s.values[i][3].push_back(o.Q(0, 0));
            }
        }
        return s;
    };
    const Sample gram = sample(DynamicsKind::gram);
    const Sample full = sample(DynamicsKind::full);
    const char* names[] = {"eg teacher 1", "eg teacher 2", "R with teacher 2", "Q_11"};
    for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 4; ++k) {
            const double pv = test::ks_p_value(gram.values[i][k], full.values[i][k]);
            INFO("alpha " << 3 * (i + 1) << ", " << names[k] << ": p = " << pv);
            CHECK(pv > 1e-3 / 8.0);
        }
    // The chain starts from the teachers' exact overlaps (orthonormal teacher).
    const OrderParameters start = sample_initial_gram(p, 21, 0);
    CHECK((start.T - expected_T(2, 2, 0.5)).cwiseAbs().maxCoeff() < 1e-15);
}
