#include "engine/run/run.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

namespace plateau {

DivergenceRule divergence_rule(const RunParams& p) {
    DivergenceRule rule;
    rule.divergence_q = p.observer.divergence_q;
    rule.widths = p.model.student.widths;
    rule.learn_layers.resize(rule.widths.size() - 1);
    for (std::size_t l = 0; l < rule.learn_layers.size(); ++l)
        rule.learn_layers[l] = layer_value(p.model.learn_layers, l);
    rule.learn_v = p.model.learn_v;
    rule.deep = is_deep(p.model);
    return rule;
}

bool may_be_nan(std::string_view extra) noexcept {
    // flow_error: NaN where the flow vanishes (JointEstimate::relative_flow_error);
    // escape_rate, eta_max, plateau_eg, escape_predicted(_sd, _q10, _q50, _q90, _law): NaN where
    // no fixed point or no prediction was found (per run, plateau ode); switch_alpha: NaN for a
    // task not reached yet (docs/theory.md §17).
    constexpr std::array<std::string_view, 11> names{extra_name::flow_error,
                                                     extra_name::escape_rate,
                                                     extra_name::eta_max,
                                                     extra_name::plateau_eg,
                                                     extra_name::escape_predicted,
                                                     extra_name::escape_predicted_sd,
                                                     extra_name::escape_predicted_q10,
                                                     extra_name::escape_predicted_q50,
                                                     extra_name::escape_predicted_q90,
                                                     extra_name::escape_predicted_law,
                                                     extra_name::switch_alpha};
    return std::find(names.begin(), names.end(), extra) != names.end();
}

bool within_bounds(const Observables& o, const DivergenceRule& rule) {
    const double q = rule.divergence_q;
    // Not a number anywhere (but where NaN is by design) ends the run.
    if (!o.Q.allFinite() || !o.R.allFinite() || !o.T.allFinite() || !std::isfinite(o.eg) ||
        !std::isfinite(o.eg_stderr))
        return false;
    for (const auto& [name, values] : o.extras)
        if (!may_be_nan(name) && !values.allFinite())
            return false;
    // The first layer: Q_jj = |w_j|^2 (divergence-q, docs/theory.md §12 "Divergence").
    if (o.Q.size() > 0 && o.Q.diagonal().maxCoeff() > q)
        return false;
    // The output weights: o.v, or (deeper networks, where o.v is NaN by design) the tail of
    // student_layers after W_2..W_L.
    Eigen::VectorXd v = o.v;
    if (rule.deep) {
        const auto layers = o.extras.find(extra_name::student_layers);
        if (layers == o.extras.end())
            throw std::logic_error("record_run: a deeper network's record has no student_layers");
        const Eigen::VectorXd& w = layers->second;
        Eigen::Index offset = 0;
        for (std::size_t l = 0; l + 1 < rule.widths.size(); ++l) {
            const Eigen::Index rows = rule.widths[l + 1];
            const Eigen::Index cols = rule.widths[l];
            if (offset + rows * cols > w.size())
                throw std::logic_error("record_run: student_layers has " +
                                       std::to_string(w.size()) + " values, fewer than W_" +
                                       std::to_string(l + 2) + " needs");
            // Row j of W_{l+2}: the incoming weights of unit j of that layer, |row|^2 ~ 1 at the
            // start (entries N(0, 1/K_{l+1}), §12).
            if (rule.learn_layers[l])
                for (Eigen::Index j = 0; j < rows; ++j)
                    if (w.segment(offset + j * cols, cols).squaredNorm() > q)
                        return false;
            offset += rows * cols;
        }
        v = w.tail(w.size() - offset);
    } else if (!v.allFinite()) {
        return false;
    }
    // v_j^2, v0^2 at the start.
    return !rule.learn_v || v.size() == 0 || v.array().square().maxCoeff() <= q;
}

RunResult record_run(Dynamics& dynamics, const std::vector<double>& alphas,
                     const DivergenceRule& rule, const OutcomeModel& model) {
    RunResult result;
    result.records.reserve(alphas.size());
    for (const double alpha : alphas) {
        if (!dynamics.advance_to(alpha)) {
            result.status = RunStatus::diverged;
            break;
        }
        Observables o = dynamics.observe();
        if (!within_bounds(o, rule)) {
            result.status = RunStatus::diverged;
            break;
        }
        result.records.push_back(std::move(o));
    }
    if (result.status != RunStatus::diverged)
        result.status = RunStatus::completed;
    result.outcome = assess_outcome(result, alphas, model); // analysis/SCHEMA.md, "Outcomes"
    return result;
}

} // namespace plateau
