// The summary table `plateau run` and `plateau ode` print: seed-mean eps_g per grid point and
// the runs specialized at the end (assess_specialization, engine/specialization.hpp).
#pragma once

#include "engine/campaign.hpp"

#include <cstdint>
#include <vector>

namespace plateau::cli {

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
    };
    std::vector<Point> points_;
};

} // namespace plateau::cli
