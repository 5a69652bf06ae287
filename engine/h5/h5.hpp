// A small RAII layer over the HDF5 C API that writes netCDF-4-compatible files.
//
// Scope. Exactly what the campaign writer needs: files, groups, fixed-size dimensions, coordinate
// variables, float64 / int64 / int8 / variable-length string variables written slab by slab, and
// text / numeric attributes. The files open without custom code in netCDF-C (ncdump), in
// netCDF4-python and in xarray with engine="h5netcdf".
//
// netCDF-4 conventions followed (as netCDF-C 4.9 writes them):
//  - link and attribute creation order are tracked and indexed on the file, on every group and
//    on every dataset;
//  - a dimension without coordinate values is a 1-D float32 dataset of the dimension's length,
//    made an HDF5 dimension scale whose NAME is "This is a netCDF dimension but not a netCDF
//    variable." followed by the length right-aligned in 10 characters;
//  - a dimension with coordinate values is the coordinate variable itself (NAME = its name);
//  - every dimension scale carries a scalar int32 `_Netcdf4Dimid`, unique within the file;
//    every variable carries `_Netcdf4Coordinates` (the dimension ids of its axes) and has every
//    dimension scale attached to its axis;
//  - text attributes are scalar fixed-length NUL-terminated strings (NC_CHAR), numeric
//    attributes are 1-D arrays (one element for a single number);
//  - the root group carries `_NCProperties`.
//
// Data layout. Variables are created at their final shape with early allocation and
// H5D_FILL_TIME_IFSET, so the file on disk is complete (and filled) from creation on: float64
// variables are filled with NaN (and carry `_FillValue = NaN`), integer variables with a given
// value or netCDF's default fill (-127 for int8, -9223372036854775806 for int64), without a
// `_FillValue` attribute, strings with "".
//
// Errors. Every failure throws plateau::h5::Error naming the object, the operation and the HDF5
// call, with the messages of the HDF5 error stack appended. HDF5's automatic error printing is
// switched off (per thread, on first use).
//
// Threading. HDF5 objects are not meant to be shared: one thread owns a File and everything opened
// from it. Handles may outlive the File object they came from (HDF5 keeps the file open until the
// last handle is closed), but the file is only really closed when all of them are gone.
#pragma once

#include <hdf5.h>

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace plateau::h5 {

/// Any failure of this layer or of HDF5 underneath it.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// Owns one HDF5 identifier (file, group, dataset, attribute, dataspace, datatype or property
/// list) and closes it with the matching H5?close function. Move-only.
class Handle {
public:
    Handle() noexcept = default;
    /// Takes ownership of `id` (which may be H5I_INVALID_HID for an empty handle).
    explicit Handle(hid_t id) noexcept : id_(id) {}
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle(Handle&& other) noexcept : id_(other.release()) {}
    Handle& operator=(Handle&& other) noexcept;
    ~Handle();

    [[nodiscard]] hid_t id() const noexcept { return id_; }
    [[nodiscard]] bool valid() const noexcept { return id_ >= 0; }
    /// Gives up ownership without closing.
    [[nodiscard]] hid_t release() noexcept {
        const hid_t id = id_;
        id_ = H5I_INVALID_HID;
        return id;
    }
    /// Closes now; throws Error if HDF5 reports a failure. Does nothing on an empty handle.
    void close();

private:
    hid_t id_ = H5I_INVALID_HID;
};

/// A group or a dataset: something that has a path in a file and can carry attributes.
class Object {
public:
    [[nodiscard]] hid_t id() const noexcept { return handle_.id(); }
    [[nodiscard]] bool valid() const noexcept { return handle_.valid(); }
    /// Absolute path inside the file, e.g. "/K2_M2/eg".
    [[nodiscard]] std::string path() const;
    /// Last component of the path ("/" for the root group).
    [[nodiscard]] std::string name() const;
    /// Name of the file this object lives in.
    [[nodiscard]] std::string file_name() const;
    /// Closes now, reporting failures (the destructor closes silently).
    void close() { handle_.close(); }

protected:
    Object() noexcept = default;
    explicit Object(Handle handle) noexcept : handle_(std::move(handle)) {}

private:
    Handle handle_;
};

class Dataset;

class Group : public Object {
public:
    /// Takes ownership of an open group identifier.
    explicit Group(Handle handle) noexcept : Object(std::move(handle)) {}

    /// New child group (link and attribute creation order tracked and indexed).
    [[nodiscard]] Group create_group(std::string_view name);
    [[nodiscard]] Group open_group(std::string_view name) const;
    [[nodiscard]] Dataset open_dataset(std::string_view name) const;
    /// Whether a link `name` (group, dataset, ...) exists in this group.
    [[nodiscard]] bool has(std::string_view name) const;
    /// Names of the child groups, in creation order if it is indexed, else in name order.
    [[nodiscard]] std::vector<std::string> child_groups() const;
};

/// Element types of variables.
enum class ElementType { float64, int64, int8, string };

class Dataset : public Object {
public:
    /// Takes ownership of an open dataset identifier.
    explicit Dataset(Handle handle) noexcept : Object(std::move(handle)) {}

    /// Current extent, one entry per axis (empty for a scalar).
    [[nodiscard]] std::vector<hsize_t> dims() const;
    /// Element type; throws Error for a type outside ElementType (e.g. the float32 of a
    /// dimension-only scale).
    [[nodiscard]] ElementType element_type() const;
};

class File {
public:
    /// Creates a new file; fails (without touching it) if `path` exists.
    [[nodiscard]] static File create_exclusive(const std::filesystem::path& path);
    [[nodiscard]] static File open_readwrite(const std::filesystem::path& path);
    [[nodiscard]] static File open_readonly(const std::filesystem::path& path);

    File(File&&) noexcept = default;
    File& operator=(File&&) noexcept = default;
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    ~File() = default;

    [[nodiscard]] hid_t id() const noexcept { return handle_.id(); }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    /// The root group "/" (root attributes go there).
    [[nodiscard]] Group root() const;
    /// H5Fflush(H5F_SCOPE_GLOBAL): everything written so far reaches the operating system.
    void flush();
    /// Closes now, reporting failures. Objects still open keep the file open until they close.
    void close() { handle_.close(); }

private:
    File(Handle handle, std::filesystem::path path) noexcept
        : handle_(std::move(handle)), path_(std::move(path)) {}

    Handle handle_;
    std::filesystem::path path_;
};

// ---------------------------------------------------------------------------------------------
// Dimensions and variables

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
[[nodiscard]] Dataset create_variable(Group& group, std::string_view name, ElementType type,
                                      const std::vector<const Dataset*>& dims,
                                      std::optional<std::vector<hsize_t>> chunk = std::nullopt,
                                      std::optional<std::int64_t> int_fill = std::nullopt);

// ---------------------------------------------------------------------------------------------
// Data I/O

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

// ---------------------------------------------------------------------------------------------
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
