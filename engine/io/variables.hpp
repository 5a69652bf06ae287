// The one table of a campaign file's data variables (schema "plateau-campaign",
// analysis/SCHEMA.md): name, dimensions, element type, units, long_name, which kinds of file
// write it and the schema minor version that added it. The writer creates and fills exactly the
// variables of this table that its file's kind writes; the CampaignReader reads through it; a
// test checks analysis/SCHEMA.md against it. A new observable is one entry here (with
// `field = ObservableField::extra`) plus one producer that sets Observables::extras[name].
#pragma once

#include "engine/core/order_parameters.hpp"
#include "engine/core/run_params.hpp"
#include "engine/io/h5/object.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plateau {

/// The (major, minor) version of the schema. A reader accepts any minor of its major and refuses
/// another major; adding a variable bumps the minor (its `since_minor` is the new minor). Files
/// written before the minor existed (root attribute `schema_version` only) are version 1.0.
struct SchemaVersion {
    std::int64_t major = 1;
    std::int64_t minor = 0;
    friend constexpr bool operator==(const SchemaVersion&, const SchemaVersion&) = default;
};

inline constexpr const char* campaign_schema_name = "plateau-campaign";
inline constexpr const char* schema_major_attribute = "schema_version";
inline constexpr const char* schema_minor_attribute = "schema_version_minor";

[[nodiscard]] std::string to_string(SchemaVersion v);

/// What made a file: root attribute `kind`.
enum class FileKind : std::uint8_t {
    simulation, ///< on-line SGD runs (`plateau run`)
    theory,     ///< N -> infinity ODE integration (`plateau ode`)
};
[[nodiscard]] constexpr auto enum_table(FileKind) noexcept {
    return std::to_array<EnumEntry<FileKind>>(
        {{FileKind::simulation, "simulation"}, {FileKind::theory, "theory"}});
}

/// The dimensions of a group, in the order the writer creates them.
/// student_layers / teacher_layers (schema 1.3; named student_deep, teacher_deep in the file):
/// the axes of the weights above the first layer, flattened
/// (docs/theory.md §12; v alone, K or M values, for a two-layer network).
enum class Dim : std::uint8_t {
    run,
    alpha,
    student,
    student2,
    teacher,
    teacher2,
    student_layers,
    teacher_layers,
    cluster, ///< the clusters of a Gaussian mixture (schema 1.6; length 1 for Gaussian inputs)
    /// Several teachers (schema 1.8, docs/theory.md §17): the teachers (tasks), and every
    /// teacher's units, teachers x M (task_unit, task_unit2). Length 1 and M with one teacher.
    task,
    task_unit,
    task_unit2,
    /// Saved weights (schema 1.11, `save-weights`): the input axis of W and B, the largest N of
    /// the group's runs (a run of smaller N is NaN past its own N).
    input,
    /// The probability levels of the predicted escape-time law (schema 1.13, theory files only:
    /// a coordinate, escape_law_level_values = 0.01 ... 0.99).
    escape_level,
};
/// The dimensions' names in the file (arrays of dimensions are indexed by Dim: the table's order).
[[nodiscard]] constexpr auto enum_table(Dim) noexcept {
    return std::to_array<EnumEntry<Dim>>({{Dim::run, "run"},
                                          {Dim::alpha, "alpha"},
                                          {Dim::student, "student"},
                                          {Dim::student2, "student2"},
                                          {Dim::teacher, "teacher"},
                                          {Dim::teacher2, "teacher2"},
                                          {Dim::student_layers, "student_deep"},
                                          {Dim::teacher_layers, "teacher_deep"},
                                          {Dim::cluster, "cluster"},
                                          {Dim::task, "task"},
                                          {Dim::task_unit, "task_unit"},
                                          {Dim::task_unit2, "task_unit2"},
                                          {Dim::input, "input"},
                                          {Dim::escape_level, "escape_level"}});
}
inline constexpr auto all_dims = all_values<Dim>();

/// The lengths of a group's dimensions.
struct GroupShape {
    std::size_t runs = 0;
    std::size_t records = 0; ///< alpha
    std::size_t K = 0;       ///< student, student2
    std::size_t M = 0;       ///< teacher, teacher2
    /// student_layers, teacher_layers: layer_parameters() of the widths (K, M with one layer).
    std::size_t student_layers = K;
    std::size_t teacher_layers = M;
    /// cluster: the clusters C of the file's mixture (1 for Gaussian inputs).
    std::size_t clusters = 1;
    /// task: the teachers of the file (1: one teacher); task_unit: tasks x M.
    std::size_t tasks = 1;
    /// input: the largest N of the group's runs with saved weights (0: no weights saved).
    std::size_t inputs = 0;
    [[nodiscard]] std::size_t length(Dim d) const noexcept;
};

/// Where a variable's values come from: a core member of Observables, the run status or
/// outcome (RunResult), or a named extra array (Observables::extras[name]).
/// `checksum`: the run's CRC-32 (engine/io/run_checksum.hpp), written from the other variables.
enum class ObservableField : std::uint8_t {
    eg,
    eg_stderr,
    Q,
    R,
    T,
    v,
    status,
    outcome,
    extra,
    checksum
};

/// A per-run int8 flag variable (status, outcome): written from the RunResult, not from its
/// records; stored in checksummed blocks of runs.
[[nodiscard]] constexpr bool is_flag(ObservableField f) noexcept {
    return f == ObservableField::status || f == ObservableField::outcome;
}
/// A float64 variable whose values come from a run's records (core members or extras).
[[nodiscard]] constexpr bool is_observable(ObservableField f) noexcept {
    return !is_flag(f) && f != ObservableField::checksum;
}

/// Which kinds of file write a variable (a set of FileKind).
struct KindSet {
    bool simulation = false;
    bool theory = false;
    [[nodiscard]] constexpr bool contains(FileKind k) const noexcept {
        return k == FileKind::simulation ? simulation : theory;
    }
};
inline constexpr KindSet every_kind{true, true};

struct VariableSpec {
    /// `dims` lists the variable's axes: `run` first, then `alpha` if it has one value set per
    /// record, then the axes of one value set (at most 4 in all).
    constexpr VariableSpec(std::string_view name_, std::initializer_list<Dim> dims_,
                           h5::ElementType dtype_, std::string_view units_,
                           std::string_view long_name_, KindSet written_by_,
                           std::int64_t since_minor_, ObservableField field_)
        : name(name_), rank(dims_.size()), dtype(dtype_), units(units_), long_name(long_name_),
          written_by(written_by_), since_minor(since_minor_), field(field_) {
        std::size_t i = 0;
        for (const Dim d : dims_)
            dim_storage.at(i++) = d; // more than 4 axes: not a constant expression
    }

    std::string_view name;
    std::array<Dim, 4> dim_storage{};
    std::size_t rank = 0;
    h5::ElementType dtype = h5::ElementType::float64;
    std::string_view units;     ///< empty: no units attribute
    std::string_view long_name; ///< the `long_name` attribute
    KindSet written_by;
    std::int64_t since_minor = 0; ///< the schema minor version (of major 1) that added it
    ObservableField field = ObservableField::extra;

    [[nodiscard]] constexpr std::span<const Dim> dims() const noexcept {
        return {dim_storage.data(), rank};
    }
    /// Whether it has one value set per record time (an `alpha` axis), else one per run.
    [[nodiscard]] bool per_record() const noexcept;
    /// Values per record (per run if !per_record()): the product of the dims after run/alpha.
    [[nodiscard]] std::size_t values_per_record(const GroupShape& s) const noexcept;
    /// The full shape of the variable in a group.
    [[nodiscard]] std::vector<hsize_t> shape(const GroupShape& s) const;
};

/// The variables of several teachers (schema 1.8, docs/theory.md §17: eg_tasks, current_task,
/// switch_alpha, R_teachers, T_teachers) and their dimensions task, task_unit, task_unit2: a
/// file whose campaign has one teacher leaves them out, so that its datasets stay those of 1.7.
[[nodiscard]] bool only_with_teachers(const VariableSpec& v) noexcept;
[[nodiscard]] constexpr bool only_with_teachers(Dim d) noexcept {
    return d == Dim::task || d == Dim::task_unit || d == Dim::task_unit2;
}

/// The saved weights (schema 1.11, analysis/SCHEMA.md "Saved weights": weights_alpha,
/// weights_W, weights_v, weights_B, weights_v_star) and their dimension `input`: a file whose
/// campaign has save-weights = none leaves them out, so that its datasets stay those of 1.10.
[[nodiscard]] bool only_with_weights(const VariableSpec& v) noexcept;
[[nodiscard]] constexpr bool only_with_weights(Dim d) noexcept {
    return d == Dim::input;
}

/// The saved weights at every record (schema 1.12, `save-weights = records`: record_weights_W,
/// record_weights_v): only a file with save-weights = records holds them (with the five above,
/// the final weights). Each is chunked one record of one run per chunk (chunk_per_record).
[[nodiscard]] bool only_with_record_weights(const VariableSpec& v) noexcept;
/// Whether a file whose campaign has this save-weights holds `v` (only_with_weights,
/// only_with_record_weights).
[[nodiscard]] bool written_with(const VariableSpec& v, SaveWeights save) noexcept;
/// Whether `v` is stored one record of one run per chunk (else one run per chunk).
[[nodiscard]] inline bool chunk_per_record(const VariableSpec& v) noexcept {
    return only_with_record_weights(v);
}

/// The variables of today's campaign files (the data variables and `status`).
[[nodiscard]] std::span<const VariableSpec> campaign_variables() noexcept;

/// Minor 7 added no variable: it extended `outcome`'s flag values (5 searching, 6 escaped, the
/// outcomes of search-phase models) and wrote the mixture variables into theory files
/// (analysis/SCHEMA.md, "Versions"). A table that holds `outcome` is at least this version, so
/// `--resume` refuses a 1.6 file, whose finished runs were judged by the older rule.
inline constexpr std::int64_t outcome_values_revised_minor = 7;

/// The schema version the writer writes: major 1, minor = the newest `since_minor` of `table`
/// (at least outcome_values_revised_minor if it holds `outcome`).
[[nodiscard]] SchemaVersion schema_version_of(std::span<const VariableSpec> table) noexcept;
[[nodiscard]] inline SchemaVersion campaign_schema_version() noexcept {
    return schema_version_of(campaign_variables());
}

/// Copies the values of float64 variable `v` from one record `o` into `out` (row-major over its
/// dims after run and alpha, values_per_record() long). An extra the record lacks leaves `out`
/// untouched (NaN in the file); an extra of the wrong length throws std::logic_error, but for
/// saved weights of a run whose N is below the group's `input` length: each row is written up to
/// its N, the rest left NaN.
void copy_out(const VariableSpec& v, const Observables& o, const GroupShape& s,
              std::span<double> out);
/// The inverse: sets the member (or extra) of `o` that `v` names from `in`.
void copy_in(const VariableSpec& v, std::span<const double> in, const GroupShape& s,
             Observables& o);

/// The name of the group of runs with K student and M teacher hidden units: "K<K>_M<M>".
[[nodiscard]] std::string group_name(int K, int M);
/// The same with hidden-layer widths from the input up (docs/theory.md §12): "K<K>_M<M>" for one
/// layer each, "K8x4_M4x2" for deeper networks.
[[nodiscard]] std::string group_name(const std::vector<int>& student,
                                     const std::vector<int>& teacher);
/// (K, M) of a group name, the first layers' widths, or nullopt if it is not one.
[[nodiscard]] std::optional<std::pair<int, int>> parse_group_name(std::string_view name) noexcept;
/// The widths (student, teacher) of a group name, or nullopt.
[[nodiscard]] std::optional<std::pair<std::vector<int>, std::vector<int>>>
parse_group_widths(std::string_view name);
/// The weights above the first layer of a network of these widths: sum_l w_l w_{l-1} + w_L (the
/// length of student_layers / teacher_layers; w_1 = K for one layer: v alone).
[[nodiscard]] std::size_t layer_parameters(const std::vector<int>& widths) noexcept;
/// The shape of a group of `runs` runs of `records` records with these widths and C clusters.
[[nodiscard]] GroupShape group_shape(std::size_t runs, std::size_t records,
                                     const std::vector<int>& student,
                                     const std::vector<int>& teacher, std::size_t clusters,
                                     std::size_t tasks = 1, std::size_t inputs = 0) noexcept;

} // namespace plateau
