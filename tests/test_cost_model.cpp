// Time estimates and progress inside runs: the cost model (engine/campaign/cost_model.hpp), the
// step counter a run reports to (engine/run/run.hpp), and the campaign's heartbeat
// (engine/campaign/campaign.hpp).
#include "engine/campaign/campaign.hpp"
#include "engine/campaign/cost_model.hpp"
#include "engine/core/schedule.hpp"
#include "engine/io/write_probe.hpp"
#include "engine/io/writer.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"

#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/simulate.hpp"
#include "run_helpers.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

using namespace plateau;
using plateau::test::params_of;

namespace {

bool same_bits(const RowMatrix& a, const RowMatrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() && (a.array() == b.array()).all();
}

/// Hand-set coefficients: the counts of work the model multiplies become visible.
CostModel unit_model() {
    CostModel m;
    m.step = {.normal = 1.0,
              .multiply_add = 10.0,
              .unit = 100.0,
              .gram = 1000.0,
              .pair = 10000.0,
              .init = 100000.0,
              .run = 7.0,
              .record = 3.0};
    m.monte_carlo.push_back(
        {{ActivationKind::erf, ActivationKind::tanh, ActivationKind::erf, ActivationKind::linear},
         0.5,
         1.0,
         1000.0});
    return m;
}

} // namespace

TEST_CASE("advancing a run in pieces gives the weights of one advance bit for bit",
          "[cost_model]") {
    // SimulationDynamics::advance_to splits long stretches into progress_chunk() steps: this is
    // the property that makes the split invisible in the results.
    for (const std::int64_t N : {1, 3, 7, 100, 513, 1029}) {
        for (const auto& [K, M] : std::vector<std::pair<int, int>>{{1, 1}, {2, 3}, {5, 2}}) {
            for (const bool options : {false, true}) {
                RunParams p = params_of(N, K, std::min<std::int64_t>(M, N) == M ? M : 1);
                if (options) {
                    p.model.learn_v = true;
                    p.model.noise = 0.01;
                    p.model.student.g.kind = ActivationKind::tanh;
                    p.model.student.h.kind = ActivationKind::tanh;
                }
                RunState whole = make_initial_state(p.model, 7, 3);
                RunState pieces = whole;
                const auto one = make_trainer(p, 7, 3);
                const auto split = make_trainer(p, 7, 3);
                const std::int64_t steps = 5 * N + 37;
                REQUIRE(one->advance(whole, steps) == StepOutcome::ok);
                for (std::int64_t done = 0, piece = 1; done < steps; piece = piece * 2 + 1) {
                    const std::int64_t now = std::min(piece, steps - done);
                    REQUIRE(split->advance(pieces, now) == StepOutcome::ok);
                    done += now;
                }
                INFO("N = " << N << ", K = " << K << ", options " << options);
                CHECK(pieces.step == whole.step);
                CHECK(same_bits(pieces.weights, whole.weights));
                CHECK((pieces.v.array() == whole.v.array()).all());
            }
        }
    }
}

TEST_CASE("a run tells its step counter every step and computes the same records", "[cost_model]") {
    RunParams p = params_of(40, 2, 2);
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.records = 2; // one stretch of the whole run between the two record times
    p.schedule.alpha_max = 3.0 * static_cast<double>(progress_chunk(40)) / 40.0 + 0.5;
    const RunResult plain = simulate(p, 11, 4);
    StepCounter steps{0};
    const RunResult counted = simulate(p, 11, 4, 4, &steps);
    CHECK(steps.load() == run_steps(p.schedule, p.model.N));
    REQUIRE(counted.records.size() == plain.records.size());
    for (std::size_t i = 0; i < plain.records.size(); ++i) {
        CHECK((counted.records[i].Q.array() == plain.records[i].Q.array()).all());
        CHECK((counted.records[i].R.array() == plain.records[i].R.array()).all());
        CHECK(counted.records[i].eg == plain.records[i].eg);
    }

    // The counter moves while the stretch is under way, a chunk at a time: a thread watching
    // it sees values between 0 and the end.
    p.schedule.alpha_max = 6.0 * static_cast<double>(progress_chunk(40)) / 40.0;
    const std::int64_t total = run_steps(p.schedule, p.model.N);
    StepCounter during{0};
    std::atomic<bool> done{false};
    std::vector<std::int64_t> seen;
    std::thread watcher([&] {
        while (!done.load()) {
            const std::int64_t now = during.load();
            if (now > 0 && now < total && (seen.empty() || seen.back() != now))
                seen.push_back(now);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    (void)simulate(p, 11, 4, 4, &during);
    done = true;
    watcher.join();
    CHECK(during.load() == total);
    CHECK_FALSE(seen.empty());
    for (const std::int64_t s : seen)
        CHECK(s % progress_chunk(40) == 0);
}

TEST_CASE("the cost model counts the work of steps records and Monte-Carlo eps_g", "[cost_model]") {
    const CostModel m = unit_model();
    RunParams p = params_of(100, 3, 2);
    p.schedule.alpha_max = 10;
    p.schedule.records = 20;
    const RunCost exact = predict_run(m, p);
    const double steps = 1000.0;
    CHECK(exact.steps == Approx(steps * (100.0 * (1.0 + 10.0 * 8.0) + 100.0 * 6.0)));
    CHECK(exact.records == Approx(20.0 * 25.0 * (100.0 * 1000.0 + 10000.0)));
    CHECK(exact.monte_carlo == 0.0);
    CHECK(exact.setup == Approx(5.0 * 100.0 * 100000.0 + 7.0 + 20.0 * 3.0));

    // tanh output: no closed form (the observer's rule), so eg_samples draws at every record.
    p.model.student.h.kind = ActivationKind::tanh;
    p.observer.eg_samples = 500;
    const RunCost mc = predict_run(m, p);
    CHECK(mc.steps == exact.steps);
    CHECK(mc.records == Approx(20.0 * 25.0 * 100.0 * 1000.0)); // the Gram product only
    CHECK(mc.monte_carlo == Approx(20.0 * 500.0 * (0.5 + 5.0 * 1.0 + 25.0 * 1000.0)));

    // A class never probed takes the mean of the probed ones.
    p.model.student.h.kind = ActivationKind::sigmoid;
    CHECK(predict_run(m, p).monte_carlo == Approx(mc.monte_carlo));
}

TEST_CASE("the cost model's Gram chain counts every row: the means' axes and the velocities",
          "[cost_model]") {
    // dynamics = gram, per step chain + r^3 chain_cubic: r = K + M = 5 for Gaussian inputs; the
    // XOR mixture's D = 2 axes are rows too (docs/theory.md §15d, Eq. (15d.1): r = K + M + D = 7,
    // not the (K + M)^3 = 125 of Gaussian inputs); momentum adds the K velocity rows (§6c).
    CostModel m = unit_model();
    m.step.chain = 2.0;
    m.step.chain_cubic = 1.0;
    RunParams p = params_of(100, 3, 2);
    p.dynamics = DynamicsKind::gram;
    p.schedule.alpha_max = 10;
    const double steps = 1000.0;
    CHECK(predict_run(m, p).steps == Approx(steps * (2.0 + 125.0)));
    p.model.inputs = InputKind::mixture;
    p.model.mixture = Mixture::exclusive_or();
    CHECK(predict_run(m, p).steps == Approx(steps * (2.0 + 343.0)));
    p.training.momentum = 0.5;
    CHECK(predict_run(m, p).steps == Approx(steps * (2.0 + 1000.0)));
}

TEST_CASE("a campaign's estimated wall time is its work over the workers but not below its "
          "longest run",
          "[cost_model]") {
    const CostModel m = unit_model();
    CampaignSpec spec;
    for (const std::int64_t N : {100, 1000}) {
        GridPoint g;
        g.params = params_of(N, 2, 2);
        spec.points.push_back(g);
    }
    spec.seeds = 3;
    const double small = predict_run(m, spec.points[0].params).total();
    const double large = predict_run(m, spec.points[1].params).total();
    const CampaignCost one = predict_campaign(m, spec, 1);
    CHECK(one.sum.total() == Approx(3.0 * (small + large)));
    CHECK(one.makespan == Approx(one.sum.total()));
    CHECK(one.longest_run == Approx(large));
    const CampaignCost many = predict_campaign(m, spec, 64);
    CHECK(many.makespan == Approx(large));

    // The order of the grid points changes nothing.
    std::swap(spec.points[0], spec.points[1]);
    CHECK(predict_campaign(m, spec, 1).makespan == Approx(one.makespan));
}

TEST_CASE("calibration probes the canonical runs and each Monte-Carlo class once in a sorted "
          "order",
          "[cost_model]") {
    CampaignSpec spec;
    for (const auto h : {ActivationKind::tanh, ActivationKind::linear, ActivationKind::sigmoid,
                         ActivationKind::tanh}) {
        GridPoint g;
        g.params = params_of(50, 2, 2);
        g.params.model.student.h.kind = h;
        spec.points.push_back(g);
    }
    const auto start = std::chrono::steady_clock::now();
    const CostModel m = calibrate_cost_model(spec, {.repetitions = 2});
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    REQUIRE(m.monte_carlo.size() == 2); // tanh and sigmoid outputs; linear has a closed form
    CHECK(m.monte_carlo[0].activations < m.monte_carlo[1].activations);
    CHECK(m.step.normal > 0.0);
    CHECK(m.monte_carlo[0].sample + m.monte_carlo[0].unit + m.monte_carlo[0].pair > 0.0);
    // The bound on the classes probed.
    const CostModel bounded = calibrate_cost_model(spec, {.repetitions = 1, .max_classes = 1});
    CHECK(bounded.monte_carlo.size() == 1);
    CHECK(bounded.unprobed_classes == 1);
}

TEST_CASE("the campaign's heartbeat beats on the calling thread while a run is under way",
          "[cost_model][campaign]") {
    CampaignSpec spec;
    spec.points.emplace_back();
    spec.threads = 1;
    std::atomic<bool> finished{false};
    const RunFunction slow = [&](std::int64_t) {
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        finished = true;
        return RunResult{};
    };
    int beats_before_the_end = 0;
    const auto caller = std::this_thread::get_id();
    execute_campaign(
        spec, {0}, slow, [](FinishedRun&&) {},
        Heartbeat{std::chrono::milliseconds(20), [&] {
                      CHECK(std::this_thread::get_id() == caller);
                      if (!finished)
                          ++beats_before_the_end;
                  }});
    CHECK(beats_before_the_end >= 5);
}

namespace {

/// CPU seconds of the process (all threads) spent in f(): the median of `repeats` calls. CPU
/// time, not wall time: this machine is shared, and the probes time CPU too.
template <class F>
double median_cpu_seconds(F&& f, int repeats = 3) {
    std::vector<double> t;
    for (int i = 0; i < repeats; ++i) {
        timespec a{};
        timespec b{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
        f();
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
        t.push_back(static_cast<double>(b.tv_sec - a.tv_sec) +
                    1e-9 * static_cast<double>(b.tv_nsec - a.tv_nsec));
    }
    std::nth_element(t.begin(), t.begin() + repeats / 2, t.end());
    return t[static_cast<std::size_t>(repeats / 2)];
}

struct Kind {
    const char* name;
    RunParams params;
};

/// One small run of every kind of work the cost model has a term for (about 0.05-0.2 s each).
std::vector<Kind> kinds_of_work() {
    std::vector<Kind> out;
    RunParams p = params_of(1000, 2, 2);
    p.schedule.alpha_max = 20;
    p.schedule.records = 20;
    out.push_back({"on-line steps, closed-form eps_g", p});
    RunParams deep = params_of(100, 4, 4);
    deep.model.student.widths = {4, 64, 64};
    deep.model.teacher.widths = {4, 64, 64};
    deep.schedule.alpha_max = 20;
    deep.schedule.records = 10;
    deep.observer.eg_samples = 500;
    out.push_back({"deeper layers (4x64x64)", deep});
    RunParams batch = params_of(300, 3, 2);
    batch.training.batch.size = 8;
    batch.schedule.alpha_max = 10;
    batch.schedule.records = 20;
    out.push_back({"mini-batches of fresh examples", batch});
    RunParams set = params_of(200, 3, 2);
    set.training.train_set = 400;
    set.training.batch.all = true;
    set.schedule.alpha_max = 2;
    set.schedule.records = 20;
    out.push_back({"a training set, batch = all", set});
    RunParams gram = params_of(1000, 3, 3);
    gram.dynamics = DynamicsKind::gram;
    gram.schedule.alpha_max = 20;
    gram.schedule.records = 20;
    out.push_back({"the Gram chain", gram});
    RunParams mc = params_of(100, 2, 2);
    mc.model.student.h.kind = ActivationKind::tanh;
    mc.observer.eg_samples = 5000;
    mc.schedule.alpha_max = 10;
    mc.schedule.records = 20;
    out.push_back({"Monte-Carlo eps_g (tanh output)", mc});
    return out;
}

} // namespace

TEST_CASE("the estimate is within 2x of the measured CPU time for every kind of work",
          "[cost_model][slow][timing]") {
    // The stated factor of docs/PERFORMANCE.md, "Cost model": 2. The measured ratios there.
    constexpr double factor = 2.0;
    const std::vector<Kind> kinds = kinds_of_work();
    CampaignSpec spec;
    for (const Kind& k : kinds)
        spec.points.push_back(GridPoint{k.params, {}, {}});
    const std::filesystem::path dir = std::filesystem::temp_directory_path();
    std::optional<FileWriteProbe> writes;
    writes.emplace(dir);
    const CostModel model = calibrate_cost_model(spec, {.writes = &*writes});
    writes.reset();
    for (const Kind& k : kinds) {
        std::uint64_t run = 0;
        const double measured = median_cpu_seconds([&] { (void)simulate(k.params, 5, run++); });
        const RunCost cost = predict_run(model, k.params);
        const double predicted = cost.total() - cost.write;
        INFO(k.name << ": estimate " << predicted << " s, measured " << measured << " s CPU");
        std::printf("cost model, %s: estimate %.4f s, measured %.4f s, ratio %.2f\n", k.name,
                    predicted, measured, measured / predicted);
        CHECK(measured <= factor * predicted);
        CHECK(measured >= predicted / factor);
    }

    // The per-run write: a campaign's finished runs written by its writer, as the consumer does:
    // each run once, into chunks not yet written (a repetition that rewrote the first one's runs
    // would time overwrites, about 0.8x a first write here).
    RunParams p = params_of(100, 3, 2);
    p.schedule.records = 100;
    constexpr std::int64_t runs_per_repeat = 16;
    constexpr int repeats = 3;
    CampaignSpec file;
    file.points.push_back(GridPoint{p, {}, {}});
    file.seeds = runs_per_repeat * repeats;
    const RunResult result = simulate(p, 5, 0);
    const std::filesystem::path path = dir / ("plateau-test-writes-" + std::to_string(::getpid()));
    // The file's creation is the campaign's, not the run's: untimed.
    CampaignWriter w = CampaignWriter::create(path, file, FileMetadata{}, true);
    std::int64_t next_run = 0;
    const double measured = median_cpu_seconds(
                                [&] {
                                    for (std::int64_t r = 0; r < runs_per_repeat; ++r)
                                        w.write(FinishedRun{next_run++, result});
                                },
                                repeats) /
                            static_cast<double>(runs_per_repeat);
    w.close();
    std::filesystem::remove(path);
    const double predicted = predict_run(model, p).write;
    std::printf("cost model, file writes: estimate %.3g s, measured %.3g s per run, ratio %.2f\n",
                predicted, measured, measured / predicted);
    CHECK(measured <= factor * predicted);
    CHECK(measured >= predicted / factor);
}
