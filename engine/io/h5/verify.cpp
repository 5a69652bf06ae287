#include "engine/io/h5/verify.hpp"

#include "engine/io/h5/detail.hpp"
#include "engine/io/h5/netcdf.hpp"

#include <H5DSpublic.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

namespace plateau::h5 {

using namespace detail;

namespace {

/// Reads `space`'s elements of `object` (an attribute or a dataset) in the native form of its
/// file type, then frees any variable-length data HDF5 allocated.
template <typename Read>
void read_native(hid_t file_type, hid_t space, const std::string& what, Read&& read) {
    const Handle mem(check_id(H5Tget_native_type(file_type, H5T_DIR_ASCEND), "H5Tget_native_type",
                              [&] { return what; }));
    const hssize_t points = H5Sget_select_npoints(space);
    const std::size_t size = H5Tget_size(mem.id());
    if (points < 0 || size == 0)
        fail("H5Sget_select_npoints", [&] { return what; });
    std::vector<unsigned char> buffer(static_cast<std::size_t>(points) * size);
    check(read(mem.id(), buffer.data()), "read", [&] { return what; });
    if (H5Tdetect_class(mem.id(), H5T_VLEN) > 0 || H5Tis_variable_str(mem.id()) > 0)
        reclaim_strings(mem.id(), space, buffer.data());
}

void verify_attributes(hid_t object) {
    H5O_info_t info{};
#if H5_VERSION_GE(1, 12, 0)
    check(H5Oget_info3(object, &info, H5O_INFO_NUM_ATTRS), "H5Oget_info3", of(object));
#else
    check(H5Oget_info2(object, &info, H5O_INFO_NUM_ATTRS), "H5Oget_info2", of(object));
#endif
    for (hsize_t i = 0; i < info.num_attrs; ++i) {
        std::string what = "attribute " + std::to_string(i) + " of " + describe(object);
        const Handle a(check_id(
            H5Aopen_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
            "H5Aopen_by_idx", [&] { return what; }));
        const Handle type(check_id(H5Aget_type(a.id()), "H5Aget_type", [&] { return what; }));
        const Handle space(check_id(H5Aget_space(a.id()), "H5Aget_space", [&] { return what; }));
        read_native(type.id(), space.id(), what,
                    [&](hid_t mem, void* buffer) { return H5Aread(a.id(), mem, buffer); });
    }
}

herr_t open_scale(hid_t, unsigned, hid_t, void*) {
    return 0; // H5DSiterate_scales has opened it: the reference holds
}

void verify_dataset(hid_t dataset) {
    verify_attributes(dataset);
    if (!check_tri(H5DSis_scale(dataset), "H5DSis_scale", of(dataset))) {
        const Handle space(check_id(H5Dget_space(dataset), "H5Dget_space", of(dataset)));
        const int rank = H5Sget_simple_extent_ndims(space.id());
        for (int d = 0; d < rank; ++d) {
            const int scales = H5DSget_num_scales(dataset, static_cast<unsigned>(d));
            if (scales > 0)
                check(H5DSiterate_scales(dataset, static_cast<unsigned>(d), nullptr, open_scale,
                                         nullptr),
                      "H5DSiterate_scales", of(dataset));
        }
    }
    const Handle plist(check_id(H5Dget_create_plist(dataset), "H5Dget_create_plist", of(dataset)));
    if (H5Pget_nfilters(plist.id()) > 0)
        return; // checksummed data: checked per run
    const Handle type(check_id(H5Dget_type(dataset), "H5Dget_type", of(dataset)));
    const Handle space(check_id(H5Dget_space(dataset), "H5Dget_space", of(dataset)));
    read_native(type.id(), space.id(), describe(dataset), [&](hid_t mem, void* buffer) {
        return H5Dread(dataset, mem, kSelectAll, kSelectAll, H5P_DEFAULT, buffer);
    });
}

void verify_group(hid_t group) {
    verify_attributes(group);
    for (const std::string& name : hard_links(group, H5_INDEX_NAME)) {
        const Handle object(check_id(H5Oopen(group, name.c_str(), H5P_DEFAULT), "H5Oopen",
                                     of_child(group, "object", name)));
        switch (H5Iget_type(object.id())) {
        case H5I_GROUP:
            verify_group(object.id());
            break;
        case H5I_DATASET:
            verify_dataset(object.id());
            break;
        default:
            break; // a named datatype: nothing plateau writes
        }
    }
}

} // namespace

void verify_structure(const File& file) {
    quiet();
    verify_group(file.root().id());
}

namespace {
/// The child's exit status when verify_structure threw (an error the parent reports itself).
constexpr int verification_threw = 97;
/// Closes every descriptor above stderr (close_range, or one by one where the kernel lacks it).
void close_inherited_descriptors() noexcept {
    if (close_range(STDERR_FILENO + 1, ~0U, 0) == 0)
        return;
    const long max = sysconf(_SC_OPEN_MAX);
    for (long fd = STDERR_FILENO + 1; fd < (max > 0 ? max : 1024); ++fd)
        (void)::close(static_cast<int>(fd));
}

} // namespace

int crash_signal_of_verification(const std::filesystem::path& path) {
    // A child of a process with other threads may inherit a lock one of them held (malloc's,
    // a sanitizer allocator's: the child then waits forever). Fork only a single-threaded process
    // (the `plateau` program opens files before it starts its workers); otherwise the caller's
    // own verification runs unprotected, as before.
    std::error_code ec;
    std::ptrdiff_t threads = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++threads;
    if (ec || threads != 1)
        return 0;
    const pid_t parent = getpid();
    const pid_t child = fork();
    if (child < 0)
        return 0; // no child: the caller's own verification runs unprotected, as before
    if (child == 0) {
        // The child holds nothing of the parent's: a descriptor shares its open file description
        // across fork, and with it a flock() lock (the output's lock file, HDF5's own file
        // locks). Kept, a parent killed with -9 while the child reads would leave the lock held
        // by the orphan, and the `--resume` that follows refused as "another plateau is
        // writing it". And the child dies with its parent: nothing outlives the program.
        close_inherited_descriptors();
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(0);
        // The child: only _exit (no destructors, no atexit: HDF5's and the parent's state are
        // the parent's to close). Its stderr goes nowhere: what it would print as it crashes
        // (glibc's "double free or corruption", a sanitizer's report) is the parent's one line
        // to say ("the HDF5 library crashed reading its metadata: signal 6").
        if (const int quiet_fd = ::open("/dev/null", O_WRONLY); quiet_fd >= 0)
            (void)::dup2(quiet_fd, STDERR_FILENO);
        try {
            const File file = File::open_readonly(path);
            verify_structure(file);
        } catch (...) {
            _exit(verification_threw);
        }
        _exit(0);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR)
            return 0;
    if (WIFSIGNALED(status))
        return WTERMSIG(status);
    // Any other exit status is a crash reported by a handler (a sanitizer's exits with 1).
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    return code == 0 || code == verification_threw ? 0 : SIGSEGV;
}

} // namespace plateau::h5
