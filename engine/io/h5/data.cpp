#include "engine/io/h5/data.hpp"

#include "engine/io/h5/detail.hpp"

#include <array>
#include <utility>

namespace plateau::h5 {

using namespace detail;

namespace {

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

} // namespace

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

} // namespace plateau::h5
