// Internal to engine/io/h5 (not part of the layer's interface): error checking, small HDF5 helpers
// and the attribute primitives shared by the layer's .cpp files.
#pragma once

#include "engine/io/h5/error.hpp"
#include "engine/io/h5/object.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plateau::h5::detail {

// netCDF-C's names and constants.
inline constexpr const char* kDimNotVariable =
    "This is a netCDF dimension but not a netCDF variable.";
inline constexpr const char* kDimidAttribute = "_Netcdf4Dimid";
inline constexpr const char* kCoordinatesAttribute = "_Netcdf4Coordinates";
inline constexpr const char* kFillValueAttribute = "_FillValue";
inline constexpr const char* kPropertiesAttribute = "_NCProperties";
inline constexpr std::int8_t kFillByte = -127;                     // NC_FILL_BYTE
inline constexpr std::int64_t kFillInt64 = -9223372036854775806LL; // NC_FILL_INT64
inline constexpr unsigned kCreationOrder = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;

// HDF5 macros that expand to C casts, evaluated once here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
inline constexpr hid_t kSelectAll = H5S_ALL;
inline constexpr std::size_t kVariableSize = H5T_VARIABLE;
#pragma GCC diagnostic pop

// ---------------------------------------------------------------------------------------------
// Errors

/// Switches off HDF5's automatic error printing for the calling thread (the library is built
/// thread-safe, so the setting is per thread).
void quiet() noexcept;

/// The current thread's HDF5 error stack: in one line, the outermost entry (the API call) and
/// the innermost one (the cause), e.g. "H5Fcreate(): unable to create file; H5F_open(): file
/// exists"; and the error numbers of every entry, outermost first.
struct ErrorStack {
    std::string text;
    std::vector<ErrorNumbers> numbers;
};
/// Takes the stack and clears it. Must be called right after the failing call: every HDF5 API
/// call resets it.
ErrorStack take_error_stack();

/// What an identifier refers to, for messages: "dataset '/g/x' in file 'out.h5'".
std::string describe(hid_t id);

/// Throws Error "<call> failed for <what>: <HDF5 error stack>". The stack is taken first, before
/// `what` runs any HDF5 call.
template <typename Describe>
[[noreturn]] void fail(std::string_view call, Describe&& what) {
    ErrorStack stack = take_error_stack();
    throw Error(std::string(call) + " failed for " + std::invoke(std::forward<Describe>(what)) +
                    ": " + stack.text,
                std::move(stack.numbers));
}

template <typename Describe>
hid_t check_id(hid_t id, std::string_view call, Describe&& what) {
    if (id < 0) {
        fail(call, std::forward<Describe>(what));
    }
    return id;
}

template <typename Describe>
void check(herr_t status, std::string_view call, Describe&& what) {
    if (status < 0) {
        fail(call, std::forward<Describe>(what));
    }
}

template <typename Describe>
bool check_tri(htri_t status, std::string_view call, Describe&& what) {
    if (status < 0) {
        fail(call, std::forward<Describe>(what));
    }
    return status > 0;
}

inline auto of(hid_t id) {
    return [id] {
        return describe(id);
    };
}

inline auto of_child(hid_t parent, std::string_view kind, std::string_view name) {
    return [parent, kind, name] {
        return std::string(kind) + " '" + std::string(name) + "' in " + describe(parent);
    };
}

[[noreturn]] void usage_error(hid_t id, std::string_view operation, const std::string& problem);

/// netCDF and this layer allow neither empty names nor '/' (HDF5 would read a path).
void check_name(hid_t parent, std::string_view operation, std::string_view name);

// ---------------------------------------------------------------------------------------------
// Small helpers

herr_t close_id(hid_t id) noexcept;
Handle make_plist(hid_t cls, std::string_view what);
Handle simple_space(std::span<const hsize_t> dims);
Handle copy_type(hid_t type);
/// Variable-length string type with the given character set.
Handle vlen_string_type(H5T_cset_t cset);
hsize_t product(std::span<const hsize_t> dims);
std::string join(std::span<const hsize_t> values);
std::vector<hsize_t> space_dims(hid_t space, const std::function<std::string()>& what);
/// Dataset creation properties shared by every dataset: attribute creation order, early
/// allocation, fill at allocation time if a fill value is set.
Handle dataset_plist(hid_t parent, std::string_view name);
/// Group (or file, for the root group) creation properties: link and attribute creation order.
Handle group_plist(hid_t cls, std::string_view what_text);
/// Frees the variable-length strings HDF5 allocated in `buffer`.
void reclaim_strings(hid_t mem_type, hid_t mem_space, void* buffer);

/// Names of the hard links of a group (callbacks must not throw, so they only collect).
std::vector<std::string> hard_links(hid_t group, H5_index_t index);
/// Link index to iterate a group in: creation order if it is indexed, else names.
H5_index_t link_index(hid_t group);

// ---------------------------------------------------------------------------------------------
// Attribute primitives

/// Creates attribute `name` on `object` (replacing an existing one) and writes `data`.
void write_attribute(hid_t object, std::string_view name, hid_t file_type, hid_t mem_type,
                     hid_t space, const void* data);

/// 1-D numeric attribute; an empty array gets a null dataspace, as netCDF-C writes it.
template <typename T>
void write_numeric_attribute(hid_t object, std::string_view name, hid_t file_type, hid_t mem_type,
                             std::span<const T> values) {
    if (values.empty()) {
        const Handle space{
            check_id(H5Screate(H5S_NULL), "H5Screate", [] { return std::string("null space"); })};
        write_attribute(object, name, file_type, mem_type, space.id(), nullptr);
        return;
    }
    const std::array<hsize_t, 1> dims{values.size()};
    const Handle space = simple_space(dims);
    write_attribute(object, name, file_type, mem_type, space.id(), values.data());
}

/// Opens attribute `name` if it exists.
std::optional<Handle> open_attribute(hid_t object, std::string_view name);
std::string attribute_what(hid_t attribute);
/// Element count of an attribute's dataspace (0 for a null dataspace).
hsize_t attribute_size(hid_t attribute);
H5T_class_t attribute_class(hid_t attribute);

/// Reads a numeric attribute into T, converting; `allow_float` admits float attributes.
template <typename T>
std::vector<T> read_numeric_attribute(hid_t attribute, hid_t mem_type, bool allow_float,
                                      std::string_view getter) {
    const H5T_class_t cls = attribute_class(attribute);
    if (cls != H5T_INTEGER && !(allow_float && cls == H5T_FLOAT)) {
        throw Error(std::string(getter) + ": " + attribute_what(attribute) + " is not " +
                    (allow_float ? "numeric" : "an integer"));
    }
    std::vector<T> values(attribute_size(attribute));
    if (!values.empty()) {
        check(H5Aread(attribute, mem_type, values.data()), "H5Aread",
              [attribute] { return attribute_what(attribute); });
    }
    return values;
}

} // namespace plateau::h5::detail
