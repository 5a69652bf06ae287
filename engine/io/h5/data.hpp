// Dataset I/O of the HDF5 layer: numeric hyperslabs and variable-length strings.
#pragma once

#include "engine/io/h5/object.hpp"

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace plateau::h5 {

/// The C++ element types of numeric variables.
template <typename T>
concept Element =
    std::same_as<T, double> || std::same_as<T, std::int64_t> || std::same_as<T, std::int8_t>;

/// Writes the hyperslab [offset, offset + count) from `data` (row-major, product(count)
/// elements). The variable's type must be exactly T (no silent conversion on writing).
template <Element T>
void write_slab(Dataset& dataset, std::span<const hsize_t> offset, std::span<const hsize_t> count,
                const T* data);

/// Reads the hyperslab [offset, offset + count), row-major. Integer variables may be read into
/// any integer T wide enough, float variables into double.
template <Element T>
[[nodiscard]] std::vector<T> read_slab(const Dataset& dataset, std::span<const hsize_t> offset,
                                       std::span<const hsize_t> count);

/// Reads the whole variable, row-major.
template <Element T>
[[nodiscard]] std::vector<T> read_all(const Dataset& dataset);

/// Writes element `index` of a 1-D string variable (UTF-8, no embedded NUL).
void write_string(Dataset& dataset, hsize_t index, std::string_view value);
[[nodiscard]] std::string read_string(const Dataset& dataset, hsize_t index);
[[nodiscard]] std::vector<std::string> read_all_strings(const Dataset& dataset);

} // namespace plateau::h5
