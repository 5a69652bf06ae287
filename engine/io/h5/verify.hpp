// Whole-file structure check of the HDF5 layer: what a reader such as h5py/xarray touches when it
// opens a file, read once, so that damaged metadata is found before a file is used.
#pragma once

#include "engine/io/h5/object.hpp"

#include <filesystem>

namespace plateau::h5 {

/// Walks every group and dataset below the root: reads every attribute, opens every dimension
/// scale a dataset's dimensions name, and reads every dataset without a checksum filter (the
/// coordinates and dimensions; checksummed data are checked per run by their readers). Throws
/// Error naming the first object that fails (damaged metadata or references).
void verify_structure(const File& file);

/// Opens `path` and runs verify_structure on it in a child process (fork), so that a damage
/// the HDF5 library itself does not survive (a corrupt global heap behind a variable-length
/// attribute makes H5HG_read copy past its buffer: a segmentation fault, not an error) ends the
/// child, not the program. Returns 0 when the child finished (whether it found the file good or
/// threw: the caller's own open and verify_structure then say which), else the signal that
/// ended it. Call it before any HDF5 handle of the file is open, from the thread that owns HDF5.
/// Only a single-threaded process forks (a child of a multi-threaded one can inherit a lock held
/// by another thread and wait forever); in any other it returns 0 without a child.
[[nodiscard]] int crash_signal_of_verification(const std::filesystem::path& path);

} // namespace plateau::h5
