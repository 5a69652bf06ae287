// The theory of a campaign's runs as the engine gives it to a library user
// (engine/campaign/theory_runs.hpp): the same runs `plateau ode` writes, each grid point's escape
// rate and eta_max on its runs' first record (schema 1.3), the joint rule's error summary, and
// `--init sample` starting exactly where the simulation starts, for both simulation backends.
#include "engine/campaign/theory_runs.hpp"

#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/theory/fixed_point.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace plateau;

namespace {

CampaignSpec theory_campaign(ActivationKind output) {
    CampaignSpec spec;
    for (const double eta : {0.3, 0.6}) {
        GridPoint g;
        g.params.model.N = 200;
        g.params.model.student.widths = {2};
        g.params.model.teacher.widths = {2};
        g.params.model.student.h.kind = g.params.model.teacher.h.kind = output;
        g.params.training.eta = g.params.training.eta_v = eta;
        g.params.schedule.alpha_max = 5;
        g.params.schedule.records = 4;
        g.params.observer.joint_points = 512;
        spec.points.push_back(g);
    }
    spec.seeds = 2;
    spec.master_seed = 11;
    return spec;
}

} // namespace

TEST_CASE("theory runs: each run carries its grid point's escape rate and eta_max",
          "[theory][campaign]") {
    const CampaignSpec spec = theory_campaign(ActivationKind::linear);
    const RunFunction run = theory_runs(spec, sampled_initial_conditions(spec), OdeParams{});
    // Once per grid point (about 1 s each, about 7 under ASan), as theory_runs computes it.
    std::vector<TheoryPointSummary> summaries;
    for (const GridPoint& point : spec.points)
        summaries.push_back(theory_point_summary(point.params));
    for (std::int64_t r = 0; r < spec.runs(); ++r) {
        const RunParams& params = spec.point_of(r).params;
        const TheoryPointSummary& expected = summaries[static_cast<std::size_t>(r / spec.seeds)];
        REQUIRE(std::isfinite(expected.escape_rate));
        REQUIRE(std::isfinite(expected.eta_max));
        const RunResult result = run(r);
        REQUIRE(!result.records.empty());
        const auto& extras = result.records.front().extras;
        REQUIRE(extras.count("escape_rate") == 1);
        REQUIRE(extras.count("eta_max") == 1);
        CHECK(extras.at("escape_rate")(0) == expected.escape_rate);
        CHECK(extras.at("eta_max")(0) == expected.eta_max);
        // The rest of the run is integrate_theory from the run's own start.
        const RunResult plain =
            integrate_theory(params, sample_initial_order_parameters(
                                         params, spec.master_seed, static_cast<std::uint64_t>(r)));
        REQUIRE(plain.records.size() == result.records.size());
        for (std::size_t k = 0; k < plain.records.size(); ++k)
            CHECK(plain.records[k].eg == result.records[k].eg);
    }
}

TEST_CASE("theory runs: predictions = none stores NaN and leaves the runs as they were",
          "[theory][campaign]") {
    // The linear case has its predictions finite (the test above): NaN is the mode's doing.
    const CampaignSpec spec = theory_campaign(ActivationKind::linear);
    const RunFunction without = theory_runs(spec, sampled_initial_conditions(spec), OdeParams{},
                                            nullptr, nullptr, PredictionMode::none);
    CHECK(name(PredictionMode::automatic) == "auto");
    CHECK(parse<PredictionMode>("none") == PredictionMode::none);
    for (std::int64_t r = 0; r < spec.runs(); ++r) {
        const RunParams& params = spec.point_of(r).params;
        const RunResult a =
            integrate_theory(params, sample_initial_order_parameters(
                                         params, spec.master_seed, static_cast<std::uint64_t>(r)));
        const RunResult b = without(r);
        const auto& extras = b.records.front().extras;
        for (const char* key : {"escape_rate", "eta_max", "plateau_eg", "escape_predicted"}) {
            INFO(key);
            REQUIRE(extras.count(key) == 1);
            CHECK(std::isnan(extras.at(key)(0)));
        }
        REQUIRE(a.records.size() == b.records.size());
        for (std::size_t k = 0; k < a.records.size(); ++k) {
            CHECK(a.records[k].eg == b.records[k].eg);
            CHECK(a.records[k].Q == b.records[k].Q);
            CHECK(a.records[k].R == b.records[k].R);
        }
    }
}

TEST_CASE("theory runs: the joint rule's errors are summed up in the engine",
          "[theory][campaign]") {
    CampaignSpec spec = theory_campaign(ActivationKind::tanh);
    // A tanh student on an identity teacher (h != h*): the joint rule (tanh outputs h = h* take
    // the tensor rule, docs/theory.md §8).
    for (GridPoint& point : spec.points)
        point.params.model.teacher.h.kind = ActivationKind::linear;
    JointRuleErrors errors;
    const RunFunction run =
        theory_runs(spec, sampled_initial_conditions(spec), OdeParams{}, &errors);
    double largest = 0.0;
    for (std::int64_t r = 0; r < 2; ++r) {
        const RunResult result = run(r);
        for (const Observables& o : result.records)
            largest = std::max(largest, o.eg_stderr);
        // No closed form with a tanh output: no escape rate or eta_max (NaN, not absent).
        CHECK(std::isnan(result.records.front().extras.at("escape_rate")(0)));
    }
    const JointRuleErrors::Summary s = errors.summary();
    CHECK(s.runs == 2);
    CHECK(s.points == 512);
    CHECK(s.eg == largest);
    CHECK(s.eg > 0.0);
    CHECK(s.flow_relative > 0.0);
}

TEST_CASE("theory runs: --init sample starts where each simulation backend starts",
          "[theory][campaign]") {
    RunParams p;
    p.model.N = 50;
    p.model.student.widths = {3};
    p.model.teacher.widths = {2};
    for (const DynamicsKind dynamics : {DynamicsKind::full, DynamicsKind::gram}) {
        p.dynamics = dynamics;
        const OrderParameters op = sample_initial_order_parameters(p, 5, 7);
        const OrderParameters expected =
            dynamics == DynamicsKind::gram ? sample_initial_gram(p, 5, 7)
                                           : order_parameters_of(make_initial_state(p.model, 5, 7));
        CHECK(op.Q == expected.Q);
        CHECK(op.R == expected.R);
        CHECK(op.T == expected.T);
    }
    // The two backends start from different draws (the chain samples the law, not the weights).
    p.dynamics = DynamicsKind::full;
    const OrderParameters full = sample_initial_order_parameters(p, 5, 7);
    p.dynamics = DynamicsKind::gram;
    CHECK(full.Q != sample_initial_order_parameters(p, 5, 7).Q);
}
