// The MPI layer of `plateau run` and `plateau ode` (optional: built when CMake finds MPI).
// Rank 0 owns the output file and writes each run as it arrives; the other ranks compute runs
// (each with its own oneTBB arena) and send them, encoded bit for bit
// (engine/campaign/run_message.hpp). The engine knows nothing of MPI; this is the only file that
// calls it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace plateau::cli::mpi {

/// This process among the processes of one launch.
struct World {
    int rank = 0;
    int size = 1;
    [[nodiscard]] bool distributed() const noexcept { return size > 1; }
};

/// The launch this process belongs to. MPI is initialized on the first call when an MPI
/// launcher started the process (mpirun, mpiexec, srun: their environment says so); otherwise
/// a single process {0, 1}. UsageError when MPI launched it but this build has no MPI.
[[nodiscard]] World world();

/// Ends MPI if world() started it (at the end of main).
void finalize() noexcept;
/// Ends every process of the launch with `status` (an error on one rank in the middle of a
/// campaign, which the others would wait for forever).
[[noreturn]] void abort(int status) noexcept;

/// The ranks that compute runs (every rank but 0) on this process's node (MPI-3 shared-memory
/// split): they share what the node can start. 0 without MPI.
[[nodiscard]] int computing_ranks_on_node();
/// The smallest `x` of all ranks (every rank calls it); `x` itself without MPI.
[[nodiscard]] std::int64_t min_over_ranks(std::int64_t x);

/// Rank 0 to all: an exit status (0: go on) then the runs to do.
void broadcast(int& status, std::vector<std::int64_t>& runs);

enum class Tag : int { run = 1, done = 2 };
/// To rank 0.
void send(Tag tag, std::span<const std::byte> bytes);
/// On rank 0: the next message from any rank.
struct Message {
    Tag tag = Tag::done;
    int source = 0;
    std::vector<std::byte> bytes;
};
[[nodiscard]] Message receive();

} // namespace plateau::cli::mpi
