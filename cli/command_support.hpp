// What `plateau run` and `plateau ode` share: option parsing, the error-to-exit-status policy,
// and the loop that runs a campaign into its file and its summary table.
#pragma once

#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/mpi.hpp"
#include "cli/progress.hpp"
#include "engine/campaign/campaign.hpp"
#include "engine/io/remove_on_signal.hpp"
#include "engine/io/writer.hpp"

#include <boost/program_options.hpp>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace plateau::cli {

/// A command's parsed command line: its own options and the configuration.
struct ParsedCommand {
    boost::program_options::variables_map options;
    Configuration config;
    bool help = false; ///< --help was given: the usage has been printed
};

/// Parses `[CONFIG.ini] [--key value ...]` plus the command's own `options` (to which --help
/// is added). Prints the usage for --help. Throws the errors guarded() reports.
[[nodiscard]] ParsedCommand parse_command(int argc, char** argv, const std::string& usage,
                                          boost::program_options::options_description options);

/// Runs `body` and turns errors into one line on stderr, "plateau <command>: <message>", and
/// an exit status: 2 for bad input (configuration, usage, output path), 1 otherwise.
/// `error` (optional, CommandHooks::error) receives the line instead of stderr. Interrupted
/// (CommandHooks::interrupted) passes through.
int guarded(const std::string& command, const std::function<int()>& body,
            const std::function<void(const std::string&)>& error = {});

/// Holds the output file `path` for this process, so that no second plateau (run, ode, merge,
/// any MPI launch) writes it at the same time, --overwrite or not: an exclusive flock() on the
/// lock file ".NAME.lock" beside it (".plateau-HASH.lock" for a name too long), held from before
/// the checks of the path until the guard ends (after the file is closed). The lock dies with
/// its process, so a lock file left by a killed process never blocks (it is taken over); a
/// terminating signal removes it (RemoveOnSignal), and so does the end of the guard. Throws
/// OutputError (exit status 2) naming the path and the process that holds it. On a file system
/// without locks, it warns once and holds nothing.
class OutputLock {
public:
    OutputLock(const std::filesystem::path& path, const std::string& command);
    OutputLock(const OutputLock&) = delete;
    OutputLock& operator=(const OutputLock&) = delete;
    OutputLock(OutputLock&&) = delete;
    OutputLock& operator=(OutputLock&&) = delete;
    ~OutputLock();

    /// The lock file of `path`.
    [[nodiscard]] static std::filesystem::path lock_path(const std::filesystem::path& path);

private:
    std::filesystem::path lock_;
    int fd_ = -1;
    std::optional<RemoveOnSignal> on_signal_;
};

/// Refuses (UsageError, exit status 2) an input file of key `key` that is not a regular file
/// (a FIFO or device would block the HDF5 open for ever; a directory is no campaign file).
void require_regular_input(const std::string& key, const std::string& path);

/// The output options both commands take.
struct OutputOptions {
    std::string out;
    bool out_given = false; ///< -o was on the command line (an empty -o '' is refused)
    bool overwrite = false;
    bool resume = false;
    bool quiet = false;
    bool table = false;             ///< --table: the seed-mean eps_g(alpha) table per grid point
    std::string shard;              ///< --shard i/n: empty for the whole campaign
    double progress_interval = 0.0; ///< seconds between progress lines; 0: by terminal
};

/// Where `plateau ode`'s own options start in the `config` text of a theory file: the lines
/// before it are the run configuration (the campaign's keys), the lines after are not keys.
inline constexpr std::string_view ode_options_header = "# plateau ode\n";

/// The shard of `text` ("i/n", integers 0 <= i < n <= runs); ConfigError naming 'shard'
/// otherwise. An empty text is the whole campaign.
[[nodiscard]] Shard parse_shard(const std::string& text, std::int64_t runs);
void add_output_options(boost::program_options::options_description& desc, OutputOptions& out);

/// Refuses (ConfigError naming 'threads': exit status 2, before any file) a thread count beyond
/// what the system can start now (engine/campaign/threads.hpp). Under MPI every rank calls it:
/// the computing ranks of a node share the node's threads, and all ranks refuse alike.
void check_thread_count(const CampaignSpec& spec, mpi::World world);

/// Refuses (OutputError, exit status 2: one line naming the quantity, the estimate and the
/// limit) a campaign whose peak memory (estimate_campaign, engine/io/writer.hpp) exceeds what
/// this process may take (available_memory: MemAvailable or the cgroup's limit), or whose file
/// exceeds the free space of its directory (`out`, unless empty or resumed), before anything
/// is allocated per run or any file is created. `grid_points`: the points spec.points stand
/// for (a sample, Configuration::expand_sample), 0 for exactly them.
void check_resources(const CampaignSpec& spec, RunKind kind, const std::string& out,
                     OutputMode mode, double grid_points = 0.0);

/// The file size and memory lines of --dry-run (`records` record times per run), and the
/// memory limit if the estimate exceeds it.
void print_sizes(const CampaignEstimate& size, std::int64_t records);

/// Runs the pending runs of `spec` with `run_one`, writing each into `out.out` (if given;
/// created or resumed as `out` says) and into the printed summary table.
/// Progress counts simulation steps for `plateau run`, whole runs for `plateau ode`;
/// `steps_done` (optional: the counter `run_one` adds its steps to) reports progress inside
/// runs, every progress interval, whether a run has finished or not.
/// `hooks`: the progress, interruption and summary of a front end other than main().
int run_campaign(const std::string& command, const CampaignSpec& spec, const RunFunction& run_one,
                 const OutputOptions& out, const FileMetadata& meta, ProgressUnit unit,
                 const StepCounter* steps_done = nullptr, const CommandHooks& hooks = {});

} // namespace plateau::cli
