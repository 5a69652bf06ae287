// Errors of the HDF5 layer (engine/io/h5/h5.hpp describes the layer). An error HDF5 reported
// keeps the major and minor error numbers of every entry of HDF5's error stack (H5E_* of
// H5Epubgen.h), so callers decide what it means from the numbers, never from its text.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace plateau::h5 {

/// One entry of HDF5's error stack: its major and minor error numbers.
struct ErrorNumbers {
    hid_t major = -1; ///< e.g. H5E_PLINE (data filters), H5E_FILE, H5E_VFL
    hid_t minor = -1; ///< e.g. H5E_READERROR, H5E_CANTLOCKFILE, H5E_NOTFOUND
    friend constexpr bool operator==(const ErrorNumbers&, const ErrorNumbers&) = default;
};

/// What a failure means to the callers.
enum class ErrorKind : std::uint8_t {
    other,       ///< anything else: an I/O error (H5E_IO), a usage error of this layer, ...
    file_locked, ///< another process holds HDF5's lock on the file (minor H5E_CANTLOCKFILE)
    /// A filter refused the stored bytes of a chunk on read (major H5E_PLINE, minor
    /// H5E_READERROR: "filter returned failure during read"); for a campaign file's chunks the
    /// only filter is Fletcher-32, so the bytes changed on disk since they were written.
    checksum,
    not_hdf5,  ///< the file is not HDF5 (minor H5E_NOTHDF5: no superblock signature)
    not_found, ///< an object (group, dataset, attribute) that is not there (minor H5E_NOTFOUND)
};

/// The kind of a failure from its error stack (outermost entry first, as HDF5 walks it
/// downward). Any entry decides: HDF5 reports a cause innermost and repeats it outward with the
/// numbers of each level (a Fletcher-32 mismatch is (H5E_STORAGE, H5E_READERROR) innermost and
/// (H5E_PLINE, H5E_READERROR) one level out).
[[nodiscard]] ErrorKind classify(std::span<const ErrorNumbers> stack) noexcept;

/// Any failure of this layer or of HDF5 underneath it.
class Error : public std::runtime_error {
public:
    /// A failure this layer found itself (no HDF5 error stack): kind() is `other`.
    explicit Error(const std::string& what) : std::runtime_error(what) {}
    /// A failure HDF5 reported, with its error stack (outermost first).
    Error(const std::string& what, std::vector<ErrorNumbers> stack)
        : std::runtime_error(what), stack_(std::move(stack)), kind_(classify(stack_)) {}

    /// HDF5's error stack, outermost entry (the API call) first; empty for this layer's own.
    [[nodiscard]] const std::vector<ErrorNumbers>& stack() const noexcept { return stack_; }
    /// The innermost entry (the cause), or {-1, -1} without a stack.
    [[nodiscard]] ErrorNumbers innermost() const noexcept {
        return stack_.empty() ? ErrorNumbers{} : stack_.back();
    }
    [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }

private:
    std::vector<ErrorNumbers> stack_;
    ErrorKind kind_ = ErrorKind::other;
};

} // namespace plateau::h5
