#include "engine/io/write_probe.hpp"

#include "engine/core/cpu_time.hpp"

#include <string>
#include <system_error>
#include <unistd.h>

namespace plateau {

namespace {

/// A completed run of K = M = 1 with `records` records of plain numbers.
RunResult tiny_run(int records) {
    RunResult r;
    r.status = RunStatus::completed;
    r.outcome = RunOutcome::learned;
    for (int i = 0; i < records; ++i) {
        Observables o;
        o.Q = Eigen::MatrixXd::Constant(1, 1, 0.5 + i);
        o.R = Eigen::MatrixXd::Constant(1, 1, 0.25 * i);
        o.T = Eigen::MatrixXd::Identity(1, 1);
        o.v = Eigen::VectorXd::Ones(1);
        o.eg = 1.0 / (1.0 + i);
        o.extras.emplace("examples", Eigen::VectorXd::Constant(1, 16.0 * i));
        r.records.push_back(std::move(o));
    }
    return r;
}

} // namespace

FileWriteProbe::FileWriteProbe(const std::filesystem::path& directory) {
    constexpr std::int64_t runs = 128; // first writes only: 9 repetitions of 5 by default
    for (const int records : WriteProbe::probe_records) {
        Target t;
        t.records = records;
        t.path = directory / (".plateau-write-probe-" + std::to_string(::getpid()) + "-" +
                              std::to_string(records) + ".h5");
        CampaignSpec spec;
        GridPoint point;
        point.params.model.N = 16;
        point.params.model.student.widths = {1};
        point.params.model.teacher.widths = {1};
        point.params.schedule.records = records;
        point.params.schedule.kind = ScheduleKind::linear;
        spec.points.push_back(point);
        spec.seeds = runs;
        t.runs = runs;
        t.writer.emplace(CampaignWriter::create(t.path, spec, FileMetadata{}, true));
        t.run.result = tiny_run(records);
        targets_.push_back(std::move(t));
    }
}

FileWriteProbe::~FileWriteProbe() {
    for (Target& t : targets_) {
        try {
            t.writer.reset();
        } catch (...) { // NOLINT(bugprone-empty-catch): a scratch file; removed below either way
        }
        std::error_code ec;
        std::filesystem::remove(t.path, ec);
    }
}

double FileWriteProbe::once(int records) {
    for (Target& t : targets_) {
        if (t.records != records)
            continue;
        // One write untimed, then `runs` timed: the probes of the steps run between two
        // repetitions and leave the caches cold, where a campaign's consumer writes the runs
        // that finished meanwhile back to back (timed cold, the fixed part per run came out
        // 0.28 ms, warm 0.20 ms; tests/test_cost_model.cpp measures back-to-back writes).
        const auto write_next = [&t] {
            t.writer->write(t.run);
            t.run.run = (t.run.run + 1) % t.runs;
        };
        write_next();
        constexpr int runs = 4;
        const double start = thread_cpu_seconds();
        for (int i = 0; i < runs; ++i)
            write_next();
        return (thread_cpu_seconds() - start) / runs;
    }
    return 0.0;
}

} // namespace plateau
