// Results must not depend on the machine: Eigen blocks its products by the CPU's cache sizes,
// and the engine fixes them (engine/core/linear_algebra.hpp).
#include "engine/core/linear_algebra.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/simulate.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cstddef>

using namespace plateau;

namespace {

/// The golden test's chunked-linear case (tests/python/test_golden.py): N = 700 is beyond one
/// GEMM block of a 32 KiB L1 cache, so the observer's W W^T was summed in another order there.
RunParams chunked_linear() {
    RunParams p;
    p.model.N = 700;
    p.model.student.widths = {2};
    p.model.teacher.widths = {1};
    p.model.student.g = Activation{ActivationKind::linear};
    p.model.learn_v = true;
    p.training.eta_v = 0.2;
    p.schedule.alpha_max = 0.5;
    p.schedule.records = 4;
    return p;
}

/// Sets Eigen's blocking as it would be on a machine with these caches.
void imitate_machine(std::ptrdiff_t l1, std::ptrdiff_t l2, std::ptrdiff_t l3) {
    Eigen::setCpuCacheSizes(l1, l2, l3);
}

} // namespace

TEST_CASE("a run gives the same bits whatever the machine's cache sizes",
          "[reproducibility][linear-algebra]") {
    const RunParams p = chunked_linear();
    imitate_machine(32L * 1024, 512L * 1024, 320L * 1024 * 1024); // AMD EPYC (Zen 3) VM
    const RunResult small_l1 = simulate(p, 1, 0);
    imitate_machine(48L * 1024, 2048L * 1024, 32L * 1024 * 1024); // Intel Ice Lake
    const RunResult large_l1 = simulate(p, 1, 0);
    REQUIRE(small_l1.records.size() == large_l1.records.size());
    for (std::size_t i = 0; i < small_l1.records.size(); ++i) {
        CAPTURE(i);
        CHECK((small_l1.records[i].Q.array() == large_l1.records[i].Q.array()).all());
        CHECK((small_l1.records[i].T.array() == large_l1.records[i].T.array()).all());
    }
}

TEST_CASE("fix_eigen_blocking sets the documented sizes", "[reproducibility][linear-algebra]") {
    imitate_machine(32L * 1024, 512L * 1024, 320L * 1024 * 1024);
    fix_eigen_blocking();
    std::ptrdiff_t l1 = 0, l2 = 0, l3 = 0;
    Eigen::internal::manage_caching_sizes(Eigen::GetAction, &l1, &l2, &l3);
    CHECK(l1 == eigen_blocking_l1);
    CHECK(l2 == eigen_blocking_l2);
    CHECK(l3 == eigen_blocking_l3);
}
