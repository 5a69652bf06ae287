#include "engine/run/outcome.hpp"

#include "engine/run/run.hpp"
#include "engine/run/specialization.hpp"

#include <algorithm>
#include <cstddef>

namespace plateau {

namespace {

/// Mean of f(records[i]) over i in [first, last).
template <class F>
double mean_over(std::span<const Observables> records, std::size_t first, std::size_t last, F f) {
    double sum = 0.0;
    for (std::size_t i = first; i < last; ++i)
        sum += f(records[i]);
    return sum / static_cast<double>(last - first);
}

} // namespace

RunOutcome assess_outcome(const RunResult& result, std::span<const double> alphas,
                          const OutcomeThresholds& thresholds) {
    switch (result.status) {
    case RunStatus::pending:
        return RunOutcome::pending;
    case RunStatus::diverged:
        return RunOutcome::diverged;
    case RunStatus::completed:
        break;
    }
    const std::span<const Observables> records(result.records);
    const std::size_t n = std::min(records.size(), alphas.size());
    if (n < 2)
        return RunOutcome::plateau; // no trend to judge

    // The window: the last decade of alpha, at least the last two records; early and late are
    // its first and last quarter (at least one record each).
    const double from = alphas[n - 1] / thresholds.window_factor;
    std::size_t first = 0;
    while (first < n - 2 && alphas[first] < from)
        ++first;
    const std::size_t quarter = std::max<std::size_t>(1, (n - first) / 4);
    const auto eg = [](const Observables& o) {
        return o.eg;
    };
    // sum_j Q_jj = sum_j |w_j|^2 (docs/theory.md §1: Q = W W^T).
    const auto norm = [](const Observables& o) {
        return o.Q.trace();
    };
    const double eg_start = records[0].eg;
    const double eg_early = mean_over(records, first, first + quarter, eg);
    const double eg_late = mean_over(records, n - quarter, n, eg);
    const double q_early = mean_over(records, first, first + quarter, norm);
    const double q_late = mean_over(records, n - quarter, n, norm);
    const Observables& last = records[n - 1];
    const double teacher_norm = last.T.trace(); // sum_n T_nn = sum_n |B_n|^2

    // Failed: no net progress, or eps_g stalling while the weights grow far beyond the
    // teacher's (saturating units: erf at large eta).
    if (eg_late >= eg_start && eg_late > 0.0)
        return RunOutcome::failed;
    if (q_late >= thresholds.growth * q_early && q_late >= thresholds.excess * teacher_norm &&
        eg_late > thresholds.slow_ratio * eg_early)
        return RunOutcome::failed;

    // Learned: close to zero error, or specialized (analysis/SCHEMA.md, "Specialization"), or
    // a student smaller than its teacher at a stationary error (its asymptote is not zero).
    if (eg_late <= thresholds.learned_fraction * eg_start)
        return RunOutcome::learned;
    if (assess_specialization(last.Q, last.R, last.T).specialized)
        return RunOutcome::learned;
    if (last.R.rows() < last.R.cols() && eg_late >= thresholds.stationary_ratio * eg_early)
        return RunOutcome::learned;
    return RunOutcome::plateau;
}

} // namespace plateau
