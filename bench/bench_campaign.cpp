// Aggregate campaign throughput with 1 and 2 threads, and peak memory against the number of runs
// (docs/PERFORMANCE.md). Not a Google Benchmark program: a campaign is timed as a whole.
//
//   bench_campaign [--reps R] [--seeds-100 S] [--seeds-1000 S] [--alpha-max A]
//       throughput: campaigns of N = 100 and of N = 1000 (K = M = 2, erf, default model,
//       default schedule with alpha_max = A, 300 by default), run with 1 and with 2 threads,
//       alternately, R times (3 by default). Reports steps/s (all runs' steps over wall time),
//       CPU time / wall time (getrusage over steady_clock: both cores working gives ~2), and
//       the speedup of 2 threads over 1 (medians and best of the repetitions), steps per CPU
//       second and its ratio 2 threads / 1 ("efficiency": 1 means no loss from running two runs
//       at once, whatever else the machine is doing), and a probe of the parallelism the machine
//       gives right now (CPU/wall of two spinning threads). Also checks that every run's final
//       record is bit-identical with 1 and 2 threads.
//   bench_campaign --memory [--memory-runs 100,1000,10000]
//       peak resident memory (VmHWM) of campaigns of N = 100, alpha_max = 1 runs whose consumer
//       discards the results, each in a fresh child process (this program, --memory-child R):
//       the child's VmHWM (/proc/self/status) after the campaign, its VmHWM before it, and the
//       child's ru_maxrss (wait4).
//
// Output: tables, then one line per case:
//   BENCH bench=campaign N=<N> threads=<t> runs=<r> steps_per_s=... cpu_per_wall=...
//         speedup=... best_speedup=... steps_per_cpu_s=... efficiency=... probe=...
//   BENCH bench=memory runs=<r> vm_hwm_kib=... baseline_kib=... growth_kib=... ru_maxrss_kib=...
#include "engine/campaign/campaign.hpp"
#include "engine/core/schedule.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace plateau;

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const auto tv = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
    };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double wall_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// VmHWM (peak resident set) of this process, KiB, from /proc/self/status.
long vm_hwm_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0)
            return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

CampaignSpec make_spec(std::int64_t N, std::int64_t seeds, double alpha_max, int threads) {
    RunParams p;
    p.model.N = N; // K = M = 2, erf, identity output: the defaults
    p.schedule.alpha_max = alpha_max;
    validate(p);
    CampaignSpec spec;
    spec.points.push_back(GridPoint{p, {}, {}});
    spec.seeds = seeds;
    spec.master_seed = 7;
    spec.threads = threads;
    return spec;
}

std::vector<std::int64_t> all_runs(const CampaignSpec& spec) {
    std::vector<std::int64_t> runs(static_cast<std::size_t>(spec.runs()));
    std::iota(runs.begin(), runs.end(), std::int64_t{0});
    return runs;
}

/// A fingerprint of a run's last record: its bits, folded (FNV-1a).
std::uint64_t fingerprint(const RunResult& r) {
    std::uint64_t h = 1469598103934665603ULL;
    const auto fold = [&](const double* p, Eigen::Index n) {
        const auto* bytes = reinterpret_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < static_cast<std::size_t>(n) * sizeof(double); ++i)
            h = (h ^ bytes[i]) * 1099511628211ULL;
    };
    h ^= static_cast<std::uint64_t>(r.status);
    if (!r.records.empty()) {
        const Observables& o = r.records.back();
        fold(o.Q.data(), o.Q.size());
        fold(o.R.data(), o.R.size());
        fold(o.v.data(), o.v.size());
        fold(&o.eg, 1);
    }
    return h;
}

struct Timing {
    double wall = 0.0;
    double cpu = 0.0;
    std::vector<std::uint64_t> prints; ///< fingerprint by run index
};

Timing time_campaign(const CampaignSpec& spec) {
    const std::vector<std::int64_t> runs = all_runs(spec);
    Timing t;
    t.prints.assign(runs.size(), 0);
    const double w0 = wall_seconds();
    const double c0 = cpu_seconds();
    execute_campaign(spec, runs, [&](FinishedRun&& done) {
        t.prints[static_cast<std::size_t>(done.run)] = fingerprint(done.result);
    });
    t.wall = wall_seconds() - w0;
    t.cpu = cpu_seconds() - c0;
    return t;
}

/// What the machine gives this process right now: CPU time / wall time of two threads that
/// spin for `seconds` (2 when both cores are free; ~1 when other work takes one of them).
double probe_parallelism(double seconds = 0.3) {
    const double w0 = wall_seconds();
    const double c0 = cpu_seconds();
    std::vector<std::thread> spinners;
    for (int i = 0; i < 2; ++i)
        spinners.emplace_back([&] {
            volatile double x = 0.0;
            while (wall_seconds() - w0 < seconds)
                for (int k = 0; k < 10000; ++k)
                    x = x + 1.0;
        });
    for (std::thread& t : spinners)
        t.join();
    return (cpu_seconds() - c0) / (wall_seconds() - w0);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int throughput(int reps, std::int64_t seeds_100, std::int64_t seeds_1000, double alpha_max) {
    std::printf("Campaign throughput: K = M = 2, erf, alpha_max = %g, 100 log-spaced records; "
                "%d alternating repetitions of 1 and 2 threads (medians)\n",
                alpha_max, reps);
    std::printf("steps/s: all runs' steps over wall time; CPU/wall: getrusage CPU time over "
                "wall time;\nsteps/CPU-s: all runs' steps over CPU time; efficiency: steps/CPU-s "
                "with 2 threads over 1;\nprobe: CPU/wall of two spinning threads just before "
                "(what the machine gave this process)\n\n");
    std::printf("%6s %5s %3s | %11s %8s %8s | %8s %6s | %11s %6s | %5s\n", "N", "runs", "thr",
                "steps/s", "wall s", "CPU/wall", "speedup", "best", "steps/CPU-s", "effic.",
                "probe");
    bool identical = true;
    std::vector<std::string> lines;
    for (const auto& [N, seeds] :
         {std::pair{std::int64_t{100}, seeds_100}, std::pair{std::int64_t{1000}, seeds_1000}}) {
        const CampaignSpec one = make_spec(N, seeds, alpha_max, 1);
        const CampaignSpec two = make_spec(N, seeds, alpha_max, 2);
        const double steps =
            static_cast<double>(seeds) * static_cast<double>(record_step(alpha_max, N));
        std::vector<double> wall[2], ratio[2], per_cpu[2], speedups, probes;
        for (int r = 0; r < reps; ++r) {
            probes.push_back(probe_parallelism());
            const Timing a = time_campaign(one);
            const Timing b = time_campaign(two);
            identical = identical && a.prints == b.prints;
            for (const auto& [i, t] : {std::pair{0, &a}, std::pair{1, &b}}) {
                wall[i].push_back(t->wall);
                ratio[i].push_back(t->cpu / t->wall);
                per_cpu[i].push_back(steps / t->cpu);
            }
            speedups.push_back(a.wall / b.wall);
        }
        const double speedup = median(speedups);
        const double best = *std::max_element(speedups.begin(), speedups.end());
        const double efficiency = median(per_cpu[1]) / median(per_cpu[0]);
        const double probe = median(probes);
        for (const int i : {0, 1}) {
            const int threads = i + 1;
            const double w = median(wall[i]);
            char sp[3][16] = {"", "", ""};
            if (threads == 2) {
                std::snprintf(sp[0], sizeof sp[0], "%.3f", speedup);
                std::snprintf(sp[1], sizeof sp[1], "%.3f", best);
                std::snprintf(sp[2], sizeof sp[2], "%.3f", efficiency);
            }
            std::printf("%6ld %5ld %3d | %11.0f %8.3f %8.3f | %8s %6s | %11.0f %6s | %5.2f\n",
                        static_cast<long>(N), static_cast<long>(seeds), threads, steps / w, w,
                        median(ratio[i]), sp[0], sp[1], median(per_cpu[i]), sp[2], probe);
            char buf[400];
            std::snprintf(buf, sizeof buf,
                          "BENCH bench=campaign N=%ld threads=%d runs=%ld steps_per_s=%.6g "
                          "cpu_per_wall=%.4g speedup=%.4g best_speedup=%.4g "
                          "steps_per_cpu_s=%.6g efficiency=%.4g probe=%.3f",
                          static_cast<long>(N), threads, static_cast<long>(seeds), steps / w,
                          median(ratio[i]), threads == 1 ? 1.0 : speedup, threads == 1 ? 1.0 : best,
                          median(per_cpu[i]), threads == 1 ? 1.0 : efficiency, probe);
            lines.emplace_back(buf);
        }
        std::fflush(stdout);
    }
    std::printf("\nEvery run's last record bit-identical with 1 and 2 threads: %s\n\n",
                identical ? "yes" : "NO");
    for (const std::string& l : lines)
        std::printf("%s\n", l.c_str());
    return identical ? 0 : 1;
}

// Memory ------------------------------------------------------------------------------------

int memory_child(std::int64_t runs) {
    const long baseline = vm_hwm_kib();
    const CampaignSpec spec = make_spec(100, runs, 1.0, 0);
    std::int64_t finished = 0;
    execute_campaign(spec, all_runs(spec), [&](FinishedRun&& done) {
        finished += done.result.status == RunStatus::completed ? 1 : 0; // then discarded
    });
    std::printf("runs=%ld finished=%ld baseline_kib=%ld vm_hwm_kib=%ld\n", static_cast<long>(runs),
                static_cast<long>(finished), baseline, vm_hwm_kib());
    return finished == runs ? 0 : 1;
}

long field(const std::string& text, const std::string& key) {
    const auto pos = text.find(key + "=");
    return pos == std::string::npos ? -1
                                    : std::strtol(text.c_str() + pos + key.size() + 1, nullptr, 10);
}

/// Runs `self --memory-child runs` in a fresh process; returns its output and its rusage.
bool run_child(const std::string& self, std::int64_t runs, std::string& out, rusage& ru) {
    int fd[2];
    if (pipe(fd) != 0)
        return false;
    const pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        const std::string count = std::to_string(runs);
        const char* args[] = {self.c_str(), "--memory-child", count.c_str(), nullptr};
        execv(self.c_str(), const_cast<char* const*>(args));
        _exit(127);
    }
    close(fd[1]);
    char buf[256];
    ssize_t got = 0;
    while ((got = read(fd[0], buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(got));
    close(fd[0]);
    int status = 0;
    if (wait4(pid, &status, 0, &ru) != pid)
        return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int memory(const std::string& self, const std::vector<std::int64_t>& counts) {
    std::printf("Peak resident memory of a campaign of N = 100, alpha_max = 1 runs (100 records "
                "each), all cores, consumer discarding the results; a fresh process per case\n\n");
    std::printf("%8s | %12s %12s %12s | %14s\n", "runs", "VmHWM KiB", "before KiB", "growth KiB",
                "ru_maxrss KiB");
    std::vector<std::string> lines;
    int status = 0;
    for (const std::int64_t runs : counts) {
        std::string out;
        rusage ru{};
        const bool ok = run_child(self, runs, out, ru);
        const long hwm = field(out, "vm_hwm_kib");
        const long base = field(out, "baseline_kib");
        if (!ok || hwm < 0) {
            std::printf("%8ld | child failed: %s\n", static_cast<long>(runs), out.c_str());
            status = 1;
            continue;
        }
        std::printf("%8ld | %12ld %12ld %12ld | %14ld\n", static_cast<long>(runs), hwm, base,
                    hwm - base, static_cast<long>(ru.ru_maxrss));
        char line[200];
        std::snprintf(line, sizeof line,
                      "BENCH bench=memory runs=%ld vm_hwm_kib=%ld baseline_kib=%ld growth_kib=%ld "
                      "ru_maxrss_kib=%ld",
                      static_cast<long>(runs), hwm, base, hwm - base,
                      static_cast<long>(ru.ru_maxrss));
        lines.emplace_back(line);
    }
    std::printf("\n");
    for (const std::string& l : lines)
        std::printf("%s\n", l.c_str());
    return status;
}

std::vector<std::int64_t> parse_list(const std::string& s) {
    std::vector<std::int64_t> v;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ','))
        v.push_back(std::stoll(item));
    return v;
}

} // namespace

int main(int argc, char** argv) {
    int reps = 3;
    std::int64_t seeds_100 = 400;
    std::int64_t seeds_1000 = 16;
    double alpha_max = 300.0;
    bool mem = false;
    std::vector<std::int64_t> mem_runs{100, 1000, 10000};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--reps")
            reps = std::stoi(next());
        else if (a == "--seeds-100")
            seeds_100 = std::stoll(next());
        else if (a == "--seeds-1000")
            seeds_1000 = std::stoll(next());
        else if (a == "--alpha-max")
            alpha_max = std::stod(next());
        else if (a == "--memory")
            mem = true;
        else if (a == "--memory-runs")
            mem_runs = parse_list(next());
        else if (a == "--memory-child")
            return memory_child(std::stoll(next()));
        else {
            std::fprintf(stderr,
                         "usage: %s [--reps R] [--seeds-100 S] [--seeds-1000 S] [--alpha-max A] "
                         "| --memory [--memory-runs 100,1000,10000]\n",
                         argv[0]);
            return 2;
        }
    }
    if (mem)
        return memory(std::filesystem::read_symlink("/proc/self/exe").string(), mem_runs);
    return throughput(reps, seeds_100, seeds_1000, alpha_max);
}
