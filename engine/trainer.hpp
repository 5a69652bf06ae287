// Trainer role: the only code that changes a run's state. On-line gradient descent: every step
// draws a fresh example xi ~ N(0, I_N) and applies the per-example gradients of Eqs. (3)-(5):
//     w^(m) <- w^(m) - (eta/N) grad_{w^(m)} e,     v_k <- v_k - (eta_v/N) de/dv_k.
#pragma once

#include "engine/random.hpp"
#include "engine/run_params.hpp"
#include "engine/state.hpp"

#include <cstdint>
#include <vector>

namespace plateau {

enum class StepOutcome {
    ok,
    diverged, ///< a field or the output became infinite or NaN: the weights blew up
};

class OnlineSgd {
public:
    /// Streams: examples from purpose "examples", label noise from purpose "noise".
    OnlineSgd(const RunParams& params, std::uint64_t seed, std::uint64_t run);

    /// Applies `steps` on-line steps to `state`. Stops early, leaving state.step at the step
    /// that failed, when the run diverges.
    StepOutcome advance(RunState& state, std::int64_t steps);

private:
    StepOutcome step(RunState& state);

    NetworkSpec student_;
    NetworkSpec teacher_;
    bool learn_v_;
    double eta_over_n_;
    double eta_v_over_n_;
    double noise_sd_;
    NormalStream examples_;
    NormalStream noise_;
    // Scratch, sized once: the example and the K+M fields, the field errors, dv.
    Eigen::VectorXd xi_;
    Eigen::VectorXd fields_;
    std::vector<double> grad_fields_;
    std::vector<double> grad_v_;
};

} // namespace plateau
