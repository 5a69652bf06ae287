// Whole-file structure check of the HDF5 layer: what a reader such as h5py/xarray touches when it
// opens a file, read once, so that damaged metadata is found before a file is used.
#pragma once

#include "engine/io/h5/object.hpp"

namespace plateau::h5 {

/// Walks every group and dataset below the root: reads every attribute, opens every dimension
/// scale a dataset's dimensions name, and reads every dataset without a checksum filter (the
/// coordinates and dimensions; checksummed data are checked per run by their readers). Throws
/// Error naming the first object that fails (damaged metadata or references).
void verify_structure(const File& file);

} // namespace plateau::h5
