// The threads of a campaign: how many the system can still start (the check behind the
// `threads` key, docs/RELIABILITY.md, "Threads"), and the error of a worker that cannot start.
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

namespace plateau {

/// How many more threads this process can start now, and what bounds that number.
struct ThreadCapacity {
    std::int64_t threads = 0; ///< INT64_MAX when no limit could be read
    std::string limit;        ///< the binding limit in words, for messages ("" when none)
};

/// The smallest of what the system can give now; a limit that cannot be read counts as none:
/// - `ulimit -u` (RLIMIT_NPROC, soft) less the threads of every process of this real user id
///   (the kernel counts them so), unless Linux exempts the process from it (real uid 0,
///   CAP_SYS_RESOURCE or CAP_SYS_ADMIN);
/// - the kernel's threads-max and pid_max less the threads of the machine (/proc/loadavg);
/// - the pids.max of this process's cgroup and of each cgroup above it, less its pids.current;
/// - MemAvailable (/proc/meminfo) over the stack of one thread, the larger of oneTBB's worker
///   stack and the default pthread stack: threads x stack <= available memory.
/// oneTBB takes any count once its global limit is raised (execute_campaign raises it), and
/// the address-space limit (`ulimit -v`) is not counted: glibc's per-thread heaps make it
/// unpredictable. A worker that still cannot start gives WorkerStartError (or, on a oneTBB
/// worker, std::terminate: is_worker_start_failure tells it apart).
[[nodiscard]] ThreadCapacity thread_capacity();

/// The worker count of the `threads` key: `threads`, or every core for 0. execute_campaign
/// starts as many threads: workers - 1 oneTBB workers and the thread that hands the runs to the
/// arena (the calling thread is the consumer).
[[nodiscard]] int worker_count(int threads) noexcept;

/// A campaign's worker thread could not be started. what() is the system's reason as oneTBB
/// words it, "pthread_create has failed: Resource temporarily unavailable", on every path.
class WorkerStartError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Whether `e` says that a campaign's thread could not be started: WorkerStartError, or oneTBB's
/// "pthread_create has failed: ..." (the std::runtime_error its worker launch throws, on
/// whatever thread wakes the worker: a oneTBB worker too, where it ends in std::terminate).
[[nodiscard]] bool is_worker_start_failure(const std::exception& e) noexcept;

} // namespace plateau
