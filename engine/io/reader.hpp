// Reading a campaign file (schema "plateau-campaign", analysis/SCHEMA.md) through the table of
// variables (engine/io/variables.hpp) the writer writes with: its metadata, groups, run status and
// the records of a run. Like the writer, used from one thread only (it owns HDF5 handles).
#pragma once

#include "engine/io/h5/object.hpp"
#include "engine/io/run_checksum.hpp"
#include "engine/io/theory_attributes.hpp"
#include "engine/io/variables.hpp"
#include "engine/run/run.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace plateau {

/// A file that cannot be read as a campaign file. what() is "<path>: <reason>".
class CampaignReadError : public std::runtime_error {
public:
    CampaignReadError(const std::filesystem::path& path, const std::string& reason)
        : std::runtime_error(path.string() + ": " + reason), reason_(reason) {}
    /// What is wrong, without the path.
    [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

private:
    std::string reason_;
};

class CampaignReader {
public:
    /// The root attributes.
    struct Metadata {
        SchemaVersion version; ///< (schema_version, schema_version_minor or 0)
        FileKind kind = FileKind::simulation;
        std::string config;
        std::string config_sha256;
        std::string command_line;
        std::string software_version;
        std::string git_describe; ///< of the source tree the writing plateau was built from
        std::string compiler;     ///< that built it
        /// What identifies the build that wrote the file: "software_version git_describe
        /// compiler" (two files of one build hold the same bits for the same runs).
        [[nodiscard]] std::string build() const {
            return software_version + " " + git_describe + " " + compiler;
        }
        std::int64_t master_seed = 0;
        std::int64_t seeds = 0;
        std::int64_t runs = 0;
        /// How a theory file was made (root attributes theory_*, schema 1.5); nullopt for a
        /// simulation file or an older theory file.
        std::optional<TheoryAttributes> theory;
    };
    /// One group of runs of the same (K, M).
    struct GroupInfo {
        std::string name;
        int K = 0;
        int M = 0;
        std::vector<std::int64_t> run_index; ///< global run index of each run of the group
        std::vector<double> alpha;           ///< the record times
        std::vector<std::string> variables;  ///< the table's variables the group holds
        std::vector<int> student_widths{};   ///< hidden-layer widths from the group name ({K})
        std::vector<int> teacher_widths{};   ///< ({M})
        std::size_t clusters = 1;            ///< length of the `cluster` axis (1 before 1.6)
        std::size_t tasks = 1;               ///< length of the `task` axis (1 before 1.8)
        /// Length of the `input` axis of saved weights (schema 1.11), the group's largest N;
        /// 0: the file has no saved weights.
        std::size_t inputs = 0;
    };
    struct RunLocation {
        std::size_t group = 0;
        std::size_t index = 0; ///< along the group's `run` axis
    };

    /// Opens `path` read-only and checks it: CampaignReadError if it is missing, not HDF5, not
    /// of this schema, of another major version (any minor is accepted: variables of a newer
    /// minor that `table` does not know are ignored), of an unknown kind, or lacks a variable of
    /// `table` that its version and kind must hold.
    [[nodiscard]] static CampaignReader
    open(const std::filesystem::path& path,
         std::span<const VariableSpec> table = campaign_variables());

    [[nodiscard]] const Metadata& metadata() const noexcept { return metadata_; }
    [[nodiscard]] const std::vector<GroupInfo>& groups() const noexcept { return groups_; }
    /// Where global run `run_index` is, if the file has it.
    [[nodiscard]] std::optional<RunLocation> find_run(std::int64_t run_index) const;
    /// Global indices of the runs whose data or status fail their checksum (bits changed on
    /// disk since they were written), increasing. Reads every checksummed chunk once, and
    /// (schema 1.4) checks each finished run's run_checksum, which also sees zeroed chunks and
    /// chunks whose index entry was changed; a file written before checksums has none to fail. Only
    /// a checksum failure (h5::ErrorKind:: checksum) marks a run; any other read error is no
    /// evidence of damage: CampaignReadError.
    [[nodiscard]] std::vector<std::int64_t> damaged_runs() const;
    /// The status of every run of group `group`.
    [[nodiscard]] std::vector<RunStatus> status(std::size_t group) const;

    /// Records [first, first + count) (count: to the end) of the run at `where`, as stored:
    /// NaN where never written, and every variable of the table the group holds (extras
    /// included; a per-run variable in every record, but the saved weights, in record 0 only,
    /// as the writer takes them). first + count must not exceed the group's records.
    /// CampaignReadError naming the run if its data fail their checksum or (schema 1.4, a finished
    /// run) its run_checksum.
    [[nodiscard]] std::vector<Observables>
    read_records(RunLocation where, std::size_t first = 0,
                 std::optional<std::size_t> count = std::nullopt) const;
    /// The outcome of every run of group `group` as stored (schema 1.1 and later), or nullopt
    /// for a file without the variable (assess_outcome() computes it: read_run does).
    [[nodiscard]] std::optional<std::vector<RunOutcome>> stored_outcomes(std::size_t group) const;

    /// The run as the writer got it: its status, the records it reached (the leading records
    /// whose eg was written) and its outcome (stored, or computed for a file before 1.1).
    [[nodiscard]] RunResult read_run(RunLocation where) const;

    /// The weights saved for the run at `where` (save-weights, schema 1.11), at its own N (its
    /// `N` coordinate): the student's W (K x N) and v, the teacher's B (M x N) and v*, and the
    /// alpha they were taken at; nullopt if the file has none or the run has not written them
    /// (pending). CampaignReadError as read_records.
    struct Weights {
        double alpha = 0.0;
        Eigen::MatrixXd W;
        Eigen::VectorXd v;
        Eigen::MatrixXd B;
        Eigen::VectorXd v_star;
    };
    [[nodiscard]] std::optional<Weights> read_weights(RunLocation where) const;

private:
    struct GroupData {
        h5::Group group;
        std::vector<std::pair<VariableSpec, h5::Dataset>> datasets; ///< status included
        std::optional<RunChecksums> checksums;                      ///< none before schema 1.4
    };
    /// Whether the run at `where` is finished (completed or diverged) and its run checksum
    /// (schema 1.4) fails; false for a pending run or an older file. h5::Error if a read fails.
    [[nodiscard]] bool fails_run_checksum(RunLocation where) const;
    CampaignReader(std::filesystem::path path, h5::File file, Metadata metadata,
                   std::vector<GroupInfo> groups, std::vector<GroupData> data);

    std::filesystem::path path_;
    h5::File file_;
    Metadata metadata_;
    std::vector<GroupInfo> groups_;
    std::vector<GroupData> data_;
};

} // namespace plateau
