// A finished run as bytes, for sending it from the process that computed it to the one that
// writes the file (MPI campaigns, cli/mpi.hpp). Every double is copied bit for bit, so
// the written file is the same as if the run had been computed by the writing process.
#pragma once

#include "engine/campaign/campaign.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace plateau {

/// The bytes of `run`: its index, status, outcome and every record (Q, R, T, v, eg, eg_stderr and
/// the named extras), in this process's byte order (the processes of one campaign run one binary).
[[nodiscard]] std::vector<std::byte> encode_run(const FinishedRun& run);

/// The run of encode_run's bytes; std::invalid_argument for bytes that are not one.
[[nodiscard]] FinishedRun decode_run(std::span<const std::byte> bytes);

} // namespace plateau
