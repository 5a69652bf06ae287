// Saved weights (`save-weights`, analysis/SCHEMA.md "Saved weights"): what the file holds agrees
// with the recorded order parameters, a file without them is unchanged and reads, the size
// estimate counts them, and what has no such weights is refused with one line.
#include "cli_helpers.hpp"
#include "engine/io/reader.hpp"
#include "engine/io/writer.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

using namespace plateau;
using plateau::test::run_plateau;
using plateau::test::TempDir;

namespace {

/// Largest |a - b| relative to the largest |b| (1 if b is 0).
double relative_error(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    return (a - b).cwiseAbs().maxCoeff() / std::max(1.0, b.cwiseAbs().maxCoeff());
}

/// Every run of `path`: its saved weights against the record `record` (0: the first, -1: the
/// last) of the run, with N from the group's `N` coordinate.
void check_against_records(const std::string& path, int record) {
    const CampaignReader reader = CampaignReader::open(path);
    int checked = 0;
    for (std::size_t g = 0; g < reader.groups().size(); ++g) {
        const auto& info = reader.groups()[g];
        REQUIRE(info.inputs > 0);
        for (std::size_t i = 0; i < info.run_index.size(); ++i) {
            const RunResult run = reader.read_run({g, i});
            REQUIRE(run.status == RunStatus::completed);
            const Observables& o = record == 0 ? run.records.front() : run.records.back();
            // N = 20, 30 x 2 seeds: runs 0, 1 have N = 20, the input axis is 30 long.
            const std::int64_t N = info.run_index[i] < 2 ? 20 : 30;
            CHECK(info.inputs == 30);
            const auto w = reader.read_weights({g, i});
            REQUIRE(w);
            CHECK(w->W.cols() == N);
            CHECK(w->W.allFinite());
            CHECK(w->B.allFinite());
            INFO("run " << info.run_index[i] << " N " << N);
            CHECK(w->alpha == Approx(record == 0 ? 0.0 : info.alpha.back()));
            CHECK(relative_error(w->W * w->W.transpose(), o.Q) < 1e-13);
            CHECK(relative_error(w->W * w->B.transpose(), o.R) < 1e-13);
            CHECK(relative_error(w->B * w->B.transpose(), o.T) < 1e-13);
            CHECK(relative_error(w->v, o.v) == 0.0);
            CHECK(w->v_star.size() == o.T.rows());
            ++checked;
        }
    }
    CHECK(checked == 4);
}

/// `plateau run ARGS` must refuse: exit status 2, one line naming `key`, no file.
void check_refused(const TempDir& dir, const std::string& args, const std::string& needle,
                   const std::string& key = "save-weights") {
    const std::string out = (dir.path() / "refused.h5").string();
    const auto r = run_plateau(args + " -o " + out);
    INFO(args << "\n" << r.output);
    CHECK(r.status == 2);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK(r.output.find("'" + key + "'") != std::string::npos);
    CHECK(r.output.find(needle) != std::string::npos);
    CHECK(!std::filesystem::exists(out));
}

bool same_bits(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) ==
               0;
}

/// The runs of a file in run-index order: (weights, records).
std::vector<std::pair<std::optional<CampaignReader::Weights>, RunResult>>
runs_of(const std::string& path) {
    const CampaignReader reader = CampaignReader::open(path);
    std::vector<std::pair<std::optional<CampaignReader::Weights>, RunResult>> out(
        static_cast<std::size_t>(reader.metadata().runs));
    for (std::int64_t r = 0; r < reader.metadata().runs; ++r) {
        const auto where = reader.find_run(r).value();
        out[static_cast<std::size_t>(r)] = {reader.read_weights(where), reader.read_run(where)};
    }
    return out;
}

const std::string small = "run --N 20,30 --alpha-max 1.5 --records 4 --seeds 2 --learn-v -q";

} // namespace

TEST_CASE("the final weights give the last record's Q, R, T and v", "[weights]") {
    // N swept: the group's input axis is the larger N, the N = 20 runs padded with NaN.
    const TempDir dir;
    const std::string path = (dir.path() / "final.h5").string();
    const auto r = run_plateau(small + " --save-weights final -o " + path);
    REQUIRE(r.status == 0);
    check_against_records(path, -1);
}

TEST_CASE("the initial weights give the first record's Q, R, T and v", "[weights]") {
    const TempDir dir;
    const std::string path = (dir.path() / "initial.h5").string();
    const auto r = run_plateau(small + " --save-weights initial -o " + path);
    REQUIRE(r.status == 0);
    check_against_records(path, 0);
}

TEST_CASE("the weights at every record give each record's Q, R and v", "[weights][records]") {
    const TempDir dir;
    const std::string path = (dir.path() / "records.h5").string();
    REQUIRE(run_plateau(small + " --save-weights records -o " + path).status == 0);
    check_against_records(path, -1); // the per-run weights are the final ones
    const CampaignReader reader = CampaignReader::open(path);
    const auto& info = reader.groups().front();
    int checked = 0;
    for (std::size_t i = 0; i < info.run_index.size(); ++i) {
        const RunResult run = reader.read_run({0, i});
        const auto w = reader.read_weights({0, i}).value();
        REQUIRE(run.records.size() == 4);
        for (std::size_t a = 0; a < run.records.size(); ++a) {
            INFO("run " << info.run_index[i] << " record " << a);
            const Observables& o = run.records[a];
            // Row-major K x inputs, the run's first N columns.
            const Eigen::VectorXd& flat = o.extras.at(std::string(extra_name::record_weights_W));
            const auto N = w.W.cols();
            const auto stride = static_cast<Eigen::Index>(info.inputs);
            Eigen::MatrixXd W(2, N);
            for (Eigen::Index j = 0; j < 2; ++j)
                W.row(j) = flat.segment(j * stride, N).transpose();
            CHECK(W.allFinite());
            CHECK(relative_error(W * W.transpose(), o.Q) < 1e-13);
            CHECK(relative_error(W * w.B.transpose(), o.R) < 1e-13);
            CHECK(same_bits(o.extras.at(std::string(extra_name::record_weights_v)), o.v));
            if (a + 1 == run.records.size())
                CHECK(same_bits(W, w.W));
            ++checked;
        }
    }
    CHECK(checked == 16);
}

TEST_CASE("a file without saved weights has none, and reads", "[weights]") {
    const TempDir dir;
    const std::string path = (dir.path() / "none.h5").string();
    REQUIRE(run_plateau(small + " -o " + path).status == 0);
    const CampaignReader reader = CampaignReader::open(path);
    const auto& info = reader.groups().front();
    CHECK(info.inputs == 0);
    CHECK(std::none_of(info.variables.begin(), info.variables.end(),
                       [](const std::string& v) { return v.starts_with("weights_"); }));
    CHECK(!reader.read_weights({0, 0}));
    CHECK(reader.read_run({0, 0}).records.size() == 4);
}

TEST_CASE("the size estimate counts the saved weights", "[weights]") {
    CampaignSpec spec;
    GridPoint g;
    g.params.model.N = 1000;
    g.params.schedule.records = 10;
    spec.points.push_back(g);
    spec.seeds = 100;
    const CampaignEstimate none = estimate_campaign(spec);
    spec.save_weights = SaveWeights::final;
    const CampaignEstimate saved = estimate_campaign(spec);
    // W and B of 100 runs: (K + M) N doubles each, 3.2 MB in all.
    const double weights = 100.0 * 4.0 * 1000.0 * 8.0;
    CHECK(static_cast<double>(saved.file_bytes - none.file_bytes) >= weights);
    CHECK(static_cast<double>(saved.file_bytes - none.file_bytes) < 1.1 * weights);
    CHECK(saved.largest_run.records - none.largest_run.records >= 4.0 * 1000.0 * 8.0);
    CHECK(saved.memory_bytes > none.memory_bytes);
    // The weights runs start from, held for every run: K (N + 1) doubles each.
    spec.student_from = "start.h5";
    const CampaignEstimate start = estimate_campaign(spec);
    CHECK(static_cast<double>(start.bookkeeping_bytes - saved.bookkeeping_bytes) ==
          Approx(100.0 * 2.0 * 1001.0 * 8.0));
    // save-weights = records: also the student's W and v at each of the 10 records, K (N + 1)
    // doubles each, one chunk a record, in the file and in memory until written.
    spec.student_from.clear();
    spec.save_weights = SaveWeights::records;
    const CampaignEstimate records = estimate_campaign(spec);
    const double every_record = 100.0 * 10.0 * 2.0 * 1001.0 * 8.0;
    CHECK(static_cast<double>(records.file_bytes - saved.file_bytes) >= every_record);
    CHECK(static_cast<double>(records.file_bytes - saved.file_bytes) < 1.1 * every_record);
    CHECK(records.largest_run.records - saved.largest_run.records ==
          Approx(10.0 * 2.0 * 1001.0 * 8.0));
}

TEST_CASE("save-weights refuses what has no such weights, with one line", "[weights][errors]") {
    const TempDir dir;
    for (const std::string value : {"final", "records"}) {
        INFO("save-weights = " << value);
        const std::string run =
            "run --N 20 --alpha-max 1 --records 3 --seeds 1 -q --save-weights " + value;
        check_refused(dir, run + " --dynamics gram", "dynamics = gram");
        check_refused(dir, run + " --dynamics full,gram", "dynamics = gram");
        check_refused(dir, run + " --K 4x2", "deeper network");
        check_refused(dir, run + " --teachers 2", "teachers = 2");
        check_refused(dir, run + " --inputs mixture", "inputs = mixture");
        check_refused(dir, run + " --inputs hidden-manifold", "inputs = hidden-manifold");
        const std::string out = (dir.path() / "ode.h5").string();
        const auto r = run_plateau("ode --N 20 --alpha-max 1 --records 3 --save-weights " + value +
                                   " -o " + out);
        CHECK(r.status == 2);
        CHECK(r.output.find("plateau ode") != std::string::npos);
        CHECK(!std::filesystem::exists(out));
    }
    check_refused(dir, "run --N 20 --alpha-max 1 --records 3 -q --save-weights all",
                  "none, initial, final, records");
}

TEST_CASE("student-from and teacher-from start from the saved weights, bit for bit",
          "[weights][start]") {
    const TempDir dir;
    const std::string a = (dir.path() / "a.h5").string();
    const std::string b = (dir.path() / "b.h5").string();
    REQUIRE(run_plateau(small + " --save-weights final -o " + a).status == 0);
    // Round trip: b saves the weights it starts from, which are a's final ones.
    REQUIRE(run_plateau(small + " --student-from " + a + " --teacher-from " + a +
                        " --save-weights initial -o " + b)
                .status == 0);
    const auto from = runs_of(a);
    const auto to = runs_of(b);
    REQUIRE(from.size() == 4);
    REQUIRE(to.size() == 4);
    for (std::size_t r = 0; r < from.size(); ++r) {
        INFO("run " << r);
        const auto& saved = from[r].first.value();
        const auto& start = to[r].first.value();
        CHECK(same_bits(saved.W, start.W));
        CHECK(same_bits(saved.v, start.v));
        CHECK(same_bits(saved.B, start.B));
        CHECK(same_bits(saved.v_star, start.v_star));
        CHECK(start.alpha == 0.0);
        // b's first record is a's last, bit for bit (eps_g is a closed form here).
        const Observables& end = from[r].second.records.back();
        const Observables& begin = to[r].second.records.front();
        CHECK(same_bits(end.Q, begin.Q));
        CHECK(same_bits(end.R, begin.R));
        CHECK(same_bits(end.T, begin.T));
        CHECK(std::memcmp(&end.eg, &begin.eg, sizeof(double)) == 0);
    }
    // FILE:RUN: every run from run_index 3 (N = 30; the N = 20 runs do not fit).
    const std::string c = (dir.path() / "c.h5").string();
    REQUIRE(run_plateau("run --N 30 --alpha-max 1 --records 3 --seeds 2 -q --student-from " + a +
                        ":3 --save-weights initial -o " + c)
                .status == 0);
    for (const auto& run : runs_of(c))
        CHECK(same_bits(run.first.value().W, from[3].first.value().W));
}

TEST_CASE("student-from a records file starts from its final weights", "[weights][start]") {
    const TempDir dir;
    const std::string a = (dir.path() / "a.h5").string();
    const std::string b = (dir.path() / "b.h5").string();
    REQUIRE(run_plateau(small + " --save-weights records -o " + a).status == 0);
    REQUIRE(
        run_plateau(small + " --student-from " + a + " --save-weights initial -o " + b).status ==
        0);
    const auto from = runs_of(a);
    const auto to = runs_of(b);
    REQUIRE(to.size() == from.size());
    for (std::size_t r = 0; r < from.size(); ++r) {
        INFO("run " << r);
        const Observables& end = from[r].second.records.back();
        const Observables& begin = to[r].second.records.front();
        CHECK(same_bits(from[r].first.value().W, to[r].first.value().W));
        CHECK(same_bits(end.Q, begin.Q));
        CHECK(same_bits(end.v, begin.v));
    }
}

TEST_CASE("a run started from its own initial weights is the same run, bit for bit",
          "[weights][start]") {
    // What continuation guarantees (analysis/SCHEMA.md, "Saved weights"): the streams of run r
    // are keyed by (seed, r) and restart with every run, so a run started from saved weights
    // with the same seed and run index draws the examples the saving run drew from its start.
    // From a run's initial weights that is the run itself, bit for bit, even where the
    // configuration would draw other ones (q0, teacher-init: the loaded weights replace them).
    const TempDir dir;
    const std::string a = (dir.path() / "a.h5").string();
    const std::string b = (dir.path() / "b.h5").string();
    REQUIRE(run_plateau(small + " --save-weights initial -o " + a).status == 0);
    REQUIRE(run_plateau(small + " --q0 0.7 --teacher-init gaussian --student-from " + a +
                        " --teacher-from " + a + " -o " + b)
                .status == 0);
    const auto x = runs_of(a);
    const auto y = runs_of(b);
    REQUIRE(x.size() == y.size());
    for (std::size_t r = 0; r < x.size(); ++r) {
        INFO("run " << r);
        const auto& p = x[r].second.records;
        const auto& q = y[r].second.records;
        REQUIRE(p.size() == q.size());
        for (std::size_t i = 0; i < p.size(); ++i) {
            CHECK(same_bits(p[i].Q, q[i].Q));
            CHECK(same_bits(p[i].R, q[i].R));
            CHECK(same_bits(p[i].v, q[i].v));
            CHECK(std::memcmp(&p[i].eg, &q[i].eg, sizeof(double)) == 0);
        }
    }
}

TEST_CASE("student-from and teacher-from refuse what does not fit, with one line",
          "[weights][start][errors]") {
    const TempDir dir;
    const std::string a = (dir.path() / "a.h5").string();
    const std::string none = (dir.path() / "none.h5").string();
    const std::string rest = " --alpha-max 1 --records 3 -q";
    const std::string run = "run --N 20 --seeds 2" + rest;
    REQUIRE(run_plateau(run + " --save-weights final -o " + a).status == 0);
    REQUIRE(run_plateau(run + " -o " + none).status == 0);
    check_refused(dir, run + " --student-from " + (dir.path() / "missing.h5").string(),
                  "cannot be read (no such file)", "student-from");
    check_refused(dir, run + " --student-from " + none, "no saved weights", "student-from");
    check_refused(dir, run + " --teacher-from " + a + ":2", "does not hold", "teacher-from");
    check_refused(dir, "run --N 20 --seeds 3" + rest + " --student-from " + a, "does not hold",
                  "student-from");
    check_refused(dir, run + " --K 3 --student-from " + a, "K = 2, N = 20", "student-from");
    check_refused(dir, run + " --M 3 --teacher-from " + a, "M = 2, N = 20", "teacher-from");
    check_refused(dir, "run --N 25 --seeds 2" + rest + " --student-from " + a, "N = 25",
                  "student-from");
    check_refused(dir, run + " --dynamics gram --student-from " + a, "dynamics = gram",
                  "student-from");
    check_refused(dir, run + " --K 3 --dry-run --student-from " + a, "K = 2, N = 20",
                  "student-from");
    // A damaged file: the second half cut off.
    const std::string cut = (dir.path() / "cut.h5").string();
    std::filesystem::copy_file(a, cut);
    std::filesystem::resize_file(cut, std::filesystem::file_size(cut) / 2);
    check_refused(dir, run + " --student-from " + cut, "cannot be read", "student-from");
    const std::string out = (dir.path() / "ode.h5").string();
    const auto r =
        run_plateau("ode --N 20 --alpha-max 1 --records 3 --teacher-from " + a + " -o " + out);
    CHECK(r.status == 2);
    CHECK(r.output.find("'teacher-from'") != std::string::npos);
    CHECK(!std::filesystem::exists(out));
}
