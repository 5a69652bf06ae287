// What a campaign holds in memory at its peak, and how much memory this process may take: the
// check that refuses a campaign before anything is allocated or created (cli/command_support.cpp
// check_resources) and the memory line of --dry-run. docs/RELIABILITY.md, "Resources".
#pragma once

#include "engine/core/run_params.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace plateau {

/// What computes a campaign's runs: the simulation (`plateau run`) or the theory (`plateau ode`).
enum class RunKind { simulation, theory };

/// What one run in flight holds at its peak, in bytes, by part (doubles: a run too large for 64
/// bits is still counted). `records` is the campaign's number of record times.
struct RunMemory {
    double weights = 0.0;  ///< the (K+M) x N weights and deeper layers (twice while initialised)
    double training = 0.0; ///< training set and batch blocks (trainer_memory_bytes)
    double chain = 0.0;    ///< the Gram chain's or the theory's matrices, Monte-Carlo buffers
    double records = 0.0;  ///< the run's records, held until written

    [[nodiscard]] double total() const noexcept { return weights + training + chain + records; }
};
[[nodiscard]] RunMemory run_memory(const RunParams& p, RunKind kind, std::int64_t records) noexcept;
/// The weights one run saves with save-weights (analysis/SCHEMA.md, "Saved weights"), held with
/// its records until written: W and B, (K+M) x N, v and v*, and their alpha; with `records`
/// (save-weights = records) also the student's W and v at each of the run's `records` records.
[[nodiscard]] double saved_weights_bytes(const ModelParams& m, SaveWeights save,
                                         std::size_t records) noexcept;

/// The program itself (code, libraries, the thread pool, HDF5's caches): the resident size of
/// `plateau run` for a run of N = 1 (measured, tests/python/test_resources.py).
inline constexpr double program_bytes = 24e6;

/// How much memory this process may still take: MemAvailable of /proc/meminfo, or what the
/// cgroup allows (memory.max - memory.current, v2; limit - usage, v1) if lower. `source` names
/// which. nullopt where neither can be read.
struct MemoryLimit {
    std::uint64_t bytes = 0;
    std::string source;
};
[[nodiscard]] std::optional<MemoryLimit> available_memory();

/// "1.5 MB", "12 GB", "3.4e+06 TB": a size in bytes for a message, without overflow.
[[nodiscard]] std::string format_bytes(double bytes);

} // namespace plateau
