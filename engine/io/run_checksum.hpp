// The per-run checksum of a campaign file (schema 1.4, variable `run_checksum`,
// analysis/SCHEMA.md): CRC-32 of the bytes of one run of every variable its `covers` attribute
// names. HDF5's Fletcher-32 of each chunk cannot tell a zeroed chunk from data (the sum of zeros is
// zero) and is skipped for a chunk whose index entry lost its filter mask; this one can and is not.
#pragma once

#include "engine/io/h5/object.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace plateau {

/// The attribute of `run_checksum` that lists the variables it covers, in the order they are
/// summed, separated by spaces.
inline constexpr const char* run_checksum_covers = "covers";

/// CRC-32/ISO-HDLC (zlib's crc32, Python's zlib.crc32): reflected polynomial 0xEDB88320, initial
/// value and final xor 0xFFFFFFFF. The CRC of zeros is not zero.
class Crc32 {
public:
    void add(std::span<const std::byte> bytes) noexcept;
    /// The CRC of everything added so far, in [0, 2^32).
    [[nodiscard]] std::int64_t value() const noexcept;

private:
    std::uint32_t state_ = 0xFFFFFFFFU;
};

/// Checks the stored run checksums of one group against its data.
class RunChecksums {
public:
    /// nullopt for a group without `run_checksum` (a file before schema 1.4). h5::Error if the
    /// variable or one it covers cannot be opened.
    [[nodiscard]] static std::optional<RunChecksums> of(const h5::Group& group);
    /// Whether run `index` (along the group's run axis) holds the bytes its checksum was computed
    /// from; false also for a checksum never written (fill value). h5::Error if a read fails.
    [[nodiscard]] bool matches(hsize_t index) const;

private:
    struct Covered {
        h5::Dataset dataset;
        h5::ElementType type;
        std::vector<hsize_t> count; ///< one run's slab
    };
    RunChecksums(h5::Dataset checksum, std::vector<Covered> covered) noexcept
        : checksum_(std::move(checksum)), covered_(std::move(covered)) {}
    h5::Dataset checksum_;
    std::vector<Covered> covered_;
};

} // namespace plateau
