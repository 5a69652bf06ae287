// Uses the engine as a library: one simulated run of the default parameters, a few steps.
#include "engine/run/run.hpp"
#include "engine/simulation/simulate.hpp"

#include <cstdio>

int main() {
    plateau::RunParams params;
    params.model.N = 50;
    params.schedule.alpha_max = 1.0;
    params.schedule.records = 3;
    plateau::validate(params);
    const plateau::RunResult result = plateau::simulate(params, 1, 0);
    if (result.status != plateau::RunStatus::completed || result.records.size() != 3)
        return 1;
    std::printf("eps_g at alpha = 1: %.6f\n", result.records.back().eg);
    return result.records.back().eg > 0.0 ? 0 : 1;
}
