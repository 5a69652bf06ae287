// Steps per second of the two microscopic backends side by side, one thread
// (docs/PERFORMANCE.md, "The Gram-matrix sampler"): dynamics = gram (GramDynamics, the exact
// chain of the (K+M) x (K+M) Gram matrix, docs/theory.md §7) against dynamics = full (OnlineSgd
// on the (K+M) x N weights), erf, identity output, eta = 0.5, fixed v, no noise.
//
// Cases: N in {1e2, 1e3, 1e4, 1e5} x K = M in {2, 10} for both; N = 1e6 for gram alone (the
// weights would take 160 MB at K = M = 10; gram's cost must not depend on N).
// Benchmarks "<family>/N:<N>/K:<K>": Gram/step and Full/step, 4096 steps per iteration
// (GramDynamics::advance_to / OnlineSgd::advance on one state carried across iterations);
// GramRefactor/step (N = 1e3, 1e5), the chain with a fresh Cholesky factorization every step (the
// reference for the factor's update, docs/theory.md Eq. (G4)), and GramUpdate/step (K = 2), the
// factor updated at r <= 8 too;
// Gram/run, one whole run to alpha = 4 per iteration (every N timed over the same phase of the
// dynamics). Then a summary: steps/s of each, gram/full, and gram's cost per step at equal alpha
// relative to N = 100.
//
//   build/release/bench/bench_gram --benchmark_repetitions=3
//   --benchmark_report_aggregates_only=true
// (one command line; medians in the summary when repeated).

// First: bench_helpers.hpp turns off GCC 12's false -Wmaybe-uninitialized in Eigen's AVX-512
// code (-march=native) for all that follows.
#include "bench_helpers.hpp"

#include "engine/run/run.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace plateau;

using bench::bench_seed;
using bench::erf_params;
constexpr std::int64_t steps_per_iteration = 4096;

/// period: GramChain::set_factor_period (0: the default); update_small: update the factor at
/// r <= 8 too.
void gram_steps(benchmark::State& st, int period, bool update_small) {
    const RunParams p = erf_params(st.range(0), static_cast<int>(st.range(1)));
    GramDynamics dynamics(p, bench_seed, 0, 0);
    if (period > 0 || update_small)
        dynamics.set_factor_period(period > 0 ? period : GramChain::default_factor_period,
                                   update_small);
    const auto N = static_cast<double>(p.model.N);
    std::int64_t done = 0;
    for (auto _ : st) {
        done += steps_per_iteration;
        if (!dynamics.advance_to(static_cast<double>(done) / N))
            st.SkipWithError("diverged");
        benchmark::DoNotOptimize(dynamics.chain().gram().data());
    }
    st.counters["steps/s"] =
        benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
}

/// Whole runs to alpha = 4 from new seeds, so that every N is timed over the same phase of the
/// dynamics (Gram/step at N = 100 runs to alpha ~ 1e5, where the students have converged; at
/// N = 1e6 it stays at alpha < 1): the cost per step at equal alpha.
void gram_run(benchmark::State& st) {
    const RunParams p = erf_params(st.range(0), static_cast<int>(st.range(1)));
    constexpr double alpha = 4.0;
    std::uint64_t run = 0;
    double steps = 0.0;
    for (auto _ : st) {
        GramDynamics dynamics(p, bench_seed, run, run);
        ++run;
        if (!dynamics.advance_to(alpha))
            st.SkipWithError("diverged");
        steps += static_cast<double>(dynamics.step());
        benchmark::DoNotOptimize(dynamics.chain().gram().data());
    }
    st.counters["steps/s"] = benchmark::Counter(steps, benchmark::Counter::kIsRate);
}

void gram_step(benchmark::State& st) {
    gram_steps(st, 0, false);
}

/// The reference: a fresh Cholesky factorization every step (the step before issue 32).
void gram_refactor_step(benchmark::State& st) {
    gram_steps(st, 1, false);
}

/// The factor updated at every r, the unrolled small r included.
void gram_update_step(benchmark::State& st) {
    gram_steps(st, 0, true);
}

void full_step(benchmark::State& st) {
    const RunParams p = erf_params(st.range(0), static_cast<int>(st.range(1)));
    bench::online_sgd_steps(st, p, steps_per_iteration);
}

void register_all() {
    for (const std::int64_t K : {2, 10}) {
        for (const std::int64_t N : {100, 1000, 10000, 100000, 1000000}) {
            benchmark::RegisterBenchmark("Gram/step", gram_step)
                ->Args({N, K})
                ->ArgNames({"N", "K"})
                ->MinTime(0.2);
            if (N == 1000 || N == 100000) {
                benchmark::RegisterBenchmark("GramRefactor/step", gram_refactor_step)
                    ->Args({N, K})
                    ->ArgNames({"N", "K"})
                    ->MinTime(0.2);
                if (K <= 4)
                    benchmark::RegisterBenchmark("GramUpdate/step", gram_update_step)
                        ->Args({N, K})
                        ->ArgNames({"N", "K"})
                        ->MinTime(0.2);
            }
            benchmark::RegisterBenchmark("Gram/run", gram_run)
                ->Args({N, K})
                ->ArgNames({"N", "K"})
                ->MinTime(0.2);
            if (N <= 100000)
                benchmark::RegisterBenchmark("Full/step", full_step)
                    ->Args({N, K})
                    ->ArgNames({"N", "K"})
                    ->MinTime(0.2);
        }
    }
}

class SummaryReporter final : public bench::CaseReporter {
public:
    void Finalize() override {
        ConsoleReporter::Finalize();
        std::printf("\nThe factor: updated (Gram) against refactorized every step (GramRefactor), "
                    "and updated at r <= 8 too (GramUpdate); steps/s\n");
        for (const auto& [key, v] : rates_) {
            const auto gram = v.find("Gram/step");
            const auto ref = v.find("GramRefactor/step");
            if (gram == v.end() || ref == v.end())
                continue;
            const auto upd = v.find("GramUpdate/step");
            std::printf("K=M=%ld N=%ld: gram %.4g, refactorize %.4g (gram/refactorize %.3f)", key.first,
                        key.second, gram->second, ref->second, gram->second / ref->second);
            if (upd != v.end())
                std::printf(", update at small r %.4g (%.3f)", upd->second,
                            upd->second / ref->second);
            std::printf("\n");
        }
        std::printf("\nSteps per second, one thread (medians when repeated)\n");
        std::printf("%3s %8s | %12s %12s %9s | %12s | %s\n", "K=M", "N", "gram", "full",
                    "gram/full", "gram ns/step", "gram ns/step, runs to alpha = 4");
        for (const auto& [key, v] : rates_) {
            const auto gram = v.find("Gram/step");
            const auto full = v.find("Full/step");
            const auto run = v.find("Gram/run");
            if (gram == v.end() || run == v.end())
                continue;
            const double base = rates_[{key.first, 100}]["Gram/run"];
            const std::string full_text =
                full != v.end() ? std::to_string(static_cast<long>(full->second)) : "-";
            const std::string ratio_text =
                full != v.end() ? std::to_string(gram->second / full->second).substr(0, 7) : "-";
            std::printf("%3ld %8ld | %12.4g %12s %9s | %12.1f | %8.1f (%+5.1f%% vs N=100)\n",
                        key.first, key.second, gram->second, full_text.c_str(), ratio_text.c_str(),
                        1e9 / gram->second, 1e9 / run->second, 100.0 * (base / run->second - 1.0));
        }
    }

private:
    void add(const bench::CaseName& c, const Run& r) override {
        const auto it = r.counters.find("steps/s");
        if (it != r.counters.end())
            rates_[{c.K, c.N}][c.family] = it->second.value;
    }

    std::map<std::pair<std::int64_t, std::int64_t>, std::map<std::string, double>> rates_;
};

} // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    SummaryReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
