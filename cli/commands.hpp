#pragma once

#include <string>

namespace plateau::cli {

/// `plateau run`: argv[0] is "run"; `command_line` is the whole invocation, for the output
/// file. Returns the process exit status (2 for bad input).
int run_command(int argc, char** argv, const std::string& command_line);

/// `plateau ode`: the N -> infinity theory of the same configuration.
int ode_command(int argc, char** argv, const std::string& command_line);

/// `plateau merge OUT PART...`: joins the files of a campaign's shards.
int merge_command(int argc, char** argv, const std::string& command_line);

[[nodiscard]] std::string version_text();

} // namespace plateau::cli
