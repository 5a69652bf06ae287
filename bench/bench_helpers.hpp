// What the benchmarks of the on-line step share (bench_step.cpp, bench_gram.cpp): the seed, the
// model, and the engine's step timed on one state. Include it first: it turns a warning off for
// all that follows.
#pragma once

// GCC 12 reports -Wmaybe-uninitialized inside Eigen's AVX-512 reductions (_mm256_undefined_pd in
// avx512fintrin.h, a false positive of the late warning pass) when built with -march=native. The
// pragma holds for the rest of the including file, Eigen's headers included after it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "engine/run/run.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace plateau::bench {

inline constexpr std::uint64_t bench_seed = 20240601;

/// Input dimension N, K = M erf hidden units, identity output, fixed v, no label noise,
/// eta = 0.5; the default schedule.
inline RunParams erf_params(std::int64_t N, int K) {
    RunParams p;
    p.model.N = N;
    p.model.student =
        NetworkSpec{{K}, Activation{ActivationKind::erf}, Activation{ActivationKind::linear}};
    p.model.teacher = p.model.student;
    p.model.learn_v = false;
    p.model.noise = 0.0;
    p.training.eta = 0.5;
    return p;
}

/// OnlineSgd::advance on one RunState (run 0 of bench_seed) carried across iterations, `steps`
/// steps per iteration. Counter steps/s, a rate per CPU second.
inline void online_sgd_steps(benchmark::State& st, const RunParams& p, std::int64_t steps) {
    RunState s = make_initial_state(p.model, bench_seed, 0);
    OnlineSgd sgd(p, bench_seed, 0);
    for (auto _ : st) {
        if (sgd.advance(s, steps) != StepOutcome::ok) {
            st.SkipWithError("diverged");
            break;
        }
        benchmark::DoNotOptimize(s.weights.data());
    }
    st.counters["steps/s"] = benchmark::Counter(static_cast<double>(st.iterations() * steps),
                                                benchmark::Counter::kIsRate);
}

/// A benchmark case by its name "<family>/N:<N>/K:<K>...".
struct CaseName {
    std::string family;
    std::int64_t N = 0;
    std::int64_t K = 0;
};

/// The case of a run that a summary shows: the median of repetitions or the single repetition,
/// without error, named "<family>/N:<N>/K:<K>..."; nothing otherwise.
inline std::optional<CaseName> summary_case(const benchmark::BenchmarkReporter::Run& r) {
    using Run = benchmark::BenchmarkReporter::Run;
    if (r.error_occurred)
        return std::nullopt;
    const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
    const bool single = r.run_type == Run::RT_Iteration && r.repetitions <= 1;
    if (!median && !single)
        return std::nullopt;
    const std::string name = r.run_name.str();
    const auto n_pos = name.find("/N:");
    const auto k_pos = name.find("/K:");
    if (n_pos == std::string::npos || k_pos == std::string::npos)
        return std::nullopt;
    return CaseName{name.substr(0, n_pos), std::stoll(name.substr(n_pos + 3, k_pos - n_pos - 3)),
                    std::stoll(name.substr(k_pos + 3))};
}

/// Google Benchmark's console table; each run a summary shows (summary_case) also goes to add().
class CaseReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs)
            if (const auto c = summary_case(r))
                add(*c, r);
    }

protected:
    virtual void add(const CaseName& c, const Run& r) = 0;
};

} // namespace plateau::bench
