// Tests of the HDF5 / netCDF-4 layer (engine/io/h5/h5.hpp): round trips of dimensions, variables,
// slabs, strings and attributes through a closed and reopened file; fill values of unwritten
// elements; netCDF dimension ids; exclusive creation; error messages.
#include "cli_helpers.hpp"
#include "engine/io/h5/h5.hpp"
#include "engine/io/h5/verify.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using plateau::test::TempDir;

namespace {

namespace h5 = plateau::h5;
namespace fs = std::filesystem;

std::string read_bytes(const fs::path& path) {
    std::string bytes(static_cast<std::size_t>(fs::file_size(path)), '\0');
    std::ifstream in(path, std::ios::binary);
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return in ? bytes : std::string();
}

/// The message of the h5::Error `f` throws (fails the test if it throws nothing or another type).
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const h5::Error& e) {
        return e.what();
    }
    FAIL("no plateau::h5::Error thrown");
    return {};
}

using Catch::Matchers::Contains;

} // namespace

TEST_CASE("h5: round trip of dimensions, variables, slabs, strings and attributes", "[h5]") {
    const TempDir dir;
    const auto path = dir.file("roundtrip.h5");

    {
        auto file = h5::File::create_exclusive(path);
        CHECK(file.path() == path);
        auto root = file.root();
        h5::set_attribute(root, "schema", "plateau-campaign");
        h5::set_attribute(root, "schema_version", std::int64_t{1});
        h5::set_attribute(root, "threads", 8); // int -> int64
        h5::set_attribute(root, "tolerance", 0.25);

        auto group = root.create_group("K2_M2");
        auto run = h5::create_dimension(group, "run", 3);
        auto alpha = h5::create_coordinate(group, "alpha", {0.0, 1.0, 10.0, 100.0}, "time", "1");
        auto student = h5::create_dimension(group, "student", 2);
        auto student2 = h5::create_dimension(group, "student2", 2);

        auto eg = h5::create_variable(group, "eg", h5::ElementType::float64, {&run, &alpha});
        auto q = h5::create_variable(group, "Q", h5::ElementType::float64,
                                     {&run, &alpha, &student, &student2},
                                     std::vector<hsize_t>{1, 2, 2, 2});
        auto n = h5::create_variable(group, "N", h5::ElementType::int64, {&run});
        auto status =
            h5::create_variable(group, "status", h5::ElementType::int8, {&run}, std::nullopt, 0);
        auto flags = h5::create_variable(group, "flags", h5::ElementType::int8, {&run});
        auto activation = h5::create_variable(group, "activation", h5::ElementType::string, {&run});
        auto scalar = h5::create_variable(group, "scalar", h5::ElementType::float64, {});

        h5::set_attribute(eg, "long_name", "generalisation error");
        h5::set_attribute(status, "flag_values", std::vector<std::int8_t>{0, 1, 2});
        h5::set_attribute(status, "flag_meanings", "pending completed diverged");
        h5::set_attribute(eg, "bounds", std::vector<double>{0.0, 0.5});
        h5::set_attribute(eg, "ids", std::vector<std::int64_t>{7, -8, 9});
        h5::set_attribute(eg, "long_name", "replaced"); // replacing is allowed

        // Runs 0 and 2; run 1 stays unwritten.
        for (const hsize_t r : {hsize_t{0}, hsize_t{2}}) {
            const double base = 10.0 * static_cast<double>(r);
            const std::vector<double> eg_row{base, base + 1, base + 2, base + 3};
            const std::array<hsize_t, 2> offset{r, 0};
            const std::array<hsize_t, 2> count{1, 4};
            h5::write_slab(eg, offset, count, eg_row.data());

            std::vector<double> q_block(16);
            for (std::size_t i = 0; i < q_block.size(); ++i) {
                q_block[i] = base + static_cast<double>(i);
            }
            const std::array<hsize_t, 4> q_offset{r, 0, 0, 0};
            const std::array<hsize_t, 4> q_count{1, 4, 2, 2};
            h5::write_slab(q, q_offset, q_count, q_block.data());

            const std::array<hsize_t, 1> one_offset{r};
            const std::array<hsize_t, 1> one{1};
            const std::int64_t n_value = 1000 + static_cast<std::int64_t>(r);
            h5::write_slab(n, one_offset, one, &n_value);
            const std::int8_t status_value = r == 0 ? 1 : 2;
            h5::write_slab(status, one_offset, one, &status_value);
            h5::write_string(activation, r, r == 0 ? "erf" : "relu \xc3\xa9"); // UTF-8
            file.flush();
        }
        const double scalar_value = 3.5;
        h5::write_slab(scalar, std::span<const hsize_t>{}, std::span<const hsize_t>{},
                       &scalar_value);
    }

    const auto file = h5::File::open_readonly(path);
    const auto root = file.root();
    CHECK(h5::get_string_attribute(root, "schema") == "plateau-campaign");
    CHECK(h5::get_int64_attribute(root, "schema_version") == 1);
    CHECK(h5::get_int64_attribute(root, "threads") == 8);
    CHECK(h5::get_double_attribute(root, "tolerance") == 0.25);
    CHECK(h5::get_double_attribute(root, "schema_version") == 1.0); // integers read as double
    CHECK_FALSE(h5::get_string_attribute(root, "missing").has_value());
    CHECK_FALSE(h5::get_int64_attribute(root, "missing").has_value());
    CHECK_FALSE(h5::has_attribute(root, "missing"));
    CHECK(h5::has_attribute(root, "_NCProperties"));
    CHECK_THAT(*h5::get_string_attribute(root, "_NCProperties"), Contains("version=2"));
    CHECK(root.path() == "/");
    CHECK(root.child_groups() == std::vector<std::string>{"K2_M2"});
    CHECK(root.has("K2_M2"));
    CHECK_FALSE(root.has("K3_M2"));

    const auto group = root.open_group("K2_M2");
    CHECK(group.path() == "/K2_M2");
    CHECK(group.name() == "K2_M2");
    CHECK(group.child_groups().empty());
    CHECK(group.has("eg"));

    const auto alpha = group.open_dataset("alpha");
    CHECK(alpha.dims() == std::vector<hsize_t>{4});
    CHECK(alpha.element_type() == h5::ElementType::float64);
    CHECK(h5::read_all<double>(alpha) == std::vector<double>{0.0, 1.0, 10.0, 100.0});
    CHECK(h5::get_string_attribute(alpha, "long_name") == "time");
    CHECK(h5::get_string_attribute(alpha, "units") == "1");

    const auto eg = group.open_dataset("eg");
    CHECK(eg.path() == "/K2_M2/eg");
    CHECK(eg.name() == "eg");
    CHECK_THAT(eg.file_name(), Contains("roundtrip.h5"));
    CHECK(eg.dims() == std::vector<hsize_t>{3, 4});
    CHECK(h5::get_string_attribute(eg, "long_name") == "replaced");
    CHECK(h5::get_double_array_attribute(eg, "bounds") == std::vector<double>{0.0, 0.5});
    CHECK(h5::get_int64_array_attribute(eg, "ids") == std::vector<std::int64_t>{7, -8, 9});
    const auto fill = h5::get_double_attribute(eg, "_FillValue");
    REQUIRE(fill.has_value());
    CHECK(std::isnan(*fill));
    const auto eg_all = h5::read_all<double>(eg);
    REQUIRE(eg_all.size() == 12);
    for (std::size_t a = 0; a < 4; ++a) {
        CHECK(eg_all[a] == static_cast<double>(a));
        CHECK(std::isnan(eg_all[4 + a]));
        CHECK(eg_all[8 + a] == 20.0 + static_cast<double>(a));
    }
    const std::array<hsize_t, 2> offset{2, 1};
    const std::array<hsize_t, 2> count{1, 2};
    CHECK(h5::read_slab<double>(eg, offset, count) == std::vector<double>{21.0, 22.0});

    const auto q = group.open_dataset("Q");
    CHECK(q.dims() == std::vector<hsize_t>{3, 4, 2, 2});
    const auto q_all = h5::read_all<double>(q);
    REQUIRE(q_all.size() == 48);
    for (std::size_t i = 0; i < 16; ++i) {
        CHECK(q_all[i] == static_cast<double>(i));
        CHECK(std::isnan(q_all[16 + i]));
        CHECK(q_all[32 + i] == 20.0 + static_cast<double>(i));
    }

    const auto n = group.open_dataset("N");
    CHECK(n.element_type() == h5::ElementType::int64);
    CHECK(h5::read_all<std::int64_t>(n) ==
          std::vector<std::int64_t>{1000, -9223372036854775806LL, 1002}); // netCDF default fill

    const auto status = group.open_dataset("status");
    CHECK(status.element_type() == h5::ElementType::int8);
    CHECK(h5::read_all<std::int8_t>(status) == std::vector<std::int8_t>{1, 0, 2});   // fill 0
    CHECK(h5::read_all<std::int64_t>(status) == std::vector<std::int64_t>{1, 0, 2}); // widening
    CHECK_FALSE(h5::has_attribute(status, "_FillValue"));
    CHECK(h5::get_int64_array_attribute(status, "flag_values") ==
          std::vector<std::int64_t>{0, 1, 2});
    CHECK(h5::get_string_attribute(status, "flag_meanings") == "pending completed diverged");
    CHECK(h5::read_all<std::int8_t>(group.open_dataset("flags")) ==
          std::vector<std::int8_t>{-127, -127, -127}); // netCDF default fill

    const auto activation = group.open_dataset("activation");
    CHECK(activation.element_type() == h5::ElementType::string);
    CHECK(h5::read_string(activation, 0) == "erf");
    CHECK(h5::read_string(activation, 1).empty());
    CHECK(h5::read_string(activation, 2) == "relu \xc3\xa9");
    CHECK(h5::read_all_strings(activation) == std::vector<std::string>{"erf", "", "relu \xc3\xa9"});

    const auto scalar = group.open_dataset("scalar");
    CHECK(scalar.dims().empty());
    CHECK(h5::read_all<double>(scalar) == std::vector<double>{3.5});

    // netCDF-4 dimension ids: one per scale, distinct; variables list theirs.
    const auto run_dim = group.open_dataset("run");
    CHECK(h5::get_string_attribute(run_dim, "NAME") ==
          "This is a netCDF dimension but not a netCDF variable.         3");
    CHECK(h5::get_string_attribute(run_dim, "CLASS") == "DIMENSION_SCALE");
    CHECK(h5::get_string_attribute(alpha, "NAME") == "alpha");
    std::set<std::int64_t> ids;
    for (const char* name : {"run", "alpha", "student", "student2"}) {
        const auto id = h5::get_int64_attribute(group.open_dataset(name), "_Netcdf4Dimid");
        REQUIRE(id.has_value());
        ids.insert(*id);
    }
    CHECK(ids == std::set<std::int64_t>{0, 1, 2, 3});
    CHECK(h5::get_int64_array_attribute(q, "_Netcdf4Coordinates") ==
          std::vector<std::int64_t>{0, 1, 2, 3});
}

TEST_CASE("h5: reopening read-write continues the file-wide dimension ids", "[h5]") {
    const TempDir dir;
    const auto path = dir.file("append.h5");
    {
        auto file = h5::File::create_exclusive(path);
        auto group = file.root().create_group("a");
        auto run = h5::create_dimension(group, "run", 2);
        auto alpha = h5::create_coordinate(group, "alpha", {1.0, 2.0});
        static_cast<void>(run);
        static_cast<void>(alpha);
    }
    {
        auto file = h5::File::open_readwrite(path);
        auto group = file.root().create_group("b");
        auto run = h5::create_dimension(group, "run", 5);
        auto eg = h5::create_variable(group, "eg", h5::ElementType::float64, {&run});
        const std::vector<double> values{1, 2, 3, 4, 5};
        const std::array<hsize_t, 1> offset{0};
        const std::array<hsize_t, 1> count{5};
        h5::write_slab(eg, offset, count, values.data());
        h5::set_attribute(file.root(), "complete", std::int64_t{1});
        file.flush();
    }
    const auto file = h5::File::open_readonly(path);
    const auto root = file.root();
    CHECK(root.child_groups() == std::vector<std::string>{"a", "b"}); // creation order
    CHECK(h5::get_int64_attribute(root, "complete") == 1);
    const auto b = root.open_group("b");
    CHECK(h5::get_int64_attribute(b.open_dataset("run"), "_Netcdf4Dimid") == 2);
    CHECK(h5::read_all<double>(b.open_dataset("eg")) == std::vector<double>{1, 2, 3, 4, 5});
}

TEST_CASE("h5: text attributes of any length and content", "[h5]") {
    const TempDir dir;
    const auto path = dir.file("text.h5");
    const std::string large(200000, 'x'); // beyond the 64 KiB of an object-header message
    {
        auto file = h5::File::create_exclusive(path);
        const auto root = file.root();
        h5::set_attribute(root, "empty", "");
        h5::set_attribute(root, "one", "1");
        h5::set_attribute(root, "two", "ab");
        h5::set_attribute(root, "utf8", "\xce\xb1 = 0.5");
        h5::set_attribute(root, "multi", "line 1\nline 2\n");
        h5::set_attribute(root, "large", large);
        h5::set_attribute(root, "empty_list", std::vector<double>{});
    }
    const auto file = h5::File::open_readonly(path);
    const auto root = file.root();
    CHECK(h5::get_string_attribute(root, "empty") == "");
    CHECK(h5::get_string_attribute(root, "one") == "1");
    CHECK(h5::get_string_attribute(root, "two") == "ab");
    CHECK(h5::get_string_attribute(root, "utf8") == "\xce\xb1 = 0.5");
    CHECK(h5::get_string_attribute(root, "multi") == "line 1\nline 2\n");
    CHECK(h5::get_string_attribute(root, "large") == large);
    CHECK(h5::get_double_array_attribute(root, "empty_list") == std::vector<double>{});
}

TEST_CASE("h5: create_exclusive on an existing file throws and leaves it untouched", "[h5]") {
    const TempDir dir;
    const auto path = dir.file("existing.h5");
    {
        auto file = h5::File::create_exclusive(path);
        auto group = file.root().create_group("g");
        auto run = h5::create_dimension(group, "run", 2);
        auto eg = h5::create_variable(group, "eg", h5::ElementType::float64, {&run});
        const std::array<double, 2> values{1.0, 2.0};
        const std::array<hsize_t, 1> offset{0};
        const std::array<hsize_t, 1> count{2};
        h5::write_slab(eg, offset, count, values.data());
    }
    const std::string before = read_bytes(path);
    REQUIRE_FALSE(before.empty());
    const auto before_time = fs::last_write_time(path);

    const std::string message = error_of([&] { (void)h5::File::create_exclusive(path); });
    CHECK_THAT(message, Contains("H5Fcreate"));
    CHECK_THAT(message, Contains(path.string()));
    CHECK(read_bytes(path) == before);
    CHECK(fs::last_write_time(path) == before_time);

    // Also a plain non-HDF5 file stays as it was.
    const auto text = dir.file("notes.txt");
    std::ofstream(text) << "not HDF5\n";
    CHECK_THROWS_AS(h5::File::create_exclusive(text), h5::Error);
    CHECK(read_bytes(text) == "not HDF5\n");
}

TEST_CASE("h5: errors name the object, the operation and the HDF5 call", "[h5]") {
    const TempDir dir;
    const auto path = dir.file("errors.h5");

    const auto missing = dir.file("missing.h5");
    std::string message = error_of([&] { (void)h5::File::open_readonly(missing); });
    CHECK_THAT(message, Contains("H5Fopen"));
    CHECK_THAT(message, Contains(missing.string()));
    CHECK_FALSE(fs::exists(missing));

    {
        auto file = h5::File::create_exclusive(path);
        auto group = file.root().create_group("K2_M2");
        auto run = h5::create_dimension(group, "run", 3);
        auto alpha = h5::create_coordinate(group, "alpha", {0.0, 1.0});
        auto eg = h5::create_variable(group, "eg", h5::ElementType::float64, {&run, &alpha});
        auto status = h5::create_variable(group, "status", h5::ElementType::int8, {&run});
        auto names = h5::create_variable(group, "names", h5::ElementType::string, {&run});
        auto plain = h5::create_variable(group, "plain", h5::ElementType::float64, {&run});

        message = error_of([&] { (void)group.open_group("nope"); });
        CHECK_THAT(message, Contains("H5Gopen2"));
        CHECK_THAT(message, Contains("nope"));
        CHECK_THAT(message, Contains("/K2_M2"));
        CHECK_THAT(message, Contains("errors.h5"));

        message = error_of([&] {
            (void)group.create_group("K");
            (void)group.create_group("K");
        });
        CHECK_THAT(message, Contains("H5Gcreate2"));
        CHECK_THAT(message, Contains("'K'"));

        message = error_of([&] { (void)group.open_dataset("missing_var"); });
        CHECK_THAT(message, Contains("H5Dopen2"));
        CHECK_THAT(message, Contains("missing_var"));

        message = error_of([&] { (void)group.create_group("a/b"); });
        CHECK_THAT(message, Contains("invalid name"));

        // Out-of-bounds slab, wrong rank, wrong element type.
        const std::array<double, 4> values{};
        const std::array<hsize_t, 2> offset{3, 0};
        const std::array<hsize_t, 2> count{1, 2};
        message = error_of([&] { h5::write_slab(eg, offset, count, values.data()); });
        CHECK_THAT(message, Contains("/K2_M2/eg"));
        CHECK_THAT(message, Contains("exceeds"));
        const std::array<hsize_t, 1> offset1{0};
        const std::array<hsize_t, 1> count1{1};
        message = error_of([&] { h5::write_slab(eg, offset1, count1, values.data()); });
        CHECK_THAT(message, Contains("rank"));
        message = error_of([&] { h5::write_slab(status, offset1, count1, values.data()); });
        CHECK_THAT(message, Contains("/K2_M2/status"));
        CHECK_THAT(message, Contains("double"));
        message = error_of([&] { h5::write_string(plain, 0, "x"); });
        CHECK_THAT(message, Contains("not a variable-length string"));
        message = error_of([&] { h5::write_string(names, 3, "x"); });
        CHECK_THAT(message, Contains("exceeds"));
        message = error_of([&] { (void)h5::read_string(names, 7); });
        CHECK_THAT(message, Contains("/K2_M2/names"));

        // Bad variable definitions.
        message = error_of([&] {
            (void)h5::create_variable(group, "bad", h5::ElementType::float64, {&run, &eg});
        });
        CHECK_THAT(message, Contains("not a dimension scale"));
        message = error_of([&] {
            (void)h5::create_variable(group, "bad", h5::ElementType::float64, {&run},
                                      std::vector<hsize_t>{4});
        });
        CHECK_THAT(message, Contains("chunk"));
        message = error_of([&] {
            (void)h5::create_variable(group, "bad", h5::ElementType::int8, {&run}, std::nullopt,
                                      300);
        });
        CHECK_THAT(message, Contains("int8"));
        message = error_of(
            [&] { (void)h5::create_variable(group, "eg", h5::ElementType::float64, {&run}); });
        CHECK_THAT(message, Contains("H5Dcreate2"));
        message = error_of([&] { (void)h5::create_dimension(group, "zero", 0); });
        CHECK_THAT(message, Contains("unlimited"));

        // Attributes of the wrong kind.
        h5::set_attribute(eg, "units", "1");
        h5::set_attribute(eg, "pair", std::vector<double>{1.0, 2.0});
        message = error_of([&] { (void)h5::get_double_attribute(eg, "units"); });
        CHECK_THAT(message, Contains("units"));
        message = error_of([&] { (void)h5::get_double_attribute(eg, "pair"); });
        CHECK_THAT(message, Contains("2 elements"));
        message = error_of([&] { (void)h5::get_string_attribute(eg, "pair"); });
        CHECK_THAT(message, Contains("not text"));
        message = error_of([&] { h5::set_attribute(eg, "nul", std::string_view("a\0b", 3)); });
        CHECK_THAT(message, Contains("NUL"));
    }

    // Writing into a read-only file: the HDF5 error stack ends up in the message.
    const auto file = h5::File::open_readonly(path);
    auto eg = file.root().open_group("K2_M2").open_dataset("eg");
    const std::array<double, 2> values{1.0, 2.0};
    const std::array<hsize_t, 2> offset{0, 0};
    const std::array<hsize_t, 2> count{1, 2};
    message = error_of([&] { h5::write_slab(eg, offset, count, values.data()); });
    CHECK_THAT(message, Contains("H5Dwrite"));
    CHECK_THAT(message, Contains("/K2_M2/eg"));
    CHECK_THAT(message, Contains("no write intent"));
    message = error_of([&] { h5::set_attribute(eg, "x", 1.0); });
    CHECK_THAT(message, Contains("attribute 'x'"));
}

namespace {

/// The h5::Error `f` throws (fails the test if it throws nothing or another type).
template <typename F>
h5::Error thrown_by(F&& f) {
    try {
        f();
    } catch (const h5::Error& e) {
        return e;
    }
    FAIL("no plateau::h5::Error thrown");
    return h5::Error("");
}

} // namespace

TEST_CASE("h5: errors keep HDF5's error numbers, and their kind is decided from them", "[h5]") {
    const TempDir dir;
    const auto path = dir.file("kinds.h5");
    haddr_t address = 0;
    {
        auto file = h5::File::create_exclusive(path);
        auto group = file.root().create_group("g");
        auto run = h5::create_dimension(group, "run", 2);
        auto x =
            h5::create_variable(group, "x", h5::ElementType::float64, {&run},
                                std::vector<hsize_t>{1}, std::nullopt, h5::Checksum::fletcher32);
        const std::array<double, 2> values{1.0, 2.0};
        h5::write_slab(x, std::array<hsize_t, 1>{0}, std::array<hsize_t, 1>{2}, values.data());
        const h5::Error not_found = thrown_by([&] { (void)group.open_dataset("nope"); });
        CHECK(not_found.kind() == h5::ErrorKind::not_found);
        CHECK(not_found.stack().front() == h5::ErrorNumbers{H5E_DATASET, H5E_CANTOPENOBJ});
        // This layer's own refusals carry no HDF5 stack.
        const h5::Error own = thrown_by([&] { (void)group.create_group("a/b"); });
        CHECK(own.stack().empty());
        CHECK(own.kind() == h5::ErrorKind::other);
        std::array<hsize_t, 1> second{1};
        unsigned mask = 0;
        hsize_t size = 0;
        REQUIRE(H5Dget_chunk_info_by_coord(x.id(), second.data(), &mask, &address, &size) >= 0);
    }
    // One flipped bit in the chunk of element 1: Fletcher-32 fails, innermost (H5E_STORAGE,
    // H5E_READERROR), and the pipeline's (H5E_PLINE, H5E_READERROR) outside it.
    {
        std::fstream bytes(path, std::ios::in | std::ios::out | std::ios::binary);
        bytes.seekg(static_cast<std::streamoff>(address + 2));
        char byte = 0;
        bytes.read(&byte, 1);
        byte = static_cast<char>(byte ^ 0x10);
        bytes.seekp(static_cast<std::streamoff>(address + 2));
        bytes.write(&byte, 1);
    }
    {
        const auto file = h5::File::open_readonly(path);
        const auto x = file.root().open_group("g").open_dataset("x");
        CHECK(h5::read_slab<double>(x, std::array<hsize_t, 1>{0}, std::array<hsize_t, 1>{1}) ==
              std::vector<double>{1.0});
        const h5::Error damaged = thrown_by([&] {
            (void)h5::read_slab<double>(x, std::array<hsize_t, 1>{1}, std::array<hsize_t, 1>{1});
        });
        CHECK(damaged.kind() == h5::ErrorKind::checksum);
        CHECK(damaged.innermost() == h5::ErrorNumbers{H5E_STORAGE, H5E_READERROR});
        const auto& stack = damaged.stack();
        CHECK(std::find(stack.begin(), stack.end(), h5::ErrorNumbers{H5E_PLINE, H5E_READERROR}) !=
              stack.end());
    }
    // Another process's lock (HDF5 takes it with flock(); a lock on another open of the file
    // conflicts even within this process).
    {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
        const h5::Error locked = thrown_by([&] { (void)h5::File::open_readonly(path); });
        ::close(fd);
        CHECK(locked.kind() == h5::ErrorKind::file_locked);
        CHECK(locked.innermost().minor == H5E_CANTLOCKFILE);
    }
    // Not HDF5.
    const auto text = dir.file("text.h5");
    std::ofstream(text) << "not HDF5\n";
    CHECK(thrown_by([&] { (void)h5::File::open_readonly(text); }).kind() ==
          h5::ErrorKind::not_hdf5);

    // The rule alone: only a filter's read failure is a checksum failure; an I/O error of the
    // disk (the sec2 driver's (H5E_IO, H5E_READERROR) under the chunk read) is not.
    const std::vector<h5::ErrorNumbers> eio{{H5E_DATASET, H5E_READERROR},
                                            {H5E_DATASET, H5E_READERROR},
                                            {H5E_IO, H5E_READERROR},
                                            {H5E_VFL, H5E_READERROR},
                                            {H5E_IO, H5E_READERROR}};
    CHECK(h5::classify(eio) == h5::ErrorKind::other);
    CHECK(h5::classify({}) == h5::ErrorKind::other);
    const std::vector<h5::ErrorNumbers> fletcher{{H5E_DATASET, H5E_READERROR},
                                                 {H5E_DATASET, H5E_CANTFILTER},
                                                 {H5E_PLINE, H5E_READERROR},
                                                 {H5E_STORAGE, H5E_READERROR}};
    CHECK(h5::classify(fletcher) == h5::ErrorKind::checksum);
}

TEST_CASE("h5: handles are move-only owners", "[h5]") {
    static_assert(!std::is_copy_constructible_v<h5::Handle>);
    static_assert(!std::is_copy_constructible_v<h5::File>);
    static_assert(!std::is_copy_constructible_v<h5::Group>);
    static_assert(!std::is_copy_constructible_v<h5::Dataset>);
    static_assert(std::is_nothrow_move_constructible_v<h5::Dataset>);
    static_assert(!std::is_convertible_v<hid_t, h5::Handle>); // explicit

    const TempDir dir;
    const auto path = dir.file("moves.h5");
    auto file = h5::File::create_exclusive(path);
    auto group = file.root().create_group("g");
    auto run = h5::create_dimension(group, "run", 2);
    auto moved = std::move(run);
    CHECK(moved.valid());
    CHECK_FALSE(run.valid()); // NOLINT(bugprone-use-after-move): moved-from is empty
    auto other = h5::create_dimension(group, "other", 3);
    other = std::move(moved); // closes "other", takes "run"
    CHECK(other.dims() == std::vector<hsize_t>{2});
    other.close();
    CHECK_FALSE(other.valid());
    other.close(); // closing twice is harmless
    group.close();
    file.close();
    // Everything is closed: the file can be opened again.
    const auto again = h5::File::open_readonly(path);
    CHECK(again.root().child_groups() == std::vector<std::string>{"g"});
}

namespace {

/// The children of process `parent` (from /proc/PID/stat: the parent pid follows the state).
std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> found;
    std::error_code ec;
    for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        std::ifstream stat(it->path() / "stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream rest(line.substr(close + 1));
        char state = 0;
        long ppid = 0;
        if (rest >> state >> ppid && ppid == parent)
            found.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return found;
}

/// Whether process `pid` has a descriptor open on the file `target` (same device and inode).
bool holds_descriptor_on(pid_t pid, const fs::path& target) {
    struct stat want {};
    if (::stat(target.c_str(), &want) != 0)
        return false;
    std::error_code ec;
    const fs::path fds = fs::path("/proc") / std::to_string(pid) / "fd";
    for (auto it = fs::directory_iterator(fds, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
        struct stat got {};
        if (::stat(it->path().c_str(), &got) == 0 && got.st_dev == want.st_dev &&
            got.st_ino == want.st_ino)
            return true;
    }
    return false;
}

/// Whether process `pid` is gone or a zombie (ended, not yet reaped).
bool ended(pid_t pid) {
    std::ifstream stat(fs::path("/proc") / std::to_string(pid) / "stat");
    std::string line;
    if (!std::getline(stat, line))
        return true;
    const auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

/// Polls `done` every 10 ms for at most 10 s; returns its last value.
template <typename Done>
bool wait_for(Done&& done) {
    for (int tick = 0; tick < 1000; ++tick) {
        if (done())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
}

} // namespace

// The `plateau` program holds a flock() on its output's lock file while it verifies an existing
// output in a forked child. A flock belongs to the open file description, which fork shares: a
// child that kept the descriptor kept the lock when its parent was killed with -9, and the
// `--resume` that followed was refused as "another plateau is writing it". Here a process in the
// program's role locks a file and verifies a FIFO (its child blocks opening it, for as long as
// the test wants); the test kills that process and checks the lock is free and the child gone.
TEST_CASE("h5: a verification child keeps no lock of its parent's and dies with it", "[h5]") {
    const TempDir dir;
    const fs::path lock = dir.file("out.nc.lock");
    const fs::path fifo = dir.file("out.nc");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const pid_t program = ::fork();
    REQUIRE(program >= 0);
    if (program == 0) {
        const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || ::flock(fd, LOCK_EX) != 0)
            ::_exit(3);
        (void)h5::crash_signal_of_verification(fifo); // blocks: its child waits on the FIFO
        ::_exit(0);
    }
    pid_t child = 0;
    const bool started = wait_for([&] {
        const auto found = children_of(program);
        child = found.empty() ? 0 : found.front();
        return child != 0;
    });
    // Once the child has dropped what it inherited, it holds no descriptor on the lock file.
    const bool dropped = started && wait_for([&] { return !holds_descriptor_on(child, lock); });
    ::kill(program, SIGKILL);
    int status = 0;
    while (::waitpid(program, &status, 0) < 0 && errno == EINTR) {
    }
    REQUIRE(started);
    CHECK(dropped);
    const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(::flock(fd, LOCK_EX | LOCK_NB) == 0); // the `--resume` after a kill -9 is not refused
    ::close(fd);
    CHECK(wait_for([&] { return ended(child); })); // the orphan died with its parent
    ::kill(child, SIGKILL); // whatever the checks said, nothing is left blocked on the FIFO
}
