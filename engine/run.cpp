#include "engine/run.hpp"

#include "engine/schedule.hpp"

#include <cmath>

namespace plateau {

SimulationDynamics::SimulationDynamics(const RunParams& params, std::uint64_t seed,
                                       std::uint64_t run)
    : state_(make_initial_state(params.model, seed, run)),
      trainer_(make_trainer(params, seed, run)), observer_(params, seed, run),
      eg_exact_(eg_method(params.model) == EgMethod::closed_form) {}

bool SimulationDynamics::advance_to(double alpha) {
    const std::int64_t target = record_step(alpha, state_.N());
    if (target <= state_.step)
        return true;
    return trainer_->advance(state_, target - state_.step) == StepOutcome::ok;
}

Observables SimulationDynamics::observe() {
    // Record times that round to the same step (small N) see the same weights: the first
    // measurement is returned again. Only where the measurement is exact: a Monte-Carlo eps_g
    // draws a new estimate from the observer's stream at every record, as it always has (the
    // stream's position, and so every later estimate, stays what it was).
    if (last_ && last_->first == state_.step && eg_exact_)
        return last_->second;
    ++statistics_.observations;
    Observables o = observer_.observe(state_);
    trainer_->measure(state_, o); // what only the trainer knows: examples seen, eps_train
    last_.emplace(state_.step, o);
    return o;
}

namespace {
bool healthy(const Observables& o, double divergence_q) {
    return o.Q.allFinite() && o.R.allFinite() && o.v.allFinite() && std::isfinite(o.eg) &&
           o.Q.diagonal().maxCoeff() <= divergence_q;
}
} // namespace

RunResult record_run(Dynamics& dynamics, const std::vector<double>& alphas, double divergence_q) {
    RunResult result;
    result.records.reserve(alphas.size());
    for (const double alpha : alphas) {
        if (!dynamics.advance_to(alpha)) {
            result.status = RunStatus::diverged;
            return result;
        }
        Observables o = dynamics.observe();
        if (!healthy(o, divergence_q)) {
            result.status = RunStatus::diverged;
            return result;
        }
        result.records.push_back(std::move(o));
    }
    result.status = RunStatus::completed;
    return result;
}

RunResult simulate(const RunParams& params, std::uint64_t seed, std::uint64_t run) {
    SimulationDynamics dynamics(params, seed, run);
    return record_run(dynamics, record_alphas(params.schedule), params.observer.divergence_q);
}

} // namespace plateau
