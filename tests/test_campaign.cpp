// Campaign execution: determinism across thread counts, consumer on the calling thread.
#include "engine/campaign/campaign.hpp"
#include "engine/campaign/threads.hpp"
#include "engine/simulation/simulate.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <map>
#include <stdexcept>
#include <thread>

using namespace plateau;

namespace {

CampaignSpec small_campaign(int threads) {
    CampaignSpec spec;
    for (const double eta : {0.3, 0.9}) {
        GridPoint g;
        g.params.model.N = 60;
        g.params.training.eta = g.params.training.eta_v = eta;
        g.params.model.learn_v = true;
        g.params.schedule.alpha_max = 15;
        g.params.schedule.records = 12;
        g.coordinates.push_back({"eta", eta, {}, false, "learning rate"});
        spec.points.push_back(g);
    }
    spec.seeds = 5;
    spec.master_seed = 42;
    spec.threads = threads;
    return spec;
}

std::map<std::int64_t, RunResult> collect(const CampaignSpec& spec) {
    std::vector<std::int64_t> runs(static_cast<std::size_t>(spec.runs()));
    for (std::size_t i = 0; i < runs.size(); ++i)
        runs[i] = static_cast<std::int64_t>(i);
    std::map<std::int64_t, RunResult> out;
    const auto caller = std::this_thread::get_id();
    execute_campaign(spec, runs, [&](FinishedRun&& f) {
        CHECK(std::this_thread::get_id() == caller);
        out.emplace(f.run, std::move(f.result));
    });
    return out;
}

} // namespace

TEST_CASE("campaign results are bit-identical for 1 and 2 threads", "[campaign]") {
    const auto one = collect(small_campaign(1));
    const auto two = collect(small_campaign(2));
    REQUIRE(one.size() == 10);
    REQUIRE(two.size() == 10);
    for (const auto& [run, a] : one) {
        const RunResult& b = two.at(run);
        REQUIRE(a.status == b.status);
        REQUIRE(a.records.size() == b.records.size());
        for (std::size_t i = 0; i < a.records.size(); ++i) {
            CHECK(a.records[i].eg == b.records[i].eg);
            CHECK(a.records[i].Q == b.records[i].Q);
            CHECK(a.records[i].R == b.records[i].R);
            CHECK(a.records[i].v == b.records[i].v);
        }
    }
    // ...and equal to the run computed on its own.
    const CampaignSpec spec = small_campaign(1);
    const RunResult alone = simulate(spec.point_of(7).params, spec.master_seed, 7);
    CHECK(alone.records.back().eg == one.at(7).records.back().eg);
}

TEST_CASE("an exception in the consumer stops the campaign and propagates", "[campaign]") {
    const CampaignSpec spec = small_campaign(2);
    std::vector<std::int64_t> runs{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    int seen = 0;
    CHECK_THROWS_WITH(execute_campaign(spec, runs,
                                       [&](FinishedRun&&) {
                                           if (++seen == 2)
                                               throw std::runtime_error("disk full");
                                       }),
                      "disk full");
    CHECK(seen == 2);
}

TEST_CASE("the threads the system can start are counted, and a refused worker is told apart",
          "[campaign][threads]") {
    const ThreadCapacity capacity = thread_capacity();
    CHECK(capacity.threads >= 1); // this process runs a thread, so one more fits
    if (capacity.threads < std::numeric_limits<std::int64_t>::max())
        CHECK_FALSE(capacity.limit.empty()); // the message names what binds
    CHECK(worker_count(3) == 3);
    CHECK(worker_count(0) >= 1);
    // oneTBB's text when its worker launch fails (thread_monitor::launch), and ours.
    CHECK(is_worker_start_failure(
        std::runtime_error("pthread_create has failed: Resource temporarily unavailable")));
    CHECK(is_worker_start_failure(WorkerStartError("cannot start a worker thread")));
    CHECK_FALSE(is_worker_start_failure(std::runtime_error("disk full")));
    CHECK_FALSE(is_worker_start_failure(std::runtime_error("pthread_create")));
}

TEST_CASE("init-seed shared gives seed s the same initial weights at every grid point",
          "[campaign]") {
    const auto initial = [](InitSeed init) {
        CampaignSpec spec = small_campaign(1);
        for (auto& point : spec.points)
            point.params.model.init_seed = init;
        std::map<std::int64_t, Observables> first; // run -> record at alpha = 0
        std::vector<std::int64_t> all(static_cast<std::size_t>(spec.runs()));
        for (std::int64_t r = 0; r < spec.runs(); ++r)
            all[static_cast<std::size_t>(r)] = r;
        execute_campaign(spec, all, [&](FinishedRun&& f) {
            REQUIRE_FALSE(f.result.records.empty());
            first.emplace(f.run, f.result.records.front());
        });
        return std::pair{spec.seeds, first};
    };
    const auto same_start = [](const Observables& a, const Observables& b) {
        return a.Q == b.Q && a.R == b.R && a.T == b.T;
    };
    const auto [seeds, shared] = initial(InitSeed::shared);
    const auto [seeds_run, own] = initial(InitSeed::run);
    for (std::int64_t s = 0; s < seeds; ++s) {
        INFO("seed " << s);
        // grid points 0 and 1 (eta = 0.3, 0.9) of seed s
        CHECK(same_start(shared.at(s), shared.at(seeds + s)));
        CHECK_FALSE(same_start(own.at(s), own.at(seeds + s)));
        if (s > 0)
            CHECK_FALSE(same_start(shared.at(s), shared.at(s - 1)));
    }
    // Learning then goes its own way at each eta.
    CampaignSpec spec = small_campaign(1);
    for (auto& point : spec.points)
        point.params.model.init_seed = InitSeed::shared;
    const RunResult a = simulation_runs(spec)(0);
    const RunResult b = simulation_runs(spec)(spec.seeds);
    CHECK(a.records.back().Q != b.records.back().Q);
}
