// The cost of the N -> infinity theory (docs/PERFORMANCE.md, "The ODE theory"), one thread, erf,
// eta = 0.3, fixed v, no noise, started from the sampled weights of run 0 (N = 500, seed 1):
//
//   Rhs/new/K:<K>, Rhs/reference/K:<K>   one right-hand side (compute_flow with the erf sums of
//        models/erf_sums.hpp; compute_integral_flow_reference, the generic loop of one I2/I3/I4
//        call per term) for K = M in {2, 4, 6, 8, 10, 14}, side by side
//   Run/new, Run/reference               one whole run K = M = 10 to alpha = 1000 (100 log-spaced
//        record times, as `plateau ode --K 10 --M 10 --eta 0.3 --alpha-max 1000 --seeds 1`
//        records them), the same Dormand-Prince integrator, counters: right-hand sides and
//        steps
//
//   build/release/bench/bench_ode
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "engine/core/schedule.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/state.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/flow_paths.hpp"
#include "engine/theory/ode_integrator.hpp"
#include "engine/theory/theory.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>

namespace {

using namespace plateau;

RunParams make_params(int K) {
    RunParams p;
    p.model.student.widths = {K};
    p.model.teacher.widths = {K};
    p.training.eta = 0.3;
    p.schedule.alpha_max = 1000.0;
    return p;
}

template <bool reference>
void rhs(benchmark::State& st) {
    const RunParams p = make_params(static_cast<int>(st.range(0)));
    const FlowSettings s = flow_settings(p);
    const OrderParameters op = order_parameters_of(make_initial_state(p.model, 1, 0));
    Eigen::MatrixXd dQ, dR;
    Eigen::VectorXd dv;
    for (auto _ : st) {
        if constexpr (reference)
            compute_integral_flow_reference(s, op.Q, op.R, op.T, op.v, op.v_star, dQ, dR, dv);
        else
            compute_flow(s, op.Q, op.R, op.T, op.v, op.v_star, dQ, dR, dv);
        benchmark::DoNotOptimize(dQ.data());
    }
}

template <bool reference>
void run(benchmark::State& st) {
    const RunParams p = make_params(10);
    const OrderParameters init = order_parameters_of(make_initial_state(p.model, 1, 0));
    const FlowSettings s = flow_settings(p);
    const Packing packing(10, 10, false);
    std::int64_t evaluations = 0, steps = 0, rejected = 0;
    for (auto _ : st) {
        if constexpr (reference) {
            Eigen::MatrixXd Q, R, dQ, dR;
            Eigen::VectorXd v = init.v, dv;
            const auto f = [&](const Eigen::VectorXd& y, Eigen::VectorXd& dy) {
                ++evaluations;
                packing.unpack(y, Q, R, v);
                compute_integral_flow_reference(s, Q, R, init.T, v, init.v_star, dQ, dR, dv);
                packing.pack(dQ, dR, dv, dy);
                return dy.allFinite();
            };
            OdeIntegrator integrator(f, OdeParams{}, packing.classes());
            Eigen::VectorXd y;
            packing.pack(init.Q, init.R, init.v, y);
            double alpha = 0.0;
            for (const double a : record_alphas(p.schedule))
                benchmark::DoNotOptimize(
                    integrator.advance(y, alpha, a, [](const Eigen::VectorXd&) { return true; }));
            steps += integrator.accepted();
            rejected += integrator.rejected();
        } else {
            TheoryDynamics d(p, init);
            DivergenceRule rule = divergence_rule(p);
            rule.divergence_q = 1e6;
            const RunResult r =
                record_run(d, record_alphas(p.schedule), rule, outcome_model(p.model));
            benchmark::DoNotOptimize(r.records.data());
            evaluations += d.statistics().evaluations;
            steps += d.statistics().accepted;
            rejected += d.statistics().rejected;
        }
    }
    const auto n = static_cast<double>(st.iterations());
    st.counters["rhs"] = static_cast<double>(evaluations) / n;
    st.counters["steps"] = static_cast<double>(steps) / n;
    st.counters["rejected"] = static_cast<double>(rejected) / n;
}

void rhs_sizes(benchmark::internal::Benchmark* b) {
    b->ArgName("K");
    for (const int K : {2, 4, 6, 8, 10, 14})
        b->Arg(K);
    b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(rhs<false>)->Name("Rhs/new")->Apply(rhs_sizes);
BENCHMARK(rhs<true>)->Name("Rhs/reference")->Apply(rhs_sizes);
BENCHMARK(run<false>)->Name("Run/new")->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(run<true>)->Name("Run/reference")->Unit(benchmark::kMillisecond)->Iterations(1);

} // namespace

BENCHMARK_MAIN();
