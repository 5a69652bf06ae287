// The outcome rule (engine/run/outcome.hpp, analysis/SCHEMA.md "Outcomes"): on hand-built record
// series, on simulations (erf at eta = 4 completes without learning: failed, not a plateau),
// and through the file (stored as `outcome`, schema 1.1; computed for a 1.0 file).
#include "cli_helpers.hpp"
#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/io/h5/h5.hpp"
#include "engine/io/reader.hpp"
#include "engine/io/writer.hpp"
#include "engine/run/outcome.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/simulate.hpp"
#include "models/target.hpp"
#include "run_helpers.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

using namespace plateau;
using plateau::test::TempDir;

namespace {

/// alpha = 0, then `records - 1` log-spaced times in [0.01, 300] (the default schedule).
std::vector<double> log_alphas(int records = 100) {
    std::vector<double> out{0.0};
    for (int i = 0; i < records - 1; ++i)
        out.push_back(0.01 * std::pow(30000.0, i / double(records - 2)));
    return out;
}

struct Series {
    std::function<double(double)> eg;
    /// Student vectors W (K x n) and teacher vectors B (M x n) at time alpha.
    std::function<Eigen::MatrixXd(double)> W;
    Eigen::MatrixXd B;
};

/// A completed run whose record i has eps_g = eg(alpha_i), Q = W W^T, R = W B^T, T = B B^T.
RunResult completed(const Series& s, const std::vector<double>& alphas) {
    RunResult r;
    r.status = RunStatus::completed;
    for (const double a : alphas) {
        const Eigen::MatrixXd W = s.W(a);
        Observables o;
        o.Q = W * W.transpose();
        o.R = W * s.B.transpose();
        o.T = s.B * s.B.transpose();
        o.v = Eigen::VectorXd::Ones(W.rows());
        o.eg = s.eg(a);
        r.records.push_back(o);
    }
    return r;
}

constexpr Eigen::Index input_dim = 8;
Eigen::RowVectorXd e(Eigen::Index i) {
    return Eigen::RowVectorXd::Unit(input_dim, i);
}
Eigen::MatrixXd teachers(Eigen::Index M) {
    return Eigen::MatrixXd::Identity(M, input_dim);
}
/// eps_g falling from `start` to `level` around alpha = 3, then flat.
std::function<double(double)> falls_to(double start, double level) {
    return [=](double a) {
        return level + (start - level) / (1.0 + std::pow(a / 3.0, 3));
    };
}
/// The symmetric plateau of K = M = 2: both units at r_jn = 0.68 with both teacher units.
Eigen::MatrixXd symmetric(double) {
    Eigen::MatrixXd W(2, input_dim);
    W.row(0) = 0.48 * (e(0) + e(1)) + 0.2 * e(2);
    W.row(1) = 0.48 * (e(0) + e(1)) + 0.2 * e(3);
    return W;
}

RunOutcome outcome_of(const Series& s, const OutcomeModel& model = {}) {
    const auto alphas = log_alphas();
    return assess_outcome(completed(s, alphas), alphas, model);
}

/// A search-phase model (OutcomeModel).
constexpr OutcomeModel search_model{.search_phase = true};

} // namespace

TEST_CASE("Outcome: eps_g stalling while the weights grow far beyond the teacher's is failed",
          "[outcome]") {
    // erf at eta = 4: eps_g 0.45 -> 0.24 and flat, |w_j|^2 = 0.2 + 4 sqrt(alpha) (69 at alpha =
    // 300, the teacher's 1), units pointing at their teacher units (specialized).
    Series s{falls_to(0.45, 0.24),
             [](double a) {
                 const double len = std::sqrt(0.2 + 4.0 * std::sqrt(a));
                 Eigen::MatrixXd W(2, input_dim);
                 W.row(0) = len * (0.8 * e(0) + 0.6 * e(4));
                 W.row(1) = len * (0.8 * e(1) + 0.6 * e(5));
                 return W;
             },
             teachers(2)};
    CHECK(outcome_of(s) == RunOutcome::failed);
    // The same curve with the weights at the teacher's length: specialized, so learned (eps_g at
    // 0.24 is then the asymptote, e.g. of label noise).
    s.W = [](double) {
        Eigen::MatrixXd W(2, input_dim);
        W.row(0) = 0.8 * e(0) + 0.6 * e(4);
        W.row(1) = 0.8 * e(1) + 0.6 * e(5);
        return W;
    };
    CHECK(outcome_of(s) == RunOutcome::learned);
    // Growing by 1.9 to below 10 times the teacher's squared length is not enough to fail.
    s.W = [](double a) {
        const double len = std::sqrt(1.0 + 0.9 * std::min(1.0, std::max(0.0, (a - 30) / 270)));
        Eigen::MatrixXd W(2, input_dim);
        W.row(0) = len * (0.8 * e(0) + 0.6 * e(4));
        W.row(1) = len * (0.8 * e(1) + 0.6 * e(5));
        return W;
    };
    CHECK(outcome_of(s) == RunOutcome::learned);
}

TEST_CASE("Outcome: eps_g at the end not below its start is failed", "[outcome]") {
    // A linear or ReLU student whose error grows without reaching divergence-q.
    Series s{[](double a) { return 0.5 + a; }, symmetric, teachers(2)};
    CHECK(outcome_of(s) == RunOutcome::failed);
    s.eg = [](double) {
        return 0.3;
    }; // nothing learned at all
    CHECK(outcome_of(s) == RunOutcome::failed);
    s.eg = [](double) {
        return 0.0;
    }; // started at the teacher: nothing to learn
    CHECK(outcome_of(s) == RunOutcome::learned);
}

TEST_CASE("Outcome: the symmetric plateau at the end is plateau and a K < M asymptote learned",
          "[outcome]") {
    // K = M = 2 ending on the symmetric plateau (alpha-max = 20 at eta = 0.5): eps_g 0.45 ->
    // 0.015, unspecialized (split units).
    Series s{falls_to(0.45, 0.015), symmetric, teachers(2)};
    CHECK(outcome_of(s) == RunOutcome::plateau);
    // Still descending at the end (by half over the last decade), unspecialized: not converged.
    s.eg = [](double a) {
        return 0.45 / std::sqrt(1.0 + a / 3.0);
    };
    CHECK(outcome_of(s) == RunOutcome::plateau);
    // K = 1, M = 2: one unit on both teacher units at a flat eps_g (0.031) is its asymptote...
    Series small{falls_to(0.39, 0.031),
                 [](double) {
                     Eigen::MatrixXd W(1, input_dim);
                     W.row(0) = 0.97 * (e(0) + e(1)) + 0.1 * e(2);
                     return W;
                 },
                 teachers(2)};
    CHECK(outcome_of(small) == RunOutcome::learned);
    // ... but not while eps_g still falls.
    small.eg = [](double a) {
        return 0.39 / std::sqrt(1.0 + a / 3.0);
    };
    CHECK(outcome_of(small) == RunOutcome::plateau);
    // Down to 1 % of the start is learned whatever the units look like.
    s.eg = falls_to(0.45, 0.004);
    CHECK(outcome_of(s) == RunOutcome::learned);
}

TEST_CASE("Outcome: which models have a search phase", "[outcome]") {
    ModelParams m;
    CHECK_FALSE(outcome_model(m).search_phase); // erf committee
    for (const auto k :
         {ActivationKind::square, ActivationKind::he2, ActivationKind::he3, ActivationKind::he4}) {
        INFO(name(k));
        m.teacher.g = Activation{k};
        CHECK(outcome_model(m).search_phase); // no linear part: <g*(u) u> = 0
    }
    for (const auto k : {ActivationKind::linear, ActivationKind::he1, ActivationKind::relu,
                         ActivationKind::tanh, ActivationKind::sigmoid}) {
        INFO(name(k));
        m.teacher.g = Activation{k};
        CHECK_FALSE(outcome_model(m).search_phase);
    }
    m.teacher.g = *parse_hidden_activation("poly:0:-3:0:1"); // x^3 - 3x: <g u> = 3 - 3 = 0
    CHECK(outcome_model(m).search_phase);
    m.teacher.g = *parse_hidden_activation("poly:0:1:0.5");
    CHECK_FALSE(outcome_model(m).search_phase);
    m.target = parse_target("y1 + y1*y2"); // any polynomial target
    CHECK(outcome_model(m).search_phase);
}

TEST_CASE("Outcome: a search-phase model is learned, searching or escaped, never plateau",
          "[outcome]") {
    // Phase retrieval, K = 2 students on the one teacher direction (inverse-k readout, label
    // noise): eps_g 1.5 -> 0.05, flat at the floor of the noise (3 % of its start). Both units
    // share the direction, so the committee's rule (specialization) says plateau: wrong.
    const auto shared = [](double a) {
        const double m = std::min(0.98, 0.03 * std::exp(a / 3.0));
        Eigen::MatrixXd W(2, input_dim);
        W.row(0) = m * e(0) + std::sqrt(1.0 - m * m) * e(1);
        W.row(1) = -m * e(0) + std::sqrt(1.0 - m * m) * e(2); // r = -m: the sign of a square
        return W;
    };
    Series pr{falls_to(1.5, 0.05), shared, teachers(1)};
    CHECK(outcome_of(pr) == RunOutcome::plateau);               // the classic committee's word
    CHECK(outcome_of(pr, search_model) == RunOutcome::learned); // the span has B_1, signs aside
    // Still in the search phase at the end: eps_g within 1 % of its start, up by 0.5 % (a
    // fluctuation): searching, where the committee's rule says failed.
    pr.eg = [](double a) {
        return 1.5 * (1.0 + 0.005 * a / 300.0);
    };
    pr.W = [](double) {
        Eigen::MatrixXd W(2, input_dim);
        W.row(0) = 0.03 * e(0) + std::sqrt(1.0 - 0.03 * 0.03) * e(1);
        W.row(1) = 0.03 * e(0) + std::sqrt(1.0 - 0.03 * 0.03) * e(2);
        return W;
    };
    CHECK(outcome_of(pr) == RunOutcome::failed);
    CHECK(outcome_of(pr, search_model) == RunOutcome::searching);
    // Up by 2 %: failed for both.
    pr.eg = [](double a) {
        return 1.5 * (1.0 + 0.02 * std::min(1.0, a / 30.0));
    };
    CHECK(outcome_of(pr, search_model) == RunOutcome::failed);
    // A staircase y1 + y1*y2 (K = 2, M = 2) between its steps: y1 captured by the students'
    // span, y2 not (|P B_2|^2 = 0.03), eps_g flat at half its start: escaped. Units on
    // (y1 +- y2)/sqrt 2 capture both: learned.
    Series stairs{falls_to(1.0, 0.5),
                  [](double) {
                      Eigen::MatrixXd W(2, input_dim);
                      W.row(0) = 0.9 * e(0) + 0.05 * e(1) + 0.43 * e(2);
                      W.row(1) = 0.9 * e(0) - 0.05 * e(1) + 0.43 * e(3);
                      return W;
                  },
                  teachers(2)};
    CHECK(outcome_of(stairs, search_model) == RunOutcome::escaped);
    stairs.W = [](double) {
        Eigen::MatrixXd W(2, input_dim);
        W.row(0) = 0.7 * (e(0) + e(1)) + 0.1 * e(2);
        W.row(1) = 0.7 * (e(0) - e(1)) + 0.1 * e(3);
        return W;
    };
    stairs.eg = falls_to(1.0, 0.02);
    CHECK(outcome_of(stairs, search_model) == RunOutcome::learned);
    // Stuck between the steps as simulations are (N = 300, sphere): both units near
    // 0.85 y1 + 0.5 y2, each overlapping B_2 by 0.5, but their span holds a quarter of B_2
    // (|P B_2|^2 = 0.26): escaped, not learned.
    stairs.W = [](double) {
        Eigen::MatrixXd W(2, input_dim);
        W.row(0) = 0.85 * e(0) + 0.5 * e(1) + 0.17 * e(2);
        W.row(1) = 0.85 * e(0) + 0.5 * e(1) + 0.17 * e(3);
        return W;
    };
    stairs.eg = falls_to(2.95, 0.53);
    CHECK(outcome_of(stairs, search_model) == RunOutcome::escaped);
    stairs.W = [](double) {
        Eigen::MatrixXd W(2, input_dim);
        W.row(0) = 0.7 * (e(0) + e(1)) + 0.1 * e(2);
        W.row(1) = 0.7 * (e(0) - e(1)) + 0.1 * e(3);
        return W;
    };
    // Every direction captured but eps_g still falling by half over the last decade: escaped.
    stairs.eg = [](double a) {
        return 1.0 / std::sqrt(1.0 + a / 3.0);
    };
    CHECK(outcome_of(stairs, search_model) == RunOutcome::escaped);
}

TEST_CASE("Outcome of simulations: phase retrieval with label noise is learned",
          "[outcome][heavy]") {
    // experiments/phase_retrieval_escape.ini at N = 1000 (Gram chain) with more label noise:
    // square student and teacher, K = 1 and 2, M = 1, inverse-k, sphere, eta = 0.1, s^2 = 0.5.
    // Every run escapes by alpha ~ 100 and ends at eps_g's floor (~0.12 for K = 1, ~0.035 for
    // K = 2: above 1 % of its start), its units on the teacher direction, m -> +-1 (both units
    // for K = 2: shared). The old rule said plateau for all K = 2 runs (not specialized) and
    // for the K = 1 runs at m -> -1 (it kept the sign of r). At alpha = 2 none has escaped.
    for (const int K : {1, 2}) {
        RunParams p = test::params_of(1000, K, 1);
        p.model.student.g = p.model.teacher.g = Activation{ActivationKind::square};
        p.model.student.readout = p.model.teacher.readout = ReadoutScale::inverse_k;
        p.model.constraint = Constraint::sphere;
        p.model.noise = 0.5;
        p.training.eta = 0.1;
        p.dynamics = DynamicsKind::gram;
        p.schedule.alpha_max = 1000.0;
        p.schedule.records = 40;
        for (std::uint64_t run = 0; run < 8; ++run) {
            INFO("K = " << K << ", run " << run);
            const RunResult r = simulate(p, 7, run);
            REQUIRE(r.status == RunStatus::completed);
            CHECK(r.records.back().eg > 0.01 * r.records.front().eg); // the floor of the noise
            CHECK(r.outcome == RunOutcome::learned);
        }
        p.schedule.alpha_max = 2.0;
        CHECK(simulate(p, 7, 0).outcome == RunOutcome::searching);
    }
}

TEST_CASE("Outcome: pending and diverged runs keep their status", "[outcome]") {
    const auto alphas = log_alphas();
    RunResult r = completed({falls_to(0.45, 0.24), symmetric, teachers(2)}, alphas);
    r.status = RunStatus::diverged;
    CHECK(assess_outcome(r, alphas) == RunOutcome::diverged);
    r.status = RunStatus::pending;
    CHECK(assess_outcome(r, alphas) == RunOutcome::pending);
    r.status = RunStatus::completed;
    r.records.resize(1); // nothing to judge a trend by
    CHECK(assess_outcome(r, alphas) == RunOutcome::plateau);
    // Two records (records = 2): the window is both.
    const std::vector<double> two{0.0, 300.0};
    const RunResult short_run =
        completed({[](double a) { return a > 0 ? 1e-4 : 0.4; }, symmetric, teachers(2)}, two);
    CHECK(assess_outcome(short_run, two) == RunOutcome::learned);
    for (std::size_t k = 0; k < all_run_outcomes.size(); ++k) // flag value = position
        CHECK(static_cast<std::size_t>(all_run_outcomes[k]) == k);
}

TEST_CASE("Outcome of simulations: erf at eta 4 completes as failed", "[outcome]") {
    RunParams p;
    p.model.N = 200;
    const auto run = [&](double eta, double alpha_max) {
        p.training.eta = eta;
        p.schedule.alpha_max = alpha_max;
        return simulate(p, 1, 0);
    };
    const RunResult stuck = run(4.0, 300.0);
    CHECK(stuck.status == RunStatus::completed); // bounded units never overflow
    CHECK(stuck.outcome == RunOutcome::failed);
    CHECK(stuck.records.back().eg > 0.2);
    CHECK(run(6.0, 300.0).outcome == RunOutcome::failed);
    CHECK(run(0.5, 300.0).outcome == RunOutcome::learned);
    CHECK(run(3.0, 300.0).outcome == RunOutcome::learned);
    CHECK(run(0.5, 20.0).outcome == RunOutcome::plateau); // ends on the plateau
    p.model.student.g = Activation{ActivationKind::relu};
    p.model.teacher.g = Activation{ActivationKind::relu};
    CHECK(run(4.0, 300.0).outcome == RunOutcome::diverged);
}

TEST_CASE("Outcome in the file: stored since 1.1 and computed for a 1.0 file", "[outcome]") {
    TempDir dir;
    CampaignSpec spec;
    for (const double eta : {0.5, 4.0}) {
        GridPoint g;
        g.params.model.N = 200;
        g.params.training.eta = eta;
        g.coordinates = {{"N", 200, {}, true, "input dimension"},
                         {"eta", eta, {}, false, "learning rate"}};
        spec.points.push_back(g);
    }
    spec.seeds = 2;
    spec.master_seed = 1;
    std::vector<VariableSpec> old_table;
    for (const VariableSpec& v : campaign_variables())
        if (v.since_minor == 0)
            old_table.push_back(v); // the variables of a file written before `outcome`
    REQUIRE(schema_version_of(old_table) == SchemaVersion{1, 0});
    CHECK(campaign_schema_version().minor >= 1);

    const auto write = [&](const std::string& path, std::span<const VariableSpec> table) {
        CampaignWriter w =
            CampaignWriter::create(path, spec, {"c", "cmd", "simulation"}, false, table);
        execute_campaign(spec, w.unfinished_runs(), [&](FinishedRun&& f) { w.write(f); });
        w.close();
    };
    const std::string now = dir / "now.h5";
    const std::string old = dir / "old.h5";
    write(now, campaign_variables());
    write(old, old_table);
    {
        const h5::File f = h5::File::open_readonly(now);
        const h5::Dataset d = f.root().open_group("K2_M2").open_dataset("outcome");
        CHECK(h5::get_string_attribute(d, "flag_meanings") ==
              "pending learned plateau failed diverged searching escaped");
        CHECK(h5::read_all<std::int8_t>(d) == std::vector<std::int8_t>{1, 1, 3, 3});
        CHECK_FALSE(h5::File::open_readonly(old).root().open_group("K2_M2").has("outcome"));
    }
    const CampaignReader stored = CampaignReader::open(now);
    const CampaignReader computed = CampaignReader::open(old);
    CHECK(stored.stored_outcomes(0));
    CHECK_FALSE(computed.stored_outcomes(0));
    for (std::int64_t r = 0; r < spec.runs(); ++r) {
        INFO("run " << r);
        const RunOutcome expected = r < 2 ? RunOutcome::learned : RunOutcome::failed;
        CHECK(stored.read_run(*stored.find_run(r)).outcome == expected);
        CHECK(computed.read_run(*computed.find_run(r)).outcome == expected);
    }
    // Resuming the 1.0 file would leave `outcome` unwritten: refused.
    CHECK_THROWS_AS(CampaignWriter::resume(old, spec, {"c", "cmd", "simulation"}), OutputError);
}
