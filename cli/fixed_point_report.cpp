#include "cli/fixed_point_report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace plateau::cli {

double trajectory_alpha_end(const RunParams& params) noexcept {
    const double rate =
        std::max(params.training.eta, params.model.learn_v ? params.training.eta_v : 0.0);
    return std::max(params.schedule.alpha_max, 2000.0 / rate);
}

std::optional<std::string> escape_not_predicted(const RunParams& params) {
    if (params.model.constraint == Constraint::sphere)
        // Its start and SGD-noise covariance are the unconstrained flow's (docs/theory.md §11.2).
        return "the prediction of docs/theory.md §11.2 is the unconstrained flow's; on the "
               "sphere the escape grows like ln(N)/(2 lambda), measured by "
               "plateau_analysis.search: §14b";
    return std::nullopt;
}

std::string no_fixed_point_reason(const RunParams& params, const FixedPoint& fp) {
    const double q = fp.op.Q.size() > 0 ? fp.op.Q(0, 0) : 0.0;
    std::array<char, 320> buf{};
    if (!std::isfinite(q) || q >= params.observer.divergence_q)
        std::snprintf(buf.data(), buf.size(),
                      "the symmetric flow diverges (Q_jj grows past divergence-q = %.3g): eta = "
                      "%.6g is too large for a plateau",
                      params.observer.divergence_q, params.training.eta);
    else
        std::snprintf(buf.data(), buf.size(),
                      "Newton's method did not converge from the relaxed symmetric state "
                      "(residual %.3g, Q_jj = %.6g)%s",
                      fp.residual, q,
                      q > 10.0 ? "; Q_jj this large means the symmetric flow does not settle: "
                                 "eta is too large for a plateau"
                               : "");
    return buf.data();
}

FixedPointReport fixed_point_report(std::size_t point, const GridPoint& grid_point,
                                    const FixedPoint& fp) {
    const RunParams& params = grid_point.params;
    FixedPointReport r;
    r.point = point;
    r.coordinates = grid_point.coordinates;
    r.N = params.model.N;
    r.symmetric = fp;
    if (!fp.converged) {
        r.why = no_fixed_point_reason(params, fp);
        return r;
    }
    r.trajectory_alpha_end = trajectory_alpha_end(params);
    r.trajectory = trajectory_fixed_points(
        params, generic_start(params.model, generic_start_amplitude), r.trajectory_alpha_end);
    if (auto why = escape_not_predicted(params))
        r.escape_why = std::move(*why);
    else if (EscapePrediction e = predict_escape(params, fp); e.valid)
        r.escape = std::move(e);
    else
        r.escape_why = e.why;
    r.eta_max = specialized_eta_max(params);
    return r;
}

} // namespace plateau::cli
