#include "cli/options.hpp"

#include "engine/core/errors.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

namespace plateau::cli {

namespace po = boost::program_options;

po::options_description key_options() {
    po::options_description desc("Configuration keys (also valid in CONFIG.ini as 'key = value';\n"
                                 "numeric and name keys take lists 'a, b, c' or ranges\n"
                                 "linspace(a, b, n) / logspace(a, b, n))");
    for (const auto& k : keys()) {
        std::string help(k.help);
        if (const auto& choices = k.choices(); !choices.empty()) {
            help += " [";
            for (std::size_t i = 0; i < choices.size(); ++i)
                help += (i ? "|" : "") + std::string(choices[i]);
            help += "]";
        }
        if (k.type() == ValueType::widths)
            help += " (several hidden layers: widths from the input up, 8x4)";
        if (!k.unit.empty())
            help += " (unit: " + std::string(k.unit) + ")";
        help += k.default_value.empty() ? std::string{}
                                        : " (default: " + std::string(k.default_value) + ")";
        desc.add_options()(std::string(k.name).c_str(), po::value<std::string>(), help.c_str());
    }
    return desc;
}

namespace {

/// The largest configuration file read: far above any real one, far below /dev/zero.
constexpr std::uintmax_t max_config_bytes = 1 << 20;

/// INI reader: 'key = value' lines, '#' or ';' comments (whole-line or after a value), no
/// sections. Program_options'
/// parse_config_file would do, but its messages do not name the file line, and lists with
/// commas are values here, not repeated options.
void read_ini(const std::string& path, Configuration& config) {
    // Only a regular file of bounded size: a directory would read as empty (the defaults would
    // run), /dev/zero would never end, a FIFO would block before the first byte.
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec == std::errc::too_many_symbolic_link_levels)
        throw UsageError("cannot read configuration file '" + path +
                         "': it is a loop of symbolic links");
    if (ec && ec != std::errc::no_such_file_or_directory)
        throw UsageError("cannot read configuration file '" + path + "': " + ec.message());
    if (ec || !std::filesystem::exists(status))
        throw UsageError("cannot read configuration file '" + path + "': it does not exist");
    if (!std::filesystem::is_regular_file(status))
        throw UsageError("configuration file '" + path +
                         "' is not a regular file (a directory, device or FIFO): allowed is an "
                         "INI file of 'key = value' lines");
    if (const auto size = std::filesystem::file_size(path, ec); !ec && size > max_config_bytes)
        throw UsageError("configuration file '" + path + "' has " + std::to_string(size) +
                         " bytes: allowed is at most " + std::to_string(max_config_bytes));
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw UsageError("cannot read configuration file '" + path + "'");
    read_ini_text(
        std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()), path,
        config);
}

} // namespace

void read_ini_text(std::string text, const std::string& path, Configuration& config) {
    if (text.starts_with("\xef\xbb\xbf"))
        text.erase(0, 3); // a UTF-8 byte-order mark, as some editors write
    // Lines end in \n, \r\n or a bare \r (old Mac editors): all three are line ends.
    std::string unified;
    unified.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
            continue; // \r\n: the \n that follows ends the line
        unified += text[i] == '\r' ? '\n' : text[i];
    }
    std::istringstream lines(unified);
    std::string line;
    int number = 0;
    // The line that set each key: a key set twice in one file is refused, not overridden (it is
    // almost always a sweep meant as a list). The command line still overrides the file.
    std::map<std::string, int, std::less<>> set_on;
    while (std::getline(lines, line)) {
        ++number;
        // No value contains '#' or ';': either starts a comment.
        const std::string t = trim(std::string_view(line).substr(0, line.find_first_of("#;")));
        if (t.empty())
            continue;
        const auto eq = t.find('=');
        if (eq == std::string::npos || t[0] == '[')
            throw UsageError(path + ":" + std::to_string(number) +
                             ": expected 'key = value', got '" + printable(t, 200) + "'");
        const std::string key = trim(t.substr(0, eq));
        if (const auto first = set_on.find(key); first != set_on.end())
            throw UsageError(path + ":" + std::to_string(number) + ": key '" + printable(key) +
                             "' is set twice, on lines " + std::to_string(first->second) + " and " +
                             std::to_string(number) +
                             ": allowed is one line per key (a sweep is one list: '" +
                             printable(key) + " = a, b, c')");
        try {
            config.set(key, trim(t.substr(eq + 1)));
            set_on.emplace(key, number);
        } catch (const ConfigError& e) {
            throw UsageError(path + ":" + std::to_string(number) + ": " + e.what());
        }
    }
}

std::vector<std::string> with_flag_values(int argc, const char* const* argv) {
    std::vector<std::string> out;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.starts_with("--") && arg.find('=') == std::string::npos) {
            const KeyInfo* k = find_key(std::string_view(arg).substr(2));
            // The next argument is this flag's value if it reads as one: "false", or per layer
            // "false:true".
            const auto is_value = [](std::string_view next) {
                for (std::size_t start = 0;;) {
                    const auto end = next.find(layer_separator, start);
                    if (!parse_bool(next.substr(start, end - start)))
                        return false;
                    if (end == std::string_view::npos)
                        return true;
                    start = end + 1;
                }
            };
            // An empty argument ("--learn-v ''") is a value too, and refused as one: taken
            // for the flag's absence it would mean true.
            const bool valued = i + 1 < argc && (*argv[i + 1] == '\0' || is_value(argv[i + 1]));
            if (k != nullptr &&
                (k->type() == ValueType::boolean || k->type() == ValueType::layer_booleans) &&
                !valued)
                arg += "=true";
        }
        out.push_back(std::move(arg));
    }
    return out;
}

void reject_unregistered(const po::parsed_options& parsed) {
    const auto& options = parsed.options;
    for (std::size_t i = 0; i < options.size(); ++i) {
        const auto& opt = options[i];
        if (!opt.unregistered)
            continue;
        const std::string token =
            opt.original_tokens.empty() ? opt.string_key : opt.original_tokens.front();
        if (!token.starts_with("--") && !token.starts_with("-"))
            throw UsageError("unexpected argument '" + token +
                             "': allowed is one CONFIG.ini file and --key value options");
        std::string key = token.substr(token.find_first_not_of('-'));
        std::string value = opt.original_tokens.size() > 1 ? opt.original_tokens[1] : "";
        // "--etaa 0.1": the value was taken for a positional argument.
        if (value.empty() && i + 1 < options.size() && options[i + 1].position_key >= 0 &&
            !options[i + 1].original_tokens.empty())
            value = options[i + 1].original_tokens.front();
        if (const auto eq = key.find('='); eq != std::string::npos) {
            value = key.substr(eq + 1);
            key = key.substr(0, eq);
        }
        // Did you mean: a configuration key or one of the command's own options (--overwrite).
        std::vector<std::string> own;
        if (parsed.description != nullptr)
            for (const auto& option : parsed.description->options())
                if (std::string name = option->long_name();
                    !name.empty() && find_key(name) == nullptr)
                    own.push_back(std::move(name));
        std::vector<std::string_view> names = key_name_list();
        names.insert(names.end(), own.begin(), own.end());
        throw ConfigError::unknown_key(key, value, key_names() + " (and the options of --help)",
                                       closest_name(key, names));
    }
}

Configuration read_configuration(const std::string& config_file, const po::parsed_options& parsed) {
    Configuration config;
    if (!config_file.empty())
        read_ini(config_file, config);
    for (const auto& opt : parsed.options) {
        if (find_key(opt.string_key) == nullptr || opt.value.empty())
            continue;
        config.set(opt.string_key, opt.value.back());
    }
    return config;
}

} // namespace plateau::cli
