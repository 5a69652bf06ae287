// CPU time of the calling thread and of the process (clock_gettime), for the probes that time
// work: a probe preempted by other work on a shared machine is not charged for the time it
// waited (engine/campaign/cost_model.cpp, engine/io/write_probe.cpp).
#pragma once

#include <time.h>

namespace plateau {

/// CPU time of the calling thread, in seconds.
[[nodiscard]] inline double thread_cpu_seconds() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// CPU time of the process, all threads (a campaign's workers too), in seconds.
[[nodiscard]] inline double process_cpu_seconds() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

} // namespace plateau
