// Throughput of the on-line step, one thread (docs/PERFORMANCE.md).
//
// Cases: N in {100, 1000, 10000} x K = M in {2, 10}; erf hidden units, identity output, fixed v,
// eta = 0.5, no label noise. Benchmarks (names "<family>/N:<N>/K:<K>/min_time:..."):
//   Step/engine     OnlineSgd::advance on a RunState, N steps (alpha = 1) per iteration
//   Step/reference  a plain, tight Eigen loop (ReferenceLoop below): fill xi from the same
//                   NormalStream, one GEMV for the K+M fields of the stacked [W; B], erf/exp on the
//                   fields, one rank-one update of W
//   Step/reference_scalar  the same loop with the normals' scalar kernels (the generator before
//                   the vector kernels of engine/core/random_simd.hpp: the same values)
//   Run/simulate    simulate(): a whole run with recording on the default schedule (100 log-spaced
//                   records, alpha_max = 300; alpha_max = 10 for N = 10000, to keep it short)
//   Run/split       the same run through record_run() with a Dynamics that times advance_to()
//                   and observe() separately (steady clock): counter record_share
//   Part/observe    one record (Observer::observe) alone; the summary's "records (model)" is
//                   100 records at this cost over the run time of Run/simulate
//   Part/...        the pieces of the engine's step, alone (cost model, by ablation):
//                   draw (N normals), fields (K+M dot products), update (K axpys),
//                   sweep (the engine's one pass: update of step t + fields of step t+1),
//                   no_update (a step without the update: draw + fields + activations),
//                   activations (erf/exp on the K+M fields: forward and backward passes)
// Rates (steps/s) and times per step (s/step) are per CPU second of the benchmark thread.
//
// Output: Google Benchmark's table, then a summary table of the medians (or of the single
// repetition) and one machine-readable line per case:
//   BENCH bench=step N=<N> K=<K> engine_steps_per_s=... reference_steps_per_s=...
//         ratio=<engine/reference> simulate_steps_per_s=... record_share=...
//         record_share_model=... draw_ns=... fields_ns=... update_ns=... sweep_ns=...
//         no_update_ns=... activations_ns=... observe_ns=...
// (one line; absent values are omitted). With --benchmark_format=json (or csv) the output is
// Google Benchmark's own, without the summary; --benchmark_out=FILE --benchmark_out_format=json
// writes the JSON beside the summary. Before the benchmarks, a check compares the engine's
// weights with the reference loop's after the same steps (same streams), and prints CHECK lines.
//
//   build/release/bench/bench_step --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_enable_random_interleaving=true
// (one command line).

// First: bench_helpers.hpp turns off GCC 12's false -Wmaybe-uninitialized in Eigen's AVX-512
// code (-march=native) for all that follows.
#include "bench_helpers.hpp"

#include "engine/core/random.hpp"
#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace plateau;

using bench::bench_seed;
constexpr int N_values[] = {100, 1000, 10000};
constexpr int K_values[] = {2, 10};

RunParams make_params(std::int64_t N, int K) {
    RunParams p = bench::erf_params(N, K);
    if (N >= 10000)
        p.schedule.alpha_max = 10.0;
    validate(p);
    return p;
}

/// Wall-clock seconds from the steady clock (vDSO, ~20 ns a call: cheap enough to time each
/// record; a thread CPU clock is a system call of ~0.5 us, which would inflate each record).
double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// ---------------------------------------------------------------------------------------------
// The reference: the same model and update (Eqs. 3-5 for erf, identity output, fixed v), written
// as a plain loop over Eigen expressions.
class ReferenceLoop {
public:
    ReferenceLoop(const RunParams& p, std::uint64_t seed, std::uint64_t run,
                  plateau::SimdLevel level = plateau::best_simd_level())
        : K_(p.model.student.hidden()), M_(p.model.teacher.hidden()),
          eta_over_n_(p.training.eta / static_cast<double>(p.model.N)),
          examples_(StreamKey{seed, run, StreamPurpose::examples}, level) {
        const RunState s = make_initial_state(p.model, seed, run);
        wb_ = s.weights;
        v_ = s.v;
        v_star_ = s.v_star;
        xi_.resize(p.model.N);
        fields_.resize(K_ + M_);
        coef_.resize(K_);
    }

    void advance(std::int64_t steps) {
        constexpr double inv_sqrt2 = std::numbers::sqrt2 / 2.0;
        constexpr double gprime0 = std::numbers::sqrt2 * std::numbers::inv_sqrtpi; // sqrt(2/pi)
        for (std::int64_t t = 0; t < steps; ++t) {
            examples_.fill({xi_.data(), static_cast<std::size_t>(xi_.size())});
            fields_.noalias() = wb_ * xi_; // x = W xi, y = B xi
            double sigma = 0.0;
            for (Eigen::Index k = 0; k < K_; ++k)
                sigma += v_[k] * std::erf(fields_[k] * inv_sqrt2);
            double tau = 0.0;
            for (Eigen::Index n = 0; n < M_; ++n)
                tau += v_star_[n] * std::erf(fields_[K_ + n] * inv_sqrt2);
            const double delta = sigma - tau; // h = identity
            for (Eigen::Index k = 0; k < K_; ++k)
                coef_[k] = -eta_over_n_ * delta * v_[k] * gprime0 *
                           std::exp(-0.5 * fields_[k] * fields_[k]);
            wb_.topRows(K_).noalias() += coef_ * xi_.transpose();
        }
    }
    [[nodiscard]] const RowMatrix& weights() const noexcept { return wb_; }

private:
    Eigen::Index K_;
    Eigen::Index M_;
    double eta_over_n_;
    NormalStream examples_;
    RowMatrix wb_;
    Eigen::VectorXd v_;
    Eigen::VectorXd v_star_;
    Eigen::VectorXd xi_;
    Eigen::VectorXd fields_;
    Eigen::VectorXd coef_;
};

void set_steps_rate(benchmark::State& st, double steps) {
    st.counters["steps/s"] = benchmark::Counter(steps, benchmark::Counter::kIsRate);
}
void set_time_per_step(benchmark::State& st) {
    st.counters["s/step"] =
        benchmark::Counter(static_cast<double>(st.iterations()),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---------------------------------------------------------------------------------------------
// (a) and (c): the step.

void BM_StepEngine(benchmark::State& st) {
    const RunParams p = make_params(st.range(0), static_cast<int>(st.range(1)));
    bench::online_sgd_steps(st, p, p.model.N);
}

/// Deeper networks (docs/theory.md §12): student and teacher with three hidden layers of width K
/// (K x K x K): the first layer by the same fused kernel, the layers above by backpropagation,
/// O(K^2) more per step.
void BM_StepDeep3(benchmark::State& st) {
    RunParams p = make_params(st.range(0), static_cast<int>(st.range(1)));
    const int K = static_cast<int>(st.range(1));
    p.model.student.widths = p.model.teacher.widths = {K, K, K};
    validate(p);
    bench::online_sgd_steps(st, p, p.model.N);
}

void BM_StepReference(benchmark::State& st, plateau::SimdLevel level) {
    const RunParams p = make_params(st.range(0), static_cast<int>(st.range(1)));
    ReferenceLoop ref(p, bench_seed, 0, level);
    const std::int64_t batch = p.model.N;
    for (auto _ : st) {
        ref.advance(batch);
        benchmark::DoNotOptimize(ref.weights().data());
    }
    set_steps_rate(st, static_cast<double>(st.iterations() * batch));
}

// ---------------------------------------------------------------------------------------------
// (b): whole runs.

std::int64_t run_steps(const RunParams& p) {
    return record_step(record_alphas(p.schedule).back(), p.model.N);
}

void BM_RunSimulate(benchmark::State& st) {
    const RunParams p = make_params(st.range(0), static_cast<int>(st.range(1)));
    std::uint64_t run = 0;
    for (auto _ : st) {
        RunResult r = simulate(p, bench_seed, run++);
        if (r.status != RunStatus::completed) {
            st.SkipWithError("run did not complete");
            break;
        }
        benchmark::DoNotOptimize(r.records.data());
    }
    set_steps_rate(st, static_cast<double>(st.iterations() * run_steps(p)));
}

/// A simulation whose advance_to() and observe() are timed separately (steady clock).
class TimedDynamics final : public Dynamics {
public:
    TimedDynamics(const RunParams& p, std::uint64_t seed, std::uint64_t run)
        : inner_(p, seed, run, run) {}
    [[nodiscard]] bool advance_to(double alpha) override {
        const double t0 = now_seconds();
        const bool ok = inner_.advance_to(alpha);
        advance_seconds += now_seconds() - t0;
        return ok;
    }
    [[nodiscard]] Observables observe() override {
        const double t0 = now_seconds();
        Observables o = inner_.observe();
        observe_seconds += now_seconds() - t0;
        return o;
    }
    double advance_seconds = 0.0;
    double observe_seconds = 0.0;

private:
    SimulationDynamics inner_;
};

void BM_RunSplit(benchmark::State& st) {
    const RunParams p = make_params(st.range(0), static_cast<int>(st.range(1)));
    const std::vector<double> alphas = record_alphas(p.schedule);
    double advance = 0.0;
    double observe = 0.0;
    std::uint64_t run = 0;
    for (auto _ : st) {
        TimedDynamics d(p, bench_seed, run++);
        RunResult r = record_run(d, alphas, divergence_rule(p), outcome_model(p.model));
        if (r.status != RunStatus::completed) {
            st.SkipWithError("run did not complete");
            break;
        }
        benchmark::DoNotOptimize(r.records.data());
        advance += d.advance_seconds;
        observe += d.observe_seconds;
    }
    st.counters["record_share"] = observe / (advance + observe);
    st.counters["records/s"] =
        benchmark::Counter(static_cast<double>(st.iterations()) *
                           static_cast<double>(alphas.size()) / std::max(observe, 1e-12));
}

// ---------------------------------------------------------------------------------------------
// The pieces of the engine's step, each alone (the kernels of engine/simulation/trainer.hpp).

struct Parts {
    Parts(std::int64_t N, int K)
        : n(static_cast<std::size_t>(N)), k(static_cast<std::size_t>(K)), params(make_params(N, K)),
          state(make_initial_state(params.model, bench_seed, 0)),
          normals(StreamKey{bench_seed, 0, StreamPurpose::examples}), xi(n), xi_next(n),
          fields(2 * k), coef(k, 1e-12), scratch(2 * k * step_kernels::scratch_per_row) {
        normals.fill(xi);
        normals.fill(xi_next);
    }
    std::size_t n;
    std::size_t k;
    RunParams params;
    RunState state;
    NormalStream normals;
    std::vector<double> xi;
    std::vector<double> xi_next;
    std::vector<double> fields;
    std::vector<double> coef;
    std::vector<double> scratch;

    /// The forward and backward passes of the step from the fields (the engine's calls).
    double activations() {
        const std::span<const double> x{fields.data(), k};
        const std::span<const double> y{fields.data() + k, k};
        const double tau = forward(params.model.teacher, y, {state.v_star.data(), k}).output;
        const ForwardPass pass = forward(params.model.student, x, {state.v.data(), k});
        backward(params.model.student, x, {state.v.data(), k}, pass, tau, coef, {}, Loss{});
        return pass.output;
    }
};

void BM_PartDraw(benchmark::State& st) {
    Parts q(st.range(0), static_cast<int>(st.range(1)));
    for (auto _ : st) {
        q.normals.fill(q.xi);
        benchmark::DoNotOptimize(q.xi.data());
        benchmark::ClobberMemory();
    }
    set_time_per_step(st);
}

void BM_PartFields(benchmark::State& st) {
    Parts q(st.range(0), static_cast<int>(st.range(1)));
    for (auto _ : st) {
        step_kernels::sweep(q.state.weights.data(), 2 * q.k, 0, q.n, nullptr, nullptr, q.xi.data(),
                            q.fields.data(), nullptr, q.scratch.data());
        benchmark::DoNotOptimize(q.fields.data());
        benchmark::ClobberMemory();
    }
    set_time_per_step(st);
}

void BM_PartUpdate(benchmark::State& st) {
    Parts q(st.range(0), static_cast<int>(st.range(1)));
    std::fill(q.coef.begin(), q.coef.end(), 1e-12);
    for (auto _ : st) {
        step_kernels::update(q.state.weights.data(), q.k, q.n, q.coef.data(), q.xi.data());
        benchmark::DoNotOptimize(q.state.weights.data());
        benchmark::ClobberMemory();
    }
    set_time_per_step(st);
}

void BM_PartSweep(benchmark::State& st) {
    Parts q(st.range(0), static_cast<int>(st.range(1)));
    std::fill(q.coef.begin(), q.coef.end(), 1e-12);
    for (auto _ : st) {
        step_kernels::sweep(q.state.weights.data(), 2 * q.k, q.k, q.n, q.coef.data(), q.xi.data(),
                            q.xi_next.data(), q.fields.data(), nullptr, q.scratch.data());
        benchmark::DoNotOptimize(q.fields.data());
        benchmark::ClobberMemory();
    }
    set_time_per_step(st);
}

void BM_PartNoUpdate(benchmark::State& st) {
    Parts q(st.range(0), static_cast<int>(st.range(1)));
    for (auto _ : st) {
        step_kernels::sweep(q.state.weights.data(), 2 * q.k, 0, q.n, nullptr, nullptr, q.xi.data(),
                            q.fields.data(), &q.normals, q.scratch.data());
        benchmark::DoNotOptimize(q.activations());
        benchmark::ClobberMemory();
    }
    set_time_per_step(st);
}

void BM_PartActivations(benchmark::State& st) {
    Parts q(st.range(0), static_cast<int>(st.range(1)));
    step_kernels::sweep(q.state.weights.data(), 2 * q.k, 0, q.n, nullptr, nullptr, q.xi.data(),
                        q.fields.data(), nullptr, q.scratch.data());
    for (auto _ : st) {
        benchmark::DoNotOptimize(q.activations());
        benchmark::ClobberMemory();
    }
    set_time_per_step(st);
}

void BM_PartObserve(benchmark::State& st) {
    Parts q(st.range(0), static_cast<int>(st.range(1)));
    Observer observer(q.params, bench_seed, 0);
    for (auto _ : st) {
        Observables o = observer.observe(q.state);
        benchmark::DoNotOptimize(o.eg);
    }
    set_time_per_step(st);
}

void cases(benchmark::internal::Benchmark* b) {
    b->ArgNames({"N", "K"});
    for (const int K : K_values)
        for (const int N : N_values)
            b->Args({N, K});
}

BENCHMARK(BM_StepEngine)->Name("Step/engine")->Apply(cases)->MinTime(0.5);
BENCHMARK_CAPTURE(BM_StepReference, best, plateau::best_simd_level())
    ->Name("Step/reference")
    ->Apply(cases)
    ->MinTime(0.5);
BENCHMARK_CAPTURE(BM_StepReference, scalar, plateau::SimdLevel::scalar)
    ->Name("Step/reference_scalar")
    ->Apply(cases)
    ->MinTime(0.5);
BENCHMARK(BM_StepDeep3)
    ->Name("Step/deep3")
    ->ArgNames({"N", "K"})
    ->Args({1000, 2})
    ->Args({1000, 10})
    ->MinTime(0.5);
BENCHMARK(BM_RunSimulate)->Name("Run/simulate")->Apply(cases)->MinTime(0.5);
BENCHMARK(BM_RunSplit)->Name("Run/split")->Apply(cases)->MinTime(0.5);
BENCHMARK(BM_PartDraw)->Name("Part/draw")->Apply(cases)->MinTime(0.2);
BENCHMARK(BM_PartFields)->Name("Part/fields")->Apply(cases)->MinTime(0.2);
BENCHMARK(BM_PartUpdate)->Name("Part/update")->Apply(cases)->MinTime(0.2);
BENCHMARK(BM_PartSweep)->Name("Part/sweep")->Apply(cases)->MinTime(0.2);
BENCHMARK(BM_PartNoUpdate)->Name("Part/no_update")->Apply(cases)->MinTime(0.2);
BENCHMARK(BM_PartActivations)->Name("Part/activations")->Apply(cases)->MinTime(0.2);
BENCHMARK(BM_PartObserve)->Name("Part/observe")->Apply(cases)->MinTime(0.2);

// ---------------------------------------------------------------------------------------------
// Summary: the medians (or the single repetition) by case.

struct CaseKey {
    long N;
    long K;
    friend bool operator<(const CaseKey& a, const CaseKey& b) {
        return std::pair(a.K, a.N) < std::pair(b.K, b.N);
    }
};

/// One case of the summary (NaN where a benchmark was filtered out).
struct Row {
    double engine, reference, simulate, share, share_model;
    double draw, fields, update, sweep, no_update, act, observe; // seconds per step or record
};

Row row(const CaseKey& key, const std::map<std::string, double>& v) {
    const auto get = [&](const char* name) {
        const auto it = v.find(name);
        return it == v.end() ? std::nan("") : it->second;
    };
    Row r{};
    r.engine = get("Step/engine.steps/s");
    r.reference = get("Step/reference.steps/s");
    r.simulate = get("Run/simulate.steps/s");
    r.share = get("Run/split.record_share");
    r.draw = get("Part/draw.s/step");
    r.fields = get("Part/fields.s/step");
    r.update = get("Part/update.s/step");
    r.sweep = get("Part/sweep.s/step");
    r.no_update = get("Part/no_update.s/step");
    r.act = get("Part/activations.s/step");
    r.observe = get("Part/observe.s/step");
    // The records' share of a run, from the cost of one record and the run time of simulate().
    const RunParams p = make_params(key.N, static_cast<int>(key.K));
    const auto records = static_cast<double>(record_alphas(p.schedule).size());
    const double run_seconds = static_cast<double>(run_steps(p)) / r.simulate;
    r.share_model = records * r.observe / run_seconds;
    return r;
}

class SummaryReporter final : public bench::CaseReporter {
public:
    void Finalize() override {
        ConsoleReporter::Finalize();
        std::printf("\nThroughput (medians; per CPU second of the benchmark thread)\n");
        std::printf("%6s %3s | %12s %12s %7s | %12s %9s %9s\n", "N", "K", "engine", "reference",
                    "engine/", "simulate()", "records", "records");
        std::printf("%6s %3s | %12s %12s %7s | %12s %9s %9s\n", "", "", "steps/s", "steps/s", "ref",
                    "steps/s", "(in run)", "(model)");
        for (const auto& [key, v] : values_) {
            const Row r = row(key, v);
            std::printf("%6ld %3ld | %12.0f %12.0f %7.3f | %12.0f %8.2f%% %8.2f%%\n", key.N, key.K,
                        r.engine, r.reference, r.engine / r.reference, r.simulate, 100.0 * r.share,
                        100.0 * r.share_model);
        }
        std::printf("\nCost model (medians; microseconds per step, each part alone; %% of the "
                    "engine's step)\n");
        std::printf("%6s %3s | %8s | %14s %14s %14s | %8s %8s %8s | %8s\n", "N", "K", "step",
                    "draw", "sweep", "activations", "fields", "update", "no_upd", "observe");
        for (const auto& [key, v] : values_) {
            const Row r = row(key, v);
            const double step = 1.0 / r.engine;
            const auto pct = [&](double t) {
                return 100.0 * t / step;
            };
            std::printf("%6ld %3ld | %8.3f | %7.3f %5.1f%% %7.3f %5.1f%% %7.3f %5.1f%% | %8.3f "
                        "%8.3f %8.3f | %8.3f\n",
                        key.N, key.K, 1e6 * step, 1e6 * r.draw, pct(r.draw), 1e6 * r.sweep,
                        pct(r.sweep), 1e6 * r.act, pct(r.act), 1e6 * r.fields, 1e6 * r.update,
                        1e6 * r.no_update, 1e6 * r.observe);
        }
        std::printf("\n");
        for (const auto& [key, v] : values_) {
            const Row r = row(key, v);
            std::string line =
                "BENCH bench=step N=" + std::to_string(key.N) + " K=" + std::to_string(key.K);
            const auto add = [&](const char* name, double value, double scale) {
                if (std::isfinite(value)) {
                    char buf[80];
                    std::snprintf(buf, sizeof buf, " %s=%.6g", name, scale * value);
                    line += buf;
                }
            };
            add("engine_steps_per_s", r.engine, 1.0);
            add("reference_steps_per_s", r.reference, 1.0);
            add("ratio", r.engine / r.reference, 1.0);
            add("simulate_steps_per_s", r.simulate, 1.0);
            add("record_share", r.share, 1.0);
            add("record_share_model", r.share_model, 1.0);
            add("draw_ns", r.draw, 1e9);
            add("fields_ns", r.fields, 1e9);
            add("update_ns", r.update, 1e9);
            add("sweep_ns", r.sweep, 1e9);
            add("no_update_ns", r.no_update, 1e9);
            add("activations_ns", r.act, 1e9);
            add("observe_ns", r.observe, 1e9);
            std::printf("%s\n", line.c_str());
        }
        std::fflush(stdout);
    }

private:
    void add(const bench::CaseName& c, const Run& r) override {
        for (const auto& [name, counter] : r.counters)
            values_[CaseKey{c.N, c.K}][c.family + "." + name] = counter.value;
    }

    std::map<CaseKey, std::map<std::string, double>> values_;
};

/// The engine against the reference loop: the same streams and the same update, so the weights
/// after the same steps agree up to rounding (the summation order of the dot products and FMA
/// contraction differ). Also checks that the engine is deterministic. Returns false on failure.
bool check_against_reference() {
    bool ok = true;
    for (const int K : K_values) {
        const std::int64_t N = 1000;
        const std::int64_t steps = 20 * N;
        const RunParams p = make_params(N, K);
        RunState a = make_initial_state(p.model, bench_seed, 3);
        RunState b = make_initial_state(p.model, bench_seed, 3);
        OnlineSgd sa(p, bench_seed, 3);
        OnlineSgd sb(p, bench_seed, 3);
        ReferenceLoop ref(p, bench_seed, 3);
        // Different batchings: the result must not depend on how advance() is called.
        const bool ran = sa.advance(a, steps) == StepOutcome::ok &&
                         sb.advance(b, steps / 2) == StepOutcome::ok &&
                         sb.advance(b, steps - steps / 2) == StepOutcome::ok;
        ref.advance(steps);
        const bool identical = ran && a.weights == b.weights;
        const double diff = (a.weights - ref.weights()).cwiseAbs().maxCoeff();
        const double scale = ref.weights().cwiseAbs().maxCoeff();
        const bool close = diff <= 1e-9 * scale;
        std::printf("CHECK N=%ld K=%d steps=%ld engine_vs_reference_max_abs_diff=%.3g "
                    "(max |w| %.3g) deterministic=%s %s\n",
                    static_cast<long>(N), K, static_cast<long>(steps), diff, scale,
                    identical ? "yes" : "NO", close && identical ? "ok" : "FAILED");
        ok = ok && close && identical;
    }
    return ok;
}

} // namespace

int main(int argc, char** argv) {
    // --benchmark_format=json|csv: Google Benchmark's own reporter (no summary, no BENCH lines).
    bool console = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("--benchmark_format=", 0) == 0 && a != "--benchmark_format=console")
            console = false;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    if (!check_against_reference())
        return 1;
    if (console) {
        SummaryReporter reporter;
        benchmark::RunSpecifiedBenchmarks(&reporter);
    } else {
        benchmark::RunSpecifiedBenchmarks();
    }
    benchmark::Shutdown();
    return 0;
}
