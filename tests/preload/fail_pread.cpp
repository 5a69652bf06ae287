// A transient disk error for tests: preloaded (LD_PRELOAD) into a `plateau` a test runs, every
// pread() whose range holds the byte at offset $PLATEAU_TEST_EIO_OFFSET fails with EIO, as a
// failing disk or network file system would; every other read is passed on. HDF5 reads a file
// with pread() (its sec2 driver), so the read of the chunk at that offset fails with an I/O error
// (H5E_IO, H5E_READERROR), not a checksum failure. tests/test_output_faults.cpp uses it.
#include <dlfcn.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdlib>

namespace {

using PreadFunction = ssize_t (*)(int, void*, size_t, off_t);

PreadFunction next_pread() {
    static const auto next = reinterpret_cast<PreadFunction>(dlsym(RTLD_NEXT, "pread"));
    return next;
}

off_t failing_offset() {
    static const off_t offset = [] {
        const char* text = std::getenv("PLATEAU_TEST_EIO_OFFSET");
        return text == nullptr ? off_t{-1} : static_cast<off_t>(std::atoll(text));
    }();
    return offset;
}

} // namespace

extern "C" ssize_t pread(int fd, void* buffer, size_t count, off_t offset) {
    const off_t target = failing_offset();
    if (target >= offset && target - offset < static_cast<off_t>(count)) {
        errno = EIO;
        return -1;
    }
    return next_pread()(fd, buffer, count, offset);
}
