#include "engine/io/h5/attribute.hpp"

#include "engine/io/h5/detail.hpp"

#include <algorithm>

namespace plateau::h5 {

using namespace detail;

namespace {

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

} // namespace

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
