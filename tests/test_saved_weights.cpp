// Saved weights (`save-weights`, analysis/SCHEMA.md "Saved weights"): what the file holds agrees
// with the recorded order parameters, a file without them is unchanged and reads, the size
// estimate counts them, and what has no such weights is refused with one line.
#include "cli_helpers.hpp"
#include "engine/io/reader.hpp"
#include "engine/io/writer.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
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
            const auto w = reader.read_weights({g, i}, N);
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

/// `plateau run ARGS` must refuse: exit status 2, one line naming the key, no file.
void check_refused(const TempDir& dir, const std::string& args, const std::string& needle) {
    const std::string out = (dir.path() / "refused.h5").string();
    const auto r = run_plateau(args + " -o " + out);
    INFO(args << "\n" << r.output);
    CHECK(r.status == 2);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK(r.output.find("'save-weights'") != std::string::npos);
    CHECK(r.output.find(needle) != std::string::npos);
    CHECK(!std::filesystem::exists(out));
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

TEST_CASE("a file without saved weights has none, and reads", "[weights]") {
    const TempDir dir;
    const std::string path = (dir.path() / "none.h5").string();
    REQUIRE(run_plateau(small + " -o " + path).status == 0);
    const CampaignReader reader = CampaignReader::open(path);
    const auto& info = reader.groups().front();
    CHECK(info.inputs == 0);
    CHECK(std::none_of(info.variables.begin(), info.variables.end(),
                       [](const std::string& v) { return v.starts_with("weights_"); }));
    CHECK(!reader.read_weights({0, 0}, 20));
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
}

TEST_CASE("save-weights refuses what has no such weights, with one line", "[weights][errors]") {
    const TempDir dir;
    const std::string run =
        "run --N 20 --alpha-max 1 --records 3 --seeds 1 -q --save-weights final";
    check_refused(dir, run + " --dynamics gram", "dynamics = gram");
    check_refused(dir, run + " --dynamics full,gram", "dynamics = gram");
    check_refused(dir, run + " --K 4x2", "deeper network");
    check_refused(dir, run + " --teachers 2", "teachers = 2");
    check_refused(dir, run + " --inputs mixture", "inputs = mixture");
    check_refused(dir, "run --N 20 --alpha-max 1 --records 3 -q --save-weights all",
                  "none, initial");
    const std::string out = (dir.path() / "ode.h5").string();
    const auto r =
        run_plateau("ode --N 20 --alpha-max 1 --records 3 --save-weights initial -o " + out);
    CHECK(r.status == 2);
    CHECK(r.output.find("plateau ode") != std::string::npos);
    CHECK(!std::filesystem::exists(out));
}
