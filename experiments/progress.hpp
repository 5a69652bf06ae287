// Progress reporting on stderr: a line redrawn in place on a terminal, a log line every few
// seconds otherwise, nothing with --quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace plateau::cli {

/// What the rate and the ETA count: simulation steps, or whole runs (theory).
enum class ProgressUnit { steps, runs };

class Progress {
public:
    /// `work`: the total in `unit`s; run_done(w) adds w of them.
    Progress(std::int64_t runs, std::int64_t work, ProgressUnit unit, bool quiet);
    void run_done(std::int64_t work);
    void finish();

private:
    void report(bool final);

    std::int64_t runs_total_;
    std::int64_t work_total_;
    ProgressUnit unit_;
    std::int64_t runs_done_ = 0;
    std::int64_t work_done_ = 0;
    bool quiet_;
    bool terminal_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_;
};

/// "1h 02m", "3m 05s", "12.3s".
[[nodiscard]] std::string format_duration(double seconds);
/// Worker threads when --threads is 0: the cores oneTBB may use.
[[nodiscard]] int default_thread_count();

} // namespace plateau::cli
