#include "cli/mpi.hpp"

#include "cli/options.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <thread>

#ifdef PLATEAU_HAVE_MPI
#include <mpi.h>
#endif

namespace plateau::cli::mpi {

namespace {

/// Whether an MPI launcher started this process (Open MPI's mpirun, MPICH's Hydra, SLURM's
/// srun with PMI/PMIx).
bool launched_by_mpi() noexcept {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
        if (std::getenv(v) != nullptr)
            return true;
    return false;
}

struct State {
    bool checked = false;
    bool initialized = false;
    World world;
};

State& state() noexcept {
    static State s; // one per process: MPI itself is per process
    return s;
}

} // namespace

#ifdef PLATEAU_HAVE_MPI

World world() {
    State& s = state();
    if (s.checked)
        return s.world;
    s.checked = true;
    if (!launched_by_mpi())
        return s.world;
    int provided = 0;
    // Only the main thread calls MPI (the campaign's consumer runs there).
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    s.initialized = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &s.world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &s.world.size);
    return s.world;
}

void finalize() noexcept {
    if (state().initialized) {
        MPI_Finalize();
        state().initialized = false;
    }
}

void abort(int status) noexcept {
    if (state().initialized)
        MPI_Abort(MPI_COMM_WORLD, status);
    std::_Exit(status);
}

int computing_ranks_on_node() {
    MPI_Comm node = MPI_COMM_NULL;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    int size = 0;
    MPI_Comm_size(node, &size);
    int writer_here = world().rank == 0 ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &writer_here, 1, MPI_INT, MPI_MAX, node);
    MPI_Comm_free(&node);
    return size - writer_here;
}

std::int64_t min_over_ranks(std::int64_t x) {
    MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
    return x;
}

void broadcast(int& status, std::vector<std::int64_t>& runs) {
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (status != 0)
        return;
    auto n = static_cast<std::int64_t>(runs.size());
    MPI_Bcast(&n, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    runs.resize(static_cast<std::size_t>(n));
    // In pieces: a count is an int.
    constexpr std::size_t piece = std::size_t{1} << 26;
    for (std::size_t at = 0; at < runs.size(); at += piece) {
        const auto count = static_cast<int>(std::min(piece, runs.size() - at));
        MPI_Bcast(runs.data() + at, count, MPI_INT64_T, 0, MPI_COMM_WORLD);
    }
}

void send(Tag tag, std::span<const std::byte> bytes) {
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw std::runtime_error("a run of more than 2 GB cannot be sent to rank 0");
    MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, static_cast<int>(tag),
             MPI_COMM_WORLD);
}

Message receive() {
    // Polled with growing sleeps, not MPI_Probe: Open MPI's blocking probe spins, and rank 0
    // would take a core from the ranks that compute (measured: bench/cluster_scaling.sh).
    MPI_Status status;
    auto pause = std::chrono::microseconds(50);
    for (int arrived = 0;;) {
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &arrived, &status);
        if (arrived != 0)
            break;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(5000));
    }
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    Message m;
    m.tag = static_cast<Tag>(status.MPI_TAG);
    m.source = status.MPI_SOURCE;
    m.bytes.resize(static_cast<std::size_t>(count));
    MPI_Recv(m.bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    return m;
}

#else // a build without MPI

World world() {
    State& s = state();
    if (!s.checked && launched_by_mpi() && std::getenv("PLATEAU_IGNORE_MPI") == nullptr) {
        s.checked = true;
        throw UsageError("started by an MPI launcher, but this plateau was built without MPI; "
                         "allowed is a build with MPI (install libopenmpi-dev, configure with "
                         "-DPLATEAU_MPI=ON) or a launch without mpirun");
    }
    s.checked = true;
    return s.world;
}
void finalize() noexcept {}
void abort(int status) noexcept {
    std::_Exit(status);
}
int computing_ranks_on_node() {
    return 0;
}
std::int64_t min_over_ranks(std::int64_t x) {
    return x;
}
void broadcast(int&, std::vector<std::int64_t>&) {}
void send(Tag, std::span<const std::byte>) {
    throw std::logic_error("mpi::send without MPI");
}
Message receive() {
    throw std::logic_error("mpi::receive without MPI");
}

#endif

} // namespace plateau::cli::mpi
