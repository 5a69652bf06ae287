// Handles and objects of the HDF5 layer: Handle (owns one identifier), Object, Group, Dataset,
// File (engine/io/h5/h5.hpp describes the layer).
#pragma once

#include "engine/core/enum_table.hpp"
#include "engine/io/h5/error.hpp"

#include <hdf5.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plateau::h5 {

/// How many files failed to close in this process. HDF5 1.10 cannot close such a file again (a
/// flush that failed, e.g. on a full disk, leaves its metadata cache half-flushed) and crashes
/// inside H5close, which runs at exit; a program that finds this non-zero ends with _Exit
/// after flushing its own output (the file is beyond saving either way).
[[nodiscard]] int failed_file_closes() noexcept;

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
[[nodiscard]] constexpr auto enum_table(ElementType) noexcept {
    return std::to_array<EnumEntry<ElementType>>({{ElementType::float64, "float64"},
                                                  {ElementType::int64, "int64"},
                                                  {ElementType::int8, "int8"},
                                                  {ElementType::string, "string"}});
}
using plateau::name;

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

} // namespace plateau::h5
