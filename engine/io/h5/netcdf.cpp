#include "engine/io/h5/netcdf.hpp"

#include "engine/io/h5/attribute.hpp"
#include "engine/io/h5/detail.hpp"

#include <H5DSpublic.h>

#include <algorithm>
#include <array>
#include <limits>

namespace plateau::h5 {

using namespace detail;

namespace {

// ---------------------------------------------------------------------------------------------
// netCDF dimension ids

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

} // namespace

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
                        std::optional<std::int64_t> int_fill, Checksum checksum) {
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
    if (checksum == Checksum::fletcher32) {
        if (!chunk) {
            usage_error(group.id(), operation, "a checksum needs a chunked variable");
        }
        check(H5Pset_fletcher32(dcpl.id()), "H5Pset_fletcher32", what);
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

} // namespace plateau::h5

namespace plateau::h5 {

std::vector<ChunkExtent> chunk_extents(const Dataset& dataset) {
    quiet();
    const Handle space{check_id(H5Dget_space(dataset.id()), "H5Dget_space", of(dataset.id()))};
    hsize_t n = 0;
    check(H5Dget_num_chunks(dataset.id(), space.id(), &n), "H5Dget_num_chunks", of(dataset.id()));
    std::vector<ChunkExtent> out(static_cast<std::size_t>(n));
    for (hsize_t i = 0; i < n; ++i) {
        unsigned mask = 0;
        ChunkExtent& e = out[static_cast<std::size_t>(i)];
        check(H5Dget_chunk_info(dataset.id(), space.id(), i, nullptr, &mask, &e.address, &e.size),
              "H5Dget_chunk_info", of(dataset.id()));
    }
    return out;
}

bool has_checksum(const Dataset& dataset) {
    quiet();
    const Handle dcpl{
        check_id(H5Dget_create_plist(dataset.id()), "H5Dget_create_plist", of(dataset.id()))};
    const int filters = H5Pget_nfilters(dcpl.id());
    for (int i = 0; i < filters; ++i) {
        unsigned flags = 0;
        std::size_t n = 0;
        if (H5Pget_filter2(dcpl.id(), static_cast<unsigned>(i), &flags, &n, nullptr, 0, nullptr,
                           nullptr) == H5Z_FILTER_FLETCHER32) {
            return true;
        }
    }
    return false;
}

} // namespace plateau::h5
