// The campaign reader: a round trip writer -> CampaignReader for every variable of the table,
// the (major, minor) schema version rule, and a new observable added the way
// docs/ARCHITECTURE.md says (one table entry, one producer).
#include "cli_helpers.hpp"
#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/io/h5/h5.hpp"
#include "engine/io/reader.hpp"
#include "engine/io/writer.hpp"
#include "engine/simulation/simulate.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

using namespace plateau;
using plateau::test::TempDir;

namespace {

CampaignSpec two_shapes() {
    CampaignSpec spec;
    for (const int K : {2, 3}) {
        GridPoint g;
        g.params.model.N = 40;
        g.params.model.student.widths = {K};
        g.params.schedule.alpha_max = 4;
        g.params.schedule.records = 6;
        g.coordinates = {{"N", 40, {}, true, "input dimension"},
                         {"K", double(K), {}, true, "student hidden units"}};
        spec.points.push_back(g);
    }
    spec.seeds = 2;
    spec.master_seed = 5;
    return spec;
}

bool same_bits(double a, double b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

/// The values of variable `v` in record `o`, as the writer takes them (NaN where absent).
std::vector<double> values_of(const VariableSpec& v, const Observables& o, const GroupShape& s) {
    std::vector<double> out(v.values_per_record(s), std::numeric_limits<double>::quiet_NaN());
    copy_out(v, o, s, out);
    return out;
}

bool all_nan(const std::vector<double>& x) {
    return std::all_of(x.begin(), x.end(), [](double y) { return std::isnan(y); });
}

void set_int_attribute(const std::string& path, const char* name, std::int64_t value) {
    h5::File f = h5::File::open_readwrite(path);
    h5::set_attribute(f.root(), name, value);
    f.close();
}

void delete_attribute(const std::string& path, const char* name) {
    h5::File f = h5::File::open_readwrite(path);
    const h5::Group root = f.root();
    REQUIRE(H5Adelete(root.id(), name) >= 0);
}

std::string open_error(const std::string& path,
                       std::span<const VariableSpec> table = campaign_variables()) {
    try {
        (void)CampaignReader::open(path, table);
    } catch (const CampaignReadError& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("writer then CampaignReader gives back every variable of the table", "[reader]") {
    TempDir dir;
    const CampaignSpec spec = two_shapes();
    const std::string path = dir / "r.h5";
    std::map<std::int64_t, RunResult> written;
    {
        CampaignWriter w =
            CampaignWriter::create(path, spec, {"config text", "cmd", "simulation"}, false);
        for (const std::int64_t r : {0, 1, 3}) {
            RunResult result =
                simulate(spec.point_of(r).params, spec.master_seed, std::uint64_t(r));
            if (r == 1) { // a run that diverged after 3 records
                result.records.resize(3);
                result.status = RunStatus::diverged;
            }
            w.write({r, result});
            written.emplace(r, std::move(result));
        }
        w.close();
    }
    const CampaignReader reader = CampaignReader::open(path);
    CHECK(reader.metadata().version == campaign_schema_version());
    CHECK(reader.metadata().kind == FileKind::simulation);
    CHECK(reader.metadata().config == "config text");
    CHECK(reader.metadata().runs == 4);
    CHECK(reader.metadata().seeds == 2);
    CHECK(reader.metadata().master_seed == 5);
    REQUIRE(reader.groups().size() == 2);
    CHECK(reader.groups()[1].name == group_name(3, 2));
    CHECK(reader.groups()[1].K == 3);
    CHECK(reader.groups()[1].M == 2);
    CHECK(reader.groups()[1].run_index == std::vector<std::int64_t>{2, 3});
    CHECK(reader.groups()[0].alpha == record_alphas(spec.points[0].params.schedule));
    CHECK(reader.status(0) == std::vector<RunStatus>{RunStatus::completed, RunStatus::diverged});
    CHECK(reader.status(1) == std::vector<RunStatus>{RunStatus::pending, RunStatus::completed});

    std::size_t compared = 0;
    for (const auto& [run, expected] : written) {
        const auto where = reader.find_run(run);
        REQUIRE(where);
        const auto& g = reader.groups()[where->group];
        const GroupShape shape{g.run_index.size(), g.alpha.size(), std::size_t(g.K),
                               std::size_t(g.M)};
        const RunResult got = reader.read_run(*where);
        CHECK(got.status == expected.status);
        CHECK(got.outcome == expected.outcome); // run 1: still as simulated (the file's copy)
        REQUIRE(got.records.size() == expected.records.size());
        const auto stored = reader.read_records(*where);
        REQUIRE(stored.size() == g.alpha.size());
        for (const VariableSpec& v : campaign_variables()) {
            if (!is_observable(v.field)) // status, outcome (compared above), run_checksum
                continue;
            INFO("run " << run << " variable " << v.name);
            for (std::size_t a = 0; a < stored.size(); ++a) {
                const auto back = values_of(v, stored[a], shape);
                if (a < expected.records.size()) {
                    const auto original = values_of(v, expected.records[a], shape);
                    REQUIRE(back.size() == original.size());
                    for (std::size_t i = 0; i < back.size(); ++i)
                        CHECK(same_bits(back[i], original[i]));
                    ++compared;
                } else if (v.per_record()) {
                    CHECK(all_nan(back)); // past the divergence
                }
            }
        }
    }
    // all but the flags and run_checksum
    CHECK(compared == (6 + 3 + 6) * (campaign_variables().size() - 3));
    // The pending run: all NaN, no record reached.
    const auto pending = reader.find_run(2);
    REQUIRE(pending);
    CHECK(reader.read_run(*pending).records.empty());
    CHECK(std::isnan(reader.read_records(*pending, 0, 1).front().Q(0, 0)));
    CHECK_FALSE(reader.find_run(4));
    CHECK_THROWS_AS(reader.read_records(*pending, 5, 2), CampaignReadError);
}

TEST_CASE("CampaignReader refuses another major version and accepts any minor", "[reader]") {
    TempDir dir;
    const CampaignSpec spec = two_shapes();
    const std::string path = dir / "v.h5";
    CampaignWriter::create(path, spec, {"c", "cmd", "theory"}, false).close();

    SECTION("a file of this major and a higher minor opens") {
        const std::int64_t higher = schema_version_of(campaign_variables()).minor + 1;
        set_int_attribute(path, "schema_version_minor", higher);
        const CampaignReader r = CampaignReader::open(path);
        CHECK(r.metadata().version == SchemaVersion{1, higher});
        CHECK(r.metadata().kind == FileKind::theory);
    }
    SECTION("a file without a minor (written before it existed) is 1.0") {
        delete_attribute(path, "schema_version_minor");
        CHECK(CampaignReader::open(path).metadata().version == SchemaVersion{1, 0});
    }
    SECTION("another major is refused with a clear message") {
        set_int_attribute(path, "schema_version_minor", 0);
        set_int_attribute(path, "schema_version", 2);
        set_int_attribute(path, "schema_version_minor", 0);
        CHECK(open_error(path) == path + ": schema version 2.0 is not readable by this plateau (it "
                                         "reads 1.x, any minor version)");
        set_int_attribute(path, "schema_version", 0);
        CHECK_THAT(open_error(path), Catch::Contains("schema version 0.0 is not readable"));
    }
    SECTION("resume refuses a file of another minor") {
        const SchemaVersion ours = campaign_schema_version();
        const SchemaVersion newer{1, ours.minor + 1};
        set_int_attribute(path, "schema_version_minor", newer.minor);
        try {
            (void)CampaignWriter::resume(path, spec, {"c", "cmd", "theory"});
            FAIL("resume accepted a file of schema version " + to_string(newer));
        } catch (const OutputError& e) {
            CHECK_THAT(e.what(), Catch::Contains("it has schema version " + to_string(newer) +
                                                 ", this plateau writes " + to_string(ours)));
        }
    }
    SECTION("what is not a campaign file is refused") {
        CHECK(open_error(dir / "absent.h5") == dir / "absent.h5" + ": no such file");
        { std::ofstream(dir / "text.h5") << "not hdf5"; }
        CHECK(open_error(dir / "text.h5") == dir / "text.h5" + ": not an HDF5 file");
        {
            h5::File f = h5::File::open_readwrite(path);
            h5::set_attribute(f.root(), "schema", std::string_view("other"));
        }
        CHECK(open_error(path) == path + ": not a plateau-campaign file");
    }
}

TEST_CASE("group names are built and parsed in one place", "[reader]") {
    CHECK(group_name(2, 13) == "K2_M13");
    CHECK(parse_group_name("K2_M13") == std::pair{2, 13});
    CHECK(parse_group_name(group_name(117, 1)) == std::pair{117, 1});
    for (const char* bad : {"", "K", "K2", "K2_M", "K_M2", "k2_M2", "K2_m2", "K2_M2x", "K-1_M2",
                            "K2_M+3", "XK2_M2"}) {
        INFO(bad);
        CHECK_FALSE(parse_group_name(bad));
    }
}

// ---------------------------------------------------------------------------------------------
// A new observable, added as docs/ARCHITECTURE.md "How to add a file variable" says: one entry
// in a table (here a test table: campaign_variables() plus the entry) and one producer (here a
// test RunFunction). The writer writes it for the kinds the entry lists, NaN where a run never
// produced it; the reader gives it back.

namespace {

/// The minor version of the test observables: above every version the table has (a new
/// variable's `since` is the next minor; a far one keeps the test independent of today's).
constexpr std::int64_t future_minor = 99;
constexpr VariableSpec train_error{"train_error",
                                   {Dim::run, Dim::alpha},
                                   h5::ElementType::float64,
                                   "1",
                                   "training error on the examples seen (test observable)",
                                   KindSet{true, false},
                                   future_minor,
                                   ObservableField::extra};
constexpr VariableSpec field_norms{"field_norms",
                                   {Dim::run, Dim::alpha, Dim::student},
                                   h5::ElementType::float64,
                                   "1",
                                   "per-unit norms (test observable)",
                                   KindSet{true, true},
                                   future_minor,
                                   ObservableField::extra};

std::vector<VariableSpec> table_with_extras() {
    std::vector<VariableSpec> table(campaign_variables().begin(), campaign_variables().end());
    table.push_back(train_error);
    table.push_back(field_norms);
    return table;
}

/// The producer: a simulation whose even runs also report the extras.
RunResult with_extras(const CampaignSpec& spec, std::int64_t run) {
    RunResult result =
        simulate(spec.point_of(run).params, spec.master_seed, static_cast<std::uint64_t>(run));
    if (run % 2 == 0)
        for (Observables& o : result.records) {
            o.extras[std::string(train_error.name)] = Eigen::VectorXd::Constant(1, 2 * o.eg + 1);
            o.extras[std::string(field_norms.name)] = o.Q.diagonal().cwiseSqrt();
        }
    return result;
}

/// The same run with only the extras a file of `kind` holds in `table` (a theory file holds
/// neither the trainer's `examples` nor `train_error`).
RunResult with_extras_of(const CampaignSpec& spec, std::int64_t run, FileKind kind,
                         std::span<const VariableSpec> table) {
    RunResult result = with_extras(spec, run);
    for (Observables& o : result.records)
        std::erase_if(o.extras, [&](const auto& entry) {
            return std::none_of(table.begin(), table.end(), [&](const VariableSpec& v) {
                return v.name == entry.first && v.written_by.contains(kind);
            });
        });
    return result;
}

void write_campaign(const std::string& path, const CampaignSpec& spec, FileKind kind,
                    std::span<const VariableSpec> table) {
    CampaignWriter w =
        CampaignWriter::create(path, spec, {"c", "cmd", std::string(name(kind))}, false, table);
    const std::vector<std::int64_t> runs = w.unfinished_runs();
    execute_campaign(
        spec, runs, [&](std::int64_t r) { return with_extras_of(spec, r, kind, table); },
        [&](FinishedRun&& f) { w.write(f); });
    w.close();
}

} // namespace

TEST_CASE("an extra observable is one table entry and one producer", "[reader]") {
    TempDir dir;
    const CampaignSpec spec = two_shapes();
    const std::vector<VariableSpec> table = table_with_extras();
    CHECK(schema_version_of(table) == SchemaVersion{1, future_minor}); // a new variable bumps it

    const std::string sim = dir / "sim.h5";
    write_campaign(sim, spec, FileKind::simulation, table);
    const CampaignReader reader = CampaignReader::open(sim, table);
    CHECK(reader.metadata().version == SchemaVersion{1, future_minor});
    for (std::int64_t run = 0; run < spec.runs(); ++run) {
        INFO("run " << run);
        const auto where = reader.find_run(run);
        REQUIRE(where);
        const RunResult expected = with_extras(spec, run);
        const auto got = reader.read_records(*where);
        REQUIRE(got.size() == expected.records.size());
        for (std::size_t a = 0; a < got.size(); ++a) {
            const Eigen::VectorXd& te = got[a].extras.at("train_error");
            const Eigen::VectorXd& fn = got[a].extras.at("field_norms");
            REQUIRE(te.size() == 1);
            REQUIRE(fn.size() == spec.point_of(run).params.model.student.hidden());
            if (run % 2 == 0) {
                CHECK(te[0] == 2 * expected.records[a].eg + 1);
                CHECK(fn == expected.records[a].extras.at("field_norms"));
            } else { // never produced: NaN
                CHECK(std::isnan(te[0]));
                CHECK(fn.array().isNaN().all());
            }
            CHECK(got[a].Q == expected.records[a].Q); // the core is unchanged
        }
    }
    // Today's table reads the newer minor and ignores what it does not know.
    const CampaignReader plain = CampaignReader::open(sim);
    CHECK(plain.metadata().version == SchemaVersion{1, future_minor});
    const auto plain_records = plain.read_records(*plain.find_run(0), 0, 1);
    const auto& plain_extras = plain_records.front().extras;
    CHECK(!plain_extras.contains("train_error"));
    CHECK(!plain_extras.contains("field_norms"));
    // Resuming it with today's writer would leave the extras unwritten: refused.
    CHECK_THROWS_AS(CampaignWriter::resume(sim, spec, {"c", "cmd", "simulation"}), OutputError);

    // A theory file holds only what the table lists for theory.
    const std::string theory = dir / "theory.h5";
    {
        // The simulation's train_error (and examples) is not a variable of a theory file.
        CampaignWriter w =
            CampaignWriter::create(dir / "refused.h5", spec, {"c", "cmd", "theory"}, false, table);
        CHECK_THROWS_AS(w.write({0, with_extras(spec, 0)}), UnknownObservableError);
    }
    write_campaign(theory, spec, FileKind::theory, table);
    const CampaignReader th = CampaignReader::open(theory, table);
    const auto& vars = th.groups().front().variables;
    CHECK(std::find(vars.begin(), vars.end(), "field_norms") != vars.end());
    CHECK(std::find(vars.begin(), vars.end(), "train_error") == vars.end());
    {
        const h5::File f = h5::File::open_readonly(theory);
        CHECK_FALSE(f.root().open_group(group_name(2, 2)).has("train_error"));
    }

    // An older file (today's minor) lacks the extras and still opens through the new table; a
    // variable its own version should hold is required.
    const std::string old = dir / "old.h5";
    CampaignWriter::create(old, spec, {"c", "cmd", "simulation"}, false).close();
    const CampaignReader from_old = CampaignReader::open(old, table);
    CHECK(from_old.groups().front().variables.size() ==
          static_cast<std::size_t>(std::count_if(
              campaign_variables().begin(), campaign_variables().end(), [](const VariableSpec& v) {
                  // a one-teacher campaign leaves out those of several teachers (schema 1.8),
                  // one without save-weights the saved weights (schema 1.11, 1.12)
                  return v.written_by.contains(FileKind::simulation) && !only_with_teachers(v) &&
                         written_with(v, SaveWeights::none);
              })));
    std::vector<VariableSpec> strict = table;
    strict.back().since_minor = 0;
    CHECK_THAT(open_error(old, strict),
               Catch::Contains("group 'K2_M2' lacks the variable 'field_norms'"));
}

TEST_CASE("a producer that gives an extra of the wrong length is an error", "[reader]") {
    const GroupShape shape{1, 1, 2, 2};
    Observables o;
    o.extras[std::string(field_norms.name)] = Eigen::VectorXd::Zero(3);
    std::vector<double> out(field_norms.values_per_record(shape));
    CHECK_THROWS_AS(copy_out(field_norms, o, shape, out), std::logic_error);
}
