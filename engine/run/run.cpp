#include "engine/run/run.hpp"

#include <cmath>

namespace plateau {

namespace {
bool healthy(const Observables& o, double divergence_q) {
    // A deeper network's v is NaN by design; its weights above the first layer are the extra
    // student_layers (docs/theory.md §12).
    const auto layers = o.extras.find(extra_name::student_layers);
    const bool upper = layers == o.extras.end() ? o.v.allFinite() : layers->second.allFinite();
    return o.Q.allFinite() && o.R.allFinite() && upper && std::isfinite(o.eg) &&
           o.Q.diagonal().maxCoeff() <= divergence_q;
}
} // namespace

RunResult record_run(Dynamics& dynamics, const std::vector<double>& alphas, double divergence_q) {
    RunResult result;
    result.records.reserve(alphas.size());
    for (const double alpha : alphas) {
        if (!dynamics.advance_to(alpha)) {
            result.status = RunStatus::diverged;
            break;
        }
        Observables o = dynamics.observe();
        if (!healthy(o, divergence_q)) {
            result.status = RunStatus::diverged;
            break;
        }
        result.records.push_back(std::move(o));
    }
    if (result.status != RunStatus::diverged)
        result.status = RunStatus::completed;
    result.outcome = assess_outcome(result, alphas); // analysis/SCHEMA.md, "Outcomes"
    return result;
}

} // namespace plateau
