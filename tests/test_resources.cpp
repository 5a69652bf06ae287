// Issue 23: the estimates a campaign is refused by before anything is allocated, counted without
// expanding the grid, and durations and sizes printed without overflow (docs/RELIABILITY.md,
// "Resources").
#include "cli/config.hpp"
#include "cli/progress.hpp"
#include "engine/campaign/resources.hpp"
#include "engine/io/writer.hpp"

#include "cli_helpers.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <limits>
#include <set>

using namespace plateau;
using plateau::cli::Configuration;

TEST_CASE("resources: a grid is counted without expanding it, and sampled over every value",
          "[resources][config]") {
    Configuration c;
    c.set("eta", "linspace(0.1, 1, 100000)");
    c.set("v0", "linspace(0.1, 1, 100000)");
    const auto start = std::chrono::steady_clock::now();
    CHECK(c.grid_points() == 10'000'000'000);
    const CampaignSpec sample = c.expand_sample(1000);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    REQUIRE(sample.points.size() == 1000);
    // Both swept keys take many values in the sample, not one (a stride aliasing a list).
    std::set<double> etas;
    std::set<double> v0s;
    for (const auto& p : sample.points) {
        etas.insert(p.params.training.eta);
        v0s.insert(p.params.model.v0);
    }
    CHECK(etas.size() > 500);
    CHECK(v0s.size() > 500);
    // The command: --dry-run of 10^10 points answers at once (was: std::bad_alloc, exit 1), and
    // a run of them is refused before the grid is made, naming its bookkeeping.
    const std::string grid = "run --eta 'linspace(0.1,1,100000)' --v0 'linspace(0.1,1,100000)'";
    const auto dry = test::run_plateau(grid + " --dry-run");
    INFO(dry.output);
    CHECK(dry.status == 0);
    CHECK(dry.output.find("runs:        80000000000 (10000000000 grid point(s) x 8 seed(s))") !=
          std::string::npos);
    CHECK(dry.output.find("from a sample of 4096 grid points") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
    const auto run = test::run_plateau(grid + " --quiet");
    INFO(run.output);
    CHECK(run.status == 2);
    CHECK(run.output.find("campaign too large: memory: ~") != std::string::npos);
    CHECK(run.output.find("bookkeeping of the grid and its runs") != std::string::npos);
    // A grid no larger than the sample is the grid itself.
    Configuration small;
    small.set("eta", "0.1, 0.2, 0.3");
    CHECK(small.grid_points() == 3);
    CHECK(small.expand_sample(4096).points.size() == 3);
}

TEST_CASE("resources: the peak memory counts every allocation of the runs in flight",
          "[resources]") {
    Configuration c;
    c.set("N", "1000000");
    c.set("K", "3");
    c.set("M", "2");
    c.set("threads", "4");
    const CampaignEstimate e = estimate_campaign(c.expand());
    CHECK(e.runs_in_flight == 4);
    // The (K+M) x N weights, twice while the initial state is made, and the example xi, xi'.
    CHECK(e.largest_run.weights == Approx(8.0 * (2 * 5 + 2) * 1e6));
    // Several teachers (docs/theory.md §17): every teacher's M rows, K + 3 M = 9 rows.
    Configuration three = c;
    three.set("teachers", "3");
    CHECK(estimate_campaign(three.expand()).largest_run.weights == Approx(8.0 * (2 * 9 + 2) * 1e6));
    CHECK(static_cast<double>(e.memory_bytes) >= 4 * e.largest_run.total() + program_bytes);
    // The Gram chain keeps no (K+M) x N weights: (K+M)^2 matrices only.
    c.set("dynamics", "gram");
    const CampaignEstimate g = estimate_campaign(c.expand());
    CHECK(g.largest_run.weights == 0.0);
    CHECK(g.largest_run.total() < 1e6);
    // A sample stands for the whole grid: bookkeeping and file scale with the grid points.
    Configuration grid;
    grid.set("eta", "linspace(0.1, 1, 100000)");
    grid.set("v0", "linspace(0.1, 1, 100000)");
    const CampaignSpec sample = grid.expand_sample(100);
    const CampaignEstimate one = estimate_campaign(sample);
    const CampaignEstimate all = estimate_campaign(sample, {RunKind::simulation, 1e10});
    CHECK(static_cast<double>(all.bookkeeping_bytes) ==
          Approx(1e8 * static_cast<double>(one.bookkeeping_bytes)).epsilon(0.01));
    CHECK(static_cast<double>(all.file_bytes) > 1e7 * static_cast<double>(one.file_bytes));
}

TEST_CASE("resources: the Gram chain's matrices count the means' axes as rows", "[resources]") {
    // Four r x r matrices of 8 bytes (run_memory): r = K + M = 5 for Gaussian inputs, K + M + D
    // = 7 with the XOR mixture's D = 2 axes (docs/theory.md §15d, Eq. (15d.1)), + K = 10 with
    // momentum (§6c).
    RunParams p;
    p.model.N = 1000;
    p.model.student.widths = {3};
    p.model.teacher.widths = {2};
    p.dynamics = DynamicsKind::gram;
    CHECK(run_memory(p, RunKind::simulation, 0).chain == Approx(8.0 * 4.0 * 25.0));
    p.model.inputs = InputKind::mixture;
    p.model.mixture = Mixture::exclusive_or();
    CHECK(run_memory(p, RunKind::simulation, 0).chain == Approx(8.0 * 4.0 * 49.0));
    p.training.momentum = 0.5;
    CHECK(run_memory(p, RunKind::simulation, 0).chain == Approx(8.0 * 4.0 * 100.0));
    // A full run's Monte-Carlo buffers hold the K + M fields only.
    p.dynamics = DynamicsKind::full;
    CHECK(run_memory(p, RunKind::simulation, 0).chain == Approx(8.0 * 4.0 * 25.0));
}

TEST_CASE("resources: durations and sizes are formatted without overflow", "[resources]") {
    CHECK(cli::format_duration(12.34) == "12.3s");
    CHECK(cli::format_duration(185) == "3m 05s");
    CHECK(cli::format_duration(3720) == "1h 02m");
    CHECK(cli::format_duration(3 * 86400 + 4 * 3600) == "3d 04h");
    // N = 1e12 printed "~-2147483648h 41m" (an int of hours).
    CHECK(cli::format_duration(1e16) == "3.17e+08 years");
    CHECK(cli::format_duration(std::numeric_limits<double>::quiet_NaN()) == "unknown");
    CHECK(format_bytes(1.5e6) == "1.5 MB");
    CHECK(format_bytes(1e20) == "1e+08 TB");
}

TEST_CASE("resources: a campaign beyond memory is refused before any file, with the numbers",
          "[resources][cli]") {
    test::TempDir dir;
    const std::string out = dir / "out.h5";
    for (const std::string args : {"run --N 1e10 --alpha-max 1e-9 --schedule linear --seeds 1",
                                   "run --N 1e12", "run --N 3e9 --K 1 --M 1", "ode --N 1e12"}) {
        const auto r = test::run_plateau(args + " -o " + out);
        INFO(args << ": " << r.output);
        CHECK(r.status == 2);
        CHECK(r.output.find("campaign too large: memory: ~") != std::string::npos);
        CHECK(r.output.find("the limit is") != std::string::npos);
        CHECK(std::filesystem::is_empty(dir.path()));
    }
}

TEST_CASE("resources: a campaign longer than a year of CPU needs --force", "[resources][cli]") {
    test::TempDir dir;
    const std::string out = dir / "out.h5";
    // The reproducers, within the 2^53 steps a run may take: tens to hundreds of years
    // of CPU on the development machine.
    for (const std::string args :
         {"run --alpha-max 1e12", "run --dynamics gram --N 1e13",
          "run --alpha-max-scale inverse-eta --eta 1e-10,1 --schedule linear"}) {
        const auto r = test::run_plateau(args + " -o " + out);
        INFO(args << ": " << r.output);
        CHECK(r.status == 2);
        CHECK(r.output.find("campaign too long: ~") != std::string::npos);
        CHECK(r.output.find("years of CPU") != std::string::npos);
        CHECK(r.output.find("--force") != std::string::npos);
        CHECK(std::filesystem::is_empty(dir.path()));
        const auto dry = test::run_plateau(args + " --dry-run");
        CHECK(dry.status == 0);
        CHECK(dry.output.find("beyond the bound of a year of CPU") != std::string::npos);
    }
}
