// Boost.Program_options glue: the configuration keys as command-line options and INI entries.
#pragma once

#include "cli/config.hpp"

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace plateau::cli {

/// Usage errors (bad flag, bad key or value): one line, exit status 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// --key options for every configuration key, with default, unit and meaning in the help.
[[nodiscard]] boost::program_options::options_description key_options();

/// argv[1..argc) with each bare boolean flag given its value: "--learn-v" not followed by a
/// boolean word (true, false, yes, ...) becomes "--learn-v=true".
[[nodiscard]] std::vector<std::string> with_flag_values(int argc, const char* const* argv);

/// Throws ConfigError::unknown_key for the first option Program_options did not recognize,
/// naming the key, its value and the allowed keys (parse with allow_unregistered()).
void reject_unregistered(const boost::program_options::parsed_options& parsed);

/// Applies the 'key = value' lines of INI `text` (read from `path`, for messages) to `config`:
/// '#' and ';' start comments, lines end in \n, \r\n or \r, a leading BOM is skipped.
/// UsageError naming path:line for a malformed line or a bad value, and naming both lines for a
/// key set twice (a sweep is one list, `eta = 0.5, 0.9`; only the command line overrides).
void read_ini_text(std::string text, const std::string& path, Configuration& config);

/// Reads the optional INI file, then applies the command-line keys over it.
/// `parsed` holds what Program_options parsed from the command line.
[[nodiscard]] Configuration
read_configuration(const std::string& config_file,
                   const boost::program_options::parsed_options& parsed);

} // namespace plateau::cli
