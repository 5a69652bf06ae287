#include "engine/simulation/simulate.hpp"

#include "engine/core/schedule.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/manifold_source.hpp"
#include "engine/simulation/mixture_source.hpp"

#include <algorithm>

namespace plateau {

SimulationDynamics::SimulationDynamics(const RunParams& params, std::uint64_t seed,
                                       std::uint64_t run, std::uint64_t init_index,
                                       StepCounter* steps_done, const StartWeights* start)
    : state_(make_initial_state(params.model, seed, init_index)),
      trainer_(make_trainer(params, seed, run)), observer_(params, seed, run),
      eg_exact_(eg_method(params.model) == EgMethod::closed_form), steps_done_(steps_done),
      params_(params) {
    if (start != nullptr)
        apply_start_weights(state_, *start);
}

bool SimulationDynamics::advance_to(double alpha) {
    const std::int64_t target = record_step(alpha, state_.N());
    // In chunks, so that a long stretch between two record times still reports its progress.
    const std::int64_t chunk = progress_chunk(state_.N());
    while (state_.step < target) {
        const std::int64_t steps = std::min(chunk, target - state_.step);
        if (trainer_->advance(state_, steps) != StepOutcome::ok)
            return false;
        if (steps_done_ != nullptr)
            steps_done_->fetch_add(steps, std::memory_order_relaxed);
    }
    return true;
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
    if (state_.teachers > 1) {
        o.extras.emplace(extra_name::switch_alpha, task_starts(state_.task_start));
        // switch-eg-below (docs/theory.md §17): the next task from this record on.
        if (switches_below(params_, o.eg, state_.task)) {
            ++state_.threshold_switches;
            switch_task(state_, task_at(params_, state_.alpha(), state_.threshold_switches));
        }
    }
    last_.emplace(state_.step, o);
    return o;
}

namespace {

/// A matrix as one row-major vector.
Eigen::VectorXd row_major(const auto& m) {
    Eigen::VectorXd out(m.size());
    Eigen::Index at = 0;
    for (Eigen::Index i = 0; i < m.rows(); ++i)
        for (Eigen::Index j = 0; j < m.cols(); ++j)
            out[at++] = m(i, j);
    return out;
}

/// The dynamics of a run with save-weights = records: every record also holds the student's W and
/// v at its time (extra_name::record_weights_W, record_weights_v). It only reads the state, so
/// the run is the same; non-finite weights make Q non-finite, so the divergence rule is the same.
class RecordingWeights final : public Dynamics {
public:
    explicit RecordingWeights(SimulationDynamics& inner) : inner_(inner) {}
    [[nodiscard]] bool advance_to(double alpha) override { return inner_.advance_to(alpha); }
    [[nodiscard]] Observables observe() override {
        Observables o = inner_.observe();
        const RunState& s = inner_.state();
        o.extras.insert_or_assign(std::string(extra_name::record_weights_W),
                                  row_major(s.student()));
        o.extras.insert_or_assign(std::string(extra_name::record_weights_v), s.v);
        return o;
    }

private:
    SimulationDynamics& inner_;
};

} // namespace

void save_weights(const RunState& s, Observables& into) {
    into.extras.insert_or_assign(std::string(extra_name::weights_alpha),
                                 Eigen::VectorXd::Constant(1, s.alpha()));
    into.extras.insert_or_assign(std::string(extra_name::weights_W), row_major(s.student()));
    into.extras.insert_or_assign(std::string(extra_name::weights_v), s.v);
    into.extras.insert_or_assign(std::string(extra_name::weights_B), row_major(s.teacher()));
    into.extras.insert_or_assign(std::string(extra_name::weights_v_star), s.v_star);
}

RunResult simulate(const RunParams& params, std::uint64_t seed, std::uint64_t run,
                   std::uint64_t init_index, StepCounter* steps_done, SaveWeights save,
                   const StartWeights* start) {
    const std::vector<double> alphas = record_alphas(params.schedule);
    switch (params.dynamics) {
    case DynamicsKind::full: {
        SimulationDynamics dynamics(params, seed, run, init_index, steps_done, start);
        Observables initial;
        if (save == SaveWeights::initial)
            save_weights(dynamics.state(), initial);
        RecordingWeights recording(dynamics);
        RunResult result =
            record_run(save == SaveWeights::records ? static_cast<Dynamics&>(recording)
                                                    : static_cast<Dynamics&>(dynamics),
                       alphas, divergence_rule(params), outcome_model(params.model));
        // Per-run values travel in the first record (engine/io/writer.hpp); a run without
        // records (it diverged at alpha = 0) has none to carry them: NaN in the file. With
        // records, the final weights are saved as with final (student-from reads them).
        if (save != SaveWeights::none && !result.records.empty()) {
            if (save == SaveWeights::final || save == SaveWeights::records)
                save_weights(dynamics.state(), initial);
            result.records.front().extras.merge(initial.extras);
        }
        return result;
    }
    case DynamicsKind::gram: {
        GramDynamics dynamics(params, seed, run, init_index);
        return record_run(dynamics, alphas, divergence_rule(params), outcome_model(params.model));
    }
    }
    return {};
}

OrderParameters sample_initial_order_parameters(const RunParams& params, std::uint64_t seed,
                                                std::uint64_t init_index) {
    if (params.dynamics == DynamicsKind::gram) {
        if (params.model.inputs != InputKind::mixture)
            return sample_initial_gram(params, seed, init_index);
        // The gram run's start, with its M_jc = sum_d m_cd (w_j . e_d) (Eq. (15d.1)): the
        // students' rows of the axes' overlaps play W's first D columns.
        MixtureStart start = sample_initial_mixture_gram(params, seed, init_index);
        const auto K = static_cast<Eigen::Index>(start.op.Q.rows());
        start.op.mean_overlaps =
            MixtureSampler(params.model.mixture).mean_overlaps(start.axes.topRows(K));
        return start.op;
    }
    const RunState state = make_initial_state(params.model, seed, init_index);
    if (state.manifold) { // Q, R, T of hidden-manifold inputs, Eq. (16.4)
        OrderParameters op = manifold_order_parameters(state);
        // The theory's state (docs/theory.md §16b): the weights resolved by input mode.
        const FeatureConstants c = FeatureEvaluator{state.manifold->map}.constants();
        op.manifold = resolve_manifold_modes(state.student(), state.manifold->teacher,
                                             state.manifold->features, c.a1, c.a_star_sq());
        return op;
    }
    OrderParameters op = order_parameters_of(state);
    if (params.model.inputs == InputKind::mixture) // the mixture theory's M_jc (§15c)
        op.mean_overlaps = MixtureSampler(params.model.mixture).mean_overlaps(state.student());
    return op;
}

} // namespace plateau
