#include "experiments/progress.hpp"

#include <oneapi/tbb/info.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace plateau::cli {

Progress::Progress(std::int64_t runs, std::int64_t work, ProgressUnit unit, bool quiet)
    : runs_total_(runs), work_total_(work), unit_(unit), quiet_(quiet), terminal_(isatty(2) != 0),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::run_done(std::int64_t work) {
    ++runs_done_;
    work_done_ += work;
    const auto now = std::chrono::steady_clock::now();
    const auto interval = terminal_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5);
    if (now - last_ >= interval) {
        last_ = now;
        report(false);
    }
}

void Progress::finish() {
    if (terminal_ || runs_done_ > 0)
        report(true);
}

void Progress::report(bool final) {
    if (quiet_)
        return;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(work_done_) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(work_total_ - work_done_) / rate : 0.0;
    std::fprintf(stderr, "%s[%lld/%lld runs] %.3g %s/s, elapsed %s, %s %s%s", terminal_ ? "\r" : "",
                 static_cast<long long>(runs_done_), static_cast<long long>(runs_total_), rate,
                 unit_ == ProgressUnit::steps ? "steps" : "runs", format_duration(elapsed).c_str(),
                 final ? "done" : "ETA", final ? "" : format_duration(eta).c_str(),
                 terminal_ && !final ? "   " : "\n");
}

std::string format_duration(double seconds) {
    char buf[64];
    if (seconds < 60)
        std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    else if (seconds < 3600)
        std::snprintf(buf, sizeof buf, "%dm %02ds", static_cast<int>(seconds / 60),
                      static_cast<int>(std::fmod(seconds, 60)));
    else
        std::snprintf(buf, sizeof buf, "%dh %02dm", static_cast<int>(seconds / 3600),
                      static_cast<int>(std::fmod(seconds, 3600) / 60));
    return buf;
}

int default_thread_count() {
    return oneapi::tbb::info::default_concurrency();
}

} // namespace plateau::cli
