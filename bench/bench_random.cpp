// Cost of the random streams: ns per standard normal for NormalStream::fill and next(), ns per
// 64-bit word for UniformStream::next_u64, and the standard library for comparison
// (std::normal_distribution driven by std::mt19937_64).
#include "engine/core/random.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

namespace {

using plateau::NormalStream;
using plateau::StreamKey;
using plateau::StreamPurpose;
using plateau::UniformStream;

constexpr StreamKey bench_key{20240601, 7, StreamPurpose::examples};

void BM_NormalFill(benchmark::State& state) {
    NormalStream normals(bench_key);
    std::vector<double> out(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        normals.fill(out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_NormalFill)->Arg(1000)->Arg(10000);

void BM_NormalNext(benchmark::State& state) {
    NormalStream normals(bench_key);
    for (auto _ : state) {
        double sum = 0.0;
        for (int k = 0; k < 1000; ++k)
            sum += normals.next();
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_NormalNext);

void BM_UniformNextU64(benchmark::State& state) {
    UniformStream uniform(bench_key);
    for (auto _ : state) {
        std::uint64_t acc = 0;
        for (int k = 0; k < 1000; ++k)
            acc ^= uniform.next_u64();
        benchmark::DoNotOptimize(acc);
    }
    state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_UniformNextU64);

void BM_UniformNextDouble(benchmark::State& state) {
    UniformStream uniform(bench_key);
    for (auto _ : state) {
        double sum = 0.0;
        for (int k = 0; k < 1000; ++k)
            sum += uniform.next_double();
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_UniformNextDouble);

void BM_StdNormalMt19937(benchmark::State& state) {
    std::mt19937_64 engine(20240601);
    std::normal_distribution<double> dist;
    std::vector<double> out(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        for (double& o : out)
            o = dist(engine);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StdNormalMt19937)->Arg(1000);

void BM_StdMt19937U64(benchmark::State& state) {
    std::mt19937_64 engine(20240601);
    for (auto _ : state) {
        std::uint64_t acc = 0;
        for (int k = 0; k < 1000; ++k)
            acc ^= engine();
        benchmark::DoNotOptimize(acc);
    }
    state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_StdMt19937U64);

} // namespace

BENCHMARK_MAIN();
