// Progress reporting on stderr: a line redrawn in place on a terminal, a log line every few
// seconds otherwise, nothing with --quiet.
#pragma once

#include "engine/run/run.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace plateau::cli {

/// What the rate and the ETA count: simulation steps, whole runs, or the theory's integrated
/// alpha (in units of 1 / alpha_progress_scale, engine/theory/theory.hpp).
enum class ProgressUnit { steps, runs, alpha };

class Progress {
public:
    /// `work`: the total in `unit`s; run_done(w) adds w of them. `interval_seconds`: between
    /// two lines (0: 0.2 s on a terminal, 5 s otherwise). `steps_done` (optional, unit steps):
    /// the steps (or alpha) of all runs so far, finished or not, which tick() reports.
    /// `sink` (optional): receives each report (work done and total, in `unit`'s name;
    /// alpha in units of alpha) instead of the line on stderr.
    using Sink = std::function<void(double done, double total, std::string_view unit)>;
    Progress(std::int64_t runs, std::int64_t work, ProgressUnit unit, bool quiet,
             double interval_seconds = 0.0, const StepCounter* steps_done = nullptr,
             Sink sink = {});
    void run_done(std::int64_t work);
    /// Between finished runs (the campaign's heartbeat): a line if the interval has passed.
    void tick();
    void finish();
    /// How often a line is due.
    [[nodiscard]] std::chrono::milliseconds interval() const noexcept { return interval_; }

private:
    void report_if_due();
    void report(bool final);
    [[nodiscard]] std::int64_t work_done() const noexcept;

    std::int64_t runs_total_;
    std::int64_t work_total_;
    ProgressUnit unit_;
    std::int64_t runs_done_ = 0;
    std::int64_t work_done_ = 0; ///< the work of the finished runs
    bool quiet_;
    bool terminal_;
    std::chrono::milliseconds interval_;
    const StepCounter* steps_done_;
    Sink sink_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_;
};

/// "12.3s", "3m 05s", "1h 02m", "3d 04h", "1.2e+03 years"; "unknown" for NaN or negative.
[[nodiscard]] std::string format_duration(double seconds);
/// Worker threads when --threads is 0: the cores oneTBB may use.
[[nodiscard]] int default_thread_count();

} // namespace plateau::cli
