#include "cli/progress.hpp"

#include "engine/theory/theory.hpp"

#include <oneapi/tbb/info.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <utility>

namespace plateau::cli {

namespace {

std::chrono::milliseconds interval_of(double seconds, bool terminal) {
    if (seconds > 0.0)
        return std::max(std::chrono::milliseconds(1),
                        std::chrono::milliseconds(std::llround(seconds * 1000.0)));
    return terminal ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
}

} // namespace

Progress::Progress(std::int64_t runs, std::int64_t work, ProgressUnit unit, bool quiet,
                   double interval_seconds, const StepCounter* steps_done, Sink sink)
    : runs_total_(runs), work_total_(work), unit_(unit), quiet_(quiet), terminal_(isatty(2) != 0),
      interval_(interval_of(interval_seconds, terminal_)), steps_done_(steps_done),
      sink_(std::move(sink)), start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::run_done(std::int64_t work) {
    ++runs_done_;
    work_done_ += work;
    report_if_due();
}

void Progress::tick() {
    report_if_due();
}

void Progress::report_if_due() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ >= interval_) {
        last_ = now;
        report(false);
    }
}

std::int64_t Progress::work_done() const noexcept {
    // The counter has the steps inside unfinished runs too; a diverged run's steps stop short of
    // its work, which the finished runs' sum counts in full.
    if (steps_done_ == nullptr || unit_ == ProgressUnit::runs)
        return work_done_;
    return std::min(work_total_,
                    std::max(work_done_, steps_done_->load(std::memory_order_relaxed)));
}

void Progress::finish() {
    if (terminal_ || runs_done_ > 0 || sink_)
        report(true);
}

void Progress::report(bool final) {
    if (quiet_)
        return;
    const std::int64_t done = final ? work_done_ : work_done();
    const char* unit = unit_ == ProgressUnit::steps   ? "steps"
                       : unit_ == ProgressUnit::alpha ? "alpha"
                                                      : "runs";
    // alpha is counted in units of 1 / alpha_progress_scale.
    const double scale = unit_ == ProgressUnit::alpha ? 1.0 / alpha_progress_scale : 1.0;
    if (sink_) {
        sink_(static_cast<double>(done) * scale, static_cast<double>(work_total_) * scale, unit);
        return;
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(work_total_ - done) / rate : 0.0;
    char share[32] = "";
    if (unit_ != ProgressUnit::runs && work_total_ > 0)
        std::snprintf(
            share, sizeof share, ", %.0f%% of %s",
            std::floor(100.0 * static_cast<double>(done) / static_cast<double>(work_total_)), unit);
    const double shown = rate * scale; // alpha per second for alpha
    std::fprintf(stderr, "%s[%lld/%lld runs%s] %.3g %s/s, elapsed %s, %s %s%s",
                 terminal_ ? "\r" : "", static_cast<long long>(runs_done_),
                 static_cast<long long>(runs_total_), share, shown, unit,
                 format_duration(elapsed).c_str(), final ? "done" : "ETA",
                 final ? "" : (rate > 0 ? format_duration(eta) : std::string("unknown")).c_str(),
                 terminal_ && !final ? "   " : "\n");
}

std::string format_duration(double seconds) {
    // In double throughout: a campaign of N = 1e12 lasts more hours than an int holds.
    std::array<char, 64> buf{};
    constexpr double minute = 60.0;
    constexpr double hour = 3600.0;
    constexpr double day = 86400.0;
    constexpr double year = 365.25 * day;
    if (std::isnan(seconds) || seconds < 0.0)
        return "unknown";
    if (seconds < minute)
        std::snprintf(buf.data(), buf.size(), "%.1fs", seconds);
    else if (seconds < hour)
        std::snprintf(buf.data(), buf.size(), "%.0fm %02.0fs", std::floor(seconds / minute),
                      std::floor(std::fmod(seconds, minute)));
    else if (seconds < 2.0 * day)
        std::snprintf(buf.data(), buf.size(), "%.0fh %02.0fm", std::floor(seconds / hour),
                      std::floor(std::fmod(seconds, hour) / minute));
    else if (seconds < year)
        std::snprintf(buf.data(), buf.size(), "%.0fd %02.0fh", std::floor(seconds / day),
                      std::floor(std::fmod(seconds, day) / hour));
    else
        std::snprintf(buf.data(), buf.size(), "%.3g years", seconds / year);
    return buf.data();
}

int default_thread_count() {
    return oneapi::tbb::info::default_concurrency();
}

} // namespace plateau::cli
