// Writer role: owns every HDF5 handle of a campaign file being written (engine/io/reader.hpp reads
// one); used from one thread only.
//
// The file (schema "plateau-campaign", documented field by field in analysis/SCHEMA.md) holds
// one group per array shape (K, M); its data variables are those of the table in
// engine/io/variables.hpp that the file's kind writes. It is created complete — every dataset at
// its final shape, NaN-filled, every run "pending" — under a temporary name in the target
// directory, then moved into place. Each finished run is written, flushed, then marked completed
// (or diverged) and flushed again, so a file left by a killed process holds whole runs only;
// `resume` finishes it.
#pragma once

#include "engine/campaign/campaign.hpp"
#include "engine/campaign/resources.hpp"
#include "engine/io/h5/object.hpp"
#include "engine/io/run_checksum.hpp"
#include "engine/io/theory_attributes.hpp"
#include "engine/io/variables.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace plateau {

/// Root attributes that come from the caller.
struct FileMetadata {
    std::string config_text;  ///< the resolved configuration; its SHA-256 identifies the campaign
    std::string command_line; ///< how the file was made
    std::string kind = "simulation"; ///< name() of a FileKind
    /// How a theory file was made (schema 1.5): written as root attributes theory_*; none for a
    /// simulation file.
    std::optional<TheoryAttributes> theory = std::nullopt;
};

/// Where each run of a campaign goes: its group (one per (K, M)) and its index there.
struct CampaignLayout {
    struct GroupInfo {
        std::string name; ///< "K<K>_M<M>"
        int K = 0;
        int M = 0;
        std::vector<std::int64_t> runs;    ///< global run indices, increasing
        std::vector<int> student_widths{}; ///< hidden-layer widths from the input up ({K})
        std::vector<int> teacher_widths{}; ///< ({M})
        std::size_t clusters = 1;          ///< C of the campaign's mixture (1: Gaussian inputs)
        std::size_t tasks = 1;             ///< the campaign's teachers (docs/theory.md §17)
        /// The largest N of the group's runs with save-weights; 0 without saved weights.
        std::size_t inputs = 0;
        /// The group's shape with `n_records` records.
        [[nodiscard]] GroupShape shape(std::size_t n_records) const noexcept {
            return group_shape(runs.size(), n_records, student_widths, teacher_widths, clusters,
                               tasks, inputs);
        }
    };
    std::vector<GroupInfo> groups;
    std::vector<std::size_t> group_of;        ///< per run
    std::vector<std::int64_t> index_in_group; ///< per run
    std::size_t records = 0;                  ///< length of the alpha axis

    [[nodiscard]] static CampaignLayout of(const CampaignSpec& spec);
};

/// How `plateau run -o PATH` treats PATH: a new file, replacing a regular file, or finishing one.
enum class OutputMode { create, overwrite, resume };

/// Throws OutputError (one line, naming the path) for a path the writer will not use in `mode`:
/// empty, a directory, a name longer than the file system allows, a directory that is missing
/// or not writable; for `create` an existing path; for `overwrite` anything but a regular file
/// (a device, FIFO, socket or symbolic link is never replaced); for `resume` a missing path or
/// one that is not a regular file. Touches nothing.
void check_output_path(const std::filesystem::path& path, OutputMode mode);

/// A temporary file of the writer (".NAME.part-PID" next to NAME) whose process is gone: an
/// interrupted creation (the file holds no runs: runs are only written once the file is in
/// place).
struct StalePartFile {
    std::filesystem::path path;
    std::int64_t pid = 0;
};
[[nodiscard]] std::vector<StalePartFile> stale_part_files(const std::filesystem::path& path);

/// The name a file being created at `path` has until it is complete: ".NAME.part-PID" next to
/// it (".plateau-HASH.part-PID" when that would be longer than the file system allows), the
/// name stale_part_files() looks for.
[[nodiscard]] std::filesystem::path temporary_path(const std::filesystem::path& path);
/// Moves the complete file `tmp` to `path`: without `replace` never over an existing file
/// (link(), then unlink() of `tmp`), with it atomically (rename()). OutputError naming `path`
/// when that fails.
void move_into_place(const std::filesystem::path& tmp, const std::filesystem::path& path,
                     bool replace);

/// What a campaign needs, computed from its grid points and seeds only (no per-run work, so it
/// is instant for any number of runs): for --dry-run and for the check before a campaign
/// allocates anything per run or creates its file (docs/RELIABILITY.md, "Resources").
struct CampaignEstimate {
    std::size_t groups = 0;       ///< distinct (K, M)
    std::uint64_t file_bytes = 0; ///< the campaign file (within a few percent)
    /// The peak: the program, per-run bookkeeping, the runs in flight and the writer's buffers.
    std::uint64_t memory_bytes = 0;
    /// What the runs in flight (one per worker thread) hold for training: their training sets
    /// (P x N doubles each) and batches, at the largest grid point (trainer_memory_bytes).
    std::uint64_t training_bytes = 0;
    /// What the runs in flight hold in all (run_memory at the largest grid point, times them).
    std::uint64_t in_flight_bytes = 0;
    RunMemory largest_run; ///< the run of the largest grid point, by part
    /// per-run bookkeeping of all runs, and the weights they start from (student-from,
    /// teacher-from)
    std::uint64_t bookkeeping_bytes = 0;
    std::uint64_t writer_bytes = 0; ///< the writer's buffers (and the summary's)
    std::size_t runs_in_flight = 0; ///< min(threads, runs)
};
/// How estimate_campaign counts.
struct EstimateOptions {
    RunKind kind = RunKind::simulation;
    /// The grid points `spec.points` stand for (a sample of a larger grid: its sums are scaled,
    /// its largest point taken as the largest); 0: exactly spec.points.
    double grid_points = 0.0;
};
[[nodiscard]] CampaignEstimate
estimate_campaign(const CampaignSpec& spec,
                  std::span<const VariableSpec> table = campaign_variables(),
                  const EstimateOptions& options = {});
[[nodiscard]] inline CampaignEstimate estimate_campaign(const CampaignSpec& spec,
                                                        const EstimateOptions& options) {
    return estimate_campaign(spec, campaign_variables(), options);
}

/// A record holds an extra observable (a key of Observables::extras) that is not a variable of the
/// file's kind, in the writer's table or in today's (campaign_variables(): a file written with an
/// older table leaves today's newer extras out): a misspelt or misplaced name, a programming
/// error. what() names the key, the file's kind and the names allowed; nothing of the run is
/// written.
class UnknownObservableError : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// Writes the variables of a table (engine/io/variables.hpp; campaign_variables() unless a test
/// gives another) that the file's kind writes, and root attributes `schema_version` (major) and
/// `schema_version_minor` = schema_version_of(table).
class CampaignWriter {
public:
    /// Creates the campaign file at `path`. Without `replace`, an existing file is never
    /// touched (OutputError). The directory must exist and be writable (OutputError).
    [[nodiscard]] static CampaignWriter
    create(const std::filesystem::path& path, const CampaignSpec& spec, const FileMetadata& meta,
           bool replace, std::span<const VariableSpec> table = campaign_variables());
    /// Opens a campaign file left unfinished, to write its remaining runs. OutputError if it
    /// is not a campaign file of this schema version (major and minor: the same variables) or
    /// its configuration differs from `meta`'s. Reads every checksummed chunk (damaged_runs());
    /// a read that fails for another reason than its checksum throws h5::Error.
    [[nodiscard]] static CampaignWriter
    resume(const std::filesystem::path& path, const CampaignSpec& spec, const FileMetadata& meta,
           std::span<const VariableSpec> table = campaign_variables());

    /// Global indices of the runs still to do, increasing: pending, or damaged.
    [[nodiscard]] std::vector<std::int64_t> unfinished_runs() const;
    /// Runs whose data or status failed their checksum when the file was opened (flipped bits
    /// on disk: h5::ErrorKind::checksum, nothing else), increasing; they are redone (a run is a
    /// pure function of the configuration and its index).
    [[nodiscard]] const std::vector<std::int64_t>& damaged_runs() const noexcept {
        return damaged_;
    }

    /// Writes one finished run (all its records, NaN past a divergence), flushes, then sets its
    /// status and flushes again. UnknownObservableError, before anything is written, if a
    /// record holds an extra that is not a variable of the file's kind.
    void write(const FinishedRun& run);

    /// Flushes and closes the file.
    void close();

private:
    /// One dataset per entry of variables_ (status included), in the same order.
    struct GroupHandles {
        std::vector<h5::Dataset> datasets;
        std::optional<RunChecksums> checksums; ///< none before schema 1.4
    };
    CampaignWriter(h5::File file, FileKind kind, CampaignLayout layout,
                   std::vector<VariableSpec> variables, std::vector<GroupHandles> groups);
    [[nodiscard]] std::size_t status_index() const;
    /// Throws UnknownObservableError for an extra of `run` that no variable of the file holds.
    void check_extras(const FinishedRun& run) const;
    /// Reads every checksummed chunk once and fills damaged_.
    void find_damaged_runs();

    h5::File file_;
    FileKind kind_;
    CampaignLayout layout_;
    std::vector<VariableSpec> variables_; ///< the table's variables this file's kind writes
    std::vector<GroupHandles> groups_;
    std::vector<std::int64_t> damaged_;
};

} // namespace plateau
