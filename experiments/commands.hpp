#pragma once

#include <string>

namespace plateau::cli {

/// `plateau run`: argv[0] is "run". Returns the process exit status.
int run_command(int argc, char** argv);

[[nodiscard]] std::string version_text();

} // namespace plateau::cli
