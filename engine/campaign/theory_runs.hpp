// The theory of a campaign's runs (`plateau ode`): each run integrated by TheoryDynamics from its
// initial order parameters, and its grid point's fixed-point summary (escape rate, eta_max;
// schema 1.3) on its first record. A library user who passes theory_runs() to execute_campaign
// and the writer gets the same file as `plateau ode`.
#pragma once

#include "engine/campaign/campaign.hpp"
#include "engine/core/enum_table.hpp"
#include "engine/theory/fixed_point.hpp"
#include "engine/theory/ode_integrator.hpp"
#include "engine/theory/theory.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

namespace plateau {

/// Where theory run r starts.
using InitialConditions = std::function<OrderParameters(std::int64_t run)>;

/// `--init sample`: run r starts exactly where simulation run r of the same campaign starts
/// (sample_initial_order_parameters with the campaign's master seed and init index).
[[nodiscard]] InitialConditions sampled_initial_conditions(const CampaignSpec& spec);

/// What a theory file stores for a grid point besides its runs: theory_point_summary, and
/// (schema 1.5) the predicted mean escape time at the point's N where it has an escape rate.
struct PointPredictions {
    TheoryPointSummary summary;
    double escape_predicted = std::numeric_limits<double>::quiet_NaN();
    /// (schema 1.9) the law's standard deviation and 10, 50, 90 % quantiles (§11.2b).
    double escape_sd = std::numeric_limits<double>::quiet_NaN();
    std::array<double, 3> escape_quantiles{std::numeric_limits<double>::quiet_NaN(),
                                           std::numeric_limits<double>::quiet_NaN(),
                                           std::numeric_limits<double>::quiet_NaN()};
    /// (schema 1.13) its quantiles at the levels escape_law_level_values,
    /// escape_quantiles being levels 9, 49, 89 of it; all NaN without a prediction.
    std::vector<double> escape_law =
        std::vector<double>(escape_law_levels, std::numeric_limits<double>::quiet_NaN());
};

/// Whether theory_runs computes each grid point's predictions (`plateau ode --predictions`).
enum class PredictionMode {
    /// "auto": computed where they apply (docs/theory.md §11; about 0.75 s per grid point at
    /// K = M = 2)
    automatic,
    /// "none": not computed; the four extras are NaN, and the file says why (root attribute
    /// theory_predictions = "none", analysis/SCHEMA.md)
    none,
};
[[nodiscard]] constexpr auto enum_table(PredictionMode) noexcept {
    return std::to_array<EnumEntry<PredictionMode>>(
        {{PredictionMode::automatic, "auto"}, {PredictionMode::none, "none"}});
}

/// Where the fluctuations of `plateau ode --fluctuations` start (docs/theory.md §11.2c).
enum class FluctuationStart {
    /// Sigma(0) = 0: the run's own start is given (--init sample, --init-from FILE run by run),
    /// and the spread is the step noise's alone.
    fixed,
    /// Sigma(0) of the student's random draw (Eq. (11.13)): the start is the draw's mean
    /// (--init symmetric, --init-from FILE --init-average), and the spread is over seeds.
    random_draw,
};
[[nodiscard]] constexpr auto enum_table(FluctuationStart) noexcept {
    return std::to_array<EnumEntry<FluctuationStart>>(
        {{FluctuationStart::fixed, "fixed"}, {FluctuationStart::random_draw, "random-draw"}});
}

/// The grid point's predictions (docs/theory.md §11): computed once per grid point by
/// theory_runs, and timed by `plateau ode --dry-run`.
[[nodiscard]] PointPredictions point_predictions(const RunParams& params);

/// The theory of run r: integrate_theory(point_of(r).params, initial(r), ode), with its grid
/// point's theory_point_summary (computed once per grid point, by the first of its runs, on the
/// campaign's threads) stored as the extras escape_rate, eta_max, plateau_eg and
/// escape_predicted of its first record. `errors` (optional, outliving the campaign)
/// collects the joint rule's error estimates of every run.
/// `alpha_done` (optional, outliving the campaign) adds up the integrated alpha of all runs as
/// they go, in units of 1 / alpha_progress_scale (engine/theory/theory.hpp).
/// `predictions` = none: the summary is not computed and the four extras are NaN (a sweep over
/// many grid points that does not need them, and tests that do not look at them).
/// `fluctuations` (schema 1.10, `plateau ode --fluctuations`; every grid point must pass
/// require_fluctuation_support): each record also carries the extras Q_sd, R_sd and v_sd, the
/// order parameters' standard deviations at the point's N (docs/theory.md §11.2c), integrated
/// from the run's start with Sigma(0) as `fluctuations` says; absent: not computed (NaN).
[[nodiscard]] RunFunction theory_runs(const CampaignSpec& spec, InitialConditions initial,
                                      const OdeParams& ode, JointRuleErrors* errors = nullptr,
                                      StepCounter* alpha_done = nullptr,
                                      PredictionMode predictions = PredictionMode::automatic,
                                      std::optional<FluctuationStart> fluctuations = std::nullopt);

/// The extras Q_sd, R_sd, v_sd of `result`'s records (docs/theory.md §11.2c): the order
/// parameters' standard deviations at params' N along the trajectory from `start`, Sigma(0) as
/// `from` says. Records beyond the end of the covariance's trajectory get none (NaN in a file).
void add_fluctuations(const RunParams& params, const OrderParameters& start, FluctuationStart from,
                      RunResult& result);

} // namespace plateau
