// Divergence in every layer (issue 35; docs/theory.md §12 "Divergence", analysis/SCHEMA.md
// "Outcomes"): a run ends diverged at the first record where a learned weight crosses its bound
// (Q_jj of the first layer, |row|^2 of W_2..W_L, v_j^2, all against divergence-q) or where a value
// that is not NaN by design is not finite. The rule alone on hand-made records, then runs of
// L = 2 and L = 3 networks with one layer blowing up at a time.
#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/simulate.hpp"

#include "run_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace plateau;

namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

/// A deeper student K = widths with M = 2 teacher units, erf, small N.
RunParams deep_params(std::vector<int> widths) {
    RunParams p = test::params_of(60, widths.front(), 2);
    p.model.student.widths = widths;
    p.model.teacher.widths = {2, 2};
    p.observer.eg_samples = 200;
    p.observer.divergence_q = 10.0; // erf units saturate: the layers above stall near |w| ~ 10
    p.schedule.alpha_max = 5.0;
    p.schedule.records = 12;
    return p;
}

/// A record of `rule`'s network within every bound: Q = I, v NaN (deeper) or 1, the weights
/// above the first layer all 1/2 (|row|^2 = K_{l-1}/4), v = 1.
Observables record_of(const DivergenceRule& rule) {
    Observables o;
    const Eigen::Index K = rule.widths.front();
    o.Q = Eigen::MatrixXd::Identity(K, K);
    o.R = Eigen::MatrixXd::Zero(K, 2);
    o.T = Eigen::MatrixXd::Identity(2, 2);
    o.v = Eigen::VectorXd::Constant(K, rule.deep ? not_a_number : 1.0);
    o.eg = 0.1;
    o.eg_stderr = 0.01;
    if (rule.deep) {
        Eigen::Index n = rule.widths.back();
        for (std::size_t l = 0; l + 1 < rule.widths.size(); ++l)
            n += Eigen::Index{rule.widths[l]} * rule.widths[l + 1];
        Eigen::VectorXd w = Eigen::VectorXd::Constant(n, 0.5);
        w.tail(rule.widths.back()).setOnes();
        o.extras.emplace("student_layers", w);
        o.extras.emplace("teacher_layers", Eigen::VectorXd::Constant(6, 0.5));
    }
    o.extras.emplace("examples", Eigen::VectorXd::Constant(1, 100.0));
    return o;
}

/// Where W_{l+2}'s row j begins in student_layers.
Eigen::Index row_offset(const DivergenceRule& rule, std::size_t l, Eigen::Index j) {
    Eigen::Index offset = 0;
    for (std::size_t i = 0; i < l; ++i)
        offset += Eigen::Index{rule.widths[i]} * rule.widths[i + 1];
    return offset + j * rule.widths[l];
}

} // namespace

TEST_CASE("divergence rule: every learned layer and v against divergence-q, fixed ones not",
          "[divergence]") {
    for (const std::vector<int>& widths : {std::vector<int>{4, 2}, std::vector<int>{4, 2, 2}}) {
        RunParams p = deep_params(widths);
        p.model.learn_v = true;
        p.observer.divergence_q = 100.0;
        const DivergenceRule rule = divergence_rule(p);
        INFO("K = " << widths_text(widths));
        REQUIRE(rule.deep);
        REQUIRE(rule.learn_layers.size() == widths.size() - 1);
        CHECK(within_bounds(record_of(rule), rule));

        // The first layer: Q_jj, as before.
        Observables o = record_of(rule);
        o.Q(3, 3) = 100.0;
        CHECK(within_bounds(o, rule)); // at the bound
        o.Q(3, 3) = 100.5;
        CHECK_FALSE(within_bounds(o, rule));

        // Each layer above alone: one row's squared norm past the bound. The same entry of a
        // layer that does not learn is not judged (a weight at its initial value cannot diverge).
        for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
            for (const Eigen::Index j : {Eigen::Index{0}, Eigen::Index{widths[l + 1] - 1}}) {
                INFO("W_" << l + 2 << " row " << j);
                o = record_of(rule);
                auto& w = o.extras.at("student_layers");
                w.segment(row_offset(rule, l, j), widths[l]).setConstant(5.0);
                // |row|^2 = 25 K_{l+1}: 100 for K_{l+1} = 4 (at the bound), 50 for 2.
                CHECK(within_bounds(o, rule));
                w[row_offset(rule, l, j) + widths[l] - 1] = 11.0;
                CHECK_FALSE(within_bounds(o, rule));
                DivergenceRule fixed = rule;
                fixed.learn_layers[l] = false;
                CHECK(within_bounds(o, fixed));
            }
        }

        // v alone: v_j^2.
        o = record_of(rule);
        o.extras.at("student_layers").tail(1)[0] = -10.0;
        CHECK(within_bounds(o, rule));
        o.extras.at("student_layers").tail(1)[0] = -10.1;
        CHECK_FALSE(within_bounds(o, rule));
        DivergenceRule fixed_v = rule;
        fixed_v.learn_v = false;
        CHECK(within_bounds(o, fixed_v));
    }
}

TEST_CASE("divergence rule: a two-layer network's v, learned or fixed", "[divergence]") {
    RunParams p = test::params_of(60, 3, 2);
    p.model.learn_v = true;
    p.observer.divergence_q = 100.0;
    const DivergenceRule rule = divergence_rule(p);
    CHECK_FALSE(rule.deep);
    Observables o = record_of(rule);
    CHECK(within_bounds(o, rule));
    o.v[1] = 10.5;
    CHECK_FALSE(within_bounds(o, rule));
    // A fixed v, however large (v0 = 10.5 is a valid configuration), is not a divergence.
    p.model.learn_v = false;
    CHECK(within_bounds(o, divergence_rule(p)));
    o.v[1] = inf;
    CHECK_FALSE(within_bounds(o, divergence_rule(p)));
}

TEST_CASE("divergence rule: a value that is not finite ends the run unless NaN by design",
          "[divergence]") {
    for (const std::vector<int>& widths : {std::vector<int>{3}, std::vector<int>{4, 2, 2}}) {
        RunParams p = deep_params(widths);
        p.model.teacher.widths = widths.size() > 1 ? std::vector<int>{2, 2} : std::vector<int>{2};
        const DivergenceRule rule = divergence_rule(p);
        INFO("K = " << widths_text(widths));
        const Observables good = record_of(rule);
        REQUIRE(within_bounds(good, rule));
        // v of a deeper network is NaN by design; flow_error where the flow vanishes.
        Observables o = good;
        o.extras.emplace("flow_error", Eigen::VectorXd::Constant(1, not_a_number));
        CHECK(within_bounds(o, rule));
        for (const double bad : {not_a_number, inf, -inf}) {
            INFO("value " << bad);
            o = good;
            o.R(0, 1) = bad;
            CHECK_FALSE(within_bounds(o, rule));
            o = good;
            o.T(1, 1) = bad;
            CHECK_FALSE(within_bounds(o, rule));
            o = good;
            o.eg = bad;
            CHECK_FALSE(within_bounds(o, rule));
            o = good;
            o.eg_stderr = bad;
            CHECK_FALSE(within_bounds(o, rule));
            o = good;
            o.Q(1, 0) = bad; // off the diagonal: not bounded, but must be a number
            CHECK_FALSE(within_bounds(o, rule));
            o = good;
            o.extras.emplace("eps_train", Eigen::VectorXd::Constant(1, bad));
            CHECK_FALSE(within_bounds(o, rule));
            o = good;
            o.extras.at("examples")[0] = bad;
            CHECK_FALSE(within_bounds(o, rule));
            if (rule.deep) {
                // Fixed weights are judged for being numbers: the teacher's, a fixed v.
                o = good;
                o.extras.at("teacher_layers")[2] = bad;
                CHECK_FALSE(within_bounds(o, rule));
                o = good;
                o.extras.at("student_layers").tail(1)[0] = bad;
                CHECK_FALSE(within_bounds(o, rule));
            }
        }
    }
}

namespace {

/// The run's status, its records, and whether its last record's weights above the first layer
/// stayed within the bound (the records before a divergence are kept, all within the rule).
RunResult run_of(const RunParams& p) {
    RunResult r = simulate(p, 3, 0);
    const DivergenceRule rule = divergence_rule(p);
    for (const Observables& o : r.records)
        REQUIRE(within_bounds(o, rule));
    return r;
}

/// The largest |row|^2 of layer l (W_{l+2}) in the first-layer-only view of a record.
double largest_row(const Observables& o, const std::vector<int>& widths, std::size_t l) {
    DivergenceRule rule;
    rule.widths = widths;
    const Eigen::VectorXd& w = o.extras.at("student_layers");
    double largest = 0.0;
    for (Eigen::Index j = 0; j < widths[l + 1]; ++j)
        largest = std::max(largest, w.segment(row_offset(rule, l, j), widths[l]).squaredNorm());
    return largest;
}

} // namespace

TEST_CASE("deep runs: each layer blowing up alone ends the run diverged (L = 2 and 3)",
          "[divergence][deep]") {
    struct Case {
        std::vector<int> widths;
        std::vector<double> eta_layers;
        std::vector<bool> learn_layers;
        std::size_t layer; ///< the layer that blows up: W_{layer+2}
    };
    const std::vector<Case> cases{
        {{4, 2}, {1e3}, {true}, 0},
        {{4, 2, 2}, {1e3, 0.1}, {true}, 0},
        {{4, 2, 2}, {0.1, 1e3}, {true}, 1},
        {{4, 2, 2}, {1e3}, {false, true}, 1},
    };
    for (const Case& c : cases) {
        RunParams p = deep_params(c.widths);
        p.model.teacher.widths = c.widths;
        p.training.eta = 0.1;
        p.training.eta_layers = c.eta_layers;
        p.model.learn_layers = c.learn_layers;
        INFO("K = " << widths_text(c.widths) << ", W_" << c.layer + 2 << " blows up");
        const RunResult r = run_of(p);
        CHECK(r.status == RunStatus::diverged);
        CHECK(r.outcome == RunOutcome::diverged);
        REQUIRE_FALSE(r.records.empty());
        CHECK(r.records.size() < record_alphas(p.schedule).size());
        // The first layer stayed in bounds: only the deeper rule catches it.
        const Observables& last = r.records.back();
        CHECK(last.Q.diagonal().maxCoeff() < 1.0);
        // With W_{layer+2} fixed the same run completes.
        RunParams calm = p;
        calm.model.learn_layers.clear();
        for (std::size_t l = 0; l + 1 < c.widths.size(); ++l)
            calm.model.learn_layers.push_back(l != c.layer && layer_value(c.learn_layers, l));
        const RunResult ok = run_of(calm);
        CHECK(ok.status == RunStatus::completed);
        CHECK(largest_row(ok.records.back(), c.widths, c.layer) < 10.0);
    }
}

TEST_CASE("deep runs: v blowing up alone ends the run diverged (L = 2 and 3)",
          "[divergence][deep]") {
    for (const std::vector<int>& widths : {std::vector<int>{4, 2}, std::vector<int>{4, 2, 2}}) {
        RunParams p = deep_params(widths);
        p.model.teacher.widths = widths;
        p.training.eta = 0.1;
        p.model.learn_layers = {false};
        p.model.learn_v = true;
        p.training.eta_v = 1e3;
        // v_j reaches ~8 by alpha = 5 and stays finite: only its bound (v_j^2 <= 4) catches it.
        p.observer.divergence_q = 4.0;
        INFO("K = " << widths_text(widths));
        const RunResult r = run_of(p);
        CHECK(r.status == RunStatus::diverged);
        CHECK(r.outcome == RunOutcome::diverged);
        p.training.eta_v = 0.1;
        CHECK(run_of(p).status == RunStatus::completed);
    }
}

TEST_CASE("gram dynamics: a deeper layer blowing up ends the chain's run diverged",
          "[divergence][deep]") {
    RunParams p = deep_params({4, 2, 2});
    p.model.teacher.widths = {4, 2, 2};
    p.dynamics = DynamicsKind::gram;
    p.training.eta = 0.1;
    p.training.eta_layers = {0.1, 1e3};
    const RunResult r = run_of(p);
    CHECK(r.status == RunStatus::diverged);
    p.training.eta_layers = {0.1, 0.1};
    CHECK(run_of(p).status == RunStatus::completed);
}
