// Configuration keys of `plateau run`: their registry, sweep syntax and expansion into the
// engine's plain structs. Program_options reads files and command lines (cli.cpp); this file
// knows what the keys mean.
#pragma once

#include "engine/campaign.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace plateau::cli {

enum class ValueType { integer, real, boolean, choice };

struct KeyInfo {
    std::string_view name;
    ValueType type;
    std::string_view default_value;
    std::string_view unit;
    std::string_view help;
    std::vector<std::string_view> choices; ///< for ValueType::choice
    bool sweepable = true;                 ///< may hold a list or a range
};

/// Every configuration key, in the documented order. The campaign's grid is the Cartesian
/// product of the swept keys in this order, the last one varying fastest, then the seeds.
[[nodiscard]] const std::vector<KeyInfo>& keys();
[[nodiscard]] const KeyInfo* find_key(std::string_view name) noexcept;

/// Key -> values (canonical text), for the keys that were set; the others take their default.
class Configuration {
public:
    /// Parses `text` for `key`: a value, a comma-separated list, linspace(a, b, n) or
    /// logspace(a, b, n) (n points from a to b, geometrically spaced). Throws ConfigError for an
    /// unknown key, a malformed value or list, or a list given to a key that cannot be swept.
    void set(std::string_view key, std::string_view text);

    [[nodiscard]] bool is_set(std::string_view key) const;
    /// The values of `key` (its default when unset).
    [[nodiscard]] std::vector<std::string> values(std::string_view key) const;
    /// The single value of a key that cannot be swept.
    [[nodiscard]] std::string value(std::string_view key) const;

    /// The fully resolved configuration as INI text that reproduces it: every key, defaults
    /// included, in registry order. IniScope::results leaves out what cannot change results
    /// (the thread count): that text identifies a campaign in its output file.
    enum class IniScope { everything, results };
    [[nodiscard]] std::string to_ini(IniScope scope = IniScope::everything) const;

    /// Grid points x seeds, ready for the engine. Validates every grid point.
    [[nodiscard]] CampaignSpec expand() const;

private:
    std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

/// `s` without leading and trailing white space.
[[nodiscard]] std::string trim(std::string_view s);

/// Shortest text that reads back as exactly x.
[[nodiscard]] std::string format_number(double x);

} // namespace plateau::cli
