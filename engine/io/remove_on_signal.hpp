// Files that must not outlive a process killed by a signal: the temporary `.NAME.part-PID` of a
// campaign file being created or merged, the lock file of an output in use. While a
// RemoveOnSignal guard lives, every signal whose default action ends the process (SIGHUP, SIGINT,
// SIGQUIT, SIGTERM, SIGUSR1/2, SIGPIPE, SIGALRM, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO,
// SIGPWR, SIGSYS, the real-time signals, and the faults SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT)
// first removes the guarded files, then ends the process as it would have (same signal, same
// exit status, core dump where the signal makes one). SIGKILL cannot be caught: what it leaves
// is cleaned up by the next run (stale_part_files) or is harmless (a lock file no process
// holds).
#pragma once

#include <filesystem>
#include <span>

namespace plateau {

/// The signals a RemoveOnSignal guard handles (those whose default action ends the process).
[[nodiscard]] std::span<const int> terminating_signals() noexcept;

/// Removes `path` if a terminating signal arrives while the guard lives. The handler only
/// makes async-signal-safe calls (unlink() of paths prepared before it was installed,
/// sigaction(), raise()). A signal that is ignored, or that another part of the program handles,
/// is left alone (it does not end the process by default action). At most a few guards live at
/// once (a file being created inside a merge, and the lock); a guard that finds no free slot or
/// a path too long guards nothing, and the caller's other paths still remove the file.
/// Create and destroy guards from one thread.
class RemoveOnSignal {
public:
    explicit RemoveOnSignal(const std::filesystem::path& path) noexcept;
    RemoveOnSignal(const RemoveOnSignal&) = delete;
    RemoveOnSignal& operator=(const RemoveOnSignal&) = delete;
    RemoveOnSignal(RemoveOnSignal&&) = delete;
    RemoveOnSignal& operator=(RemoveOnSignal&&) = delete;
    ~RemoveOnSignal();

    /// The path is no longer to be removed (it was moved into place, or removed already).
    void release() noexcept;

private:
    int slot_ = -1;
};

} // namespace plateau
