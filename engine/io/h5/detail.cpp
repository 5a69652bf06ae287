#include "engine/io/h5/detail.hpp"

#include <algorithm>

namespace plateau::h5::detail {
namespace {

struct Collected {
    std::vector<std::string> parts;
    std::vector<ErrorNumbers> numbers;
};

herr_t collect_error(unsigned /*n*/, const H5E_error2_t* error, void* data) {
    auto& collected = *static_cast<Collected*>(data);
    collected.numbers.push_back({error->maj_num, error->min_num});
    auto& parts = collected.parts;
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
} // namespace

/// Switches off HDF5's automatic error printing for the calling thread (the library is built
/// thread-safe, so the setting is per thread).
void quiet() noexcept {
    thread_local bool done = false;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        done = true;
    }
}

ErrorStack take_error_stack() {
    Collected collected;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &collected);
    H5Eclear2(H5E_DEFAULT);
    const auto& parts = collected.parts;
    if (parts.empty()) {
        return {"no HDF5 error message", {}};
    }
    std::string out = parts.front();
    if (parts.size() > 1) {
        out += "; " + parts.back();
    }
    std::replace(out.begin(), out.end(), '\n', ' ');
    return {std::move(out), std::move(collected.numbers)};
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

void reclaim_strings(hid_t mem_type, hid_t mem_space, void* buffer) {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem_type, mem_space, H5P_DEFAULT, buffer);
#else
    H5Dvlen_reclaim(mem_type, mem_space, H5P_DEFAULT, buffer);
#endif
}

} // namespace plateau::h5::detail
