#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>

namespace plateau::cli {

struct FixedPointReport; // cli/fixed_point_report.hpp

/// What a front end other than main() (the Python module, python/module.cpp) asks of a command.
/// Every member left empty gives the command line's behaviour.
struct CommandHooks {
    /// Receives the one-line error ("plateau run: ...") instead of stderr.
    std::function<void(const std::string&)> error;
    /// Receives the progress (work done and total, in `unit`: "steps", "alpha" or "runs") instead
    /// of the progress line on stderr, on the calling thread, every `progress_interval` seconds
    /// and once at the end.
    std::function<void(double done, double total, std::string_view unit)> progress;
    double progress_interval = 0.1;
    /// Polled on the calling thread every progress_interval: true stops the campaign with
    /// Interrupted once the runs in flight are written (the file stays resumable).
    std::function<bool()> interrupted;
    bool summary = true; ///< the summary table on stdout at the end
    /// `plateau ode --fixed-point`: receives each grid point's results instead of stdout.
    std::function<void(const FixedPointReport&)> fixed_point;
};

/// A campaign stopped by CommandHooks::interrupted. guarded() lets it through to the caller.
class Interrupted : public std::exception {
public:
    [[nodiscard]] const char* what() const noexcept override { return "interrupted"; }
};

/// `plateau run`: argv[0] is "run"; `command_line` is the whole invocation, for the output
/// file. Returns the process exit status (2 for bad input).
int run_command(int argc, char** argv, const std::string& command_line,
                const CommandHooks& hooks = {});

/// `plateau ode`: the N -> infinity theory of the same configuration.
int ode_command(int argc, char** argv, const std::string& command_line,
                const CommandHooks& hooks = {});

/// `plateau merge OUT PART...`: joins the files of a campaign's shards.
int merge_command(int argc, char** argv, const std::string& command_line);

[[nodiscard]] std::string version_text();

} // namespace plateau::cli
