// Machine-independent results from Eigen's matrix products.
//
// Eigen blocks a large matrix product (GEMM) by the cache sizes it reads off the CPU at run
// time, and the blocking decides the order in which each dot product is summed. The same binary
// then gives results that differ in the last bits from one machine to another (measured: the
// observer's W W^T at N = 700 differs between a 32 KiB and a 48 KiB L1 cache). A run's results
// must depend only on its configuration and seed, so every simulation and every theory
// integration first fixes the sizes Eigen blocks by.
#pragma once

namespace plateau {

/// The cache sizes Eigen blocks by, whatever the machine: L1 48 KiB, L2 1.25 MiB, L3 48 MiB.
/// (The golden files of tests/golden were written on a machine that blocks like this.)
inline constexpr long eigen_blocking_l1 = 48L * 1024;
inline constexpr long eigen_blocking_l2 = 1280L * 1024;
inline constexpr long eigen_blocking_l3 = 48L * 1024 * 1024;

/// Sets Eigen's blocking cache sizes to the constants above (thread-safe; cheap when they are
/// set already). Called by the entry points of the engine (make_trainer,
/// flow_settings) before any product is formed.
void fix_eigen_blocking() noexcept;

} // namespace plateau
