#include "engine/campaign/theory_runs.hpp"

#include "engine/simulation/simulate.hpp"
#include "engine/theory/fixed_point.hpp"

#include <utility>
#include <vector>

namespace plateau {

InitialConditions sampled_initial_conditions(const CampaignSpec& spec) {
    return [&spec](std::int64_t run) {
        return sample_initial_order_parameters(spec.point_of(run).params, spec.master_seed,
                                               spec.init_index_of(run));
    };
}

RunFunction theory_runs(const CampaignSpec& spec, InitialConditions initial, const OdeParams& ode,
                        JointRuleErrors* errors, StepCounter* alpha_done) {
    // Schema 1.3 (docs/theory.md §11): each run carries its grid point's escape rate and eta_max.
    std::vector<TheoryPointSummary> summaries;
    summaries.reserve(spec.points.size());
    for (const GridPoint& point : spec.points)
        summaries.push_back(theory_point_summary(point.params));
    return [&spec, initial = std::move(initial), ode, errors, alpha_done,
            summaries = std::move(summaries)](std::int64_t run) -> RunResult {
        const GridPoint& point = spec.point_of(run);
        RunResult result = integrate_theory(point.params, initial(run), ode, alpha_done);
        if (errors != nullptr)
            errors->add(point.params, result);
        if (!result.records.empty()) {
            const auto p = static_cast<std::size_t>(&point - spec.points.data());
            result.records.front().extras[std::string(extra_name::escape_rate)] =
                Eigen::VectorXd::Constant(1, summaries[p].escape_rate);
            result.records.front().extras[std::string(extra_name::eta_max)] =
                Eigen::VectorXd::Constant(1, summaries[p].eta_max);
        }
        return result;
    };
}

} // namespace plateau
