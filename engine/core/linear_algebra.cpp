// See linear_algebra.hpp.
#include "engine/core/linear_algebra.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <mutex>

namespace plateau {

namespace {
std::mutex& blocking_mutex() noexcept {
    static std::mutex m;
    return m;
}
} // namespace

void fix_eigen_blocking() noexcept {
    // Eigen keeps the sizes in plain statics: read and set them under one lock, so that runs
    // starting on several threads at once do not race (set only when they differ, so a
    // process that changed them, e.g. a test imitating another machine, is put right).
    const std::lock_guard lock(blocking_mutex());
    std::ptrdiff_t l1 = 0, l2 = 0, l3 = 0;
    Eigen::internal::manage_caching_sizes(Eigen::GetAction, &l1, &l2, &l3);
    if (l1 != eigen_blocking_l1 || l2 != eigen_blocking_l2 || l3 != eigen_blocking_l3)
        Eigen::setCpuCacheSizes(eigen_blocking_l1, eigen_blocking_l2, eigen_blocking_l3);
}

} // namespace plateau
