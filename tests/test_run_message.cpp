// A finished run as bytes (MPI campaigns): the round trip is bit for bit.
#include "engine/campaign/run_message.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/simulate.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <limits>

using namespace plateau;

namespace {

bool same_matrix_bits(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(double)) ==
               0;
}

} // namespace

TEST_CASE("a finished run survives encode and decode bit for bit", "[mpi]") {
    RunParams p;
    p.model.N = 40;
    p.model.student.widths = {3};
    p.model.learn_v = true;
    p.schedule.alpha_max = 2;
    p.schedule.records = 6;
    FinishedRun run{17, simulate(p, 5, 17)};
    run.result.records.back().extras.emplace("extra", Eigen::VectorXd::LinSpaced(4, -1.0, 2.0));
    run.result.records.front().eg = -0.0; // signs and NaN payloads are bits too
    run.result.records.front().eg_stderr = std::numeric_limits<double>::quiet_NaN();

    const auto bytes = encode_run(run);
    const FinishedRun back = decode_run(bytes);
    CHECK(back.run == 17);
    CHECK(back.result.status == run.result.status);
    CHECK(back.result.outcome == run.result.outcome);
    CHECK(run.result.outcome != RunOutcome::pending); // set by the run: a value to carry
    REQUIRE(back.result.records.size() == run.result.records.size());
    for (std::size_t i = 0; i < run.result.records.size(); ++i) {
        const auto& a = run.result.records[i];
        const auto& b = back.result.records[i];
        CHECK(same_matrix_bits(a.Q, b.Q));
        CHECK(same_matrix_bits(a.R, b.R));
        CHECK(same_matrix_bits(a.T, b.T));
        CHECK(same_matrix_bits(a.v, b.v));
        CHECK(std::memcmp(&a.eg, &b.eg, sizeof a.eg) == 0);
        CHECK(std::memcmp(&a.eg_stderr, &b.eg_stderr, sizeof a.eg) == 0);
        REQUIRE(a.extras.size() == b.extras.size());
        for (const auto& [name, values] : a.extras)
            CHECK(same_matrix_bits(values, b.extras.at(name)));
    }
    // A cut or padded message is refused, not misread.
    CHECK_THROWS_AS(decode_run(std::span(bytes).first(bytes.size() - 1)), std::invalid_argument);
    auto longer = bytes;
    longer.push_back(std::byte{0});
    CHECK_THROWS_AS(decode_run(longer), std::invalid_argument);
}
