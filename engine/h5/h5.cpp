#include "engine/h5/h5.hpp"

#include <H5DSpublic.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>

// The software version for _NCProperties, from the header CMake generates (absent in standalone
// builds of this layer).
#if __has_include("plateau_version.hpp")
#include "plateau_version.hpp"
#define PLATEAU_H5_SOFTWARE_VERSION ::plateau::software_version
#else
#define PLATEAU_H5_SOFTWARE_VERSION "unknown"
#endif

namespace plateau::h5 {
namespace {

// netCDF-C's names and constants.
constexpr const char* kDimNotVariable = "This is a netCDF dimension but not a netCDF variable.";
constexpr const char* kDimidAttribute = "_Netcdf4Dimid";
constexpr const char* kCoordinatesAttribute = "_Netcdf4Coordinates";
constexpr const char* kFillValueAttribute = "_FillValue";
constexpr const char* kPropertiesAttribute = "_NCProperties";
constexpr std::int8_t kFillByte = -127;                     // NC_FILL_BYTE
constexpr std::int64_t kFillInt64 = -9223372036854775806LL; // NC_FILL_INT64
constexpr unsigned kCreationOrder = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;

// HDF5 macros that expand to C casts, evaluated once here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
constexpr hid_t kSelectAll = H5S_ALL;
constexpr std::size_t kVariableSize = H5T_VARIABLE;
#pragma GCC diagnostic pop

// ---------------------------------------------------------------------------------------------
// Errors

/// Switches off HDF5's automatic error printing for the calling thread (the library is built
/// thread-safe, so the setting is per thread).
void quiet() noexcept {
    thread_local bool done = false;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        done = true;
    }
}

herr_t collect_error(unsigned /*n*/, const H5E_error2_t* error, void* data) {
    auto& parts = *static_cast<std::vector<std::string>*>(data);
    std::string part;
    if (error->func_name != nullptr) {
        part += error->func_name;
        part += "(): ";
    }
    if (error->desc != nullptr && error->desc[0] != '\0') {
        part += error->desc;
    } else {
        std::array<char, 256> minor{};
        if (H5Eget_msg(error->min_num, nullptr, minor.data(), minor.size()) > 0) {
            part += minor.data();
        }
    }
    parts.push_back(std::move(part));
    return 0;
}

/// The current thread's HDF5 error stack in one line: the outermost entry (the API call) and the
/// innermost one (the cause), e.g. "H5Fcreate(): unable to create file; H5F_open(): file exists".
/// Clears the stack. Must be called right after the failing call: every HDF5 API call resets it.
std::string take_error_stack() {
    std::vector<std::string> parts;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &parts);
    H5Eclear2(H5E_DEFAULT);
    if (parts.empty()) {
        return "no HDF5 error message";
    }
    std::string out = parts.front();
    if (parts.size() > 1) {
        out += "; " + parts.back();
    }
    std::replace(out.begin(), out.end(), '\n', ' ');
    return out;
}

/// What an identifier refers to, for messages: "dataset '/g/x' in file 'out.h5'".
std::string describe(hid_t id) {
    std::string kind = "object";
    switch (H5Iget_type(id)) {
    case H5I_FILE:
        kind = "file";
        break;
    case H5I_GROUP:
        kind = "group";
        break;
    case H5I_DATASET:
        kind = "dataset";
        break;
    case H5I_ATTR:
        kind = "attribute";
        break;
    default:
        break;
    }
    std::string out = kind;
    const ssize_t name_len = H5Iget_name(id, nullptr, 0);
    if (name_len > 0 && kind != "file") {
        std::string name(static_cast<std::size_t>(name_len), '\0');
        H5Iget_name(id, name.data(), name.size() + 1);
        out += " '" + name + "'";
    }
    const ssize_t file_len = H5Fget_name(id, nullptr, 0);
    if (file_len > 0) {
        std::string file(static_cast<std::size_t>(file_len), '\0');
        H5Fget_name(id, file.data(), file.size() + 1);
        out += (kind == "file" ? " '" : " in file '") + file + "'";
    }
    H5Eclear2(H5E_DEFAULT);
    return out;
}

/// Throws Error "<call> failed for <what>: <HDF5 error stack>". The stack is taken first, before
/// `what` runs any HDF5 call.
template <typename Describe>
[[noreturn]] void fail(std::string_view call, Describe&& what) {
    std::string stack = take_error_stack();
    throw Error(std::string(call) + " failed for " + std::invoke(std::forward<Describe>(what)) +
                ": " + stack);
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

auto of(hid_t id) {
    return [id] {
        return describe(id);
    };
}

auto of_child(hid_t parent, std::string_view kind, std::string_view name) {
    return [parent, kind, name] {
        return std::string(kind) + " '" + std::string(name) + "' in " + describe(parent);
    };
}

[[noreturn]] void usage_error(hid_t id, std::string_view operation, const std::string& problem) {
    throw Error(std::string(operation) + " on " + describe(id) + ": " + problem);
}

/// netCDF and this layer allow neither empty names nor '/' (HDF5 would read a path).
void check_name(hid_t parent, std::string_view operation, std::string_view name) {
    if (name.empty() || name.find('/') != std::string_view::npos ||
        name.find('\0') != std::string_view::npos) {
        usage_error(parent, operation,
                    "invalid name '" + std::string(name) + "' (empty or containing '/' or NUL)");
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

herr_t close_id(hid_t id) noexcept {
    switch (H5Iget_type(id)) {
    case H5I_FILE:
        return H5Fclose(id);
    case H5I_GROUP:
        return H5Gclose(id);
    case H5I_DATASET:
        return H5Dclose(id);
    case H5I_DATASPACE:
        return H5Sclose(id);
    case H5I_DATATYPE:
        return H5Tclose(id);
    case H5I_ATTR:
        return H5Aclose(id);
    case H5I_GENPROP_LST:
        return H5Pclose(id);
    default:
        return H5Idec_ref(id) < 0 ? -1 : 0;
    }
}

Handle make_plist(hid_t cls, std::string_view what) {
    return Handle{check_id(H5Pcreate(cls), "H5Pcreate", [what] { return std::string(what); })};
}

Handle simple_space(std::span<const hsize_t> dims) {
    if (dims.empty()) {
        return Handle{check_id(H5Screate(H5S_SCALAR), "H5Screate", [] { return "scalar"; })};
    }
    return Handle{check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                           "H5Screate_simple", [] { return std::string("dataspace"); })};
}

Handle copy_type(hid_t type) {
    return Handle{check_id(H5Tcopy(type), "H5Tcopy", [] { return std::string("datatype"); })};
}

/// Variable-length string type with the given character set.
Handle vlen_string_type(H5T_cset_t cset) {
    Handle type = copy_type(H5T_C_S1);
    const auto what = [] {
        return std::string("variable-length string type");
    };
    check(H5Tset_size(type.id(), kVariableSize), "H5Tset_size", what);
    check(H5Tset_cset(type.id(), cset), "H5Tset_cset", what);
    return type;
}

hsize_t product(std::span<const hsize_t> dims) {
    hsize_t n = 1;
    for (const hsize_t d : dims) {
        n *= d;
    }
    return n;
}

std::string join(std::span<const hsize_t> values) {
    std::string out = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
        out += (i == 0 ? "" : ", ") + std::to_string(values[i]);
    }
    return out + "]";
}

std::vector<hsize_t> space_dims(hid_t space, const std::function<std::string()>& what) {
    const int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0) {
        fail("H5Sget_simple_extent_ndims", what);
    }
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0) {
        check(H5Sget_simple_extent_dims(space, dims.data(), nullptr), "H5Sget_simple_extent_dims",
              what);
    }
    return dims;
}

/// Dataset creation properties shared by every dataset: attribute creation order, early
/// allocation, fill at allocation time if a fill value is set.
Handle dataset_plist(hid_t parent, std::string_view name) {
    Handle dcpl = make_plist(H5P_DATASET_CREATE, "dataset creation property list");
    const auto what = of_child(parent, "dataset", name);
    check(H5Pset_attr_creation_order(dcpl.id(), kCreationOrder), "H5Pset_attr_creation_order",
          what);
    check(H5Pset_alloc_time(dcpl.id(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time", what);
    check(H5Pset_fill_time(dcpl.id(), H5D_FILL_TIME_IFSET), "H5Pset_fill_time", what);
    return dcpl;
}

/// Group (or file, for the root group) creation properties: link and attribute creation order.
Handle group_plist(hid_t cls, std::string_view what_text) {
    Handle gcpl = make_plist(cls, what_text);
    const auto what = [what_text] {
        return std::string(what_text);
    };
    check(H5Pset_link_creation_order(gcpl.id(), kCreationOrder), "H5Pset_link_creation_order",
          what);
    check(H5Pset_attr_creation_order(gcpl.id(), kCreationOrder), "H5Pset_attr_creation_order",
          what);
    return gcpl;
}

// ---------------------------------------------------------------------------------------------
// Attributes (internal)

/// Creates attribute `name` on `object` (replacing an existing one) and writes `data`.
void write_attribute(hid_t object, std::string_view name, hid_t file_type, hid_t mem_type,
                     hid_t space, const void* data) {
    quiet();
    check_name(object, "set_attribute", name);
    const std::string n(name);
    const auto what = [object, &n] {
        return "attribute '" + n + "' of " + describe(object);
    };
    if (check_tri(H5Aexists(object, n.c_str()), "H5Aexists", what)) {
        check(H5Adelete(object, n.c_str()), "H5Adelete", what);
    }
    const Handle attribute{
        check_id(H5Acreate2(object, n.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT),
                 "H5Acreate2", what)};
    if (data != nullptr) {
        check(H5Awrite(attribute.id(), mem_type, data), "H5Awrite", what);
    }
}

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
std::optional<Handle> open_attribute(hid_t object, std::string_view name) {
    quiet();
    const std::string n(name);
    const auto what = [object, &n] {
        return "attribute '" + n + "' of " + describe(object);
    };
    if (!check_tri(H5Aexists(object, n.c_str()), "H5Aexists", what)) {
        return std::nullopt;
    }
    return Handle{check_id(H5Aopen(object, n.c_str(), H5P_DEFAULT), "H5Aopen", what)};
}

std::string attribute_what(hid_t attribute) {
    std::string name(256, '\0');
    const ssize_t len = H5Aget_name(attribute, name.size(), name.data());
    name.resize(len > 0 ? std::min(static_cast<std::size_t>(len), name.size() - 1) : 0);
    return "attribute '" + name + "' of " + describe(attribute);
}

/// Element count of an attribute's dataspace (0 for a null dataspace).
hsize_t attribute_size(hid_t attribute) {
    const auto what = [attribute] {
        return attribute_what(attribute);
    };
    const Handle space{check_id(H5Aget_space(attribute), "H5Aget_space", what)};
    const H5S_class_t cls = H5Sget_simple_extent_type(space.id());
    if (cls == H5S_NO_CLASS) {
        fail("H5Sget_simple_extent_type", what);
    }
    if (cls == H5S_NULL) {
        return 0;
    }
    const hssize_t n = H5Sget_simple_extent_npoints(space.id());
    if (n < 0) {
        fail("H5Sget_simple_extent_npoints", what);
    }
    return static_cast<hsize_t>(n);
}

H5T_class_t attribute_class(hid_t attribute) {
    const auto what = [attribute] {
        return attribute_what(attribute);
    };
    const Handle type{check_id(H5Aget_type(attribute), "H5Aget_type", what)};
    const H5T_class_t cls = H5Tget_class(type.id());
    if (cls == H5T_NO_CLASS) {
        fail("H5Tget_class", what);
    }
    return cls;
}

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

template <typename T>
std::optional<T> single_value(std::optional<std::vector<T>> values, const Object& object,
                              std::string_view name, std::string_view getter) {
    if (!values) {
        return std::nullopt;
    }
    if (values->size() != 1) {
        throw Error(std::string(getter) + ": attribute '" + std::string(name) + "' of " +
                    describe(object.id()) + " has " + std::to_string(values->size()) +
                    " elements, expected 1");
    }
    return values->front();
}

// ---------------------------------------------------------------------------------------------
// netCDF dimension ids

/// Names of the hard links of a group (callbacks must not throw, so they only collect).
std::vector<std::string> hard_links(hid_t group, H5_index_t index) {
    std::vector<std::string> names;
#if H5_VERSION_GE(1, 12, 0)
    const auto callback = [](hid_t, const char* name, const H5L_info2_t* info, void* data) {
#else
    const auto callback = [](hid_t, const char* name, const H5L_info_t* info, void* data) {
#endif
        if (info->type == H5L_TYPE_HARD) {
            static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        }
        return herr_t{0};
    };
    hsize_t position = 0;
#if H5_VERSION_GE(1, 12, 0)
    check(H5Literate2(group, index, H5_ITER_INC, &position, callback, &names), "H5Literate2",
          of(group));
#else
    check(H5Literate(group, index, H5_ITER_INC, &position, callback, &names), "H5Literate",
          of(group));
#endif
    return names;
}

/// Link index to iterate a group in: creation order if it is indexed, else names.
H5_index_t link_index(hid_t group) {
    const Handle gcpl{check_id(H5Gget_create_plist(group), "H5Gget_create_plist", of(group))};
    unsigned flags = 0;
    check(H5Pget_link_creation_order(gcpl.id(), &flags), "H5Pget_link_creation_order", of(group));
    return (flags & H5P_CRT_ORDER_INDEXED) != 0 ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
}

/// The `_Netcdf4Dimid` of a dimension scale, if it has one.
std::optional<int> dimension_id(hid_t dataset) {
    const auto attribute = open_attribute(dataset, kDimidAttribute);
    if (!attribute) {
        return std::nullopt;
    }
    const auto values =
        read_numeric_attribute<int>(attribute->id(), H5T_NATIVE_INT, false, "_Netcdf4Dimid");
    if (values.size() != 1) {
        usage_error(dataset, "reading _Netcdf4Dimid", "not a single integer");
    }
    return values.front();
}

/// Largest `_Netcdf4Dimid` in the group and its descendants (-1 if none).
int max_dimension_id(hid_t group) {
    int result = -1;
    for (const auto& name : hard_links(group, H5_INDEX_NAME)) {
        const auto what = of_child(group, "object", name);
        const Handle object{check_id(H5Oopen(group, name.c_str(), H5P_DEFAULT), "H5Oopen", what)};
        const H5I_type_t type = H5Iget_type(object.id());
        if (type == H5I_GROUP) {
            result = std::max(result, max_dimension_id(object.id()));
        } else if (type == H5I_DATASET &&
                   check_tri(H5DSis_scale(object.id()), "H5DSis_scale", what)) {
            result = std::max(result, dimension_id(object.id()).value_or(-1));
        }
    }
    return result;
}

/// The next free netCDF dimension id of the file `object` lives in (ids are unique file-wide).
int next_dimension_id(hid_t object) {
    const Handle file{check_id(H5Iget_file_id(object), "H5Iget_file_id", of(object))};
    const Handle root{check_id(H5Gopen2(file.id(), "/", H5P_DEFAULT), "H5Gopen2", of(object))};
    return max_dimension_id(root.id()) + 1;
}

void write_int32_scalar_attribute(hid_t object, std::string_view name, int value) {
    const Handle space = simple_space({});
    write_attribute(object, name, H5T_STD_I32LE, H5T_NATIVE_INT, space.id(), &value);
}

/// Creates the 1-D dataset of a dimension scale (early allocation, filled with `fill`).
Dataset create_scale_dataset(Group& group, std::string_view name, hid_t file_type, hsize_t size,
                             hid_t fill_type, const void* fill) {
    const Handle dcpl = dataset_plist(group.id(), name);
    const auto what = of_child(group.id(), "dataset", name);
    check(H5Pset_fill_value(dcpl.id(), fill_type, fill), "H5Pset_fill_value", what);
    const std::array<hsize_t, 1> dims{size};
    const Handle space = simple_space(dims);
    const std::string n(name);
    return Dataset{Handle{check_id(H5Dcreate2(group.id(), n.c_str(), file_type, space.id(),
                                              H5P_DEFAULT, dcpl.id(), H5P_DEFAULT),
                                   "H5Dcreate2", what)}};
}

// ---------------------------------------------------------------------------------------------
// Data I/O (internal)

template <typename T>
hid_t native_type() {
    if constexpr (std::same_as<T, double>) {
        return H5T_NATIVE_DOUBLE;
    } else if constexpr (std::same_as<T, std::int64_t>) {
        return H5T_NATIVE_INT64;
    } else {
        return H5T_NATIVE_INT8;
    }
}

template <typename T>
constexpr H5T_class_t type_class() {
    return std::same_as<T, double> ? H5T_FLOAT : H5T_INTEGER;
}

template <typename T>
constexpr const char* type_name() {
    if constexpr (std::same_as<T, double>) {
        return "double";
    } else if constexpr (std::same_as<T, std::int64_t>) {
        return "int64";
    } else {
        return "int8";
    }
}

/// Checks that the dataset's elements can be transferred as T: for writing exactly T, for
/// reading the same class, T at least as wide, and signed integers only into signed T.
template <typename T>
void check_element_type(const Dataset& dataset, std::string_view operation, bool writing) {
    const auto what = of(dataset.id());
    const Handle type{check_id(H5Dget_type(dataset.id()), "H5Dget_type", what)};
    const H5T_class_t cls = H5Tget_class(type.id());
    const std::size_t size = H5Tget_size(type.id());
    bool ok =
        cls == type_class<T>() && size > 0 && (writing ? size == sizeof(T) : size <= sizeof(T));
    if (ok && cls == H5T_INTEGER) {
        ok = H5Tget_sign(type.id()) == H5T_SGN_2;
    }
    if (!ok) {
        usage_error(dataset.id(), operation,
                    std::string("element type is not compatible with ") + type_name<T>());
    }
}

/// File dataspace with [offset, offset + count) selected, after checking rank and bounds.
Handle select_slab(const Dataset& dataset, std::string_view operation,
                   std::span<const hsize_t> offset, std::span<const hsize_t> count) {
    const auto what = of(dataset.id());
    Handle space{check_id(H5Dget_space(dataset.id()), "H5Dget_space", what)};
    const std::vector<hsize_t> dims = space_dims(space.id(), what);
    if (offset.size() != dims.size() || count.size() != dims.size()) {
        usage_error(dataset.id(), operation,
                    "offset " + join(offset) + " and count " + join(count) +
                        " do not match the rank " + std::to_string(dims.size()) + " (dimensions " +
                        join(dims) + ")");
    }
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (offset[i] > dims[i] || count[i] > dims[i] - offset[i]) {
            usage_error(dataset.id(), operation,
                        "slab offset " + join(offset) + " count " + join(count) +
                            " exceeds the dimensions " + join(dims));
        }
    }
    if (!dims.empty()) {
        check(H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, offset.data(), nullptr, count.data(),
                                  nullptr),
              "H5Sselect_hyperslab", what);
    }
    return space;
}

/// Checks a 1-D variable-length string dataset and returns its memory type and the file
/// dataspace with element `index` selected.
std::pair<Handle, Handle> select_string(const Dataset& dataset, std::string_view operation,
                                        hsize_t index) {
    const auto what = of(dataset.id());
    const Handle type{check_id(H5Dget_type(dataset.id()), "H5Dget_type", what)};
    if (H5Tget_class(type.id()) != H5T_STRING ||
        !check_tri(H5Tis_variable_str(type.id()), "H5Tis_variable_str", what)) {
        usage_error(dataset.id(), operation, "not a variable-length string variable");
    }
    const H5T_cset_t cset = H5Tget_cset(type.id());
    if (cset == H5T_CSET_ERROR) {
        fail("H5Tget_cset", what);
    }
    const std::array<hsize_t, 1> offset{index};
    const std::array<hsize_t, 1> count{1};
    Handle space = select_slab(dataset, operation, offset, count);
    return {vlen_string_type(cset), std::move(space)};
}

void reclaim_strings(hid_t mem_type, hid_t mem_space, void* buffer) {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem_type, mem_space, H5P_DEFAULT, buffer);
#else
    H5Dvlen_reclaim(mem_type, mem_space, H5P_DEFAULT, buffer);
#endif
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Handle

Handle& Handle::operator=(Handle&& other) noexcept {
    if (this != &other) {
        if (valid()) {
            quiet();
            close_id(id_);
            H5Eclear2(H5E_DEFAULT);
        }
        id_ = other.release();
    }
    return *this;
}

Handle::~Handle() {
    if (valid()) {
        quiet();
        close_id(id_);
        H5Eclear2(H5E_DEFAULT);
    }
}

void Handle::close() {
    if (!valid()) {
        return;
    }
    quiet();
    const hid_t id = release();
    std::string what = describe(id);
    if (close_id(id) < 0) {
        fail("close", [&what] { return what; });
    }
}

// ---------------------------------------------------------------------------------------------
// Object, Group, Dataset

std::string Object::path() const {
    quiet();
    const ssize_t len = H5Iget_name(id(), nullptr, 0);
    if (len < 0) {
        fail("H5Iget_name", [] { return std::string("object"); });
    }
    std::string name(static_cast<std::size_t>(len), '\0');
    if (len > 0) {
        H5Iget_name(id(), name.data(), name.size() + 1);
    }
    return name;
}

std::string Object::name() const {
    const std::string p = path();
    const auto slash = p.rfind('/');
    if (p == "/" || slash == std::string::npos) {
        return p;
    }
    return p.substr(slash + 1);
}

std::string Object::file_name() const {
    quiet();
    const ssize_t len = H5Fget_name(id(), nullptr, 0);
    if (len < 0) {
        fail("H5Fget_name", of(id()));
    }
    std::string name(static_cast<std::size_t>(len), '\0');
    if (len > 0) {
        H5Fget_name(id(), name.data(), name.size() + 1);
    }
    return name;
}

Group Group::create_group(std::string_view name) {
    quiet();
    check_name(id(), "create_group", name);
    const Handle gcpl = group_plist(H5P_GROUP_CREATE, "group creation property list");
    const std::string n(name);
    return Group{Handle{check_id(H5Gcreate2(id(), n.c_str(), H5P_DEFAULT, gcpl.id(), H5P_DEFAULT),
                                 "H5Gcreate2", of_child(id(), "group", name))}};
}

Group Group::open_group(std::string_view name) const {
    quiet();
    check_name(id(), "open_group", name);
    const std::string n(name);
    return Group{Handle{check_id(H5Gopen2(id(), n.c_str(), H5P_DEFAULT), "H5Gopen2",
                                 of_child(id(), "group", name))}};
}

Dataset Group::open_dataset(std::string_view name) const {
    quiet();
    check_name(id(), "open_dataset", name);
    const std::string n(name);
    return Dataset{Handle{check_id(H5Dopen2(id(), n.c_str(), H5P_DEFAULT), "H5Dopen2",
                                   of_child(id(), "dataset", name))}};
}

bool Group::has(std::string_view name) const {
    quiet();
    check_name(id(), "has", name);
    const std::string n(name);
    return check_tri(H5Lexists(id(), n.c_str(), H5P_DEFAULT), "H5Lexists",
                     of_child(id(), "link", name));
}

std::vector<std::string> Group::child_groups() const {
    quiet();
    std::vector<std::string> groups;
    for (auto& name : hard_links(id(), link_index(id()))) {
        const Handle object{check_id(H5Oopen(id(), name.c_str(), H5P_DEFAULT), "H5Oopen",
                                     of_child(id(), "object", name))};
        if (H5Iget_type(object.id()) == H5I_GROUP) {
            groups.push_back(std::move(name));
        }
    }
    return groups;
}

std::vector<hsize_t> Dataset::dims() const {
    quiet();
    const Handle space{check_id(H5Dget_space(id()), "H5Dget_space", of(id()))};
    return space_dims(space.id(), of(id()));
}

ElementType Dataset::element_type() const {
    quiet();
    const Handle type{check_id(H5Dget_type(id()), "H5Dget_type", of(id()))};
    const H5T_class_t cls = H5Tget_class(type.id());
    const std::size_t size = H5Tget_size(type.id());
    if (cls == H5T_FLOAT && size == 8) {
        return ElementType::float64;
    }
    if (cls == H5T_INTEGER && H5Tget_sign(type.id()) == H5T_SGN_2 && size == 8) {
        return ElementType::int64;
    }
    if (cls == H5T_INTEGER && H5Tget_sign(type.id()) == H5T_SGN_2 && size == 1) {
        return ElementType::int8;
    }
    if (cls == H5T_STRING && H5Tis_variable_str(type.id()) > 0) {
        return ElementType::string;
    }
    usage_error(id(), "element_type", "element type is not float64, int64, int8 or string");
}

// ---------------------------------------------------------------------------------------------
// File

File File::create_exclusive(const std::filesystem::path& path) {
    quiet();
    const auto what = [&path] {
        return "file '" + path.string() + "'";
    };
    const Handle fcpl = group_plist(H5P_FILE_CREATE, "file creation property list");
    Handle file{
        check_id(H5Fcreate(path.c_str(), H5F_ACC_EXCL, fcpl.id(), H5P_DEFAULT), "H5Fcreate", what)};
    File result{std::move(file), path};
    // _NCProperties in the form netCDF-C parses ("version=2,<library>=<version>,hdf5=...").
    unsigned major = 0;
    unsigned minor = 0;
    unsigned release = 0;
    check(H5get_libversion(&major, &minor, &release), "H5get_libversion", what);
    const std::string properties = "version=2,plateau=" + std::string(PLATEAU_H5_SOFTWARE_VERSION) +
                                   ",hdf5=" + std::to_string(major) + "." + std::to_string(minor) +
                                   "." + std::to_string(release);
    set_attribute(result.root(), kPropertiesAttribute, properties);
    return result;
}

File File::open_readwrite(const std::filesystem::path& path) {
    quiet();
    Handle file{check_id(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "H5Fopen (read-write)",
                         [&path] { return "file '" + path.string() + "'"; })};
    return File{std::move(file), path};
}

File File::open_readonly(const std::filesystem::path& path) {
    quiet();
    Handle file{check_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "H5Fopen (read-only)",
                         [&path] { return "file '" + path.string() + "'"; })};
    return File{std::move(file), path};
}

Group File::root() const {
    quiet();
    return Group{Handle{check_id(H5Gopen2(id(), "/", H5P_DEFAULT), "H5Gopen2", [this] {
        return "root group of file '" + path_.string() + "'";
    })}};
}

void File::flush() {
    quiet();
    check(H5Fflush(id(), H5F_SCOPE_GLOBAL), "H5Fflush",
          [this] { return "file '" + path_.string() + "'"; });
}

// ---------------------------------------------------------------------------------------------
// Dimensions and variables

Dataset create_dimension(Group& group, std::string_view name, hsize_t size) {
    quiet();
    check_name(group.id(), "create_dimension", name);
    if (size == 0) {
        usage_error(group.id(), "create_dimension '" + std::string(name) + "'",
                    "size 0 (unlimited dimensions are not supported)");
    }
    const int dimid = next_dimension_id(group.id());
    const float zero = 0.0f;
    Dataset dataset =
        create_scale_dataset(group, name, H5T_IEEE_F32BE, size, H5T_NATIVE_FLOAT, &zero);
    // netCDF-C: sprintf("%s%10d", DIM_WITHOUT_VARIABLE, len).
    std::string length = std::to_string(size);
    if (length.size() < 10) {
        length.insert(0, 10 - length.size(), ' ');
    }
    const std::string scale_name = std::string(kDimNotVariable) + length;
    check(H5DSset_scale(dataset.id(), scale_name.c_str()), "H5DSset_scale", of(dataset.id()));
    write_int32_scalar_attribute(dataset.id(), kDimidAttribute, dimid);
    return dataset;
}

Dataset create_coordinate(Group& group, std::string_view name, const std::vector<double>& values,
                          std::string_view long_name, std::string_view units) {
    quiet();
    check_name(group.id(), "create_coordinate", name);
    if (values.empty()) {
        usage_error(group.id(), "create_coordinate '" + std::string(name) + "'",
                    "no coordinate values (unlimited dimensions are not supported)");
    }
    const int dimid = next_dimension_id(group.id());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    Dataset dataset =
        create_scale_dataset(group, name, H5T_IEEE_F64LE, values.size(), H5T_NATIVE_DOUBLE, &nan);
    check(H5Dwrite(dataset.id(), H5T_NATIVE_DOUBLE, kSelectAll, kSelectAll, H5P_DEFAULT,
                   values.data()),
          "H5Dwrite", of(dataset.id()));
    const std::string n(name);
    check(H5DSset_scale(dataset.id(), n.c_str()), "H5DSset_scale", of(dataset.id()));
    write_int32_scalar_attribute(dataset.id(), kDimidAttribute, dimid);
    const std::array<int, 1> coordinates{dimid};
    write_numeric_attribute<int>(dataset.id(), kCoordinatesAttribute, H5T_STD_I32LE, H5T_NATIVE_INT,
                                 coordinates);
    if (!long_name.empty()) {
        set_attribute(dataset, "long_name", long_name);
    }
    if (!units.empty()) {
        set_attribute(dataset, "units", units);
    }
    return dataset;
}

Dataset create_variable(Group& group, std::string_view name, ElementType type,
                        const std::vector<const Dataset*>& dims,
                        std::optional<std::vector<hsize_t>> chunk,
                        std::optional<std::int64_t> int_fill) {
    quiet();
    check_name(group.id(), "create_variable", name);
    const std::string operation = "create_variable '" + std::string(name) + "'";
    const auto what = of_child(group.id(), "dataset", name);

    // Shape and netCDF dimension ids from the dimension scales.
    std::vector<hsize_t> shape;
    std::vector<int> dimids;
    bool all_ids = true;
    for (std::size_t axis = 0; axis < dims.size(); ++axis) {
        const Dataset* dim = dims[axis];
        if (dim == nullptr || !dim->valid()) {
            usage_error(group.id(), operation,
                        "dimension of axis " + std::to_string(axis) + " is null or closed");
        }
        if (!check_tri(H5DSis_scale(dim->id()), "H5DSis_scale", of(dim->id()))) {
            usage_error(group.id(), operation,
                        describe(dim->id()) + " (axis " + std::to_string(axis) +
                            ") is not a dimension scale");
        }
        const std::vector<hsize_t> extent = dim->dims();
        if (extent.size() != 1) {
            usage_error(group.id(), operation,
                        describe(dim->id()) + " (axis " + std::to_string(axis) + ") is not 1-D");
        }
        shape.push_back(extent.front());
        const auto dimid = dimension_id(dim->id());
        all_ids = all_ids && dimid.has_value();
        dimids.push_back(dimid.value_or(-1));
    }

    const Handle dcpl = dataset_plist(group.id(), name);
    if (chunk) {
        bool ok = chunk->size() == shape.size() && !shape.empty();
        for (std::size_t i = 0; ok && i < shape.size(); ++i) {
            ok = (*chunk)[i] >= 1 && (*chunk)[i] <= shape[i];
        }
        if (!ok) {
            usage_error(group.id(), operation,
                        "chunk " + join(*chunk) + " does not fit the shape " + join(shape));
        }
        check(H5Pset_chunk(dcpl.id(), static_cast<int>(chunk->size()), chunk->data()),
              "H5Pset_chunk", what);
    }

    // Type and fill value.
    if (int_fill && (type == ElementType::float64 || type == ElementType::string)) {
        usage_error(group.id(), operation, "int_fill is only allowed for integer variables");
    }
    Handle string_type;
    hid_t file_type = H5I_INVALID_HID;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::int64_t fill64 = kFillInt64;
    std::int8_t fill8 = kFillByte;
    const char* empty = "";
    switch (type) {
    case ElementType::float64:
        file_type = H5T_IEEE_F64LE;
        check(H5Pset_fill_value(dcpl.id(), H5T_NATIVE_DOUBLE, &nan), "H5Pset_fill_value", what);
        break;
    case ElementType::int64:
        file_type = H5T_STD_I64LE;
        fill64 = int_fill.value_or(kFillInt64);
        check(H5Pset_fill_value(dcpl.id(), H5T_NATIVE_INT64, &fill64), "H5Pset_fill_value", what);
        break;
    case ElementType::int8:
        file_type = H5T_STD_I8LE;
        if (int_fill && (*int_fill < INT8_MIN || *int_fill > INT8_MAX)) {
            usage_error(group.id(), operation,
                        "int_fill " + std::to_string(*int_fill) + " does not fit int8");
        }
        fill8 = static_cast<std::int8_t>(int_fill.value_or(kFillByte));
        check(H5Pset_fill_value(dcpl.id(), H5T_NATIVE_INT8, &fill8), "H5Pset_fill_value", what);
        break;
    case ElementType::string:
        string_type = vlen_string_type(H5T_CSET_UTF8);
        file_type = string_type.id();
        check(H5Pset_fill_value(dcpl.id(), file_type, &empty), "H5Pset_fill_value", what);
        break;
    }

    const Handle space = simple_space(shape);
    const std::string n(name);
    Dataset dataset{Handle{check_id(H5Dcreate2(group.id(), n.c_str(), file_type, space.id(),
                                               H5P_DEFAULT, dcpl.id(), H5P_DEFAULT),
                                    "H5Dcreate2", what)}};

    for (std::size_t axis = 0; axis < dims.size(); ++axis) {
        check(H5DSattach_scale(dataset.id(), dims[axis]->id(), static_cast<unsigned>(axis)),
              "H5DSattach_scale", [&] {
                  return describe(dims[axis]->id()) + " to axis " + std::to_string(axis) + " of " +
                         describe(dataset.id());
              });
    }
    if (all_ids && !dimids.empty()) {
        write_numeric_attribute<int>(dataset.id(), kCoordinatesAttribute, H5T_STD_I32LE,
                                     H5T_NATIVE_INT, dimids);
    }
    if (type == ElementType::float64) {
        set_attribute(dataset, kFillValueAttribute, std::vector<double>{nan});
    }
    return dataset;
}

// ---------------------------------------------------------------------------------------------
// Data I/O

template <Element T>
void write_slab(Dataset& dataset, std::span<const hsize_t> offset, std::span<const hsize_t> count,
                const T* data) {
    quiet();
    check_element_type<T>(dataset, "write_slab", true);
    const Handle file_space = select_slab(dataset, "write_slab", offset, count);
    const hsize_t n = product(count);
    if (n == 0) {
        return;
    }
    if (data == nullptr) {
        usage_error(dataset.id(), "write_slab", "null data pointer");
    }
    const Handle mem_space = simple_space(count);
    check(H5Dwrite(dataset.id(), native_type<T>(), mem_space.id(), file_space.id(), H5P_DEFAULT,
                   data),
          "H5Dwrite", [&] {
              return describe(dataset.id()) + " (slab offset " + join(offset) + " count " +
                     join(count) + ")";
          });
}

template <Element T>
std::vector<T> read_slab(const Dataset& dataset, std::span<const hsize_t> offset,
                         std::span<const hsize_t> count) {
    quiet();
    check_element_type<T>(dataset, "read_slab", false);
    const Handle file_space = select_slab(dataset, "read_slab", offset, count);
    std::vector<T> values(product(count));
    if (values.empty()) {
        return values;
    }
    const Handle mem_space = simple_space(count);
    check(H5Dread(dataset.id(), native_type<T>(), mem_space.id(), file_space.id(), H5P_DEFAULT,
                  values.data()),
          "H5Dread", [&] {
              return describe(dataset.id()) + " (slab offset " + join(offset) + " count " +
                     join(count) + ")";
          });
    return values;
}

template <Element T>
std::vector<T> read_all(const Dataset& dataset) {
    quiet();
    check_element_type<T>(dataset, "read_all", false);
    std::vector<T> values(product(dataset.dims()));
    if (values.empty()) {
        return values;
    }
    check(
        H5Dread(dataset.id(), native_type<T>(), kSelectAll, kSelectAll, H5P_DEFAULT, values.data()),
        "H5Dread", of(dataset.id()));
    return values;
}

template void write_slab<double>(Dataset&, std::span<const hsize_t>, std::span<const hsize_t>,
                                 const double*);
template void write_slab<std::int64_t>(Dataset&, std::span<const hsize_t>, std::span<const hsize_t>,
                                       const std::int64_t*);
template void write_slab<std::int8_t>(Dataset&, std::span<const hsize_t>, std::span<const hsize_t>,
                                      const std::int8_t*);
template std::vector<double> read_slab<double>(const Dataset&, std::span<const hsize_t>,
                                               std::span<const hsize_t>);
template std::vector<std::int64_t> read_slab<std::int64_t>(const Dataset&, std::span<const hsize_t>,
                                                           std::span<const hsize_t>);
template std::vector<std::int8_t> read_slab<std::int8_t>(const Dataset&, std::span<const hsize_t>,
                                                         std::span<const hsize_t>);
template std::vector<double> read_all<double>(const Dataset&);
template std::vector<std::int64_t> read_all<std::int64_t>(const Dataset&);
template std::vector<std::int8_t> read_all<std::int8_t>(const Dataset&);

void write_string(Dataset& dataset, hsize_t index, std::string_view value) {
    quiet();
    if (value.find('\0') != std::string_view::npos) {
        usage_error(dataset.id(), "write_string", "value contains a NUL character");
    }
    const auto [mem_type, file_space] = select_string(dataset, "write_string", index);
    const std::array<hsize_t, 1> one{1};
    const Handle mem_space = simple_space(one);
    const std::string copy(value);
    const char* pointer = copy.c_str();
    check(H5Dwrite(dataset.id(), mem_type.id(), mem_space.id(), file_space.id(), H5P_DEFAULT,
                   &pointer),
          "H5Dwrite",
          [&] { return describe(dataset.id()) + " (element " + std::to_string(index) + ")"; });
}

std::string read_string(const Dataset& dataset, hsize_t index) {
    quiet();
    const auto [mem_type, file_space] = select_string(dataset, "read_string", index);
    const std::array<hsize_t, 1> one{1};
    const Handle mem_space = simple_space(one);
    char* pointer = nullptr;
    check(H5Dread(dataset.id(), mem_type.id(), mem_space.id(), file_space.id(), H5P_DEFAULT,
                  &pointer),
          "H5Dread",
          [&] { return describe(dataset.id()) + " (element " + std::to_string(index) + ")"; });
    std::string value = pointer != nullptr ? std::string(pointer) : std::string();
    reclaim_strings(mem_type.id(), mem_space.id(), &pointer);
    return value;
}

std::vector<std::string> read_all_strings(const Dataset& dataset) {
    quiet();
    const std::vector<hsize_t> dims = dataset.dims();
    if (dims.size() != 1) {
        usage_error(dataset.id(), "read_all_strings", "not a 1-D variable");
    }
    std::vector<std::string> values;
    if (dims.front() == 0) {
        return values;
    }
    const auto [mem_type, file_space] = select_string(dataset, "read_all_strings", 0);
    check(H5Sselect_all(file_space.id()), "H5Sselect_all", of(dataset.id()));
    const Handle mem_space = simple_space(dims);
    std::vector<char*> pointers(dims.front(), nullptr);
    check(H5Dread(dataset.id(), mem_type.id(), mem_space.id(), file_space.id(), H5P_DEFAULT,
                  pointers.data()),
          "H5Dread", of(dataset.id()));
    values.reserve(pointers.size());
    for (const char* pointer : pointers) {
        values.emplace_back(pointer != nullptr ? pointer : "");
    }
    reclaim_strings(mem_type.id(), mem_space.id(), pointers.data());
    return values;
}

// ---------------------------------------------------------------------------------------------
// Attributes

void set_attribute(const Object& object, std::string_view name, std::string_view value) {
    quiet();
    if (value.find('\0') != std::string_view::npos) {
        usage_error(object.id(), "set_attribute '" + std::string(name) + "'",
                    "text contains a NUL character");
    }
    const bool ascii = std::all_of(value.begin(), value.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    // h5netcdf returns 1-byte fixed-length strings as bytes ("S1" char arrays): pad to 2 bytes.
    std::string buffer(value);
    buffer.resize(std::max<std::size_t>(buffer.size(), 2), '\0');
    Handle type = copy_type(H5T_C_S1);
    const auto what = [&object, name] {
        return "attribute '" + std::string(name) + "' of " + describe(object.id());
    };
    check(H5Tset_size(type.id(), buffer.size()), "H5Tset_size", what);
    check(H5Tset_strpad(type.id(), H5T_STR_NULLTERM), "H5Tset_strpad", what);
    check(H5Tset_cset(type.id(), ascii ? H5T_CSET_ASCII : H5T_CSET_UTF8), "H5Tset_cset", what);
    const Handle space = simple_space({});
    write_attribute(object.id(), name, type.id(), type.id(), space.id(), buffer.data());
}

void set_attribute(const Object& object, std::string_view name, double value) {
    write_numeric_attribute<double>(object.id(), name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                                    std::span<const double>(&value, 1));
}

void set_attribute(const Object& object, std::string_view name, std::int64_t value) {
    write_numeric_attribute<std::int64_t>(object.id(), name, H5T_STD_I64LE, H5T_NATIVE_INT64,
                                          std::span<const std::int64_t>(&value, 1));
}

void set_attribute(const Object& object, std::string_view name, const std::vector<double>& values) {
    write_numeric_attribute<double>(object.id(), name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, values);
}

void set_attribute(const Object& object, std::string_view name,
                   const std::vector<std::int64_t>& values) {
    write_numeric_attribute<std::int64_t>(object.id(), name, H5T_STD_I64LE, H5T_NATIVE_INT64,
                                          values);
}

void set_attribute(const Object& object, std::string_view name,
                   const std::vector<std::int8_t>& values) {
    write_numeric_attribute<std::int8_t>(object.id(), name, H5T_STD_I8LE, H5T_NATIVE_INT8, values);
}

bool has_attribute(const Object& object, std::string_view name) {
    return open_attribute(object.id(), name).has_value();
}

std::optional<std::string> get_string_attribute(const Object& object, std::string_view name) {
    const auto attribute = open_attribute(object.id(), name);
    if (!attribute) {
        return std::nullopt;
    }
    const hid_t id = attribute->id();
    const auto what = [id] {
        return attribute_what(id);
    };
    const Handle type{check_id(H5Aget_type(id), "H5Aget_type", what)};
    if (H5Tget_class(type.id()) != H5T_STRING) {
        throw Error("get_string_attribute: " + attribute_what(id) + " is not text");
    }
    const hsize_t n = attribute_size(id);
    if (n == 0) {
        return std::string();
    }
    if (n != 1) {
        throw Error("get_string_attribute: " + attribute_what(id) + " has " + std::to_string(n) +
                    " strings, expected 1");
    }
    if (check_tri(H5Tis_variable_str(type.id()), "H5Tis_variable_str", what)) {
        const Handle mem_type = vlen_string_type(H5Tget_cset(type.id()));
        char* pointer = nullptr;
        check(H5Aread(id, mem_type.id(), &pointer), "H5Aread", what);
        std::string value = pointer != nullptr ? std::string(pointer) : std::string();
        const Handle space{check_id(H5Aget_space(id), "H5Aget_space", what)};
        reclaim_strings(mem_type.id(), space.id(), &pointer);
        return value;
    }
    const std::size_t size = H5Tget_size(type.id());
    if (size == 0) {
        fail("H5Tget_size", what);
    }
    std::string value(size, '\0');
    check(H5Aread(id, type.id(), value.data()), "H5Aread", what);
    if (H5Tget_strpad(type.id()) == H5T_STR_SPACEPAD) {
        value.erase(value.find_last_not_of(' ') + 1);
    } else {
        value.resize(std::min(value.size(), value.find('\0')));
    }
    return value;
}

std::optional<std::vector<std::int64_t>> get_int64_array_attribute(const Object& object,
                                                                   std::string_view name) {
    const auto attribute = open_attribute(object.id(), name);
    if (!attribute) {
        return std::nullopt;
    }
    return read_numeric_attribute<std::int64_t>(attribute->id(), H5T_NATIVE_INT64, false,
                                                "get_int64_attribute");
}

std::optional<std::vector<double>> get_double_array_attribute(const Object& object,
                                                              std::string_view name) {
    const auto attribute = open_attribute(object.id(), name);
    if (!attribute) {
        return std::nullopt;
    }
    return read_numeric_attribute<double>(attribute->id(), H5T_NATIVE_DOUBLE, true,
                                          "get_double_attribute");
}

std::optional<std::int64_t> get_int64_attribute(const Object& object, std::string_view name) {
    return single_value(get_int64_array_attribute(object, name), object, name,
                        "get_int64_attribute");
}

std::optional<double> get_double_attribute(const Object& object, std::string_view name) {
    return single_value(get_double_array_attribute(object, name), object, name,
                        "get_double_attribute");
}

} // namespace plateau::h5
