#include "cli/command_support.hpp"

#include "cli/mpi.hpp"
#include "cli/options.hpp"
#include "cli/progress.hpp"
#include "cli/summary.hpp"
#include "engine/campaign/run_message.hpp"
#include "engine/campaign/threads.hpp"
#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/core/sha256.hpp"
#include "engine/io/h5/object.hpp"
#include "engine/theory/theory.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <limits>
#include <string_view>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace plateau::cli {

namespace po = boost::program_options;

ParsedCommand parse_command(int argc, char** argv, const std::string& usage,
                            po::options_description options) {
    options.add_options()("help,h", "print this help");
    std::string config_file;
    po::options_description hidden;
    hidden.add_options()("config", po::value<std::string>(&config_file));
    po::positional_options_description positional;
    positional.add("config", 1);
    const po::options_description keys_desc = key_options();
    po::options_description all;
    all.add(options).add(keys_desc).add(hidden);

    // Exact option names only: the default style's allow_guessing took "--n" for "--noise".
    const int style =
        po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    const po::parsed_options parsed = po::command_line_parser(with_flag_values(argc, argv))
                                          .options(all)
                                          .style(style)
                                          .positional(positional)
                                          .allow_unregistered()
                                          .run();
    reject_unregistered(parsed);
    ParsedCommand out;
    po::store(parsed, out.options);
    po::notify(out.options);
    if (out.options.count("help")) {
        std::cout << usage << "\n\n" << options << '\n' << keys_desc << '\n';
        out.help = true;
        return out;
    }
    out.config = read_configuration(config_file, parsed);
    if (auto ineffective = out.config.ineffective_key())
        throw std::move(*ineffective);
    return out;
}

namespace {

/// Every message leaves as one readable line: messages quote user input through printable()
/// already; this is the backstop for texts from libraries (Program_options, HDF5, the system).
constexpr std::size_t max_message = 1000;

/// Where guarded() sends the line: stderr, or CommandHooks::error.
using ErrorSink = std::function<void(const std::string&)>;

void print_error(const std::string& prefix, std::string_view what, std::string_view suffix = {},
                 const ErrorSink& sink = {}) {
    if (sink) {
        sink(prefix + printable(what, max_message) + std::string(suffix));
        return;
    }
    // Every rank of an MPI launch meets the same bad input: rank 0 alone says so.
    if (mpi::world().rank == 0)
        std::cerr << prefix << printable(what, max_message) << suffix << '\n';
}

} // namespace

namespace {

int guarded_body(const std::string& command, const std::function<int()>& body,
                 const ErrorSink& sink) {
    const std::string prefix = "plateau " + command + ": ";
    try {
        return body();
    } catch (const Interrupted&) {
        throw; // the caller's to report (CommandHooks::interrupted)
    } catch (const po::error& e) {
        print_error(prefix, e.what(), " (see 'plateau " + command + " --help')", sink);
    } catch (const ConfigError& e) {
        print_error(prefix, e.what(), {}, sink);
    } catch (const UsageError& e) {
        print_error(prefix, e.what(), {}, sink);
    } catch (const OutputError& e) {
        print_error(prefix, e.what(), {}, sink);
    } catch (const std::exception& e) {
        print_error(prefix, std::string("error: ") + e.what(), {}, sink);
        return 1;
    }
    return 2;
}

} // namespace

int guarded(const std::string& command, const std::function<int()>& body,
            const std::function<void(const std::string&)>& error) {
    const int status = guarded_body(command, body, error);
    if (h5::failed_file_closes() > 0) {
        // HDF5 1.10 crashes in H5close at exit on a file it failed to close (engine/io/h5/
        // object.hpp): the message is out, so end here without the exit handlers.
        std::fflush(nullptr);
        std::_Exit(status);
    }
    return status;
}

namespace {

std::string describe_type(std::filesystem::file_type t) {
    using std::filesystem::file_type;
    switch (t) {
    case file_type::not_found:
        return "it does not exist";
    case file_type::directory:
        return "it is a directory";
    case file_type::fifo:
        return "it is a FIFO: opening it would wait for a writer";
    case file_type::block:
    case file_type::character:
        return "it is a device";
    case file_type::socket:
        return "it is a socket";
    default:
        return "it is not a regular file";
    }
}

/// The process id written in a lock file, or 0.
long lock_holder(int fd) {
    std::array<char, 32> buf{};
    const ssize_t n = pread(fd, buf.data(), buf.size() - 1, 0);
    if (n <= 0)
        return 0;
    return std::strtol(buf.data(), nullptr, 10);
}

/// Whether process `pid` runs (exists and is no zombie). A process of another user counts.
bool running(long pid) {
    if (pid <= 0 || pid > std::numeric_limits<pid_t>::max())
        return false;
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)
        return false;
    std::array<char, 256> buf{};
    const std::string stat = "/proc/" + std::to_string(pid) + "/stat";
    const int fd = open(stat.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true; // no /proc: kill said it exists
    const ssize_t n = read(fd, buf.data(), buf.size() - 1);
    close(fd);
    const std::string_view line(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
    const auto paren = line.rfind(')'); // the state follows the command's name in parentheses
    return paren == std::string_view::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

} // namespace

void require_regular_input(const std::string& key, const std::string& path) {
    std::error_code ec;
    const auto type = std::filesystem::status(path, ec).type();
    if (ec == std::errc::too_many_symbolic_link_levels) // ELOOP: status says only "unknown"
        throw UsageError("invalid value '" + printable(path, 300) + "' for '" + key +
                         "': a loop of symbolic links, not a file");
    if (type != std::filesystem::file_type::regular)
        throw ConfigError(key, path, "a regular file (" + describe_type(type) + ")");
}

std::filesystem::path OutputLock::lock_path(const std::filesystem::path& path) {
    const std::string name = path.filename().string();
    const std::filesystem::path dir =
        path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    const long max = pathconf(dir.c_str(), _PC_NAME_MAX);
    const std::string full = "." + name + ".lock";
    const bool fits = max <= 0 || full.size() <= static_cast<std::size_t>(max);
    return path.parent_path() /
           (fits ? full : ".plateau-" + sha256_hex(name).substr(0, 16) + ".lock");
}

OutputLock::OutputLock(const std::filesystem::path& path, const std::string& command)
    : lock_(lock_path(path)) {
    const std::string invalid = "invalid value '" + printable(path.string(), 300) + "' ";
    // Another process may remove the lock file between our open() and flock() (it ends its
    // guard): then the lock we hold is on a file no longer there, and we try again.
    // A lock whose recorded holder no longer runs is waited for a moment (up to 2 s) before it
    // is refused: its process has died and the lock is on its way out, or a new holder has
    // locked it and not yet written its pid (then the refusal after the wait names it).
    int grace = 100;
    for (int replaced = 0; replaced < 100;) {
        const int fd = open(lock_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
            if (errno == ENOENT || errno == EACCES || errno == EROFS || errno == ENOTDIR)
                return; // no such directory or not writable: check_output_path says so
            throw OutputError(invalid + "for 'out': cannot open its lock file '" +
                              printable(lock_.string(), 300) + "' (" +
                              std::system_category().message(errno) + ")");
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            if (err == EWOULDBLOCK) {
                const long holder = lock_holder(fd);
                close(fd);
                if (!running(holder) && grace-- > 0) {
                    usleep(20000);
                    continue;
                }
                throw OutputError(
                    invalid + "for 'out': another plateau" +
                    (holder > 0 ? " (process " + std::to_string(holder) + ")" : std::string()) +
                    " is writing it; allowed is a file no running plateau writes (wait for it "
                    "to end, or choose another file)");
            }
            close(fd);
            std::fprintf(stderr,
                         "plateau %s: warning: cannot lock '%s' (%s): a second plateau writing "
                         "the same file at the same time would not be refused\n",
                         command.c_str(), printable(lock_.string(), 300).c_str(),
                         std::system_category().message(err).c_str());
            return;
        }
        struct stat held {};
        struct stat named {};
        if (fstat(fd, &held) == 0 && stat(lock_.c_str(), &named) == 0 &&
            held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
            fd_ = fd;
            on_signal_.emplace(lock_);
            const std::string pid = std::to_string(getpid()) + "\n";
            if (ftruncate(fd, 0) == 0)
                (void)!pwrite(fd, pid.data(), pid.size(), 0);
            return;
        }
        close(fd); // the file we locked was removed meanwhile
        ++replaced;
    }
    throw OutputError(invalid + "for 'out': cannot take its lock file '" +
                      printable(lock_.string(), 300) + "' (it keeps being replaced)");
}

OutputLock::~OutputLock() {
    if (fd_ < 0)
        return;
    // Removed while still held: a process waiting on this file finds it gone and starts over.
    unlink(lock_.c_str());
    on_signal_.reset();
    close(fd_);
}

void add_output_options(po::options_description& desc, OutputOptions& out) {
    desc.add_options()(
        "out,o", po::value<std::string>(&out.out)->notifier([&out](const std::string&) {
            out.out_given = true;
        }),
        "HDF5 output file (netCDF-4); without it, only the summary table is "
        "printed")("overwrite", po::bool_switch(&out.overwrite), "replace an existing output file")(
        "resume", po::bool_switch(&out.resume),
        "finish the output file left by an interrupted run of the same configuration")(
        "quiet,q", po::bool_switch(&out.quiet), "no progress output")(
        "table", po::bool_switch(&out.table),
        "print the seed-mean eps_g over alpha per grid point (the long summary) instead of one "
        "line per grid point")(
        "progress-interval",
        po::value<double>(&out.progress_interval)->notifier([](double seconds) {
            if (!(seconds > 0.0 && seconds <= 86400.0))
                throw ConfigError("progress-interval", number_text(seconds),
                                  "a number of seconds > 0 and <= 86400");
        }),
        "seconds between progress lines on stderr (default: 0.2 on a terminal, 5 otherwise)")(
        "shard", po::value<std::string>(&out.shard)->notifier([](const std::string& text) {
            // Without --shard the whole campaign runs; an empty --shard '' is a mistake.
            if (text.empty())
                throw ConfigError("shard", text, "i/n with integers 0 <= i < n (shard i of n)");
        }),
        "i/n: compute only shard i of n (the runs r with r % n = i) into -o FILE, for a job "
        "array; 'plateau merge' joins the shards' files");
}

Shard parse_shard(const std::string& text, std::int64_t runs) {
    if (text.empty())
        return {};
    const auto allowed =
        "i/n with integers 0 <= i < n <= " + std::to_string(runs) + " (the runs of this campaign)";
    const auto slash = text.find('/');
    Shard s;
    const auto read = [&](std::string_view part, std::int64_t& x) {
        const auto* end = part.data() + part.size();
        const auto [ptr, ec] = std::from_chars(part.data(), end, x);
        return ec == std::errc{} && ptr == end && !part.empty();
    };
    const std::string_view t(text);
    if (slash == std::string::npos || !read(t.substr(0, slash), s.index) ||
        !read(t.substr(slash + 1), s.count) || s.count < 1 || s.index < 0 || s.index >= s.count ||
        s.count > runs)
        throw ConfigError("shard", text, allowed);
    return s;
}

namespace {

std::string megabytes(std::uint64_t bytes) {
    std::array<char, 64> buf{};
    std::snprintf(buf.data(), buf.size(), "%.4g MB", static_cast<double>(bytes) / 1e6);
    return buf.data();
}

} // namespace

namespace {

std::string memory_breakdown(const CampaignEstimate& need) {
    const RunMemory& r = need.largest_run;
    return std::to_string(need.runs_in_flight) + " run(s) in flight (one per thread) ~" +
           format_bytes(r.total()) + " each (weights " + format_bytes(r.weights) +
           ", training sets and batches " + format_bytes(r.training) + ", matrices " +
           format_bytes(r.chain) + ", records " + format_bytes(r.records) +
           "), bookkeeping of the grid and its runs " +
           format_bytes(static_cast<double>(need.bookkeeping_bytes)) + ", writer " +
           format_bytes(static_cast<double>(need.writer_bytes)) + ", program " +
           format_bytes(program_bytes);
}

} // namespace

/// The file size and memory lines of --dry-run, with the limits a run is checked against.
void print_sizes(const CampaignEstimate& size, std::int64_t records) {
    std::printf("file size:   ~%s (%lld record times per run)\n",
                format_bytes(static_cast<double>(size.file_bytes)).c_str(),
                static_cast<long long>(records));
    const RunMemory& r = size.largest_run;
    std::printf("memory:      ~%s at the peak: %zu run(s) in flight (one per thread) ~%s each "
                "(weights %s, training sets and batches %s, matrices %s, records %s), "
                "bookkeeping %s, writer %s, program %s\n",
                format_bytes(static_cast<double>(size.memory_bytes)).c_str(), size.runs_in_flight,
                format_bytes(r.total()).c_str(), format_bytes(r.weights).c_str(),
                format_bytes(r.training).c_str(), format_bytes(r.chain).c_str(),
                format_bytes(r.records).c_str(),
                format_bytes(static_cast<double>(size.bookkeeping_bytes)).c_str(),
                format_bytes(static_cast<double>(size.writer_bytes)).c_str(),
                format_bytes(program_bytes).c_str());
    if (const auto limit = available_memory(); limit && size.memory_bytes > limit->bytes)
        std::printf("             beyond the limit of %s (%s): a run would be refused\n",
                    format_bytes(static_cast<double>(limit->bytes)).c_str(), limit->source.c_str());
}

void check_resources(const CampaignSpec& spec, RunKind kind, const std::string& out,
                     OutputMode mode, double grid_points) {
    const CampaignEstimate need = estimate_campaign(spec, {kind, grid_points});
    if (const auto limit = available_memory(); limit && need.memory_bytes > limit->bytes)
        throw OutputError("campaign too large: memory: ~" +
                          format_bytes(static_cast<double>(need.memory_bytes)) + " at the peak (" +
                          memory_breakdown(need) + "); the limit is " +
                          format_bytes(static_cast<double>(limit->bytes)) + " (" + limit->source +
                          "); allowed is a campaign that fits: a smaller N, K, M, train-set, "
                          "records or grid, or fewer threads");
    if (out.empty() || mode == OutputMode::resume)
        return; // a file to resume already has its final size
    const std::filesystem::path path(out);
    std::error_code ec;
    const auto space = std::filesystem::space(
        path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path(), ec);
    const auto file = need.file_bytes / static_cast<std::uint64_t>(spec.shard.count);
    if (!ec && file > space.available)
        throw OutputError("invalid value '" + printable(out, 300) +
                          "' for 'out': disk: the file needs ~" + megabytes(file) +
                          ", its file system has " + megabytes(space.available) + " free");
}

void check_thread_count(const CampaignSpec& spec, const mpi::World world) {
    const int workers = worker_count(spec.threads); // execute_campaign starts as many threads
    const ThreadCapacity capacity = thread_capacity();
    const std::string asked =
        spec.threads > 0 ? std::string{}
                         : " (0 asks for one per core: " + std::to_string(workers) + " here)";
    if (!world.distributed()) {
        if (workers > capacity.threads)
            throw ConfigError("threads", std::to_string(spec.threads),
                              "at most " + std::to_string(capacity.threads) +
                                  " on this machine now: " + capacity.limit + asked);
        return;
    }
    // Rank 0 writes; every other rank starts `workers` threads, and the computing ranks of one
    // node share what it can give. Every rank learns the smallest share and refuses alike.
    const int sharing = mpi::computing_ranks_on_node();
    const std::int64_t share =
        sharing > 0 ? capacity.threads / sharing : std::numeric_limits<std::int64_t>::max();
    const std::int64_t smallest = mpi::min_over_ranks(share);
    if (workers <= smallest)
        return;
    const std::string where =
        share == smallest ? "the " + std::to_string(sharing) +
                                " computing rank(s) on this node share what it can start now, " +
                                std::to_string(capacity.threads) + " threads: " + capacity.limit
                          : "the computing ranks of another node share what it can start now";
    throw ConfigError("threads", std::to_string(spec.threads),
                      "at most " + std::to_string(smallest) + " per computing rank: " + where +
                          asked);
}

namespace {

/// The one line of a worker thread the system refused in the middle of a campaign (exit status
/// 2); the file keeps every finished run.
ConfigError worker_failure(const CampaignSpec& spec, const std::string& out,
                           std::string_view cause) {
    const std::string file = out.empty() ? std::string{}
                                         : "; '" + printable(out, 300) +
                                               "' keeps every finished run: --resume finishes it";
    return {"threads", std::to_string(spec.threads),
            "fewer threads or a higher system limit: the system refused to start one (" +
                printable(cause, 200) + ")" + file};
}

/// oneTBB's workers wake (and start) one another: a worker the system refuses to start throws on
/// a oneTBB worker, where the exception ends in std::terminate. While a campaign runs, this
/// handler turns that into the line WorkerStartError gives on the calling thread, and exit
/// status 2, without unwinding: the file is then as after kill -9, whole runs and resumable
/// (docs/RELIABILITY.md). Anything else keeps the previous handler (abort). The state is static
/// because a terminate handler has no other way to reach it; it is written before the campaign
/// starts its threads and read only by them.
struct WorkerFailureState {
    std::string prefix; ///< "plateau run: " (with the rank under MPI)
    const CampaignSpec* spec = nullptr;
    std::string out;
    std::terminate_handler previous = nullptr;
};
WorkerFailureState worker_failure_state;

[[noreturn]] void on_terminate() noexcept {
    const WorkerFailureState& s = worker_failure_state;
    if (const std::exception_ptr e = std::current_exception(); e && s.spec != nullptr) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            if (is_worker_start_failure(x)) {
                const std::string line = s.prefix + worker_failure(*s.spec, s.out, x.what()).what();
                std::fprintf(stderr, "%s\n", line.c_str());
                std::fflush(stderr);
                std::_Exit(2);
            }
        } catch (...) { // NOLINT(bugprone-empty-catch): not ours, the previous handler decides
        }
    }
    if (s.previous != nullptr)
        s.previous();
    std::abort();
}

class WorkerFailureGuard {
public:
    WorkerFailureGuard(std::string prefix, const CampaignSpec& spec, std::string out) {
        worker_failure_state.prefix = std::move(prefix);
        worker_failure_state.spec = &spec;
        worker_failure_state.out = std::move(out);
        worker_failure_state.previous = std::set_terminate(on_terminate);
    }
    WorkerFailureGuard(const WorkerFailureGuard&) = delete;
    WorkerFailureGuard& operator=(const WorkerFailureGuard&) = delete;
    ~WorkerFailureGuard() {
        std::set_terminate(worker_failure_state.previous);
        worker_failure_state = {};
    }
};

} // namespace

namespace {

/// Progress in steps is the simulation's, in whole runs or alpha the theory's.
constexpr RunKind kind_of(ProgressUnit unit) noexcept {
    return unit == ProgressUnit::steps ? RunKind::simulation : RunKind::theory;
}

/// An MPI rank other than 0: computes its share of the runs rank 0 broadcasts and sends each
/// to rank 0 as it finishes (blocking: a rank 0 that writes slowly holds it back, so memory
/// stays bounded by the runs in flight).
int compute_rank(const std::string& command, const CampaignSpec& spec, const RunFunction& run_one,
                 mpi::World world) {
    int status = 0;
    std::vector<std::int64_t> todo;
    mpi::broadcast(status, todo);
    if (status != 0)
        return status; // rank 0 refused, and said why
    std::vector<std::int64_t> mine;
    const auto workers = static_cast<std::size_t>(world.size - 1);
    for (std::size_t i = 0; i < todo.size(); ++i)
        if (static_cast<int>(i % workers) == world.rank - 1)
            mine.push_back(todo[i]);
    const std::string prefix = "plateau " + command + ": rank " + std::to_string(world.rank) + ": ";
    try {
        const WorkerFailureGuard guard(prefix, spec, {});
        execute_campaign(spec, mine, run_one,
                         [](FinishedRun&& done) { mpi::send(mpi::Tag::run, encode_run(done)); });
        mpi::send(mpi::Tag::done, {});
    } catch (const WorkerStartError& e) {
        std::cerr << prefix << worker_failure(spec, {}, e.what()).what() << '\n';
        mpi::abort(2); // rank 0 would wait for this rank's runs forever
    } catch (const std::exception& e) {
        std::cerr << "plateau " << command << ": rank " << world.rank
                  << ": error: " << printable(e.what(), max_message) << '\n';
        mpi::abort(1); // rank 0 would wait for this rank's runs forever
    }
    return 0;
}

/// The process that owns the output file: the only one without MPI, rank 0 with it. `released`
/// is set once the other ranks have been told to go on (before, an error must tell them to end).
int write_rank(const std::string& command, const CampaignSpec& spec, const RunFunction& run_one,
               const OutputOptions& out, const FileMetadata& meta, ProgressUnit unit,
               mpi::World world, bool& released, const StepCounter* steps_done,
               const CommandHooks& hooks) {
    if (out.resume && !out.out_given)
        throw UsageError("--resume needs the file to finish: -o FILE");
    if (!spec.shard.whole() && !out.out_given)
        throw UsageError("--shard needs the file of the shard: -o FILE");
    if (out.resume && out.overwrite)
        throw UsageError("--resume and --overwrite exclude each other");
    std::optional<OutputLock> lock; // before `writer`: released after the file is closed
    if (out.out_given) {
        const OutputMode mode = out.resume      ? OutputMode::resume
                                : out.overwrite ? OutputMode::overwrite
                                                : OutputMode::create;
        const auto stale = stale_part_files(out.out);
        if (mode == OutputMode::resume && !stale.empty() && !std::filesystem::exists(out.out))
            throw OutputError("invalid value '" + printable(out.out, 300) +
                              "' for 'out': --resume needs an existing campaign file; '" +
                              printable(stale.front().path.string(), 300) +
                              "' is the temporary file of a creation interrupted before any run "
                              "(process " +
                              std::to_string(stale.front().pid) +
                              " is gone): remove it and run without --resume");
        check_output_path(out.out, mode);
        lock.emplace(out.out, command);
        check_resources(spec, kind_of(unit), out.out, mode);
        // The temporary file of an interrupted creation holds no runs (that of an interrupted
        // merge holds nothing its parts do not): remove it, and say so.
        for (const auto& s : stale) {
            std::error_code ec;
            if (std::filesystem::remove(s.path, ec))
                std::fprintf(stderr,
                             "plateau %s: removed '%s', the temporary file of a creation "
                             "interrupted before any run (process %lld is gone)\n",
                             command.c_str(), printable(s.path.string(), 300).c_str(),
                             static_cast<long long>(s.pid));
        }
    } else {
        check_resources(spec, kind_of(unit), {}, OutputMode::create);
    }

    // The output file (if any): created complete before the first run, or reopened.
    std::optional<CampaignWriter> writer;
    std::vector<std::int64_t> todo;
    if (out.out_given) {
        writer = out.resume ? CampaignWriter::resume(out.out, spec, meta)
                            : CampaignWriter::create(out.out, spec, meta, out.overwrite);
        todo = writer->unfinished_runs();
        if (const auto& damaged = writer->damaged_runs(); !damaged.empty()) {
            std::string list;
            for (std::size_t i = 0; i < damaged.size() && i < 10; ++i)
                list += (i ? ", " : "") + std::to_string(damaged[i]);
            std::fprintf(stderr,
                         "plateau %s: %zu run(s) of %s fail their checksum (bits changed on "
                         "disk): run_index %s%s; computing them again\n",
                         command.c_str(), damaged.size(), printable(out.out, 300).c_str(),
                         list.c_str(), damaged.size() > 10 ? ", ..." : "");
        }
    } else {
        todo.resize(static_cast<std::size_t>(spec.runs()));
        for (std::size_t i = 0; i < todo.size(); ++i)
            todo[i] = static_cast<std::int64_t>(i);
    }
    std::erase_if(todo, [&](std::int64_t r) { return !spec.shard.contains(r); });

    const std::vector<double> alphas = record_grid(spec.points.front().params.schedule);
    SeedSummary summary(spec);
    const auto work_of = [&](std::int64_t run) -> std::int64_t {
        if (unit == ProgressUnit::runs)
            return 1;
        if (unit == ProgressUnit::alpha)
            return static_cast<std::int64_t>(
                std::llround(spec.point_of(run).params.schedule.alpha_max * alpha_progress_scale));
        const auto& p = spec.point_of(run).params;
        return run_steps(p.schedule, p.model.N);
    };
    std::int64_t total_work = 0;
    for (const auto r : todo)
        total_work += work_of(r);

    Progress progress(
        static_cast<std::int64_t>(todo.size()), total_work, unit, out.quiet && !hooks.progress,
        hooks.progress || hooks.interrupted ? hooks.progress_interval : out.progress_interval,
        steps_done, hooks.progress);
    // A front end's interruption (CommandHooks::interrupted), polled on this thread at the
    // heartbeat (every progress interval): the runs in flight are written as they finish.
    const auto poll_interrupt = [&hooks] {
        if (hooks.interrupted && hooks.interrupted())
            throw Interrupted();
    };
    const std::string shard_note = spec.shard.whole() ? "" : ", shard " + spec.shard.text();
    if (!out.quiet)
        std::fprintf(stderr,
                     "plateau %s: %lld run(s) to do of %lld (%zu grid point(s) x %lld "
                     "seed(s)%s)%s%s\n",
                     command.c_str(), static_cast<long long>(todo.size()),
                     static_cast<long long>(spec.shard.runs_of(spec.runs())), spec.points.size(),
                     static_cast<long long>(spec.seeds), shard_note.c_str(),
                     out.out_given ? " -> " : "", out.out.c_str());
    const auto consume = [&](FinishedRun&& done) {
        if (writer)
            writer->write(done);
        summary.add(spec, done);
        progress.run_done(work_of(done.run));
    };
    if (world.distributed()) {
        // Rank 0 writes what the other ranks compute, run by run, as it arrives.
        int go = 0;
        mpi::broadcast(go, todo);
        released = true;
        try {
            for (int done = 0; done < world.size - 1;) {
                mpi::Message m = mpi::receive();
                if (m.tag == mpi::Tag::done)
                    ++done;
                else
                    consume(decode_run(m.bytes));
            }
        } catch (const std::exception& e) {
            print_error("plateau " + command + ": ", std::string("error: ") + e.what());
            mpi::abort(1); // the other ranks would wait to send forever
        }
    } else {
        const WorkerFailureGuard guard("plateau " + command + ": ", spec, out.out);
        try {
            const bool beat = !out.quiet || hooks.progress || hooks.interrupted;
            execute_campaign(spec, todo, run_one, consume,
                             beat ? Heartbeat{progress.interval(),
                                              [&] {
                                                  progress.tick();
                                                  poll_interrupt();
                                              }}
                                  : Heartbeat{});
        } catch (const WorkerStartError& e) {
            // The runs finished so far are in the file (closed as the writer unwinds).
            throw worker_failure(spec, out.out, e.what());
        }
    }
    progress.finish();
    if (writer)
        writer->close();
    const std::int64_t skipped =
        spec.shard.runs_of(spec.runs()) - static_cast<std::int64_t>(todo.size());
    if (hooks.summary) { // (a front end may show the results itself)
        if (out.table)
            summary.print_table(spec, alphas, skipped);
        else
            summary.print_compact(spec, skipped, out.out_given ? out.out : std::string());
    }
    if (out.out_given && !out.quiet)
        std::fprintf(stderr, "plateau %s: wrote %s\n", command.c_str(), out.out.c_str());
    return 0;
}

} // namespace

int run_campaign(const std::string& command, const CampaignSpec& whole, const RunFunction& run_one,
                 const OutputOptions& out, const FileMetadata& meta, ProgressUnit unit,
                 const StepCounter* steps_done, const CommandHooks& hooks) {
    CampaignSpec spec = whole; // as `whole`, with the shard of --shard
    spec.shard = parse_shard(out.shard, spec.runs());
    const mpi::World world = mpi::world();
    bool released = false;
    if (!world.distributed()) {
        check_thread_count(spec, world);
        return write_rank(command, spec, run_one, out, meta, unit, world, released, steps_done,
                          hooks);
    }

    // Every rank reads the same configuration and refuses it alike (rank 0 alone says so).
    spec.ranks = world.size;
    const std::int64_t runs = spec.shard.runs_of(spec.runs());
    if (world.size - 1 > runs)
        throw ConfigError("ranks", std::to_string(world.size),
                          "at most " + std::to_string(runs + 1) + " for " + std::to_string(runs) +
                              " run(s): rank 0 writes the file, each other rank computes runs");
    if (!out.out_given)
        throw UsageError("an MPI launch needs the output file: -o FILE");
    check_thread_count(spec, world); // collective: every rank refuses alike
    if (world.rank != 0)
        return compute_rank(command, spec, run_one, world);
    try {
        return write_rank(command, spec, run_one, out, meta, unit, world, released, steps_done,
                          hooks);
    } catch (...) {
        if (!released) {
            int status = 2; // refused before any run: the other ranks end with it, silently
            std::vector<std::int64_t> none;
            mpi::broadcast(status, none);
        }
        throw;
    }
}

} // namespace plateau::cli
