// `plateau run`: reads the configuration, expands the campaign, runs it, reports.
#include "engine/errors.hpp"
#include "engine/schedule.hpp"
#include "experiments/commands.hpp"
#include "experiments/options.hpp"
#include "plateau_version.hpp"

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
    bool help = false;
    bool print_config = false;
    bool quiet = false;
};

/// Per grid point and record: running sums of eps_g over the completed runs.
struct SeedSummary {
    std::vector<double> sum;
    std::vector<double> sum_sq;
    std::int64_t completed = 0;
    std::int64_t diverged = 0;
    std::int64_t specialized = 0;
};

/// True if every student unit's largest R_jn / sqrt(Q_jj T_nn) points at a different teacher.
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

void print_table(const CampaignSpec& spec, const std::vector<SeedSummary>& summaries,
                 const std::vector<double>& alphas) {
    for (std::size_t p = 0; p < spec.points.size(); ++p) {
        const auto& s = summaries[p];
        const auto& m = spec.points[p].params.model;
        std::printf("\ngrid point %zu:", p);
        for (const auto& c : spec.points[p].coordinates)
            std::printf(" %s=%s", c.key.c_str(),
                        c.text.empty() ? format_number(c.number).c_str() : c.text.c_str());
        std::printf("  (N=%lld K=%d M=%d g=%s eta=%g)\n", static_cast<long long>(m.N),
                    m.student.hidden, m.teacher.hidden, std::string(name(m.student.g.kind)).c_str(),
                    spec.points[p].params.training.eta);
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
}

int run(const RunCommandOptions& opts, const Configuration& config) {
    const CampaignSpec spec = config.expand();
    if (opts.print_config) {
        std::cout << config.to_ini();
        return 0;
    }
    // Every grid point shares the schedule keys' values unless they are swept; the table uses
    // each point's own record times.
    const std::vector<double> alphas = record_alphas(spec.points.front().params.schedule);
    std::vector<SeedSummary> summaries(spec.points.size());
    for (std::size_t p = 0; p < spec.points.size(); ++p) {
        const auto n = record_alphas(spec.points[p].params.schedule).size();
        summaries[p].sum.assign(n, 0.0);
        summaries[p].sum_sq.assign(n, 0.0);
    }
    std::vector<std::int64_t> all(static_cast<std::size_t>(spec.runs()));
    for (std::size_t i = 0; i < all.size(); ++i)
        all[i] = static_cast<std::int64_t>(i);

    if (!opts.quiet)
        std::fprintf(stderr, "plateau run: %zu grid point(s) x %lld seed(s) = %lld run(s)\n",
                     spec.points.size(), static_cast<long long>(spec.seeds),
                     static_cast<long long>(spec.runs()));
    execute_campaign(spec, all, [&](FinishedRun&& done) {
        auto& s = summaries[static_cast<std::size_t>(done.run / spec.seeds)];
        if (done.result.status != RunStatus::completed) {
            ++s.diverged;
            return;
        }
        ++s.completed;
        for (std::size_t i = 0; i < done.result.records.size(); ++i) {
            const double eg = done.result.records[i].eg;
            s.sum[i] += eg;
            s.sum_sq[i] += eg * eg;
        }
        if (specialized(done.result.records.back()))
            ++s.specialized;
    });
    print_table(spec, summaries, alphas);
    return 0;
}

} // namespace

int run_command(int argc, char** argv) {
    RunCommandOptions opts;
    po::options_description general("Options");
    general.add_options()("help,h", "print this help")(
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
        const po::parsed_options parsed =
            po::command_line_parser(argc, argv).options(all).positional(positional).run();
        po::variables_map vm;
        po::store(parsed, vm);
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << "usage: plateau run [CONFIG.ini] [--key value ...]\n\n"
                      << general << '\n'
                      << keys_desc << '\n';
            return 0;
        }
        opts.print_config = vm.count("print-config") > 0;
        opts.quiet = vm.count("quiet") > 0;
        const Configuration config = read_configuration(opts.config_file, parsed);
        return run(opts, config);
    } catch (const po::error& e) {
        std::cerr << "plateau run: " << e.what() << " (see 'plateau run --help')\n";
        return 2;
    } catch (const ConfigError& e) {
        std::cerr << "plateau run: " << e.what() << '\n';
        return 2;
    } catch (const UsageError& e) {
        std::cerr << "plateau run: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "plateau run: error: " << e.what() << '\n';
        return 1;
    }
}

} // namespace plateau::cli
