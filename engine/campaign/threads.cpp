#include "engine/campaign/threads.hpp"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <pthread.h>
#include <sstream>
#include <string_view>
#include <sys/resource.h>
#include <unistd.h>

namespace plateau {

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t no_limit = std::numeric_limits<std::int64_t>::max();

/// The first line of a small file, or nullopt if it cannot be read.
std::optional<std::string> first_line(const fs::path& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line))
        return std::nullopt;
    return line;
}

std::optional<std::int64_t> integer_file(const fs::path& path) {
    const auto line = first_line(path);
    if (!line)
        return std::nullopt;
    std::int64_t x = 0;
    std::istringstream in(*line);
    if (!(in >> x))
        return std::nullopt;
    return x;
}

/// The value of "Name:" in a /proc/PID/status file: its first field after the colon.
std::optional<std::string> status_field(const fs::path& status, std::string_view name) {
    std::ifstream in(status);
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(name) && line.size() > name.size() && line[name.size()] == ':') {
            std::istringstream fields(line.substr(name.size() + 1));
            std::string first;
            if (fields >> first)
                return first;
            return std::nullopt;
        }
    return std::nullopt;
}

/// Linux does not apply RLIMIT_NPROC to root's real uid nor to a process with CAP_SYS_RESOURCE
/// or CAP_SYS_ADMIN (kernel/fork.c, copy_process).
bool exempt_from_nproc() {
    if (getuid() == 0)
        return true;
    const auto caps = status_field("/proc/self/status", "CapEff");
    if (!caps)
        return false;
    std::uint64_t bits = 0;
    std::istringstream in(*caps);
    if (!(in >> std::hex >> bits))
        return false;
    constexpr std::uint64_t cap_sys_admin = 21;
    constexpr std::uint64_t cap_sys_resource = 24;
    return ((bits >> cap_sys_admin) & 1U) != 0 || ((bits >> cap_sys_resource) & 1U) != 0;
}

/// The threads of every process whose real uid is `uid`: what the kernel counts against
/// RLIMIT_NPROC. A process that ends while it is read is left out.
std::int64_t threads_of_user(uid_t uid) {
    std::int64_t threads = 0;
    std::error_code ec;
    for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        const fs::path status = it->path() / "status";
        const auto real_uid = status_field(status, "Uid");
        if (!real_uid || *real_uid != std::to_string(uid))
            continue;
        if (const auto n = status_field(status, "Threads"))
            threads += std::strtoll(n->c_str(), nullptr, 10);
    }
    return threads;
}

/// The tasks (threads) of the machine: the denominator of /proc/loadavg's "running/total".
std::optional<std::int64_t> threads_of_machine() {
    const auto line = first_line("/proc/loadavg");
    if (!line)
        return std::nullopt;
    const auto slash = line->find('/');
    if (slash == std::string::npos)
        return std::nullopt;
    return std::strtoll(line->c_str() + slash + 1, nullptr, 10);
}

/// "22 GB", "8.39 MB".
std::string bytes_text(double bytes, double unit, const char* name) {
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%.3g %s", bytes / unit, name);
    return buf.data();
}

/// The stack one more thread of a campaign reserves: oneTBB's worker stack or the default
/// pthread stack (std::thread), whichever is larger.
std::uint64_t stack_bytes() {
    std::uint64_t bytes =
        oneapi::tbb::global_control::active_value(oneapi::tbb::global_control::thread_stack_size);
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        std::size_t size = 0;
        if (pthread_attr_getstacksize(&attr, &size) == 0)
            bytes = std::max<std::uint64_t>(bytes, size);
        pthread_attr_destroy(&attr);
    }
    return std::max<std::uint64_t>(bytes, 1);
}

class Smallest {
public:
    void consider(std::int64_t headroom, const std::string& why) {
        headroom = std::max<std::int64_t>(headroom, 0);
        if (headroom < best_.threads)
            best_ = {headroom, why};
    }
    [[nodiscard]] ThreadCapacity result() const { return best_; }

private:
    ThreadCapacity best_{no_limit, {}};
};

/// pids.max less pids.current for the cgroup of this process and each one above it (cgroup v2,
/// or the v1 pids controller).
void consider_cgroups(Smallest& smallest) {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
        // "0::/path" (v2) or "N:controllers:/path" (v1).
        const auto a = line.find(':');
        const auto b = a == std::string::npos ? a : line.find(':', a + 1);
        if (b == std::string::npos)
            continue;
        const std::string controllers = line.substr(a + 1, b - a - 1);
        fs::path base;
        if (controllers.empty())
            base = "/sys/fs/cgroup";
        else if (("," + controllers + ",").find(",pids,") != std::string::npos)
            base = "/sys/fs/cgroup/pids";
        else
            continue;
        for (fs::path group = fs::path(line.substr(b + 1)).relative_path();;
             group = group.parent_path()) {
            const fs::path dir = base / group;
            const auto max = first_line(dir / "pids.max");
            const auto current = integer_file(dir / "pids.current");
            if (max && *max != "max" && current)
                smallest.consider(std::strtoll(max->c_str(), nullptr, 10) - *current,
                                  "pids.max " + *max + " of cgroup /" + group.string() +
                                      " less its " + std::to_string(*current) + " task(s)");
            if (group.empty())
                break;
        }
    }
}

} // namespace

ThreadCapacity thread_capacity() {
    Smallest smallest;
    // ulimit -u: every thread of the user counts, in all of its processes.
    rlimit nproc{};
    if (getrlimit(RLIMIT_NPROC, &nproc) == 0 && nproc.rlim_cur != RLIM_INFINITY &&
        !exempt_from_nproc()) {
        const auto limit = static_cast<std::int64_t>(
            std::min<rlim_t>(nproc.rlim_cur, static_cast<rlim_t>(no_limit)));
        const std::int64_t used = threads_of_user(getuid());
        smallest.consider(limit - used, "ulimit -u (RLIMIT_NPROC) " + std::to_string(limit) +
                                            " less the " + std::to_string(used) +
                                            " thread(s) this user runs");
    }
    // The machine's limits on tasks and process ids.
    if (const auto running = threads_of_machine()) {
        for (const char* name : {"threads-max", "pid_max"})
            if (const auto max = integer_file(fs::path("/proc/sys/kernel") / name))
                smallest.consider(*max - *running, std::string("the kernel's ") + name + " " +
                                                       std::to_string(*max) + " less the " +
                                                       std::to_string(*running) +
                                                       " thread(s) running");
    }
    consider_cgroups(smallest);
    // Memory for the stacks: threads x stack <= available memory.
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);)
        if (line.starts_with("MemAvailable:")) {
            const double available = std::strtod(line.c_str() + 13, nullptr) * 1024.0;
            const std::uint64_t stack = stack_bytes();
            smallest.consider(static_cast<std::int64_t>(available / static_cast<double>(stack)),
                              bytes_text(available, 1e9, "GB") +
                                  " of available memory for stacks of " +
                                  bytes_text(static_cast<double>(stack), 1e6, "MB") + " each");
        }
    return smallest.result();
}

int worker_count(int threads) noexcept {
    return threads > 0 ? threads : oneapi::tbb::info::default_concurrency();
}

bool is_worker_start_failure(const std::exception& e) noexcept {
    if (dynamic_cast<const WorkerStartError*>(&e) != nullptr)
        return true;
    // oneTBB's thread_monitor::launch: "pthread_create has failed: <strerror>" (and the same
    // for the pthread_attr_* calls before it).
    const std::string_view what = e.what();
    return what.starts_with("pthread_") && what.find(" has failed") != std::string_view::npos;
}

} // namespace plateau
