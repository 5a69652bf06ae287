// `plateau run`: reads the configuration, expands the campaign, runs it in parallel, writes the
// HDF5 file (with -o) and prints a summary table of eps_g.
#include "engine/errors.hpp"
#include "engine/schedule.hpp"
#include "engine/writer.hpp"
#include "experiments/commands.hpp"
#include "experiments/options.hpp"
#include "experiments/progress.hpp"
#include "plateau_version.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <vector>

namespace plateau::cli {

namespace po = boost::program_options;

std::string version_text() {
    return std::string("plateau ") + software_version + " (" + git_describe + ")";
}

namespace {

struct RunCommandOptions {
    std::string config_file;
    std::string out;
    bool print_config = false;
    bool dry_run = false;
    bool quiet = false;
    bool overwrite = false;
    bool resume = false;
};

/// Per grid point and record: running sums of eps_g over the completed runs.
struct SeedSummary {
    std::vector<double> sum;
    std::vector<double> sum_sq;
    std::int64_t completed = 0;
    std::int64_t diverged = 0;
    std::int64_t specialized = 0;
};

/// True if every student unit's largest R_jn / sqrt(T_nn) points at a different teacher unit.
bool specialized(const Observables& o) {
    std::vector<Eigen::Index> best(static_cast<std::size_t>(o.R.rows()));
    for (Eigen::Index j = 0; j < o.R.rows(); ++j) {
        Eigen::Index n = 0;
        (o.R.row(j).array() / o.T.diagonal().transpose().array().sqrt()).maxCoeff(&n);
        best[static_cast<std::size_t>(j)] = n;
    }
    std::sort(best.begin(), best.end());
    return std::adjacent_find(best.begin(), best.end()) == best.end();
}

std::string describe(const GridPoint& point) {
    std::string out;
    for (const auto& c : point.coordinates)
        out += " " + c.key + "=" + (c.text.empty() ? format_number(c.number) : c.text);
    const auto& m = point.params.model;
    out += "  (K=" + std::to_string(m.student.hidden) + " M=" + std::to_string(m.teacher.hidden) +
           " g=" + std::string(name(m.student.g.kind)) + ")";
    return out;
}

void print_table(const CampaignSpec& spec, const std::vector<SeedSummary>& summaries,
                 const std::vector<double>& alphas, std::int64_t skipped) {
    if (skipped > 0)
        std::printf("\n(%lld run(s) were already finished in the file and are not in this table)\n",
                    static_cast<long long>(skipped));
    for (std::size_t p = 0; p < spec.points.size(); ++p) {
        const auto& s = summaries[p];
        std::printf("\ngrid point %zu:%s\n", p, describe(spec.points[p]).c_str());
        std::printf("  runs: %lld completed, %lld diverged; specialized at the end: %lld of %lld\n",
                    static_cast<long long>(s.completed), static_cast<long long>(s.diverged),
                    static_cast<long long>(s.specialized), static_cast<long long>(s.completed));
        if (s.completed == 0)
            continue;
        std::printf("  %12s  %14s  %12s\n", "alpha", "eps_g (mean)", "std. error");
        const std::size_t rows = 24;
        const std::size_t stride = std::max<std::size_t>(1, alphas.size() / rows);
        for (std::size_t i = 0; i < alphas.size(); ++i) {
            if (i % stride != 0 && i + 1 != alphas.size())
                continue;
            const double n = static_cast<double>(s.completed);
            const double mean = s.sum[i] / n;
            const double var =
                n > 1 ? std::max(0.0, (s.sum_sq[i] - n * mean * mean) / (n - 1.0)) : 0.0;
            std::printf("  %12.4g  %14.6g  %12.3g\n", alphas[i], mean, std::sqrt(var / n));
        }
    }
    std::fflush(stdout);
}

std::int64_t steps_of(const RunParams& p) {
    return record_step(p.schedule.alpha_max, p.model.N);
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
    const CampaignLayout layout = CampaignLayout::of(spec);
    std::int64_t steps = 0;
    double work = 0.0; // steps weighted by their cost relative to the first point, ~ (K+M+1) N
    const auto& first = spec.points.front().params.model;
    const double unit = static_cast<double>(first.student.hidden + first.teacher.hidden + 1) *
                        static_cast<double>(first.N);
    for (const auto& point : spec.points) {
        const auto& m = point.params.model;
        const std::int64_t s = steps_of(point.params) * spec.seeds;
        steps += s;
        work += static_cast<double>(s) *
                static_cast<double>(m.student.hidden + m.teacher.hidden + 1) *
                static_cast<double>(m.N) / unit;
    }
    const int threads = spec.threads > 0 ? spec.threads : default_thread_count();
    const double seconds = work * calibrate_step_seconds(spec) / threads;
    std::printf("runs:        %lld (%zu grid point(s) x %lld seed(s)) in %zu group(s)\n",
                static_cast<long long>(spec.runs()), spec.points.size(),
                static_cast<long long>(spec.seeds), layout.groups.size());
    std::printf("steps:       %lld\n", static_cast<long long>(steps));
    std::printf("time:        ~%s with %d thread(s) (measured step cost, first grid point)\n",
                format_duration(seconds).c_str(), threads);
    std::printf("file size:   ~%.3g MB (%zu record times per run)\n",
                static_cast<double>(layout.data_bytes()) / 1e6, layout.records);
}

int run(const RunCommandOptions& opts, const Configuration& config,
        const std::string& command_line) {
    const CampaignSpec spec = config.expand();
    if (opts.print_config) {
        std::cout << config.to_ini();
        return 0;
    }
    if (opts.dry_run) {
        dry_run(spec);
        return 0;
    }
    if (opts.resume && opts.out.empty())
        throw UsageError("--resume needs the file to finish: -o FILE");
    if (opts.resume && opts.overwrite)
        throw UsageError("--resume and --overwrite exclude each other");

    // The output file (if any): created complete before the first run, or reopened.
    std::optional<CampaignWriter> writer;
    std::vector<std::int64_t> todo;
    if (!opts.out.empty()) {
        const FileMetadata meta{config.to_ini(Configuration::IniScope::results), command_line,
                                "simulation"};
        writer = opts.resume ? CampaignWriter::resume(opts.out, spec, meta)
                             : CampaignWriter::create(opts.out, spec, meta, opts.overwrite);
        todo = writer->unfinished_runs();
    } else {
        todo.resize(static_cast<std::size_t>(spec.runs()));
        for (std::size_t i = 0; i < todo.size(); ++i)
            todo[i] = static_cast<std::int64_t>(i);
    }

    const std::vector<double> alphas = record_alphas(spec.points.front().params.schedule);
    std::vector<SeedSummary> summaries(spec.points.size());
    for (auto& s : summaries) {
        s.sum.assign(alphas.size(), 0.0);
        s.sum_sq.assign(alphas.size(), 0.0);
    }
    std::int64_t total_steps = 0;
    for (const auto r : todo)
        total_steps += steps_of(spec.point_of(r).params);

    Progress progress(static_cast<std::int64_t>(todo.size()), total_steps, opts.quiet);
    if (!opts.quiet)
        std::fprintf(
            stderr,
            "plateau run: %lld run(s) to do of %lld (%zu grid point(s) x %lld seed(s))%s%s\n",
            static_cast<long long>(todo.size()), static_cast<long long>(spec.runs()),
            spec.points.size(), static_cast<long long>(spec.seeds), opts.out.empty() ? "" : " -> ",
            opts.out.c_str());
    execute_campaign(spec, todo, [&](FinishedRun&& done) {
        if (writer)
            writer->write(done);
        auto& s = summaries[static_cast<std::size_t>(done.run / spec.seeds)];
        if (done.result.status != RunStatus::completed) {
            ++s.diverged;
        } else {
            ++s.completed;
            for (std::size_t i = 0; i < done.result.records.size(); ++i) {
                const double eg = done.result.records[i].eg;
                s.sum[i] += eg;
                s.sum_sq[i] += eg * eg;
            }
            if (specialized(done.result.records.back()))
                ++s.specialized;
        }
        progress.run_done(steps_of(spec.point_of(done.run).params));
    });
    progress.finish();
    if (writer)
        writer->close();
    print_table(spec, summaries, alphas, spec.runs() - static_cast<std::int64_t>(todo.size()));
    if (!opts.out.empty() && !opts.quiet)
        std::fprintf(stderr, "plateau run: wrote %s\n", opts.out.c_str());
    return 0;
}

} // namespace

int run_command(int argc, char** argv, const std::string& command_line) {
    RunCommandOptions opts;
    po::options_description general("Options");
    general.add_options()("help,h", "print this help")(
        "out,o", po::value<std::string>(&opts.out),
        "HDF5 output file (netCDF-4); without it, only the summary table is printed")(
        "overwrite", "replace an existing output file")(
        "resume", "finish the output file left by an interrupted run of the same configuration")(
        "dry-run", "print the number of runs, steps, estimated time and file size; run nothing")(
        "print-config",
        "print the fully resolved configuration as INI and exit")("quiet,q", "no progress output");
    po::options_description hidden;
    hidden.add_options()("config", po::value<std::string>(&opts.config_file));
    po::positional_options_description positional;
    positional.add("config", 1);
    const po::options_description keys_desc = key_options();
    po::options_description all;
    all.add(general).add(keys_desc).add(hidden);

    try {
        const po::parsed_options parsed = po::command_line_parser(argc, argv)
                                              .options(all)
                                              .positional(positional)
                                              .allow_unregistered()
                                              .run();
        reject_unregistered(parsed);
        po::variables_map vm;
        po::store(parsed, vm);
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << "usage: plateau run [CONFIG.ini] [--key value ...] [-o OUT.h5]\n\n"
                      << general << '\n'
                      << keys_desc << '\n';
            return 0;
        }
        opts.print_config = vm.count("print-config") > 0;
        opts.dry_run = vm.count("dry-run") > 0;
        opts.quiet = vm.count("quiet") > 0;
        opts.overwrite = vm.count("overwrite") > 0;
        opts.resume = vm.count("resume") > 0;
        const Configuration config = read_configuration(opts.config_file, parsed);
        return run(opts, config, command_line);
    } catch (const po::error& e) {
        std::cerr << "plateau run: " << e.what() << " (see 'plateau run --help')\n";
        return 2;
    } catch (const ConfigError& e) {
        std::cerr << "plateau run: " << e.what() << '\n';
        return 2;
    } catch (const UsageError& e) {
        std::cerr << "plateau run: " << e.what() << '\n';
        return 2;
    } catch (const OutputError& e) {
        std::cerr << "plateau run: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "plateau run: error: " << e.what() << '\n';
        return 1;
    }
}

} // namespace plateau::cli
