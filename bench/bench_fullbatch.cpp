// Batch gradient descent (batch = all): one update of MiniBatchSgd on a training set of P examples
// against a plain Eigen GEMM of the same shapes, one thread (docs/PERFORMANCE.md, "Batch gradient
// descent").
//
// Cases: (P, N) in {(2000, 100), (5000, 500), (20000, 500)} x K = M in {2, 10}; erf, identity
// output, fixed v, no weight decay. Benchmarks:
//   FullBatch/engine  MiniBatchSgd::advance(state, 1): the fields F = X W^T (P x K), the forward
//                     and backward passes per example, W -= (eta/(N P)) D^T X
//   FullBatch/gemm    the two products alone, in plain Eigen: F = X W^T, W -= c F^T X (D = F)
// Output: Google Benchmark's table, then one line per case
//   BENCH bench=fullbatch P=<P> N=<N> K=<K> engine_ms=... gemm_ms=... ratio=<gemm/engine>
// (CPU times of the benchmark thread; ratio >= 0.8: the engine's update costs at most 1.25 x the
// two GEMMs. The engine also evaluates g and g' on the P x K fields, which the GEMMs alone do not:
// ~P K (erf + exp), comparable to the GEMMs' 4 P K N flops only for N ~ 100.)
//
//   build/release/bench/bench_fullbatch --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "engine/simulation/batch_trainer.hpp"
#include "engine/simulation/state.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <tuple>

using namespace plateau;

namespace {

RunParams params(std::int64_t P, std::int64_t N, int K) {
    RunParams p;
    p.model.N = N;
    p.model.student.widths = {K};
    p.model.teacher.widths = {K};
    p.training.train_set = P;
    p.training.batch = {1, true};
    return p;
}

std::map<std::tuple<std::int64_t, std::int64_t, int>, std::pair<double, double>> results;

void engine(benchmark::State& st) {
    const auto P = st.range(0), N = st.range(1);
    const int K = static_cast<int>(st.range(2));
    const RunParams p = params(P, N, K);
    RunState s = make_initial_state(p.model, 1, 0);
    MiniBatchSgd trainer(p, 1, 0);
    (void)trainer.advance(s, 1); // draws the set
    for (auto _ : st)
        benchmark::DoNotOptimize(trainer.advance(s, 1));
    st.counters["ms"] =
        benchmark::Counter(1e3 * static_cast<double>(st.iterations()),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void gemm(benchmark::State& st) {
    const auto P = st.range(0), N = st.range(1);
    const auto K = st.range(2);
    const RowMatrix X = RowMatrix::Random(P, N);
    RowMatrix W = RowMatrix::Random(K, N) * 0.01;
    RowMatrix F(P, K);
    for (auto _ : st) {
        F.noalias() = X * W.transpose();
        W.noalias() -= 1e-9 * F.transpose() * X;
        benchmark::DoNotOptimize(W.data());
    }
    st.counters["ms"] =
        benchmark::Counter(1e3 * static_cast<double>(st.iterations()),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void cases(benchmark::internal::Benchmark* b) {
    for (const auto& [P, N] : {std::pair{2000, 100}, std::pair{5000, 500}, std::pair{20000, 500}})
        for (const int K : {2, 10})
            b->Args({P, N, K});
    b->ArgNames({"P", "N", "K"})->Unit(benchmark::kMillisecond);
}

BENCHMARK(engine)->Name("FullBatch/engine")->Apply(cases);
BENCHMARK(gemm)->Name("FullBatch/gemm")->Apply(cases);

/// Collects the medians (or single runs) to print the ratio lines.
class Collect : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median")
                continue;
            int P = 0, N = 0, K = 0;
            char which[16] = {};
            if (std::sscanf(r.benchmark_name().c_str(), "FullBatch/%15[a-z]/P:%d/N:%d/K:%d", which,
                            &P, &N, &K) != 4)
                continue;
            const double ms = r.GetAdjustedCPUTime(); // CPU time: the machine may be shared
            auto& slot = results[{P, N, K}];
            (std::string(which) == "engine" ? slot.first : slot.second) = ms;
        }
    }
};

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    Collect reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    for (const auto& [key, t] : results) {
        const auto& [P, N, K] = key;
        if (t.first > 0 && t.second > 0)
            std::printf("BENCH bench=fullbatch P=%lld N=%lld K=%d engine_ms=%.4g gemm_ms=%.4g "
                        "ratio=%.3f\n",
                        static_cast<long long>(P), static_cast<long long>(N), K, t.first, t.second,
                        t.second / t.first);
    }
    benchmark::Shutdown();
}
