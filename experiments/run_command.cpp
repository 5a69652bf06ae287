// `plateau run`: reads the configuration, expands the campaign, runs the simulations in
// parallel, writes the HDF5 file (with -o) and prints a summary table of eps_g.
#include "engine/schedule.hpp"
#include "experiments/command_support.hpp"
#include "experiments/commands.hpp"
#include "experiments/progress.hpp"
#include "plateau_version.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

namespace plateau::cli {

namespace po = boost::program_options;

std::string version_text() {
    return std::string("plateau ") + software_version + " (" + git_describe + ")";
}

namespace {

std::int64_t steps_of(const RunParams& p) {
    return run_steps(p.schedule, p.model.N);
}

/// Seconds per step at the first grid point, measured on a short run of this very build.
double calibrate_step_seconds(const CampaignSpec& spec) {
    RunParams p = spec.points.front().params;
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.records = 2;
    p.schedule.alpha_max = std::max(1.0, 20000.0 / static_cast<double>(p.model.N));
    const auto start = std::chrono::steady_clock::now();
    (void)simulate(p, 0, 0);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return seconds / static_cast<double>(std::max<std::int64_t>(1, steps_of(p)));
}

void dry_run(const CampaignSpec& spec) {
    const CampaignEstimate size = estimate_campaign(spec); // O(grid points), not O(runs)
    std::int64_t steps = 0;
    double work = 0.0; // steps weighted by their cost relative to the first point, ~ (K+M+1) N
    const auto& first = spec.points.front().params.model;
    const double unit = static_cast<double>(first.student.hidden() + first.teacher.hidden() + 1) *
                        static_cast<double>(first.N);
    for (const auto& point : spec.points) {
        const auto& m = point.params.model;
        const std::int64_t s = steps_of(point.params) * spec.seeds;
        steps += s;
        work += static_cast<double>(s) *
                static_cast<double>(m.student.hidden() + m.teacher.hidden() + 1) *
                static_cast<double>(m.N) / unit;
    }
    const int threads = spec.threads > 0 ? spec.threads : default_thread_count();
    const double seconds = work * calibrate_step_seconds(spec) / threads;
    std::printf("runs:        %lld (%zu grid point(s) x %lld seed(s)) in %zu group(s)\n",
                static_cast<long long>(spec.runs()), spec.points.size(),
                static_cast<long long>(spec.seeds), size.groups);
    std::printf("steps:       %lld\n", static_cast<long long>(steps));
    std::printf("time:        ~%s with %d thread(s) (measured step cost, first grid point)\n",
                format_duration(seconds).c_str(), threads);
    std::printf("file size:   ~%.3g MB (%lld record times per run)\n",
                static_cast<double>(size.file_bytes) / 1e6,
                static_cast<long long>(spec.points.front().params.schedule.records));
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
            dry_run(spec);
            return 0;
        }
        const FileMetadata meta{cmd.config.to_ini(Configuration::IniScope::results), command_line,
                                "simulation"};
        return run_campaign("run", spec, simulation_runs(spec), out, meta, ProgressUnit::steps);
    });
}

} // namespace plateau::cli
