// Configuration keys of `plateau run` and `plateau ode`: their registry, sweep syntax and
// expansion into the engine's plain structs. Program_options reads files and command lines
// (options.cpp); this file knows what the keys mean.
#pragma once

#include "engine/campaign/campaign.hpp"
#include "engine/core/errors.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace plateau::cli {

/// What a key's setter writes: the parameters of one run, or the campaign's own fields
/// (seeds, seed, threads).
struct KeyTarget {
    RunParams& run;
    CampaignSpec& campaign;
};

/// The kinds of key, each with its allowed values and a setter. The setter receives a
/// value already checked against the allowed values.
/// A number key may also take one word for a value that is not a number (batch = all,
/// train-set = none): `word` (empty: none) and its setter.
struct IntegerKey {
    IntRange range{};
    void (*set)(KeyTarget, std::int64_t) = nullptr;
    std::string_view word{};
    void (*set_word)(KeyTarget) = nullptr;
};
struct RealKey {
    RealRange range = RealRange::finite;
    void (*set)(KeyTarget, double) = nullptr;
    std::string_view word{};
    void (*set_word)(KeyTarget) = nullptr;
};
/// Hidden-layer widths from the input up: "3" (one layer) or "8x4"; each in `range`.
struct WidthsKey {
    IntRange range{};
    void (*set)(KeyTarget, std::vector<int>) = nullptr;
};
struct BooleanKey {
    void (*set)(KeyTarget, bool) = nullptr;
};
/// A setting of the layers above the first of a deeper student (docs/theory.md §12): one value
/// for every layer ("0.5") or one per layer from W_2 up ("0.5:0.2"), each in `range`. ":" keeps a
/// list apart from the "," of a sweep and from the "x" of the widths (layer_separator,
/// engine/core/run_params.hpp).
struct LayerRealsKey {
    RealRange range = RealRange::finite;
    void (*set)(KeyTarget, std::vector<double>) = nullptr;
};
/// The same for flags: "true" or "true:false".
struct LayerBooleansKey {
    void (*set)(KeyTarget, std::vector<bool>) = nullptr;
};

struct ChoiceKey {
    std::vector<std::string_view> choices{}; ///< canonical names, for help and errors
    /// The canonical name for a token (aliases included), or nullopt if it is not a choice.
    /// nullptr: only the names in `choices` are accepted.
    std::optional<std::string> (*canonical)(std::string_view token) = nullptr;
    void (*set)(KeyTarget, std::string_view canonical_name) = nullptr;
    /// What may be given, for help and errors, when `choices` are examples of a form rather
    /// than every value (eta-schedule); empty: "one of" the choices.
    std::string_view allowed{};
};

/// The order of KeyInfo::kind.
enum class ValueType { integer, real, widths, boolean, choice, layer_reals, layer_booleans };

/// How a key appears in the results INI (Configuration::IniScope::results), the text whose
/// SHA-256 identifies a campaign in its output file (config_sha256) and lets --resume accept it.
/// That text must not change for an existing configuration, so a key added after files exist
/// is `unless_default`.
enum class Hashed {
    always,         ///< listed with its value, default or not (the keys of the first files)
    unless_default, ///< listed only when set to a value other than its default
    never,          ///< cannot change results (threads): never listed
};

/// One configuration key: everything about it is here and nowhere else.
struct KeyInfo {
    std::string_view name{};
    std::string_view default_value{}; ///< empty: none (see `follows`)
    /// A key without a default may follow an earlier key: unless set, it takes that key's value
    /// at each grid point (eta-v follows eta).
    std::string_view follows{};
    std::string_view unit{};
    std::string_view help{};
    bool sweepable = true;          ///< may hold a list or a range
    bool always_coordinate = false; ///< a per-run coordinate of the output even when not swept
    Hashed hashed = Hashed::always;
    /// The fields its setter writes, "run.<path>" in RunParams or "campaign.<field>" in
    /// CampaignSpec, e.g. "run.model.N". tests/test_keys.cpp checks that setting the key changes
    /// exactly these fields.
    std::vector<std::string_view> fields{};
    std::variant<IntegerKey, RealKey, WidthsKey, BooleanKey, ChoiceKey, LayerRealsKey,
                 LayerBooleansKey>
        kind{};

    [[nodiscard]] ValueType type() const noexcept { return static_cast<ValueType>(kind.index()); }
    /// The choices of a choice key; empty for the others.
    [[nodiscard]] const std::vector<std::string_view>& choices() const noexcept;
    /// What a value may be, for help and error messages: "a finite number > 0", "one of ...".
    [[nodiscard]] std::string allowed_values() const;
};

/// Every configuration key, in the documented order. The campaign's grid is the Cartesian
/// product of the swept keys in this order, the last one varying fastest, then the seeds.
[[nodiscard]] const std::vector<KeyInfo>& keys();
[[nodiscard]] const KeyInfo* find_key(std::string_view name) noexcept;
/// "N, K, M, ...": every key name, for error messages.
[[nodiscard]] std::string key_names();

/// The name among `names` that the unknown `typo` was most likely meant for ("did you mean"):
/// one that differs only in case or in '_' for '-' (alpha_max for alpha-max), else the nearest
/// by edit distance (insertions, deletions, substitutions and swaps of adjacent characters, case
/// and '_'/'-' ignored) if at most max(1, size/3) edits away (eat for eta, etaa for eta); the
/// first in `names` on a tie; empty if none is that close.
[[nodiscard]] std::string_view closest_name(std::string_view typo,
                                            const std::vector<std::string_view>& names);
/// Every key name, in registry order (the candidates of closest_name for a key).
[[nodiscard]] std::vector<std::string_view> key_name_list();

/// Writes one canonical value of `key` (as Configuration::values returns it) into `target`.
void apply(const KeyInfo& key, std::string_view canonical_value, KeyTarget target);

/// "true", "1", "yes", "on" -> true; "false", "0", "no", "off" -> false; otherwise nullopt.
[[nodiscard]] std::optional<bool> parse_bool(std::string_view s) noexcept;

/// Whether `key` with these values is a line of the INI text of `scope`.
enum class IniScope { everything, results };
[[nodiscard]] bool in_ini(const KeyInfo& key, const std::vector<std::string>& values,
                          IniScope scope);

/// Key -> values (canonical text), for the keys that were set; the others take their default.
class Configuration {
public:
    /// Parses `text` for `key`: a value, a comma-separated list, linspace(a, b, n) or
    /// logspace(a, b, n) (n points from a to b, geometrically spaced). Throws ConfigError for an
    /// unknown key, a malformed or out-of-range value or list, or a list given to a key that
    /// cannot be swept.
    void set(std::string_view key, std::string_view text);

    /// The values of `key` (its default when unset).
    [[nodiscard]] std::vector<std::string> values(std::string_view key) const;
    /// The single value of a key that cannot be swept.
    [[nodiscard]] std::string value(std::string_view key) const;
    /// Whether some value of `key` (its default when unset) satisfies `pred`: the grid is the
    /// product of the keys' values, so each value occurs at some grid point.
    [[nodiscard]] bool any_value(std::string_view key,
                                 const std::function<bool(const std::string&)>& pred) const;
    /// Whether some value of the widths key `key` (K or M) is a deeper network ("8x4").
    [[nodiscard]] bool any_layered(std::string_view key) const;

    /// The fully resolved configuration as INI text that reproduces it: every key, defaults
    /// included, in registry order; with IniScope::everything, an unset key that follows
    /// another is named in a comment ("# eta-v follows eta"). IniScope::results leaves out what
    /// cannot change results (Hashed::never) and later keys at their default
    /// (Hashed::unless_default): that text identifies a campaign in its output file.
    using IniScope = cli::IniScope;
    [[nodiscard]] std::string to_ini(IniScope scope = IniScope::everything) const;

    /// A key the user set (in the file or on the command line) to a value other than its
    /// default that has no effect at any grid point of this configuration (sampling without a
    /// training set, eta-layers or learn-layers on a student with one hidden layer, ...; the
    /// rules are listed in the definition): the error naming the key, its value and why, or
    /// nullopt. Keys left at their default, and keys that act at some point of a sweep (eta-layers
    /// with K = 2, 4x2), are never refused.
    [[nodiscard]] std::optional<ConfigError> ineffective_key() const;

    /// Grid points x seeds, ready for the engine. Validates every grid point.
    [[nodiscard]] CampaignSpec expand() const;
    /// The number of grid points expand() makes, counted without making them (ConfigError
    /// beyond 2^40 runs, as expand()): O(grid description), whatever the grid's size.
    [[nodiscard]] std::int64_t grid_points() const;
    /// expand() of at most `max_points` grid points: all of them if there are no more, else a
    /// sample of them spread over every key's values (the indices of a golden-ratio sequence),
    /// for the estimates of --dry-run and of the check before expand() at any grid size. Only
    /// the sampled points are validated.
    [[nodiscard]] CampaignSpec expand_sample(std::int64_t max_points) const;

private:
    std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

/// `s` without leading and trailing white space.
[[nodiscard]] std::string trim(std::string_view s);

} // namespace plateau::cli
