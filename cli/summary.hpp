// The summary `plateau run` and `plateau ode` print: by default one line per grid point (the runs'
// outcomes: learned, plateau, failed, diverged, engine/run/outcome.hpp; the runs specialized at the
// end, assess_specialization in engine/run/specialization.hpp; the seed-mean eps_g and, with a
// training set, eps_t at the last record), and with --table the seed-mean eps_g over alpha.
// Plateau heights and escape times come from the analysis package's one detection rule
// (`python3 -m plateau_analysis summary FILE`), which the compact summary names.
#pragma once

#include "engine/campaign/campaign.hpp"
#include "engine/run/outcome.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace plateau::cli {

/// " eta=0.5  (K=8x4 M=4 g=erf)": a grid point's coordinates and model, for the tables.
[[nodiscard]] std::string describe(const GridPoint& point);

/// Accumulates finished runs per grid point.
class SeedSummary {
public:
    explicit SeedSummary(const CampaignSpec& spec);
    void add(const CampaignSpec& spec, const FinishedRun& run);
    /// Prints the eps_g(alpha) table; `skipped` runs were finished before (resume) and are not
    /// in it.
    void print_table(const CampaignSpec& spec, const std::vector<double>& alphas,
                     std::int64_t skipped) const;
    /// Prints one line per grid point; `file` (if not empty) is named for plateaus and escapes.
    void print_compact(const CampaignSpec& spec, std::int64_t skipped,
                       const std::string& file) const;

private:
    struct Point {
        std::vector<double> sum;
        std::vector<double> sum_sq;
        std::int64_t completed = 0;
        std::int64_t diverged = 0;
        std::int64_t specialized = 0;
        /// Sum of eps_t at the last record over the completed runs that have it.
        double eps_train_sum = 0.0;
        std::int64_t eps_train_runs = 0;
        /// Runs per outcome, indexed like all_run_outcomes.
        std::array<std::int64_t, all_run_outcomes.size()> outcomes{};
    };
    /// "learned 6, plateau 1, failed 1 of 8": the non-zero outcome counts of a grid point.
    [[nodiscard]] static std::string outcome_counts(const Point& p);
    /// Seed mean and standard error of eps_g at record `a` of a point with completed runs.
    [[nodiscard]] static std::pair<double, double> mean_eg(const Point& p, std::size_t a);
    std::vector<Point> points_;
};

} // namespace plateau::cli
