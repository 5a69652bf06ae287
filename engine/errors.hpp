// Errors the engine reports about its input.
#pragma once

#include <stdexcept>
#include <string>

namespace plateau {

/// A configuration value that is not allowed. what() is one line naming the key, the value and
/// what is allowed, e.g. "invalid value '-1' for 'eta': allowed is a finite number > 0".
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string key, std::string value, std::string allowed)
        : std::runtime_error("invalid value '" + value + "' for '" + key + "': allowed is " +
                             allowed),
          key_(std::move(key)), value_(std::move(value)), allowed_(std::move(allowed)) {}

    /// An unknown key: "unknown key 'foo' (value '3'): allowed keys are N, K, ...".
    [[nodiscard]] static ConfigError unknown_key(std::string key, std::string value,
                                                 const std::string& known) {
        return ConfigError(std::move(key), std::move(value), known, Unknown{});
    }

    [[nodiscard]] const std::string& key() const noexcept { return key_; }
    [[nodiscard]] const std::string& value() const noexcept { return value_; }
    [[nodiscard]] const std::string& allowed() const noexcept { return allowed_; }

private:
    struct Unknown {};
    ConfigError(std::string key, std::string value, const std::string& known, Unknown)
        : std::runtime_error("unknown key '" + key + "' (value '" + value +
                             "'): allowed keys are " + known),
          key_(std::move(key)), value_(std::move(value)), allowed_(known) {}

    std::string key_;
    std::string value_;
    std::string allowed_;
};

/// An output path that cannot be used as asked: it exists (and neither overwrite nor resume was
/// asked), its directory is not writable, or the file to resume belongs to another campaign.
class OutputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace plateau
