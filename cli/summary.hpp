// The summary table `plateau run` and `plateau ode` print: seed-mean eps_g per grid point, the
// runs specialized at the end (assess_specialization, engine/run/specialization.hpp) and the runs'
// outcomes (learned, plateau, failed, diverged: engine/run/outcome.hpp).
#pragma once

#include "engine/campaign/campaign.hpp"
#include "engine/run/outcome.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace plateau::cli {

/// " eta=0.5  (K=8x4 M=4 g=erf)": a grid point's coordinates and model, for the tables.
[[nodiscard]] std::string describe(const GridPoint& point);

/// Accumulates finished runs per grid point.
class SeedSummary {
public:
    explicit SeedSummary(const CampaignSpec& spec);
    void add(const CampaignSpec& spec, const FinishedRun& run);
    /// Prints the table; `skipped` runs were finished before (resume) and are not in it.
    void print(const CampaignSpec& spec, const std::vector<double>& alphas,
               std::int64_t skipped) const;

private:
    struct Point {
        std::vector<double> sum;
        std::vector<double> sum_sq;
        std::int64_t completed = 0;
        std::int64_t diverged = 0;
        std::int64_t specialized = 0;
        /// Runs per outcome, indexed like all_run_outcomes.
        std::array<std::int64_t, all_run_outcomes.size()> outcomes{};
    };
    /// "learned 6, plateau 1, failed 1 of 8": the non-zero outcome counts of a grid point.
    [[nodiscard]] static std::string outcome_counts(const Point& p);
    std::vector<Point> points_;
};

} // namespace plateau::cli
