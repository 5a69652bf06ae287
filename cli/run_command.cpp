// `plateau run`: reads the configuration, expands the campaign, runs the simulations in
// parallel, writes the HDF5 file (with -o) and prints a summary table of eps_g.
#include "cli/command_support.hpp"
#include "cli/commands.hpp"
#include "cli/mpi.hpp"
#include "cli/options.hpp"
#include "cli/progress.hpp"
#include "engine/campaign/cost_model.hpp"
#include "engine/core/schedule.hpp"
#include "engine/io/start_weights.hpp"
#include "engine/io/write_probe.hpp"
#include "plateau_version.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

namespace plateau::cli {

namespace po = boost::program_options;

std::string version_text() {
    return std::string("plateau ") + software_version + " (" + git_describe + ")";
}

namespace {

std::int64_t steps_of(const RunParams& p) {
    return run_steps(p.schedule, p.model.N);
}

/// "1.9 ns", "12 us": a coefficient of the cost model.
std::string time_unit(double seconds) {
    std::array<char, 32> buf{};
    if (seconds >= 1e-6)
        std::snprintf(buf.data(), buf.size(), "%.3g us", seconds * 1e6);
    else
        std::snprintf(buf.data(), buf.size(), "%.3g ns", seconds * 1e9);
    return buf.data();
}

std::string percent(double part, double whole) {
    std::array<char, 16> buf{};
    std::snprintf(buf.data(), buf.size(), "%.0f%%", whole > 0 ? 100.0 * part / whole : 0.0);
    return buf.data();
}

/// The bound on a campaign's estimated CPU time beyond which it needs --force: a year.
constexpr double max_cpu_seconds = 365.25 * 86400.0;

/// Grid points beyond which --dry-run and the checks before expand() estimate from a sample of
/// the grid (Configuration::expand_sample): O(grid description), not O(grid points).
constexpr std::int64_t max_sample = 4096;

/// The estimate of a campaign's time: the cost model's prediction for the points of `spec`,
/// scaled to the `grid_points` they stand for (a sample of a larger grid).
struct TimeEstimate {
    CampaignCost cost;  ///< sum scaled; makespan max(sum / workers, longest run)
    double steps = 0.0; ///< all runs' steps
    double scale = 1.0; ///< grid points per point of `spec`
};

TimeEstimate estimate_time(const CostModel& model, const CampaignSpec& spec, double grid_points,
                           int workers) {
    TimeEstimate t;
    t.scale = grid_points / static_cast<double>(spec.points.size());
    t.cost = predict_campaign(model, spec, workers);
    for (const auto& point : spec.points)
        t.steps += static_cast<double>(steps_of(point.params)) * static_cast<double>(spec.seeds);
    t.steps *= t.scale;
    RunCost& sum = t.cost.sum;
    sum.steps *= t.scale;
    sum.records *= t.scale;
    sum.monte_carlo *= t.scale;
    sum.setup *= t.scale;
    t.cost.makespan =
        std::max(t.cost.makespan, std::max(t.cost.longest_run, sum.total() / std::max(1, workers)));
    return t;
}

/// The estimate of engine/campaign/cost_model.hpp, calibrated by probes of this build on this
/// machine, whatever the order of the grid points; memory and disk by estimate_campaign. O(the
/// points of `spec`), which are a sample of the `grid_points` if there are more.
void dry_run(const CampaignSpec& spec, std::int64_t grid_points) {
    const auto points = static_cast<double>(grid_points);
    const bool sampled = grid_points > static_cast<std::int64_t>(spec.points.size());
    const CampaignEstimate size = estimate_campaign(spec, {RunKind::simulation, points});
    const int threads = spec.threads > 0 ? spec.threads : default_thread_count();
    // More threads than cores run no faster than the cores.
    const int workers = std::min(threads, default_thread_count());
    // The per-run writes, probed on scratch files in the temporary directory (removed at once);
    // without one the estimate leaves them out.
    std::optional<FileWriteProbe> writes;
    try {
        writes.emplace(std::filesystem::temp_directory_path());
    } catch (const std::exception&) {
        writes.reset();
    }
    const CostModel model = calibrate_cost_model(spec, {.writes = writes ? &*writes : nullptr});
    writes.reset();
    const TimeEstimate time = estimate_time(model, spec, points, workers);
    const CampaignCost& cost = time.cost;
    const StepCoefficients& c = model.step;
    const double runs = points * static_cast<double>(spec.seeds);
    std::printf("runs:        %.0f (%lld grid point(s) x %lld seed(s)) in %zu group(s)\n", runs,
                static_cast<long long>(grid_points), static_cast<long long>(spec.seeds),
                size.groups);
    if (sampled)
        std::printf("             (the estimates below are from a sample of %zu grid points, "
                    "scaled)\n",
                    spec.points.size());
    std::printf("steps:       %s%.17g\n", sampled ? "~" : "",
                sampled ? std::round(time.steps) : time.steps);
    std::printf("time:        ~%s with %d thread(s) (%.4g s: %.4g s of runs on %d core(s), "
                "longest run %.4g s)\n",
                format_duration(cost.makespan).c_str(), threads, cost.makespan, cost.sum.total(),
                workers, cost.longest_run);
    // The probes time CPU, not wall time: the estimate is for cores free of other work.
    // With a load average L on C cores, the workers get about C / (L + workers) of a core each.
    const int cores = default_thread_count();
    if (std::array<double, 1> load{}; getloadavg(load.data(), 1) == 1 && load[0] >= 1.0)
        std::printf("             (for cores free of other work; the load average is %.1f on %d "
                    "core(s) now: expect up to %.1fx longer)\n",
                    load[0], cores, std::max(1.0, (load[0] + workers) / cores));
    const double total = cost.sum.total();
    std::printf("time split:  steps %s, records %s, Monte-Carlo eps_g %s, setup %s, writes %s\n",
                percent(cost.sum.steps, total).c_str(), percent(cost.sum.records, total).c_str(),
                percent(cost.sum.monte_carlo, total).c_str(),
                percent(cost.sum.setup, total).c_str(), percent(cost.sum.write, total).c_str());
    std::printf(
        "cost model:  calibrated on this build and machine by %d probe(s) of canonical "
        "runs and %zu Monte-Carlo eps_g class(es) (%.0f ms, %.0f ms of CPU; the median CPU time "
        "of %d repetitions each):\n",
        model.step_probes, model.monte_carlo.size(), model.probe_seconds * 1e3,
        model.probe_cpu_seconds * 1e3, model.repetitions);
    std::printf("             step = N (%s + (2K+M) %s) + (K+M+1) %s; record = (K+M)^2 (N %s + "
                "%s if eps_g is exact); setup = (K+M) N %s + %s per run + %s per record\n",
                time_unit(c.normal).c_str(), time_unit(c.multiply_add).c_str(),
                time_unit(c.unit).c_str(), time_unit(c.gram).c_str(), time_unit(c.pair).c_str(),
                time_unit(c.init).c_str(), time_unit(c.run).c_str(), time_unit(c.record).c_str());
    if (c.chain > 0.0 || c.chain_cubic > 0.0)
        std::printf("             dynamics = gram: step = %s + (K+M)^3 %s, whatever N\n",
                    time_unit(c.chain).c_str(), time_unit(c.chain_cubic).c_str());
    if (c.batch_normal + c.batch_multiply_add + c.batch_unit > 0.0)
        std::printf("             mini-batch step = B (N (%s + (2K+M) %s) + (K+M+1) %s)\n",
                    time_unit(c.batch_normal).c_str(), time_unit(c.batch_multiply_add).c_str(),
                    time_unit(c.batch_unit).c_str());
    if (c.layer > 0.0 || c.mc_layer > 0.0)
        std::printf("             deeper layers: %s per weight above the first layer and example, "
                    "%s per weight and Monte-Carlo sample\n",
                    time_unit(c.layer).c_str(), time_unit(c.mc_layer).c_str());
    if (c.write_run > 0.0 || c.write_value > 0.0)
        std::printf("             file writes: %s per run + %s per value\n",
                    time_unit(c.write_run).c_str(), time_unit(c.write_value).c_str());
    for (const MonteCarloCoefficients& mc : model.monte_carlo)
        std::printf("             Monte-Carlo eps_g (g %s, h %s, g* %s, h* %s) = eg-samples x "
                    "records x (%s + (K+M) %s + (K+M)^2 %s)\n",
                    std::string(name(mc.activations[0])).c_str(),
                    std::string(output_name(mc.activations[1])).c_str(),
                    std::string(name(mc.activations[2])).c_str(),
                    std::string(output_name(mc.activations[3])).c_str(),
                    time_unit(mc.sample).c_str(), time_unit(mc.unit).c_str(),
                    time_unit(mc.pair).c_str());
    if (model.unprobed_classes > 0)
        std::printf("             %zu more Monte-Carlo class(es) not probed: the mean of those "
                    "above\n",
                    model.unprobed_classes);
    print_sizes(size, spec.points.front().params.schedule.records);
    if (cost.sum.total() > max_cpu_seconds)
        std::printf("             beyond the bound of a year of CPU: a run needs --force\n");
}

/// Refuses (UsageError, exit status 2) a campaign whose estimated CPU time exceeds a year,
/// unless `force`; says the estimate of every campaign longer than ten minutes as it starts.
/// The cost model is calibrated only for a campaign whose count of multiply-adds could take
/// more than a minute (none of the short runs pays for the probes).
void check_duration(const CampaignSpec& spec, double grid_points, double shards, bool force,
                    bool quiet) {
    double work = 0.0; // multiply-adds, about a nanosecond each
    for (const auto& point : spec.points) {
        const RunParams& p = point.params;
        const double units =
            static_cast<double>(p.model.student.hidden() + p.model.teacher.hidden() + 1);
        const double per_step = p.dynamics == DynamicsKind::gram
                                    ? units * units * units
                                    : units * static_cast<double>(p.model.N);
        work += static_cast<double>(steps_of(p)) * per_step +
                static_cast<double>(p.schedule.records) *
                    static_cast<double>(p.observer.eg_samples) * units * units;
    }
    work *= static_cast<double>(spec.seeds) * grid_points /
            static_cast<double>(spec.points.size()) / shards;
    if (work < 6e10)
        return;
    const int threads = spec.threads > 0 ? spec.threads : default_thread_count();
    const int workers = std::min(threads, default_thread_count());
    ProbeOptions light;
    light.repetitions = 3;
    const TimeEstimate time =
        estimate_time(calibrate_cost_model(spec, light), spec, grid_points / shards, workers);
    const double cpu = time.cost.sum.total();
    if (cpu > max_cpu_seconds && !force)
        throw UsageError("campaign too long: ~" + format_duration(cpu) +
                         " of CPU (the cost model's estimate, ~" +
                         format_duration(time.cost.makespan) + " with " + std::to_string(threads) +
                         " thread(s)), beyond the bound of a year; allowed is a campaign within "
                         "it (a smaller alpha-max, N, records, eg-samples or grid), or --force "
                         "to start it anyway");
    if (!quiet && time.cost.makespan > 600.0)
        std::fprintf(stderr,
                     "plateau run: estimated ~%s with %d thread(s), ~%s of CPU (--dry-run for "
                     "the details)\n",
                     format_duration(time.cost.makespan).c_str(), threads,
                     format_duration(cpu).c_str());
}

/// The keys of saved weights (analysis/SCHEMA.md, "Saved weights"): save-weights, student-from
/// and teacher-from act on the weights of two-layer networks, one teacher and Gaussian inputs.
/// Each is refused with one line for what has no such weights (the Gram chain) or more of them
/// than the variables hold (deeper networks, several teachers, the cluster means or features of
/// other inputs), at any grid point.
void check_weight_keys(const Configuration& config) {
    for (const char* key : {"save-weights", "student-from", "teacher-from"}) {
        const std::string value = config.value(key);
        if (value == "none")
            continue;
        const auto refuse = [&](const std::string& why) {
            throw ConfigError(key, value, "none " + why);
        };
        if (config.any_value("dynamics",
                             [](const std::string& v) { return v == name(DynamicsKind::gram); }))
            refuse("with dynamics = gram (the Gram chain advances Q, R, T and v: it has no "
                   "weights)");
        if (config.any_layered("K") || config.any_layered("M"))
            refuse("with a deeper network (K = " + config.value("K") + ", M = " +
                   config.value("M") + "): saved weights are those of two-layer networks");
        if (config.any_value("teachers", [](const std::string& v) { return v != "1"; }))
            refuse("with teachers = " + config.value("teachers") +
                   ": saved weights are those of one teacher");
        if (config.any_value("inputs",
                             [](const std::string& v) { return v != name(InputKind::gaussian); }))
            refuse("with inputs = " + config.value("inputs") +
                   ": saved weights are those of Gaussian inputs");
    }
}

} // namespace

int run_command(int argc, char** argv, const std::string& command_line, const CommandHooks& hooks) {
    const auto body = [&] {
        OutputOptions out;
        bool dry = false;
        bool print_config = false;
        bool force = false;
        po::options_description options("Options");
        add_output_options(options, out);
        options.add_options()("dry-run", po::bool_switch(&dry),
                              "print the number of runs, steps, estimated time and file size; "
                              "run nothing")(
            "print-config", po::bool_switch(&print_config),
            "print the fully resolved configuration as INI and exit")(
            "force", po::bool_switch(&force),
            "start a campaign whose estimated CPU time exceeds a year (refused otherwise)");
        const ParsedCommand cmd = parse_command(
            argc, argv, "usage: plateau run [CONFIG.ini] [--key value ...] [-o OUT.h5]", options);
        if (cmd.help)
            return 0;
        // The theory's approximation (docs/theory.md §3): a simulation has every eta^2 term.
        if (const std::string eta2 = cmd.config.value("ode-eta2"); eta2 != "keep")
            throw ConfigError("ode-eta2", eta2,
                              "keep with plateau run (noise-only changes the flow of plateau ode; "
                              "a simulation has every eta^2 term)");
        check_weight_keys(cmd.config);
        // Counted, not expanded: a grid of any size is estimated from a sample of its points
        // and refused before expand() if the grid itself does not fit.
        const std::int64_t grid_points = cmd.config.grid_points();
        const bool sampled = grid_points > max_sample;
        CampaignSpec spec = cmd.config.expand_sample(max_sample);
        if (print_config) {
            std::cout << cmd.config.to_ini();
            return 0;
        }
        if (dry) {
            check_thread_count(spec, mpi::world());
            // The weights runs would start from are checked as the run would (a grid too large
            // to expand is estimated from a sample, whose run indices are not the campaign's).
            if (!sampled)
                load_start_weights(spec);
            dry_run(spec, grid_points);
            return 0;
        }
        // Memory first (a hard limit), then time (which --force may pass); the disk when the
        // file is about to be created (run_campaign). Under MPI, rank 0 checks in run_campaign
        // and tells the other ranks (each rank here could see another MemAvailable and
        // disagree), except for a grid too large to expand, which every rank refuses alike.
        if (!mpi::world().distributed() || sampled)
            check_resources(spec, RunKind::simulation, {}, OutputMode::create,
                            static_cast<double>(grid_points));
        // Every MPI rank would calibrate the cost model on its own (and might disagree): the
        // bound is checked without MPI only.
        if (!mpi::world().distributed())
            check_duration(
                spec, static_cast<double>(grid_points),
                static_cast<double>(parse_shard(out.shard, grid_points * spec.seeds).count), force,
                out.quiet);
        if (sampled)
            spec = cmd.config.expand();
        // The weights runs start from, read and checked before anything is created.
        spec.shard = parse_shard(out.shard, spec.runs());
        load_start_weights(spec);
        const FileMetadata meta{cmd.config.to_ini(Configuration::IniScope::results), command_line,
                                "simulation"};
        StepCounter steps_done{0};
        return run_campaign("run", spec, simulation_runs(spec, &steps_done), out, meta,
                            ProgressUnit::steps, &steps_done, hooks);
    };
    return guarded("run", body, hooks.error);
}

} // namespace plateau::cli
