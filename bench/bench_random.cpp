// Cost of the random streams: ns per standard normal for NormalStream::fill and next(), ns per
// 64-bit word for UniformStream::next_u64, and the standard library for comparison
// (std::normal_distribution driven by std::mt19937_64).
#include "engine/core/random.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
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

/// Labels the benchmark with the level's name, or skips it (false) when the CPU lacks the level.
bool usable(benchmark::State& state, plateau::SimdLevel level) {
    if (!plateau::simd_level_supported(level)) {
        state.SkipWithError("not supported by this CPU");
        return false;
    }
    state.SetLabel(std::string(plateau::name(level)));
    return true;
}

// The same at each instruction-set level of the kernels (engine/core/random_simd.hpp): the
// same values, side by side; scalar is the generator before the vector kernels.
void BM_NormalFillLevel(benchmark::State& state) {
    const auto level = static_cast<plateau::SimdLevel>(state.range(0));
    if (!usable(state, level))
        return;
    NormalStream normals(bench_key, level);
    std::vector<double> out(1000);
    for (auto _ : state) {
        normals.fill(out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_NormalFillLevel)->DenseRange(0, 2);

// The uniform block refill alone, per 64-bit word, at each level.
void BM_RefillLevel(benchmark::State& state) {
    const auto level = static_cast<plateau::SimdLevel>(state.range(0));
    if (!usable(state, level))
        return;
    std::uint64_t s[4][4];
    std::uint64_t z = 1;
    for (auto& word : s)
        for (auto& lane : word)
            lane = plateau::splitmix64_mix(++z);
    std::vector<std::uint64_t> block(256);
    for (auto _ : state) {
        plateau::detail::xoshiro_refill(level, s, block.data(), block.size());
        benchmark::DoNotOptimize(block.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * 256);
}
BENCHMARK(BM_RefillLevel)->DenseRange(0, 2);

// The ziggurat's fast path alone over a block of words that all pass it, per draw.
void BM_FastRunLevel(benchmark::State& state) {
    const auto level = static_cast<plateau::SimdLevel>(state.range(0));
    if (!usable(state, level))
        return;
    const auto* layers = plateau::detail::ziggurat_tables().layer.data();
    UniformStream uniform(bench_key);
    std::vector<std::uint64_t> words;
    while (words.size() < 256) {
        const std::uint64_t u = uniform.next_u64();
        if ((u >> 11) < layers[u & 0xff].k)
            words.push_back(u);
    }
    std::vector<double> out(256);
    for (auto _ : state) {
        const std::size_t m = plateau::detail::ziggurat_fast_run(level, words.data(), words.size(),
                                                                 layers, out.data());
        benchmark::DoNotOptimize(m);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * 256);
}
BENCHMARK(BM_FastRunLevel)->DenseRange(0, 2);

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
