// Errors the engine reports about its input.
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace plateau {

/// `text` as it may stand inside a one-line message: printable ASCII is kept, every other byte
/// (control bytes, NUL, a byte-order mark, the bytes of non-ASCII characters) is written as
/// \xNN, and a text longer than `max` characters is cut, saying how long it was. Messages quote
/// user input through this, so an error is always one readable line.
[[nodiscard]] inline std::string printable(std::string_view text, std::size_t max = 80) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f) {
            out += ch;
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
        if (out.size() > max) {
            out.resize(max > 3 ? max - 3 : 0);
            out += "... (" + std::to_string(text.size()) + " bytes)";
            break;
        }
    }
    return out;
}

/// A number as messages and the configuration write it: its shortest round-trip form (0.2, not
/// 0.20000000000000001).
[[nodiscard]] inline std::string number_text(double x) {
    std::array<char, 32> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), x);
    return std::string(buf.data(), res.ptr);
}

/// A configuration value that is not allowed. what() is one line naming the key, the value and
/// what is allowed, e.g. "invalid value '-1' for 'eta': allowed is a finite number > 0".
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string key, std::string value, std::string allowed)
        : std::runtime_error("invalid value '" + printable(value) + "' for '" + printable(key) +
                             "': allowed is " + allowed),
          key_(std::move(key)), value_(std::move(value)), allowed_(std::move(allowed)) {}

    /// An unknown key: "unknown key 'foo' (value '3'): allowed keys are N, K, ...", or with the
    /// key it was probably meant for, "unknown key 'eat' (value '3'): did you mean 'eta'?
    /// allowed keys are ...".
    [[nodiscard]] static ConfigError unknown_key(std::string key, std::string value,
                                                 const std::string& known,
                                                 std::string_view suggestion = {}) {
        return ConfigError(std::move(key), std::move(value), known, suggestion, Unknown{});
    }

    [[nodiscard]] const std::string& key() const noexcept { return key_; }
    [[nodiscard]] const std::string& value() const noexcept { return value_; }
    [[nodiscard]] const std::string& allowed() const noexcept { return allowed_; }

private:
    struct Unknown {};
    ConfigError(std::string key, std::string value, const std::string& known,
                std::string_view suggestion, Unknown)
        : std::runtime_error(
              "unknown key '" + printable(key) + "' (value '" + printable(value) + "'): " +
              (suggestion.empty() ? std::string{}
                                  : "did you mean '" + printable(suggestion) + "'? ") +
              "allowed keys are " + known),
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
