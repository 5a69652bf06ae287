#include "engine/run/outcome.hpp"

#include "engine/run/run.hpp"
#include "engine/run/specialization.hpp"

#include "models/activation.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

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

/// Whether <g(u) u> = 0 for u ~ N(0, 1), i.e. g has no linear (he1) part: for a polynomial g,
/// sum over odd k of c_k <u^(k+1)> = c_k k!! (Isserlis, docs/theory.md §9b) vanishes to rounding.
/// Every other activation (erf, tanh, sigmoid, relu, ...) is monotone increasing: <g u> = <g'>
/// > 0 (Stein's lemma).
bool lacks_linear_part(const Activation& g) noexcept {
    const auto p = as_polynomial(g);
    if (!p)
        return false;
    double sum = 0.0, scale = 0.0, double_factorial = 1.0; // k!! for k = 1, 3, 5, 7
    for (std::size_t k = 1; k < p->c.size(); k += 2) {
        sum += p->c[k] * double_factorial;
        scale += std::abs(p->c[k]) * double_factorial;
        double_factorial *= static_cast<double>(k + 2);
    }
    return std::abs(sum) <= 1e-12 * scale;
}

/// Every teacher direction B_n captured by the students' span: |P B_n|^2 / |B_n|^2 =
/// R_n^T Q^+ R_n / T_nn >= fraction (R_n: column n of R = W B^T, Q = W W^T, docs/theory.md §1;
/// Q^+ the pseudo-inverse, eigenvalues below 1e-10 of the largest dropped: units that coincide).
/// Units may share a direction (phase retrieval, K > M) or mix several (a staircase's units on
/// (y1 +- y2)/sqrt 2): the span says it either way, and the sign of a unit does not matter.
bool every_direction_captured(const Observables& o, double fraction) {
    const Eigen::Index K = o.R.rows(), M = o.R.cols();
    if (K == 0 || M == 0 || !o.Q.allFinite() || !o.R.allFinite() || !o.T.allFinite())
        return false;
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(o.Q);
    const Eigen::VectorXd& lambda = eig.eigenvalues();
    const double cut = 1e-10 * lambda.cwiseAbs().maxCoeff();
    Eigen::VectorXd inverse = Eigen::VectorXd::Zero(K);
    for (Eigen::Index k = 0; k < K; ++k)
        if (lambda(k) > cut)
            inverse(k) = 1.0 / lambda(k);
    const Eigen::MatrixXd projected = eig.eigenvectors().transpose() * o.R; // U^T R
    for (Eigen::Index n = 0; n < M; ++n) {
        const double captured =
            (projected.col(n).array().square() * inverse.array()).sum() / o.T(n, n);
        if (!(captured >= fraction))
            return false;
    }
    return true;
}

} // namespace

OutcomeModel outcome_model(const ModelParams& model) {
    OutcomeModel out;
    out.search_phase = !model.target.is_committee() || lacks_linear_part(model.teacher.g);
    return out;
}

RunOutcome assess_outcome(const RunResult& result, std::span<const double> alphas,
                          const OutcomeModel& model, const OutcomeThresholds& thresholds) {
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
    // teacher's (saturating units: erf at large eta). A search-phase run that has not escaped
    // yet has eps_g near its start, above it by fluctuations: failed only if it rose by more.
    const double no_progress =
        model.search_phase ? eg_start / thresholds.search_fraction : eg_start;
    if (eg_late >= no_progress && eg_late > 0.0)
        return RunOutcome::failed;
    if (q_late >= thresholds.growth * q_early && q_late >= thresholds.excess * teacher_norm &&
        eg_late > thresholds.slow_ratio * eg_early)
        return RunOutcome::failed;

    // Learned: close to zero error, or specialized (analysis/SCHEMA.md, "Specialization"), or
    // a student smaller than its teacher at a stationary error (its asymptote is not zero).
    if (eg_late <= thresholds.learned_fraction * eg_start)
        return RunOutcome::learned;
    if (model.search_phase) {
        // Still in the search phase; learned when every teacher direction is captured and eps_g
        // is stationary (its floor: label noise, the eta^2 noise of SGD, a staircase's residue
        // a student too small cannot fit); escaped otherwise (analysis/SCHEMA.md, "Outcomes").
        if (eg_late > thresholds.search_fraction * eg_start)
            return RunOutcome::searching;
        const bool stationary = eg_late >= thresholds.stationary_ratio * eg_early;
        if (stationary && (every_direction_captured(last, thresholds.captured_fraction) ||
                           last.R.rows() < last.R.cols()))
            return RunOutcome::learned;
        return RunOutcome::escaped;
    }
    if (assess_specialization(last.Q, last.R, last.T).specialized)
        return RunOutcome::learned;
    if (last.R.rows() < last.R.cols() && eg_late >= thresholds.stationary_ratio * eg_early)
        return RunOutcome::learned;
    return RunOutcome::plateau;
}

} // namespace plateau
