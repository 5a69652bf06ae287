// A small RAII layer over the HDF5 C API that writes netCDF-4-compatible files.
//
// Scope. Exactly what the campaign writer needs: files, groups, fixed-size dimensions, coordinate
// variables, float64 / int64 / int8 / variable-length string variables written slab by slab, and
// text / numeric attributes. The files open without custom code in netCDF-C (ncdump), in
// netCDF4-python and in xarray with engine="h5netcdf".
//
// netCDF-4 conventions followed (as netCDF-C 4.9 writes them):
//  - link and attribute creation order are tracked and indexed on the file, on every group and
//    on every dataset;
//  - a dimension without coordinate values is a 1-D float32 dataset of the dimension's length,
//    made an HDF5 dimension scale whose NAME is "This is a netCDF dimension but not a netCDF
//    variable." followed by the length right-aligned in 10 characters;
//  - a dimension with coordinate values is the coordinate variable itself (NAME = its name);
//  - every dimension scale carries a scalar int32 `_Netcdf4Dimid`, unique within the file;
//    every variable carries `_Netcdf4Coordinates` (the dimension ids of its axes) and has every
//    dimension scale attached to its axis;
//  - text attributes are scalar fixed-length NUL-terminated strings (NC_CHAR), numeric
//    attributes are 1-D arrays (one element for a single number);
//  - the root group carries `_NCProperties`.
//
// Data layout. Variables are created at their final shape with early allocation and
// H5D_FILL_TIME_IFSET, so the file on disk is complete (and filled) from creation on: float64
// variables are filled with NaN (and carry `_FillValue = NaN`), integer variables with a given
// value or netCDF's default fill (-127 for int8, -9223372036854775806 for int64), without a
// `_FillValue` attribute, strings with "".
//
// Errors. Every failure throws plateau::h5::Error naming the object, the operation and the HDF5
// call, with the messages of the HDF5 error stack appended. HDF5's automatic error printing is
// switched off (per thread, on first use).
//
// Threading. HDF5 objects are not meant to be shared: one thread owns a File and everything opened
// from it. Handles may outlive the File object they came from (HDF5 keeps the file open until the
// last handle is closed), but the file is only really closed when all of them are gone.
//
// Headers, by role (as HighFive splits its own): error.hpp (Error), object.hpp (Handle, Object,
// Group, Dataset, File), netcdf.hpp (dimensions, coordinates, variables), data.hpp (slabs and
// strings), attribute.hpp (attributes). This header includes them all.
#pragma once

#include "engine/io/h5/attribute.hpp"
#include "engine/io/h5/data.hpp"
#include "engine/io/h5/error.hpp"
#include "engine/io/h5/netcdf.hpp"
#include "engine/io/h5/object.hpp"
