// Faults around the output file: paths the writer refuses, a refused --resume that must not
// change a byte, a full disk, a file in use, Ctrl-C while the file is created, stale temporary
// files, campaigns too large for memory or disk. The promise for bad input: one readable line,
// exit status 2, no file written, nothing already on disk changed (docs/RELIABILITY.md).
#include "cli/command_support.hpp"
#include "cli_helpers.hpp"
#include "engine/core/errors.hpp"
#include "engine/core/sha256.hpp"
#include "engine/io/h5/h5.hpp"
#include "engine/io/reader.hpp"
#include "engine/io/writer.hpp"

#include <catch2/catch.hpp>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

using namespace plateau;
using plateau::test::run_plateau;
using plateau::test::TempDir;

namespace {

std::string hash_of(const std::string& path) {
    return sha256_hex(plateau::test::read_file(path));
}

/// Exit status 2 and exactly one line of output (a crash gives status -1).
void require_one_line_refusal(const plateau::test::CliResult& r, const std::string& needle) {
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK(r.output.starts_with("plateau run: "));
    CHECK(r.output.find(needle) != std::string::npos);
}

bool no_part_files(const std::filesystem::path& dir) {
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().find(".part-") != std::string::npos)
            return false;
    return true;
}

/// A small tmpfs mounted for the test (root only); unmounted with the object.
class SmallDisk {
public:
    SmallDisk(const std::filesystem::path& dir, const std::string& size) : dir_(dir) {
        std::filesystem::create_directories(dir_);
        mounted_ = mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    }
    SmallDisk(const SmallDisk&) = delete;
    SmallDisk& operator=(const SmallDisk&) = delete;
    ~SmallDisk() {
        if (mounted_)
            umount(dir_.c_str());
    }
    [[nodiscard]] bool mounted() const noexcept { return mounted_; }

private:
    std::filesystem::path dir_;
    bool mounted_ = false;
};

/// A process id that is certainly not running: a child that has exited and been reaped.
pid_t dead_pid() {
    const pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    int status = 0;
    waitpid(pid, &status, 0);
    return pid;
}

const std::string tiny = "--N 50 --alpha-max 1 --records 5 --seeds 1 --quiet";

} // namespace

TEST_CASE("plateau run: output paths that are not a regular file are refused with one line",
          "[output][cli]") {
    TempDir dir;
    // A directory, with --overwrite (it was exit 1 with a raw filesystem error).
    std::filesystem::create_directory(dir / "d");
    require_one_line_refusal(run_plateau("run " + tiny + " --overwrite -o " + (dir / "d")),
                             "it is a directory");
    CHECK(std::filesystem::is_directory(dir / "d"));
    // An empty -o (it silently wrote nothing).
    require_one_line_refusal(run_plateau("run " + tiny + " -o ''"), "invalid value '' for 'out'");
    // A FIFO is never replaced by --overwrite, nor taken for a campaign file by --resume.
    REQUIRE(mkfifo((dir / "fifo").c_str(), 0644) == 0);
    require_one_line_refusal(run_plateau("run " + tiny + " --overwrite -o " + (dir / "fifo")),
                             "it is a FIFO; --overwrite replaces a regular file only");
    require_one_line_refusal(run_plateau("run " + tiny + " --resume -o " + (dir / "fifo")),
                             "it is a FIFO, not a campaign file");
    CHECK(std::filesystem::is_fifo(dir / "fifo"));
    // A device node like /dev/null (made here, as root): --resume crashed inside HDF5 at exit,
    // --overwrite replaced the node with a regular file.
    if (mknod((dir / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
        require_one_line_refusal(run_plateau("run " + tiny + " --resume -o " + (dir / "null")),
                                 "it is a device, not a campaign file");
        require_one_line_refusal(run_plateau("run " + tiny + " --overwrite -o " + (dir / "null")),
                                 "it is a device; --overwrite replaces a regular file only");
        CHECK(std::filesystem::is_character_file(dir / "null"));
    } else {
        WARN("mknod not permitted: the device-node cases are skipped");
    }
    CHECK(no_part_files(dir.path()));
}

TEST_CASE("plateau run: a long file name the file system accepts is written", "[output][cli]") {
    TempDir dir;
    const long max = pathconf(dir.path().c_str(), _PC_NAME_MAX);
    REQUIRE(max > 20);
    // The temporary name added 14 characters to the name and failed.
    const std::string longest = dir / std::string(static_cast<std::size_t>(max), 'a');
    const auto r = run_plateau("run " + tiny + " -o " + longest);
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(std::filesystem::is_regular_file(longest));
    CHECK(no_part_files(dir.path()));
    // One byte more is refused, saying why.
    require_one_line_refusal(run_plateau("run " + tiny + " -o " + longest + "b"),
                             "its file name is " + std::to_string(max + 1) +
                                 " bytes long; the file system allows " + std::to_string(max));
}

TEST_CASE("a refused --resume leaves every byte of the file unchanged", "[output][cli][resume]") {
    TempDir dir;
    const std::string empty = dir / "empty.h5";
    std::ofstream(empty).close();
    const std::string text = dir / "text.h5";
    std::ofstream(text) << "not HDF5 at all\n";
    const std::string other = dir / "other.h5";
    REQUIRE(run_plateau("run " + tiny + " --eta 0.7 -o " + other).status == 0);
    for (const std::string& path : {empty, text, other}) {
        INFO(path);
        const std::string before = hash_of(path);
        const auto size = std::filesystem::file_size(path);
        const auto r = run_plateau("run " + tiny + " --eta 0.5 --resume -o " + path);
        CHECK(r.status == 2);
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
        CHECK(std::filesystem::file_size(path) == size); // a 0-byte file became 800 bytes
        CHECK(hash_of(path) == before);
    }
}

TEST_CASE("a campaign file in use by another process is reported as in use",
          "[output][cli][resume]") {
    TempDir dir;
    const std::string path = dir / "busy.h5";
    REQUIRE(run_plateau("run " + tiny + " -o " + path).status == 0);
    {
        // A reader such as h5py holding it open (HDF5's lock, shared), then a writer.
        const h5::File reader = h5::File::open_readonly(path);
        require_one_line_refusal(run_plateau("run " + tiny + " --resume -o " + path),
                                 "it is in use (another process holds it open");
    }
    {
        const h5::File writer = h5::File::open_readwrite(path);
        require_one_line_refusal(run_plateau("run " + tiny + " --resume -o " + path),
                                 "it is in use (another process holds it open");
    }
    CHECK(run_plateau("run " + tiny + " --resume -o " + path).status == 0);
}

TEST_CASE("a full disk while the file is created gives one line and no crash", "[output][cli]") {
    TempDir dir;
    const SmallDisk disk(dir.path() / "disk", "200k");
    if (!disk.mounted()) {
        WARN("mounting a tmpfs is not permitted here (needs root): test skipped");
        return;
    }
    const std::string out = dir / "disk/full.h5";
    // Refused before anything is written: the estimate exceeds the free space.
    require_one_line_refusal(run_plateau("run --K 1,2,3,4,5,6,7,8,9,10 " + tiny + " -o " + out),
                             "its file system has");
    CHECK(std::filesystem::is_empty(dir.path() / "disk"));

    // The writer itself (no estimate checked before): the disk fills while the file is
    // created. This printed a long HDF5 error, then crashed inside HDF5 at exit (H5close). The
    // child exits normally (running H5close): 0 if it got the one-line OutputError.
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        CampaignSpec spec;
        GridPoint g;
        g.params.model.N = 50;
        g.params.schedule.alpha_max = 1;
        g.params.schedule.records = 200;
        g.coordinates = {{"N", 50, {}, true, "input dimension"}};
        spec.points.push_back(g);
        spec.seeds = 400;
        int code = 3;
        try {
            (void)CampaignWriter::create(out, spec, {"config", "cmd", "simulation"}, false);
        } catch (const OutputError& e) {
            const std::string what = e.what();
            code = what.find('\n') == std::string::npos &&
                           what.find("its file system has") != std::string::npos
                       ? 0
                       : 1;
        } catch (...) {
            code = 2;
        }
        std::exit(code);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(std::filesystem::is_empty(dir.path() / "disk"));
}

TEST_CASE("a full disk names the size of a small file to a tenth of a MB", "[output][cli]") {
    TempDir dir;
    const SmallDisk disk(dir.path() / "disk", "64k");
    if (!disk.mounted()) {
        WARN("mounting a tmpfs is not permitted here (needs root): test skipped");
        return;
    }
    const std::string out = dir / "disk/small.h5";
    CampaignSpec spec;
    GridPoint g;
    g.params.model.N = 50;
    g.params.schedule.alpha_max = 1;
    g.params.schedule.records = 20;
    g.coordinates = {{"N", 50, {}, true, "input dimension"}};
    spec.points.push_back(g);
    spec.seeds = 4;
    // The writer (as in "a full disk while the file is created..."): in a child, whose exit
    // runs HDF5's exit handler. The file needs ~0.1 MB (the estimate plus 64 KiB of slack); the
    // message said "needs ~1 MB" (issue 34, item 12).
    const std::string message = dir / "message.txt";
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 3;
        try {
            (void)CampaignWriter::create(out, spec, {"config", "cmd", "simulation"}, false);
        } catch (const OutputError& e) {
            std::ofstream(message) << e.what();
            code = 0;
        } catch (...) {
            code = 2;
        }
        std::exit(code);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    const std::string what = plateau::test::read_file(message);
    INFO(what);
    const auto at = what.find("the file needs ~");
    REQUIRE(at != std::string::npos);
    const double mb = std::stod(what.substr(at + 16));
    CHECK(mb > 0.05);
    CHECK(mb < 0.5);
    CHECK(what.find(" MB, its file system has ") != std::string::npos);
}

TEST_CASE("Ctrl-C while the file is created leaves no temporary file", "[output][cli][slow]") {
    for (const int sig : {SIGINT, SIGTERM}) {
        INFO("signal " << sig);
        TempDir dir;
        const std::string out = dir / "big.h5";
        // A file of about 1 GB: creating it (every dataset filled) takes about half a second.
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            const std::string cmd = plateau::test::plateau_binary().string() +
                                    " run --N 50 --alpha-max 1 --records 200 --seeds 20000 "
                                    "--K 4 --quiet -o " +
                                    out + " > /dev/null 2>&1";
            execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        bool seen = false;
        for (int i = 0; i < 5000 && !seen; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            seen = !no_part_files(dir.path());
        }
        REQUIRE(seen);
        kill(pid, sig);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == sig);
        CHECK(no_part_files(dir.path()));
        CHECK_FALSE(std::filesystem::exists(out));
    }
}

TEST_CASE("a stale temporary file of a dead process is named and removed", "[output][cli]") {
    TempDir dir;
    const std::string out = dir / "c.h5";
    const std::string part = dir / (".c.h5.part-" + std::to_string(dead_pid()));
    std::ofstream(part) << "half a file";
    // --resume finds no file, but names the temporary file an interrupted creation left.
    const auto r = run_plateau("run " + tiny + " --resume -o " + out);
    require_one_line_refusal(r, "'" + part + "' is the temporary file of a creation interrupted");
    CHECK(std::filesystem::exists(part));
    // A new run removes it and says so.
    const auto fresh = run_plateau("run " + tiny + " -o " + out);
    INFO(fresh.output);
    CHECK(fresh.status == 0);
    CHECK(fresh.output.find("removed '" + part + "'") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(part));
    CHECK(std::filesystem::exists(out));
}

TEST_CASE("plateau run --dry-run is instant for any number of runs, and a campaign too large "
          "is refused before it starts",
          "[output][cli]") {
    TempDir dir;
    const auto start = std::chrono::steady_clock::now();
    // --seeds 2147483648 --dry-run died of std::bad_alloc (a per-run layout).
    const auto dry = run_plateau("run --seeds 2147483648 --dry-run");
    INFO(dry.output);
    CHECK(dry.status == 0);
    CHECK(dry.output.find("runs:        2147483648 (1 grid point(s) x 2147483648 seed(s)) in 1 "
                          "group(s)") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
    // Per-run bookkeeping beyond any physical memory: refused with the numbers, nothing written.
    require_one_line_refusal(
        run_plateau("run --seeds 1000000000000 --quiet -o " + (dir / "huge.h5")),
        "campaign too large: memory: ~");
    CHECK_FALSE(std::filesystem::exists(dir / "huge.h5"));
    // A file larger than the free space of its directory.
    const SmallDisk disk(dir.path() / "disk", "200k");
    if (disk.mounted()) {
        require_one_line_refusal(run_plateau("run --seeds 1000 --quiet -o " + (dir / "disk/x.h5")),
                                 "for 'out': disk: the file needs ~");
        CHECK(std::filesystem::is_empty(dir.path() / "disk"));
    } else {
        WARN("mounting a tmpfs is not permitted here (needs root): the disk case is skipped");
    }
}

namespace {

/// Flips one bit in the stored chunk of `variable` of group K2_M2 that holds element
/// `coordinate` (the chunk's bytes on disk, as HDF5 reports their address).
void flip_bit_in_chunk(const std::string& path, const std::string& variable,
                       std::vector<hsize_t> coordinate) {
    haddr_t address = 0;
    hsize_t size = 0;
    {
        const h5::File f = h5::File::open_readonly(path);
        const h5::Dataset d = f.root().open_group("K2_M2").open_dataset(variable);
        unsigned mask = 0;
        REQUIRE(H5Dget_chunk_info_by_coord(d.id(), coordinate.data(), &mask, &address, &size) >= 0);
    }
    REQUIRE(size > 4);
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(address + 2));
    char byte = 0;
    file.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x10);
    file.seekp(static_cast<std::streamoff>(address + 2));
    file.write(&byte, 1);
}

std::vector<double> all_of(const std::string& path, const std::string& variable) {
    const h5::File f = h5::File::open_readonly(path);
    return h5::read_all<double>(f.root().open_group("K2_M2").open_dataset(variable));
}

} // namespace

TEST_CASE("flipped bits in a run's data are found and --resume computes the run again",
          "[output][cli][resume]") {
    TempDir dir;
    const std::string args = "--N 50 --alpha-max 2 --records 6 --seeds 4 --quiet -o ";
    const std::string path = dir / "c.h5";
    REQUIRE(run_plateau("run " + args + path).status == 0);
    const auto Q = all_of(path, "Q");
    const auto eg = all_of(path, "eg");
    CHECK(CampaignReader::open(path).damaged_runs().empty());

    flip_bit_in_chunk(path, "Q", {2, 0, 0, 0});
    {
        const CampaignReader reader = CampaignReader::open(path);
        CHECK(reader.damaged_runs() == std::vector<std::int64_t>{2});
        CHECK_THROWS_AS(reader.read_run({0, 2}), CampaignReadError);
        CHECK_NOTHROW(reader.read_run({0, 1}));
    }
    const auto resumed = run_plateau("run " + args + path + " --resume");
    INFO(resumed.output);
    CHECK(resumed.status == 0);
    CHECK(resumed.output.find("1 run(s) of " + path +
                              " fail their checksum (bits changed on disk): run_index 2") !=
          std::string::npos);
    CHECK(CampaignReader::open(path).damaged_runs().empty());
    CHECK(all_of(path, "Q") == Q); // bit for bit: a run is a pure function of its index

    // A damaged block of status: every run of the block is computed again.
    flip_bit_in_chunk(path, "status", {0});
    CHECK(CampaignReader::open(path).damaged_runs() == std::vector<std::int64_t>{0, 1, 2, 3});
    const auto again = run_plateau("run " + args + path + " --resume");
    INFO(again.output);
    CHECK(again.status == 0);
    CHECK(again.output.find("4 run(s)") != std::string::npos);
    CHECK(CampaignReader::open(path).damaged_runs().empty());
    CHECK(all_of(path, "eg") == eg);
}

TEST_CASE("a zeroed chunk passes Fletcher-32 but not run_checksum: every reader finds it",
          "[output][cli][resume]") {
    TempDir dir;
    const std::string args = "--N 50 --alpha-max 2 --records 6 --seeds 4 --quiet -o ";
    const std::string path = dir / "c.h5";
    REQUIRE(run_plateau("run " + args + path).status == 0);
    const auto eg = all_of(path, "eg");
    {
        // Zero the whole stored chunk of eg of run 1, its Fletcher-32 trailer included: the sum
        // of zeros is zero, so HDF5 reads it as eps_g = 0 without an error.
        haddr_t address = 0;
        hsize_t size = 0;
        {
            const h5::File f = h5::File::open_readonly(path);
            const h5::Dataset d = f.root().open_group("K2_M2").open_dataset("eg");
            std::array<hsize_t, 2> coordinate{1, 0};
            unsigned mask = 0;
            REQUIRE(H5Dget_chunk_info_by_coord(d.id(), coordinate.data(), &mask, &address, &size) >=
                    0);
        }
        std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(static_cast<std::streamoff>(address));
        const std::string zeros(size, '\0');
        file.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    }
    CHECK(all_of(path, "eg")[6] == 0.0); // the premise: HDF5 itself sees no damage
    {
        const CampaignReader reader = CampaignReader::open(path);
        CHECK(reader.damaged_runs() == std::vector<std::int64_t>{1});
        CHECK_THROWS_WITH(reader.read_run({0, 1}), Catch::Contains("run_checksum"));
        CHECK_NOTHROW(reader.read_run({0, 0}));
    }
    const auto resumed = run_plateau("run " + args + path + " --resume");
    INFO(resumed.output);
    CHECK(resumed.status == 0);
    CHECK(resumed.output.find("run_index 1; computing them again") != std::string::npos);
    CHECK(CampaignReader::open(path).damaged_runs().empty());
    CHECK(all_of(path, "eg") == eg);
}

namespace {

/// The file offset of the stored chunk of `variable` of group K2_M2 that holds `coordinate`.
haddr_t chunk_address(const std::string& path, const std::string& variable,
                      std::vector<hsize_t> coordinate) {
    const h5::File f = h5::File::open_readonly(path);
    const h5::Dataset d = f.root().open_group("K2_M2").open_dataset(variable);
    unsigned mask = 0;
    haddr_t address = 0;
    hsize_t size = 0;
    REQUIRE(H5Dget_chunk_info_by_coord(d.id(), coordinate.data(), &mask, &address, &size) >= 0);
    return address;
}

/// The shell assignments that make `plateau` fail, with EIO, every read of the byte at `offset`
/// (tests/preload/fail_pread.cpp). ASan (sanitizer builds) must tolerate a library preloaded
/// before its runtime.
std::string failing_read_at(haddr_t offset) {
    return "PLATEAU_TEST_EIO_OFFSET=" + std::to_string(offset) +
           " LD_PRELOAD=" + std::string(PLATEAU_FAIL_PREAD) +
           " ASAN_OPTIONS=\"${ASAN_OPTIONS}:verify_asan_link_order=0\"";
}

} // namespace

TEST_CASE("a read error that is not a checksum failure stops --resume and marks no run damaged",
          "[output][cli][resume]") {
    TempDir dir;
    const std::string args = "--N 50 --alpha-max 2 --records 6 --seeds 4 --quiet -o ";
    const std::string path = dir / "c.h5";
    REQUIRE(run_plateau("run " + args + path).status == 0);
    const auto Q = all_of(path, "Q");
    const auto eg = all_of(path, "eg");
    const haddr_t run2 = chunk_address(path, "Q", {2, 0, 0, 0});

    // The disk fails the read of run 2's chunk of Q once (EIO): an error with its cause, exit
    // status 1, and run 2 is neither marked damaged nor computed again.
    const auto failed = run_plateau("run " + args + path + " --resume", failing_read_at(run2));
    INFO(failed.output);
    CHECK(failed.status == 1);
    CHECK(failed.output.find("plateau run: error: reading Q of run_index 2 to check its checksum "
                             "failed for another reason than a checksum (nothing marked "
                             "damaged)") != std::string::npos);
    CHECK(failed.output.find("file read failed") != std::string::npos);
    CHECK(failed.output.find("fail their checksum") == std::string::npos);
    CHECK(all_of(path, "Q") == Q);
    {
        const h5::File f = h5::File::open_readonly(path);
        const auto status =
            h5::read_all<std::int8_t>(f.root().open_group("K2_M2").open_dataset("status"));
        CHECK(status == std::vector<std::int8_t>(4, 1)); // all still completed
    }
    // The disk recovered: nothing to do.
    const auto resumed = run_plateau("run " + args + path + " --resume");
    INFO(resumed.output);
    CHECK(resumed.status == 0);
    CHECK(resumed.output.find("fail their checksum") == std::string::npos);
    CHECK(CampaignReader::open(path).damaged_runs().empty());
    CHECK(all_of(path, "eg") == eg);

    // The same chunk with a flipped bit: a checksum failure, the run is damaged.
    flip_bit_in_chunk(path, "Q", {2, 0, 0, 0});
    CHECK(CampaignReader::open(path).damaged_runs() == std::vector<std::int64_t>{2});
}

TEST_CASE("a file HDF5 failed to close does not crash the program at exit", "[output][cli]") {
    TempDir dir;
    const SmallDisk disk(dir.path() / "disk", "64k");
    if (!disk.mounted()) {
        WARN("mounting a tmpfs is not permitted here (needs root): test skipped");
        return;
    }
    // The h5 layer alone (no space reserved): 300 KB of metadata on a 64 KB disk. The failed flush
    // leaves a file HDF5 cannot close; H5close at exit crashed on it. guarded() reports the
    // error and ends with _Exit instead.
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int status = plateau::cli::guarded("run", [&] {
            h5::File file = h5::File::create_exclusive(dir.path() / "disk/x.h5");
            h5::Group root = file.root();
            // Metadata only (held in HDF5's cache until the flush): about 300 KB of groups.
            for (int i = 0; i < 2000; ++i)
                h5::set_attribute(root.create_group("g" + std::to_string(i)), "text",
                                  std::string_view(std::string(100, 'x')));
            file.flush();
            return 0;
        });
        std::exit(h5::failed_file_closes() > 0 ? 10 + status : status);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1); // the error's status, through _Exit
}
