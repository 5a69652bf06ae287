#include "engine/io/h5/error.hpp"

#include <algorithm>

namespace plateau::h5 {

ErrorKind classify(std::span<const ErrorNumbers> stack) noexcept {
    const auto any = [stack](auto&& match) {
        return std::any_of(stack.begin(), stack.end(), match);
    };
    if (any([](const ErrorNumbers& e) { return e.minor == H5E_CANTLOCKFILE; }))
        return ErrorKind::file_locked;
    if (any([](const ErrorNumbers& e) { return e.major == H5E_PLINE && e.minor == H5E_READERROR; }))
        return ErrorKind::checksum;
    if (any([](const ErrorNumbers& e) { return e.minor == H5E_NOTHDF5; }))
        return ErrorKind::not_hdf5;
    if (any([](const ErrorNumbers& e) { return e.minor == H5E_NOTFOUND; }))
        return ErrorKind::not_found;
    return ErrorKind::other;
}

} // namespace plateau::h5
