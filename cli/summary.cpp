#include "cli/summary.hpp"

#include "cli/config.hpp"
#include "engine/core/schedule.hpp"
#include "engine/run/specialization.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

namespace plateau::cli {

SeedSummary::SeedSummary(const CampaignSpec& spec) : points_(spec.points.size()) {
    for (std::size_t i = 0; i < points_.size(); ++i) {
        // This point's record times: the grid's, or a prefix of them for a shorter run.
        const std::size_t records = record_alphas(spec.points[i].params.schedule).size();
        points_[i].sum.assign(records, 0.0);
        points_[i].sum_sq.assign(records, 0.0);
    }
}

void SeedSummary::add(const CampaignSpec& spec, const FinishedRun& run) {
    auto& p = points_[static_cast<std::size_t>(run.run / spec.seeds)];
    for (std::size_t k = 0; k < all_run_outcomes.size(); ++k)
        if (all_run_outcomes[k] == run.result.outcome)
            ++p.outcomes[k];
    if (run.result.status != RunStatus::completed) {
        ++p.diverged;
        return;
    }
    ++p.completed;
    for (std::size_t i = 0; i < run.result.records.size(); ++i) {
        const double eg = run.result.records[i].eg;
        p.sum[i] += eg;
        p.sum_sq[i] += eg * eg;
    }
    const auto& last = run.result.records.back();
    if (const auto it = last.extras.find(extra_name::eps_train);
        it != last.extras.end() && it->second.size() == 1 && std::isfinite(it->second[0])) {
        p.eps_train_sum += it->second[0];
        ++p.eps_train_runs;
    }
    const bool symmetric = sign_symmetric_units(spec.point_of(run.run).params.model);
    if (assess_specialization(last.Q, last.R, last.T, {}, symmetric).specialized) // SCHEMA.md
        ++p.specialized;
}

std::string describe(const GridPoint& point) {
    std::string out;
    for (const auto& c : point.coordinates) {
        // Integers as integers (N=100000, not the shortest form 1e+05 beside N=10000).
        const std::string value = !c.text.empty() ? c.text
                                  : c.is_integer  ? std::to_string(std::llround(c.number))
                                                  : number_text(c.number);
        out += " " + c.key + "=" + value;
    }
    const auto& m = point.params.model;
    out += "  (K=" + widths_text(m.student.widths) + " M=" + widths_text(m.teacher.widths) +
           " g=" + hidden_activation_text(m.student.g);
    // The readout scale and the sphere change the model: named when set (docs/theory.md §14).
    if (m.student.readout != ReadoutScale::one)
        out += " readout-scale=" + std::string(name(m.student.readout));
    if (m.constraint != Constraint::none)
        out += " constraint=" + std::string(name(m.constraint));
    return out + ")";
}

std::string SeedSummary::outcome_counts(const Point& p) {
    std::string out;
    std::int64_t runs = 0;
    for (std::size_t k = 0; k < all_run_outcomes.size(); ++k) {
        runs += p.outcomes[k];
        if (p.outcomes[k] > 0)
            out += (out.empty() ? "" : ", ") + std::string(name(all_run_outcomes[k])) + " " +
                   std::to_string(p.outcomes[k]);
    }
    return (out.empty() ? std::string("none") : out) + " of " + std::to_string(runs);
}

namespace {

/// A measured value to 3 significant digits (0.0149, 1.23e-05): a summary's numbers are means
/// with their errors, not configuration values (those are number_text's, exact).
std::string measured_text(double x) {
    std::array<char, 32> buf{};
    const auto res =
        std::to_chars(buf.data(), buf.data() + buf.size(), x, std::chars_format::general, 3);
    return std::string(buf.data(), res.ptr);
}

} // namespace

std::pair<double, double> SeedSummary::mean_eg(const Point& p, std::size_t a) {
    const double n = static_cast<double>(p.completed);
    const double mean = p.sum[a] / n;
    const double var = n > 1 ? std::max(0.0, (p.sum_sq[a] - n * mean * mean) / (n - 1.0)) : 0.0;
    return {mean, std::sqrt(var / n)};
}

void SeedSummary::print_compact(const CampaignSpec& spec, std::int64_t skipped,
                                const std::string& file) const {
    if (skipped > 0)
        std::printf("\n(%lld run(s) were already finished in the file and are not counted here)",
                    static_cast<long long>(skipped));
    std::printf("\n");
    for (std::size_t i = 0; i < points_.size(); ++i) {
        const auto& s = points_[i];
        std::string line = "grid point " + std::to_string(i) + ":" + describe(spec.points[i]) +
                           "  " + outcome_counts(s) + "; specialized " +
                           std::to_string(s.specialized) + " of " + std::to_string(s.completed);
        if (s.completed > 0 && !s.sum.empty()) {
            const auto [mean, se] = mean_eg(s, s.sum.size() - 1);
            line += "; eps_g(end) " + measured_text(mean) + " +- " + measured_text(se);
        }
        if (s.eps_train_runs > 0)
            line += "; eps_t(end) " +
                    measured_text(s.eps_train_sum / static_cast<double>(s.eps_train_runs));
        std::printf("%s\n", line.c_str());
    }
    if (!file.empty())
        std::printf("(plateau heights and escape times: python3 -m plateau_analysis summary %s; "
                    "eps_g over alpha: --table)\n",
                    file.c_str());
    else
        std::printf("(eps_g over alpha: --table)\n");
    std::fflush(stdout);
}

void SeedSummary::print_table(const CampaignSpec& spec, const std::vector<double>& alphas,
                              std::int64_t skipped) const {
    if (skipped > 0)
        std::printf("\n(%lld run(s) were already finished in the file and are not in this table)\n",
                    static_cast<long long>(skipped));
    for (std::size_t i = 0; i < points_.size(); ++i) {
        const auto& s = points_[i];
        std::printf("\ngrid point %zu:%s\n", i, describe(spec.points[i]).c_str());
        std::printf("  runs: %lld completed, %lld diverged; specialized at the end: %lld of %lld\n",
                    static_cast<long long>(s.completed), static_cast<long long>(s.diverged),
                    static_cast<long long>(s.specialized), static_cast<long long>(s.completed));
        std::printf("  outcomes: %s (analysis/SCHEMA.md, Outcomes)\n", outcome_counts(s).c_str());
        if (s.completed == 0)
            continue;
        std::printf("  %12s  %14s  %12s\n", "alpha", "eps_g (mean)", "std. error");
        const std::size_t rows = 24;
        // A run shorter than the campaign's longest records a prefix of the grid `alphas`.
        const std::size_t own = std::min(alphas.size(), s.sum.size());
        const std::size_t stride = std::max<std::size_t>(1, own / rows);
        for (std::size_t a = 0; a < own; ++a) {
            if (a % stride != 0 && a + 1 != own)
                continue;
            const auto [mean, se] = mean_eg(s, a);
            std::printf("  %12.4g  %14.6g  %12.3g\n", alphas[a], mean, se);
        }
    }
    std::fflush(stdout);
}

} // namespace plateau::cli
