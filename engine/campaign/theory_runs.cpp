#include "engine/campaign/theory_runs.hpp"

#include "engine/core/schedule.hpp"
#include "engine/simulation/mixture_source.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/theory/escape.hpp"
#include "engine/theory/fixed_point.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/fluctuations.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace plateau {

InitialConditions sampled_initial_conditions(const CampaignSpec& spec) {
    return [&spec](std::int64_t run) {
        return sample_initial_order_parameters(spec.point_of(run).params, spec.master_seed,
                                               spec.init_index_of(run));
    };
}

PointPredictions point_predictions(const RunParams& params) {
    PointPredictions out;
    // The fixed points of the projected flow (constraint = sphere, docs/theory.md §14) are not
    // searched: NaN.
    if (params.model.constraint == Constraint::sphere)
        return out;
    // Nor those of the mixture flow (docs/theory.md §15c), of hidden-manifold inputs (§16b) or
    // of several teachers (§17b): NaN.
    if (params.model.inputs != InputKind::gaussian || params.model.teachers > 1)
        return out;
    out.summary = theory_point_summary(params);
    // A finite escape rate: the summary found the symmetric fixed point, at a cost it accepts
    // (docs/theory.md §11); the escape prediction starts from the same point (§11).
    // K = M only: the prediction is checked against simulations there (docs/theory.md §11.2);
    // for K != M its search can take tens of seconds (K = 2, M = 3: 23 s), which every
    // `plateau ode` run would pay.
    const ModelParams& m = params.model;
    if (std::isfinite(out.summary.escape_rate) && m.student.hidden() == m.teacher.hidden())
        if (const EscapePrediction e = predict_escape(params, symmetric_fixed_point(params));
            e.valid) {
            const auto N = static_cast<double>(params.model.N);
            out.escape_predicted = predicted_mean_escape(e, N);
            out.escape_sd = predicted_escape_sd(e, N); // the law, docs/theory.md §11.2b
            // Its quantiles at 0.01 ... 0.99 (schema 1.13), of which 0.1, 0.5 and 0.9 are the
            // printed ones (the same levels exactly: escape_law_level_values).
            out.escape_law = predicted_escape_quantiles(e, N, escape_law_level_values);
            static_assert(escape_law_level_values[9] == 0.1 && escape_law_level_values[49] == 0.5 &&
                          escape_law_level_values[89] == 0.9);
            out.escape_quantiles = {out.escape_law[9], out.escape_law[49], out.escape_law[89]};
        }
    return out;
}

namespace {

/// A matrix's entries row by row, as a record's extras hold them (Observables::extras).
Eigen::VectorXd row_major(const Eigen::MatrixXd& m) {
    Eigen::VectorXd out(m.size());
    Eigen::Index i = 0;
    for (Eigen::Index r = 0; r < m.rows(); ++r)
        for (Eigen::Index c = 0; c < m.cols(); ++c)
            out(i++) = m(r, c);
    return out;
}

} // namespace

void add_fluctuations(const RunParams& params, const OrderParameters& start, FluctuationStart from,
                      RunResult& result) {
    if (result.records.empty())
        return;
    const int K = params.model.student.hidden();
    const int M = params.model.teacher.hidden();
    const Packing packing(K, M, params.model.learn_v);
    const std::vector<double> all = record_alphas(params.schedule);
    const std::span<const double> alphas(all.data(), std::min(all.size(), result.records.size()));
    const Eigen::MatrixXd sigma0 = from == FluctuationStart::random_draw
                                       ? initial_covariance(params, start)
                                       : Eigen::MatrixXd::Zero(packing.size(), packing.size());
    const CovariancePath path = integrate_covariance(params, start, sigma0, alphas);
    const auto N = static_cast<double>(params.model.N);
    for (std::size_t i = 0; i < path.covariance.size(); ++i) {
        // sd_i = sqrt(Sigma_ii / N), unpacked as the order parameters are (Cov = Sigma / N).
        const Eigen::VectorXd sd = (path.covariance[i].diagonal() / N).cwiseMax(0.0).cwiseSqrt();
        Eigen::MatrixXd Q_sd, R_sd;
        Eigen::VectorXd v_sd = Eigen::VectorXd::Zero(K); // a fixed second layer: exactly 0
        packing.unpack(sd, Q_sd, R_sd, v_sd);
        auto& extras = result.records[i].extras;
        extras[std::string(extra_name::Q_sd)] = row_major(Q_sd);
        extras[std::string(extra_name::R_sd)] = row_major(R_sd);
        extras[std::string(extra_name::v_sd)] = v_sd;
    }
}

namespace {

/// Each grid point's predictions, computed by the first of its runs to need them (on the
/// campaign's worker threads, in parallel, while the progress display runs: the escape
/// prediction takes about a second per point) and shared by the others. Deterministic: they
/// are a function of the grid point's parameters only.
/// With PredictionMode::none every point's predictions stay NaN (PointPredictions' defaults).
class LazyPredictions {
public:
    LazyPredictions(const CampaignSpec& spec, PredictionMode mode)
        : spec_(spec), mode_(mode), once_(spec.points.size()), values_(spec.points.size()),
          bayes_(spec.points.size()) {}
    [[nodiscard]] const PointPredictions& operator[](std::size_t point) {
        compute(point);
        return values_[point];
    }
    /// The Bayes error of the point's mixture (docs/theory.md §15b), whatever the mode: the
    /// theory file records it as the simulation file does; empty for Gaussian inputs.
    [[nodiscard]] const std::optional<BayesError>& bayes(std::size_t point) {
        compute(point);
        return bayes_[point];
    }

private:
    void compute(std::size_t point) {
        std::call_once(once_[point], [&] {
            const RunParams& params = spec_.points[point].params;
            if (mode_ == PredictionMode::automatic)
                values_[point] = point_predictions(params);
            if (params.model.inputs == InputKind::mixture)
                bayes_[point] = bayes_error(params.model.mixture);
        });
    }

    const CampaignSpec& spec_;
    PredictionMode mode_;
    std::vector<std::once_flag> once_;
    std::vector<PointPredictions> values_;
    std::vector<std::optional<BayesError>> bayes_;
};

} // namespace

RunFunction theory_runs(const CampaignSpec& spec, InitialConditions initial, const OdeParams& ode,
                        JointRuleErrors* errors, StepCounter* alpha_done,
                        PredictionMode predictions_mode,
                        std::optional<FluctuationStart> fluctuations) {
    // Schema 1.3 (docs/theory.md §11): each run carries its grid point's escape rate and eta_max;
    // 1.5: its plateau height and predicted mean escape time.
    // Shared, not owned: RunFunction is a std::function, copied with its cache.
    auto predictions = std::make_shared<LazyPredictions>(spec, predictions_mode);
    return [&spec, initial = std::move(initial), ode, errors, alpha_done,
            predictions = std::move(predictions), fluctuations](std::int64_t run) -> RunResult {
        const GridPoint& point = spec.point_of(run);
        const OrderParameters start = initial(run);
        RunResult result = integrate_theory(point.params, start, ode, alpha_done);
        if (fluctuations) // schema 1.10, docs/theory.md §11.2c
            add_fluctuations(point.params, start, *fluctuations, result);
        if (errors != nullptr)
            errors->add(point.params, result);
        if (!result.records.empty()) {
            const auto p = static_cast<std::size_t>(&point - spec.points.data());
            const PointPredictions& predicted = (*predictions)[p];
            const TheoryPointSummary& summary = predicted.summary;
            auto& extras = result.records.front().extras;
            extras[std::string(extra_name::escape_rate)] =
                Eigen::VectorXd::Constant(1, summary.escape_rate);
            extras[std::string(extra_name::eta_max)] =
                Eigen::VectorXd::Constant(1, summary.eta_max);
            extras[std::string(extra_name::plateau_eg)] =
                Eigen::VectorXd::Constant(1, summary.plateau_eg);
            extras[std::string(extra_name::escape_predicted)] =
                Eigen::VectorXd::Constant(1, predicted.escape_predicted);
            extras[std::string(extra_name::escape_predicted_sd)] =
                Eigen::VectorXd::Constant(1, predicted.escape_sd);
            extras[std::string(extra_name::escape_predicted_q10)] =
                Eigen::VectorXd::Constant(1, predicted.escape_quantiles[0]);
            extras[std::string(extra_name::escape_predicted_q50)] =
                Eigen::VectorXd::Constant(1, predicted.escape_quantiles[1]);
            extras[std::string(extra_name::escape_predicted_q90)] =
                Eigen::VectorXd::Constant(1, predicted.escape_quantiles[2]);
            extras[std::string(extra_name::escape_predicted_law)] =
                Eigen::Map<const Eigen::VectorXd>(
                    predicted.escape_law.data(),
                    static_cast<Eigen::Index>(predicted.escape_law.size()));
            if (const auto& bayes = predictions->bayes(p)) { // mixture inputs, §15b
                extras[std::string(extra_name::bayes_error)] =
                    Eigen::VectorXd::Constant(1, bayes->value);
                extras[std::string(extra_name::bayes_error_stderr)] =
                    Eigen::VectorXd::Constant(1, bayes->standard_error);
            }
        }
        return result;
    };
}

} // namespace plateau
