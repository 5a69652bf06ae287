// Campaign role: expands grid points x seeds into runs and schedules them on the task arena.
// Run r of a campaign is grid point r / seeds with seed index r % seeds; its random streams are
// keyed by (master seed, r), so every run is a pure function of (configuration, run index) and a
// campaign may be split across processes or machines by run index.
#pragma once

#include "engine/core/run_params.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/state.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace plateau {

/// A swept parameter's value at one grid point, as it will appear in the output: the key name
/// and either a number or a name.
struct Coordinate {
    std::string key;
    double number = 0.0;
    std::string text;        ///< non-empty for name-valued keys (activations, schedules, ...)
    bool is_integer = false; ///< written as int64 rather than float64 (N, K, M, ...)
    std::string long_name;   ///< what the key means, for the output's long_name attribute
};

struct GridPoint {
    RunParams params;
    /// Per-run coordinates of the output: N and eta always, then every swept key, in
    /// configuration-key order.
    std::vector<Coordinate> coordinates;
    /// Every other run key with its value (the same at every grid point): written as group
    /// attributes, so that a group read alone, or concatenated with another file's, still says
    /// what its runs were.
    std::vector<Coordinate> settings;
};

/// A share of a campaign's runs, for a job array: shard `index` of `count` holds the runs r with
/// r % count == index (round robin, so that every shard gets its share of each grid point and
/// shards of a campaign whose points differ in cost take about the same time).
struct Shard {
    std::int64_t index = 0;
    std::int64_t count = 1;

    [[nodiscard]] bool contains(std::int64_t run) const noexcept { return run % count == index; }
    [[nodiscard]] bool whole() const noexcept { return count == 1; }
    /// "i/n", as --shard takes it and the file's `shard` attribute holds it.
    [[nodiscard]] std::string text() const {
        return std::to_string(index) + "/" + std::to_string(count);
    }
    /// How many of a campaign's `runs` runs this shard holds.
    [[nodiscard]] std::int64_t runs_of(std::int64_t runs) const noexcept {
        return runs / count + (index < runs % count ? 1 : 0);
    }
    friend bool operator==(const Shard&, const Shard&) = default;
};

struct CampaignSpec {
    std::vector<GridPoint> points;
    std::int64_t seeds = 1;        ///< runs per grid point
    std::uint64_t master_seed = 0; ///< keys every random stream together with the run index
    int threads = 0;               ///< worker threads; 0 = all cores
    /// The share of the runs this process computes into its file (--shard, for a job array):
    /// the whole campaign unless split. A file records it as the root attribute `shard`.
    Shard shard;
    /// Processes of an MPI launch (rank 0 writes, the others compute): recorded in the file as
    /// metadata (root attribute `mpi_ranks`), never changing a result.
    int ranks = 1;
    /// The weights every run writes into the campaign file (`save-weights`; analysis/SCHEMA.md,
    /// "Saved weights"): none, or the student's and teacher's at the start or at the end.
    SaveWeights save_weights = SaveWeights::none;
    /// Where runs take their start (`student-from`, `teacher-from`): "FILE" or "FILE:RUN" of a
    /// campaign file with saved weights; empty: the drawn weights. load_start_weights()
    /// (engine/io/start_weights.hpp) reads them into `start_weights`.
    std::string student_from;
    std::string teacher_from;
    /// The weights run r starts from, by run index (only the runs of `shard`); a run absent
    /// here, or every run when null, starts from its drawn weights. Shared: copies of the spec
    /// (per shard, per rank) hold them once.
    std::shared_ptr<const std::map<std::int64_t, StartWeights>> start_weights;

    [[nodiscard]] std::int64_t runs() const noexcept {
        return static_cast<std::int64_t>(points.size()) * seeds;
    }
    [[nodiscard]] const GridPoint& point_of(std::int64_t run) const {
        return points[static_cast<std::size_t>(run / seeds)];
    }
    [[nodiscard]] std::int64_t seed_index_of(std::int64_t run) const noexcept {
        return run % seeds;
    }
    /// The index that keys the streams of run `run`'s initial weights: the run index, or the
    /// seed index when its grid point shares initial conditions (init-seed = shared).
    [[nodiscard]] std::uint64_t init_index_of(std::int64_t run) const {
        return static_cast<std::uint64_t>(
            point_of(run).params.model.init_seed == InitSeed::shared ? seed_index_of(run) : run);
    }
};

/// A finished run, handed to the consumer.
struct FinishedRun {
    std::int64_t run = 0;
    RunResult result;
};

/// Computes run `run` of a campaign: a pure function of the campaign and the run index.
using RunFunction = std::function<RunResult(std::int64_t run)>;

/// The simulation of run r: simulate(point_of(r).params, master_seed, r, steps_done).
/// `steps_done` (optional, outliving the campaign) adds up the steps of all runs as they go.
[[nodiscard]] RunFunction simulation_runs(const CampaignSpec& spec,
                                          StepCounter* steps_done = nullptr);

/// A call on the calling thread while execute_campaign runs: at least every `interval`, whether
/// runs finish or not (a progress display that must not wait for a long run to end, a check for
/// an interruption).
struct Heartbeat {
    std::chrono::milliseconds interval{0};
    std::function<void()> beat; ///< none if empty
};

/// Runs `run_indices` of the campaign in parallel (oneTBB, `spec.threads` workers), computing
/// each with `run_one`, and hands each finished run to `consume`, always on the calling
/// thread, one at a time, in completion order. At most a bounded number of finished runs wait
/// for the consumer, so memory stays bounded by the runs in flight whatever the campaign size.
/// If `consume`, `heartbeat.beat` or `run_one` throws, scheduling stops and the exception
/// propagates once the workers have drained: the runs in flight are then dropped, but after an
/// exception of `heartbeat.beat` (an interruption) they are consumed as they finish. A thread the system refuses to start is
/// WorkerStartError (engine/campaign/threads.hpp), after the runs finished so far were consumed.
void execute_campaign(const CampaignSpec& spec, const std::vector<std::int64_t>& run_indices,
                      const RunFunction& run_one, const std::function<void(FinishedRun&&)>& consume,
                      const Heartbeat& heartbeat = {});

/// The same with simulation_runs(spec).
void execute_campaign(const CampaignSpec& spec, const std::vector<std::int64_t>& run_indices,
                      const std::function<void(FinishedRun&&)>& consume);

} // namespace plateau
