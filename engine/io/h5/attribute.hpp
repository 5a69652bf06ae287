// Attributes of the HDF5 layer, in netCDF's representation (text as NC_CHAR, numbers as 1-D
// arrays).
#pragma once

#include "engine/io/h5/object.hpp"

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace plateau::h5 {

// Attributes (on groups, the root group and datasets). Setting replaces an existing attribute.

/// Text (NC_CHAR): scalar fixed-length NUL-terminated string, ASCII if it is, else UTF-8. No
/// embedded NUL. Strings shorter than 2 bytes are NUL-padded to 2 bytes, so that h5py/h5netcdf
/// decode them as text rather than as a char array.
void set_attribute(const Object& object, std::string_view name, std::string_view value);
/// One float64 (1-element array, as netCDF-C writes it).
void set_attribute(const Object& object, std::string_view name, double value);
/// One int64 (1-element array).
void set_attribute(const Object& object, std::string_view name, std::int64_t value);
/// Any other integer (not bool) is written as int64.
template <std::integral I>
requires(!std::same_as<I, bool> &&
         !std::same_as<I, std::int64_t>) void set_attribute(const Object& object,
                                                            std::string_view name, I value);
void set_attribute(const Object& object, std::string_view name, const std::vector<double>& values);
void set_attribute(const Object& object, std::string_view name,
                   const std::vector<std::int64_t>& values);
/// int8 array, e.g. CF flag_values of an int8 variable.
void set_attribute(const Object& object, std::string_view name,
                   const std::vector<std::int8_t>& values);

[[nodiscard]] bool has_attribute(const Object& object, std::string_view name);
/// Reads a text attribute (fixed-length or variable-length string); nullopt if absent.
[[nodiscard]] std::optional<std::string> get_string_attribute(const Object& object,
                                                              std::string_view name);
/// Reads a single-element integer attribute; nullopt if absent.
[[nodiscard]] std::optional<std::int64_t> get_int64_attribute(const Object& object,
                                                              std::string_view name);
/// Reads a single-element numeric attribute; nullopt if absent.
[[nodiscard]] std::optional<double> get_double_attribute(const Object& object,
                                                         std::string_view name);
[[nodiscard]] std::optional<std::vector<double>> get_double_array_attribute(const Object& object,
                                                                            std::string_view name);
[[nodiscard]] std::optional<std::vector<std::int64_t>>
get_int64_array_attribute(const Object& object, std::string_view name);

template <std::integral I>
requires(!std::same_as<I, bool> &&
         !std::same_as<I, std::int64_t>) void set_attribute(const Object& object,
                                                            std::string_view name, I value) {
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(std::int64_t)) {
        if (value > static_cast<I>(INT64_MAX)) {
            throw Error("set_attribute '" + std::string(name) + "' on '" + object.path() +
                        "': value " + std::to_string(value) + " does not fit int64");
        }
    }
    set_attribute(object, name, static_cast<std::int64_t>(value));
}

} // namespace plateau::h5
