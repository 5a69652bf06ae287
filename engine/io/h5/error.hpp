// Errors of the HDF5 layer (engine/io/h5/h5.hpp describes the layer).
#pragma once

#include <stdexcept>
#include <string>

namespace plateau::h5 {

/// Any failure of this layer or of HDF5 underneath it.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

} // namespace plateau::h5
