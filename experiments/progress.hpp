// Progress reporting on stderr: a line redrawn in place on a terminal, a log line every few
// seconds otherwise, nothing with --quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace plateau::cli {

class Progress {
public:
    Progress(std::int64_t runs, std::int64_t steps, bool quiet);
    void run_done(std::int64_t steps);
    void finish();

private:
    void report(bool final);

    std::int64_t runs_total_;
    std::int64_t steps_total_;
    std::int64_t runs_done_ = 0;
    std::int64_t steps_done_ = 0;
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
