// The campaign writer and `plateau run` with files: round trip, kill -9 and resume, thread
// counts, refusing bad input without touching what is on disk.
#include "cli/config.hpp"
#include "cli_helpers.hpp"
#include "engine/core/sha256.hpp"
#include "engine/io/h5/h5.hpp"
#include "engine/io/run_checksum.hpp"
#include "engine/io/writer.hpp"
#include "engine/simulation/simulate.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <span>
#include <string_view>
#include <thread>
#include <unistd.h>

using namespace plateau;
using plateau::test::run_plateau;
using plateau::test::TempDir;

namespace {

/// Every data and coordinate variable of every group, as raw numbers: equal means bit-equal.
std::map<std::string, std::vector<double>> contents(const std::string& path) {
    std::map<std::string, std::vector<double>> out;
    const h5::File f = h5::File::open_readonly(path);
    const h5::Group root = f.root();
    for (const auto& gname : root.child_groups()) {
        const h5::Group g = root.open_group(gname);
        for (const VariableSpec& v : campaign_variables())
            if (v.dtype == h5::ElementType::float64 && g.has(v.name))
                out[gname + "/" + std::string(v.name)] =
                    h5::read_all<double>(g.open_dataset(v.name));
        for (const char* name : {"eta", "alpha"})
            out[gname + "/" + name] = h5::read_all<double>(g.open_dataset(name));
        for (const char* name : {"status", "run_index", "seed", "N"}) {
            const auto ints = h5::read_all<std::int64_t>(g.open_dataset(name));
            out[gname + "/" + name] = std::vector<double>(ints.begin(), ints.end());
        }
    }
    return out;
}

bool bit_equal(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(),
                      [](double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; });
}

void require_same_data(const std::string& a, const std::string& b) {
    const auto ca = contents(a);
    const auto cb = contents(b);
    REQUIRE(ca.size() == cb.size());
    for (const auto& [name, values] : ca) {
        INFO(name);
        CHECK(bit_equal(values, cb.at(name)));
    }
}

/// The status of group K2_M2 of a file another process is writing. HDF5 reads the variable
/// HDF5_USE_FILE_LOCKING once per process (before any other test of the process used HDF5, or
/// not at all), so the lock is switched off on the file access property list instead.
std::vector<std::int8_t> status_while_written(const std::string& path) {
    const h5::Handle fapl{H5Pcreate(H5P_FILE_ACCESS)};
    if (!fapl.valid() || H5Pset_file_locking(fapl.id(), false, true) < 0)
        throw h5::Error("cannot switch off file locking");
    const h5::Handle file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.id())};
    if (!file.valid())
        throw h5::Error("cannot open " + path);
    const h5::Group root{h5::Handle{H5Gopen2(file.id(), "/", H5P_DEFAULT)}};
    if (!root.valid())
        throw h5::Error("cannot open the root group of " + path);
    return h5::read_all<std::int8_t>(root.open_group("K2_M2").open_dataset("status"));
}

const std::string small = "--N 100 --alpha-max 20 --records 30 --seeds 3 --eta 0.4,0.8 --quiet";

} // namespace

TEST_CASE("sha256 matches the FIPS 180-4 test vectors", "[writer]") {
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("Crc32 is zlib's crc32: its check value, and zeros do not sum to zero", "[writer]") {
    const auto crc = [](std::string_view text) {
        Crc32 c;
        c.add(std::as_bytes(std::span(text.data(), text.size())));
        return c.value();
    };
    CHECK(crc("123456789") == std::int64_t{0xCBF43926}); // CRC-32/ISO-HDLC check value
    CHECK(crc("") == 0);
    CHECK(crc(std::string(8, '\0')) != 0);
    CHECK(crc(std::string(8, '\0')) != crc(std::string(16, '\0')));
}

TEST_CASE("the writer stores what the runs computed", "[writer]") {
    TempDir dir;
    CampaignSpec spec;
    for (const int K : {2, 3}) {
        GridPoint g;
        g.params.model.N = 50;
        g.params.model.student.widths = {K};
        g.params.schedule.alpha_max = 5;
        g.params.schedule.records = 8;
        g.coordinates = {{"N", 50, {}, true, "input dimension"},
                         {"K", double(K), {}, true, "student hidden units"}};
        spec.points.push_back(g);
    }
    spec.seeds = 2;
    spec.master_seed = 9;
    const std::string path = dir / "w.h5";
    {
        CampaignWriter w =
            CampaignWriter::create(path, spec, {"config text", "cmd", "simulation"}, false);
        CHECK(w.unfinished_runs() == std::vector<std::int64_t>{0, 1, 2, 3});
        for (const std::int64_t r : {0, 3}) {
            w.write({r, simulate(spec.point_of(r).params, spec.master_seed, std::uint64_t(r))});
        }
        CHECK(w.unfinished_runs() == std::vector<std::int64_t>{1, 2});
        w.close();
    }
    const h5::File f = h5::File::open_readonly(path);
    const h5::Group root = f.root();
    CHECK(root.child_groups() == std::vector<std::string>{"K2_M2", "K3_M2"});
    CHECK(h5::get_string_attribute(root, "config_sha256") == sha256_hex("config text"));
    CHECK(h5::get_int64_attribute(root, "schema_version") == campaign_schema_version().major);
    CHECK(h5::get_int64_attribute(root, "schema_version_minor") == campaign_schema_version().minor);
    const h5::Group g3 = root.open_group("K3_M2");
    const auto Q = h5::read_all<double>(g3.open_dataset("Q"));
    REQUIRE(Q.size() == 2 * 8 * 3 * 3);
    const RunResult expected = simulate(spec.point_of(3).params, spec.master_seed, 3);
    // run 3 is the second run of group K3_M2: Q[1, a, j, k]
    CHECK(Q[8 * 9 + 5 * 9 + 1 * 3 + 2] == expected.records[5].Q(1, 2));
    CHECK(std::isnan(Q[0])); // run 2 never written
    const auto status = h5::read_all<std::int8_t>(g3.open_dataset("status"));
    CHECK(status == std::vector<std::int8_t>{0, 1});
    CHECK(h5::read_all<std::int64_t>(g3.open_dataset("run_index")) ==
          std::vector<std::int64_t>{2, 3});
}

TEST_CASE("the writer refuses an extra observable that is not a variable of its file", "[writer]") {
    TempDir dir;
    CampaignSpec spec;
    GridPoint g;
    g.params.model.N = 50;
    g.params.schedule.alpha_max = 2;
    g.params.schedule.records = 4;
    spec.points.push_back(g);
    spec.seeds = 2;
    const auto produced = [&](std::int64_t r) {
        return FinishedRun{
            r, simulate(spec.point_of(r).params, spec.master_seed, static_cast<std::uint64_t>(r))};
    };
    const std::string path = dir / "w.h5";
    {
        CampaignWriter w = CampaignWriter::create(path, spec, {"c", "cmd", "simulation"}, false);
        FinishedRun misspelt = produced(0);
        misspelt.result.records.back().extras["eg_trian"] = Eigen::VectorXd::Zero(1);
        try {
            w.write(misspelt);
            FAIL("a record with extras[\"eg_trian\"] was written");
        } catch (const UnknownObservableError& e) {
            CHECK_THAT(e.what(), Catch::Contains("'eg_trian', which is not a variable of a "
                                                 "simulation file; allowed are eps_train, "
                                                 "examples, student_layers, teacher_layers"));
        }
        // A variable of the other kind of file (the theory's flow_error) is refused too.
        FinishedRun misplaced = produced(1);
        misplaced.result.records.front().extras[std::string(extra_name::flow_error)] =
            Eigen::VectorXd::Zero(1);
        CHECK_THROWS_AS(w.write(misplaced), UnknownObservableError);
        // Nothing of either run was written.
        CHECK(w.unfinished_runs() == std::vector<std::int64_t>{0, 1});
        w.write(produced(1));
        CHECK(w.unfinished_runs() == std::vector<std::int64_t>{0});
        w.close();
    }
    const auto eg = h5::read_all<double>(
        h5::File::open_readonly(path).root().open_group("K2_M2").open_dataset("eg"));
    REQUIRE(eg.size() == 2 * 4);
    CHECK(std::all_of(eg.begin(), eg.begin() + 4, [](double x) { return std::isnan(x); }));
    CHECK(std::none_of(eg.begin() + 4, eg.end(), [](double x) { return std::isnan(x); }));
}

TEST_CASE("every extra_name:: constant is an extra variable of the table, and the other way round",
          "[writer]") {
    std::vector<std::string_view> table;
    for (const VariableSpec& v : campaign_variables())
        if (v.field == ObservableField::extra)
            table.push_back(v.name);
    std::vector<std::string_view> names(extra_name::all.begin(), extra_name::all.end());
    std::sort(table.begin(), table.end());
    std::sort(names.begin(), names.end());
    CHECK(table == names);
}

TEST_CASE("plateau run: the same file for 1 and 2 threads", "[writer][cli]") {
    TempDir dir;
    REQUIRE(run_plateau("run " + small + " --threads 1 -o " + (dir / "a.h5")).status == 0);
    REQUIRE(run_plateau("run " + small + " --threads 2 -o " + (dir / "b.h5")).status == 0);
    require_same_data(dir / "a.h5", dir / "b.h5");
}

namespace {

/// `plateau run ARGS-o killed.h5` on one thread, killed with -9 once at least 5 runs (not all)
/// are written; then --resume on two threads must give the file of an uninterrupted run. ARGS
/// end with "-o ".
void check_kill_and_resume(const TempDir& dir, const std::string& args) {
    const std::string killed = dir / "killed.h5";
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const std::string cmd =
            plateau::test::plateau_binary().string() + " run --threads 1 " + args + killed;
        execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // Kill once the file is in place and some, not all, runs have been written. Reading the
    // file while the writer has it open needs HDF5's file locking off in this process.
    std::int64_t completed_at_kill = -1;
    int polls = 0;
    int read_failures = 0;
    bool exited_early = false;
    for (; polls < 4000 && completed_at_kill < 0; ++polls) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        int early = 0;
        if (waitpid(pid, &early, WNOHANG) == pid) {
            exited_early = true;
            break;
        }
        if (!std::filesystem::exists(killed))
            continue;
        try {
            const auto st = status_while_written(killed);
            const auto done = std::count(st.begin(), st.end(), std::int8_t{1});
            if (done >= 5) {
                kill(pid, SIGKILL);
                completed_at_kill = done;
            }
        } catch (const h5::Error&) {
            ++read_failures; // being written: try again
        }
    }
    INFO("polls " << polls << ", read failures " << read_failures << ", runs completed when "
                  << "killed " << completed_at_kill);
    REQUIRE_FALSE(exited_early);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    REQUIRE(completed_at_kill >= 5);
    REQUIRE(WIFSIGNALED(wstatus));

    // Some runs are left pending; --resume finishes exactly those.
    const auto before = contents(killed);
    const auto& st = before.at("K2_M2/status");
    const auto pending = std::count(st.begin(), st.end(), 0.0);
    CHECK(pending > 0);
    const auto resumed = run_plateau("run --threads 2 " + args + killed + " --resume");
    REQUIRE(resumed.status == 0);
    REQUIRE(run_plateau("run --threads 2 " + args + (dir / "whole.h5")).status == 0);
    require_same_data(killed, dir / "whole.h5");
}

} // namespace

TEST_CASE("plateau run: kill -9 in the middle, then --resume, equals an uninterrupted run",
          "[writer][cli][resume]") {
    TempDir dir;
    // About 2 s of work on 1 thread: 40 runs of 40 000 steps at N = 500. The interrupted
    // process uses one thread (so it cannot finish before the poll below sees it working), the
    // resume and the reference use two: the data must not depend on that either.
    const std::string args = "--N 500 --alpha-max 80 --records 40 --seeds 20 --eta 0.3,0.7 "
                             "--quiet -o ";
    check_kill_and_resume(dir, args);
    const std::string killed = dir / "killed.h5";

    // A different configuration is refused, and the file stays as it was.
    const std::string bytes = plateau::test::read_file(killed);
    const auto other = run_plateau("run " +
                                   std::string("--N 500 --alpha-max 80 --records 40 "
                                               "--seeds 20 --eta 0.3,0.9 --quiet -o ") +
                                   killed + " --resume");
    CHECK(other.status == 2);
    CHECK(other.output.find("refusing to resume") != std::string::npos);
    CHECK(plateau::test::read_file(killed) == bytes);
}

// The same with a learning-rate schedule and momentum (issue 29; docs/theory.md §6b, §6c): the
// rate is a function of the step count and the velocities start at rest in every run, so a
// resumed file is bit for bit an uninterrupted one. 40 runs of 20 000 steps (the momentum trainer
// is MiniBatchSgd, slower a step than the fused on-line kernel).
TEST_CASE("plateau run: kill -9 and --resume with a schedule and momentum",
          "[writer][cli][resume][momentum]") {
    TempDir dir;
    check_kill_and_resume(dir, "--N 500 --alpha-max 40 --records 40 --seeds 20 --eta 0.3,0.7 "
                               "--eta-schedule inverse:5 --momentum 0.5 --quiet -o ");
}

TEST_CASE("plateau run: bad input gives one line, exit status 2 and no file",
          "[writer][cli][errors]") {
    TempDir dir;
    const std::string out = dir / "out.h5";
    struct Case {
        std::string args;
        std::string message;
    };
    const std::vector<Case> cases{
        {"--N 0", "plateau run: invalid value '0' for 'N': allowed is an integer >= 1\n"},
        {"--K 0",
         "plateau run: invalid value '0' for 'K': allowed is an integer from 1 to 2147483647\n"},
        {"--eta -1", "plateau run: invalid value '-1' for 'eta': allowed is a finite number > 0\n"},
        {"--eta nan",
         "plateau run: invalid value 'nan' for 'eta': allowed is a finite number > 0\n"},
        {"--seeds 0", "plateau run: invalid value '0' for 'seeds': allowed is an integer >= 1\n"},
        {"--activation softplus",
         "plateau run: invalid value 'softplus' for 'activation': allowed is one of erf, tanh, "
         "sigmoid, relu, linear, square, he1, he2, he3, he4, or poly:C0:C1:...:Cd (the "
         "coefficients of 1, x, ..., x^d, d <= 8, not all zero); or a comma-separated list\n"},
        {"--eta 'linspace(0.1, 1)'",
         "plateau run: invalid value 'linspace(0.1, 1)' for 'eta': allowed is linspace(a, b, n) "
         "or logspace(a, b, n) with finite numbers a, b and an integer n\n"},
        {"--etaa 0.1", "plateau run: unknown key 'etaa' (value '0.1'): did you mean 'eta'? "
                       "allowed keys are " +
                           plateau::cli::key_names() + " (and the options of --help)\n"},
        {"a.ini b.ini", "plateau run: too many positional options have been specified on the "
                        "command line (see 'plateau run --help')\n"},
        {(dir / "missing.ini"), "plateau run: cannot read configuration file '" +
                                    (dir / "missing.ini") + "': it does not exist\n"},
    };
    for (const auto& c : cases) {
        INFO(c.args);
        const auto r = run_plateau("run " + c.args + " -o " + out);
        CHECK(r.status == 2);
        CHECK(r.output == c.message);
        CHECK_FALSE(std::filesystem::exists(out));
    }
    // An INI file with an unknown key names the file, the line and the key.
    {
        std::ofstream(dir / "bad.ini") << "eta = 0.5\nseeds = 2\nfoo = 1\n";
        const auto r = run_plateau("run " + (dir / "bad.ini") + " -o " + out);
        CHECK(r.status == 2);
        CHECK(r.output.starts_with("plateau run: " + (dir / "bad.ini") +
                                   ":3: unknown key 'foo' (value '1'): allowed keys are N, K, "));
        CHECK_FALSE(std::filesystem::exists(out));
    }
    // An unwritable output path.
    {
        const auto r = run_plateau("run --seeds 1 -o " + (dir / "no/such/dir/x.h5"));
        CHECK(r.status == 2);
        CHECK(r.output == "plateau run: invalid value '" + (dir / "no/such/dir/x.h5") +
                              "' for 'out': its directory does not exist\n");
    }
    // An existing file is never overwritten without --overwrite.
    {
        std::ofstream(out) << "precious";
        const auto r = run_plateau("run --seeds 1 --alpha-max 1 -o " + out);
        CHECK(r.status == 2);
        CHECK(r.output.find("the file exists") != std::string::npos);
        CHECK(plateau::test::read_file(out) == "precious");
        CHECK(run_plateau("run --seeds 1 --N 50 --alpha-max 1 --quiet --overwrite -o " + out)
                  .status == 0);
        CHECK(plateau::test::read_file(out).substr(1, 3) == "HDF");
    }
    // No stray temporary files left behind.
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
        CHECK(e.path().filename().string().find(".part-") == std::string::npos);
}

TEST_CASE("plateau run --dry-run and --print-config run nothing", "[cli]") {
    TempDir dir;
    const auto dry = run_plateau("run --eta 0.1,0.2,0.3 --seeds 5 --dry-run -o " + (dir / "x.h5"));
    CHECK(dry.status == 0);
    CHECK(dry.output.find("runs:        15 (3 grid point(s) x 5 seed(s)) in 1 group(s)") !=
          std::string::npos);
    CHECK(dry.output.find("steps:       2250000") != std::string::npos);
    CHECK(dry.output.find("file size:") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir / "x.h5"));
    const auto ini = run_plateau("run --eta 0.1,0.2 --print-config");
    CHECK(ini.status == 0);
    CHECK(ini.output.find("eta = 0.1, 0.2\n") != std::string::npos);
}
