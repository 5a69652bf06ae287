#include "engine/io/h5/object.hpp"

#include "engine/io/h5/attribute.hpp"
#include "engine/io/h5/detail.hpp"

#include <atomic>

// The software version for _NCProperties, from the header CMake generates (absent in standalone
// builds of this layer).
#if __has_include("plateau_version.hpp")
#include "plateau_version.hpp"
#define PLATEAU_H5_SOFTWARE_VERSION ::plateau::software_version
#else
#define PLATEAU_H5_SOFTWARE_VERSION "unknown"
#endif

namespace plateau::h5 {

using namespace detail;

// ---------------------------------------------------------------------------------------------
// Handle

namespace {

std::atomic<int>& file_close_failures() noexcept {
    static std::atomic<int> count{0};
    return count;
}

/// close_id, counting the files that fail to close.
herr_t close_counted(hid_t id) noexcept {
    const bool file = H5Iget_type(id) == H5I_FILE;
    const herr_t status = close_id(id);
    if (status < 0 && file) {
        file_close_failures().fetch_add(1);
    }
    return status;
}

} // namespace

int failed_file_closes() noexcept {
    return file_close_failures().load();
}

Handle& Handle::operator=(Handle&& other) noexcept {
    if (this != &other) {
        if (valid()) {
            quiet();
            close_counted(id_);
            H5Eclear2(H5E_DEFAULT);
        }
        id_ = other.release();
    }
    return *this;
}

Handle::~Handle() {
    if (valid()) {
        quiet();
        close_counted(id_);
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
    if (close_counted(id) < 0) {
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
    std::string p = path(); // not const: returned by move
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

} // namespace plateau::h5
