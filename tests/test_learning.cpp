// Whole runs: the soft committee machine learns, plateaus, specializes; divergence is recorded.
#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/simulate.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace plateau;

namespace {

/// Index of the teacher unit that student unit j overlaps most, by R_jn / sqrt(Q_jj T_nn).
std::vector<Eigen::Index> best_teacher(const Observables& o) {
    std::vector<Eigen::Index> best;
    for (Eigen::Index j = 0; j < o.R.rows(); ++j) {
        Eigen::Index n = 0;
        (o.R.row(j).array() / (o.Q(j, j) * o.T.diagonal().transpose().array()).sqrt()).maxCoeff(&n);
        best.push_back(n);
    }
    return best;
}

} // namespace

TEST_CASE("record times", "[schedule]") {
    ScheduleParams s;
    s.records = 5;
    s.alpha_max = 100;
    s.alpha_min = 0.01;
    const auto log = record_alphas(s);
    REQUIRE(log.size() == 5);
    CHECK(log[0] == 0.0);
    CHECK(log[1] == Approx(0.01));
    CHECK(log[2] == Approx(std::pow(10.0, -2.0 + 4.0 / 3.0))); // 4 points, 0.01 to 100
    CHECK(log[4] == 100.0);
    s.kind = ScheduleKind::linear;
    CHECK(record_alphas(s) == std::vector<double>{0, 25, 50, 75, 100});
    CHECK(record_step(0.5, 501) == 251); // nearest whole step (ties away from zero)
}

TEST_CASE("K = M = 2 erf at N = 500 learns, plateaus and specializes", "[learning]") {
    RunParams p; // the default experiment: N = 500, K = M = 2, erf, eta = 0.5, alpha to 300
    p.schedule.records = 60;
    const auto alphas = record_alphas(p.schedule);
    for (std::uint64_t run = 0; run < 3; ++run) {
        const RunResult r = simulate(p, 1, run);
        REQUIRE(r.status == RunStatus::completed);
        REQUIRE(r.records.size() == alphas.size());
        const double eg0 = r.records.front().eg;
        const double eg_end = r.records.back().eg;
        INFO("run " << run << ": eps_g from " << eg0 << " to " << eg_end);
        CHECK(eg_end < 0.01 * eg0);
        // Plateau: early on (alpha ~ 10-30) the student units are unspecialized: each one's
        // overlaps with the two teacher units are nearly equal.
        const auto at = [&](double a) {
            return static_cast<std::size_t>(std::lower_bound(alphas.begin(), alphas.end(), a) -
                                            alphas.begin());
        };
        const Observables& plateau = r.records[at(20.0)];
        const double spread = (plateau.R.col(0) - plateau.R.col(1)).cwiseAbs().maxCoeff();
        CHECK(spread < 0.5 * plateau.R.cwiseAbs().maxCoeff());
        CHECK(plateau.eg > 5 * eg_end);
        // After the escape every student unit points at a different teacher unit.
        const auto best = best_teacher(r.records.back());
        CHECK(best[0] != best[1]);
        const Observables& end = r.records.back();
        CHECK(end.R.cwiseAbs().maxCoeff() > 0.9);
    }
}

TEST_CASE("a too large learning rate ends the run as diverged, not as a crash", "[learning]") {
    RunParams p;
    p.model.N = 100;
    p.model.student.g.kind = p.model.teacher.g.kind = ActivationKind::linear;
    p.training.eta = p.training.eta_v = 50.0;
    p.schedule.alpha_max = 50;
    p.schedule.records = 20;
    const RunResult r = simulate(p, 3, 0);
    CHECK(r.status == RunStatus::diverged);
    CHECK(r.records.size() < 20);

    RunParams erf = p; // erf saturates: the weights grow without bound instead
    erf.model.student.g.kind = erf.model.teacher.g.kind = ActivationKind::erf;
    erf.training.eta = 200.0;
    erf.observer.divergence_q = 1e4;
    CHECK(simulate(erf, 3, 0).status == RunStatus::diverged);
}

TEST_CASE("a run is a pure function of (parameters, seed, run index)", "[learning]") {
    RunParams p;
    p.model.N = 80;
    p.schedule.alpha_max = 10;
    p.schedule.records = 10;
    p.model.noise = 0.1;
    p.model.learn_v = true;
    const RunResult a = simulate(p, 7, 3);
    const RunResult b = simulate(p, 7, 3);
    const RunResult c = simulate(p, 7, 4);
    REQUIRE(a.records.size() == b.records.size());
    for (std::size_t i = 0; i < a.records.size(); ++i) {
        CHECK(a.records[i].eg == b.records[i].eg);
        CHECK(a.records[i].Q == b.records[i].Q);
        CHECK(a.records[i].v == b.records[i].v);
    }
    CHECK(a.records.back().eg != c.records.back().eg);
}

// docs/PERFORMANCE.md: record times that round to the same step (small N) are measured once. At
// N = 20 the log schedule from alpha = 0.01 puts records 0 and 1 (alpha = 0, 0.01) on step 0 and
// several later ones on the same steps; with an exact eps_g (erf, h = identity) the repeated
// record is the first one again, and the observer is called once per distinct step.
TEST_CASE("record times that round to the same step are observed once", "[learning]") {
    RunParams p;
    p.model.N = 20;
    p.schedule.records = 12;
    p.schedule.alpha_max = 1.0;
    const auto alphas = record_alphas(p.schedule);
    std::vector<std::int64_t> steps;
    for (const double a : alphas)
        steps.push_back(record_step(a, p.model.N));
    const auto distinct =
        static_cast<std::int64_t>(std::unique(steps.begin(), steps.end()) - steps.begin());
    REQUIRE(distinct < static_cast<std::int64_t>(alphas.size()));

    SimulationDynamics dynamics(p, 3, 1, 1);
    const RunResult r = record_run(dynamics, alphas, divergence_rule(p), outcome_model(p.model));
    REQUIRE(r.status == RunStatus::completed);
    CHECK(dynamics.statistics().observations == distinct);
    // The repeated records are the same measurement.
    for (std::size_t i = 1; i < alphas.size(); ++i)
        if (record_step(alphas[i], p.model.N) == record_step(alphas[i - 1], p.model.N)) {
            CHECK(r.records[i].Q == r.records[i - 1].Q);
            CHECK(r.records[i].eg == r.records[i - 1].eg);
        }
    // And the results are those of simulate(): caching changes no value.
    const RunResult again = simulate(p, 3, 1);
    REQUIRE(again.records.size() == r.records.size());
    for (std::size_t i = 0; i < r.records.size(); ++i)
        CHECK(again.records[i].eg == r.records[i].eg);
}
