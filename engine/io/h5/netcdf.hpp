// The netCDF-4 conventions of the HDF5 layer: dimensions, coordinate variables and variables
// (engine/io/h5/h5.hpp lists the conventions).
#pragma once

#include "engine/io/h5/object.hpp"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace plateau::h5 {

/// A dimension of `size` (> 0) without coordinate values (netCDF "dimension but not variable").
[[nodiscard]] Dataset create_dimension(Group& group, std::string_view name, hsize_t size);

/// A dimension with coordinate values: the float64 coordinate variable `name(name)`, its own
/// dimension scale, holding `values` (non-empty). `long_name` / `units` are written if non-empty.
[[nodiscard]] Dataset create_coordinate(Group& group, std::string_view name,
                                        const std::vector<double>& values,
                                        std::string_view long_name = {},
                                        std::string_view units = {});

/// A variable over `dims` (dimension scales from create_dimension / create_coordinate in this
/// group or an ancestor, one per axis; empty for a scalar), contiguous unless `chunk` is given.
/// `int_fill` is the value unwritten elements of an integer variable hold (must fit its type;
/// default: netCDF's default fill). It is only the HDF5 fill value, not written as `_FillValue`,
/// so readers take it as an ordinary value (e.g. status "pending"); set `_FillValue` (of the
/// variable's type) yourself to have it masked. Not allowed for float64 variables (always NaN,
/// written as `_FillValue`) and string variables ("").
/// With `checksum` (needs `chunk`), every chunk carries HDF5's Fletcher-32 checksum (netCDF's
/// `fletcher32` setting): reading a chunk whose bytes changed on disk fails with an Error of
/// kind ErrorKind::checksum.
enum class Checksum { none, fletcher32 };
[[nodiscard]] Dataset create_variable(Group& group, std::string_view name, ElementType type,
                                      const std::vector<const Dataset*>& dims,
                                      std::optional<std::vector<hsize_t>> chunk = std::nullopt,
                                      std::optional<std::int64_t> int_fill = std::nullopt,
                                      Checksum checksum = Checksum::none);

/// Whether the variable's chunks carry a Fletcher-32 checksum.
[[nodiscard]] bool has_checksum(const Dataset& dataset);

/// Where one stored chunk of a chunked dataset lies in the file (its chunk-index entry).
struct ChunkExtent {
    haddr_t address = 0;
    hsize_t size = 0;
};
/// Every stored chunk of a chunked dataset (H5Dget_chunk_info), in the index's order.
[[nodiscard]] std::vector<ChunkExtent> chunk_extents(const Dataset& dataset);

} // namespace plateau::h5
