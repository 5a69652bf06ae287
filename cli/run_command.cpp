// `plateau run`: reads the configuration, expands the campaign, runs the simulations in
// parallel, writes the HDF5 file (with -o) and prints a summary table of eps_g.
#include "cli/command_support.hpp"
#include "cli/commands.hpp"
#include "cli/mpi.hpp"
#include "cli/progress.hpp"
#include "engine/campaign/cost_model.hpp"
#include "engine/core/schedule.hpp"
#include "engine/io/write_probe.hpp"
#include "plateau_version.hpp"

#include <algorithm>
#include <array>
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

/// The estimate of engine/campaign/cost_model.hpp, calibrated by probes of this build on this
/// machine, whatever the order of the grid points.
void dry_run(const CampaignSpec& spec) {
    const CampaignEstimate size = estimate_campaign(spec); // O(grid points), not O(runs)
    std::int64_t steps = 0;
    for (const auto& point : spec.points)
        steps += steps_of(point.params) * spec.seeds;
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
    const CampaignCost cost = predict_campaign(model, spec, workers);
    const StepCoefficients& c = model.step;
    std::printf("runs:        %lld (%zu grid point(s) x %lld seed(s)) in %zu group(s)\n",
                static_cast<long long>(spec.runs()), spec.points.size(),
                static_cast<long long>(spec.seeds), size.groups);
    std::printf("steps:       %lld\n", static_cast<long long>(steps));
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
    std::printf("file size:   ~%.3g MB (%lld record times per run)\n",
                static_cast<double>(size.file_bytes) / 1e6,
                static_cast<long long>(spec.points.front().params.schedule.records));
    if (size.training_bytes > 0)
        std::printf("memory:      ~%.3g MB at the peak: %.3g MB of per-run bookkeeping and %.3g MB "
                    "for the training sets of the %zu run(s) in flight\n",
                    static_cast<double>(size.memory_bytes) / 1e6,
                    static_cast<double>(size.memory_bytes - size.training_bytes) / 1e6,
                    static_cast<double>(size.training_bytes) / 1e6, size.runs_in_flight);
    else
        std::printf("memory:      ~%.3g MB of per-run bookkeeping\n",
                    static_cast<double>(size.memory_bytes) / 1e6);
}

} // namespace

int run_command(int argc, char** argv, const std::string& command_line) {
    return guarded("run", [&] {
        OutputOptions out;
        bool dry = false;
        bool print_config = false;
        po::options_description options("Options");
        add_output_options(options, out);
        options.add_options()("dry-run", po::bool_switch(&dry),
                              "print the number of runs, steps, estimated time and file size; "
                              "run nothing")(
            "print-config", po::bool_switch(&print_config),
            "print the fully resolved configuration as INI and exit");
        const ParsedCommand cmd = parse_command(
            argc, argv, "usage: plateau run [CONFIG.ini] [--key value ...] [-o OUT.h5]", options);
        if (cmd.help)
            return 0;
        const CampaignSpec spec = cmd.config.expand();
        if (print_config) {
            std::cout << cmd.config.to_ini();
            return 0;
        }
        if (dry) {
            check_thread_count(spec, mpi::world());
            dry_run(spec);
            return 0;
        }
        const FileMetadata meta{cmd.config.to_ini(Configuration::IniScope::results), command_line,
                                "simulation"};
        StepCounter steps_done{0};
        return run_campaign("run", spec, simulation_runs(spec, &steps_done), out, meta,
                            ProgressUnit::steps, &steps_done);
    });
}

} // namespace plateau::cli
