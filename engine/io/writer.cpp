#include "engine/io/writer.hpp"

#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/core/sha256.hpp"
#include "engine/io/h5/h5.hpp"
#include "engine/io/reader.hpp"
#include "engine/io/remove_on_signal.hpp"
#include "engine/io/run_checksum.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/trainer.hpp"
#include "plateau_version.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <system_error>

#include <oneapi/tbb/info.h>

namespace plateau {

namespace fs = std::filesystem;

CampaignLayout CampaignLayout::of(const CampaignSpec& spec) {
    CampaignLayout layout;
    const auto runs = static_cast<std::size_t>(spec.runs());
    layout.group_of.resize(runs);
    layout.index_in_group.resize(runs);
    layout.records = static_cast<std::size_t>(spec.points.front().params.schedule.records);
    std::map<std::pair<std::vector<int>, std::vector<int>>, std::size_t> index;
    for (std::size_t r = 0; r < runs; ++r) {
        const auto& m = spec.point_of(static_cast<std::int64_t>(r)).params.model;
        // One group per pair of width lists: (K, M) for two-layer networks, as always.
        auto key = std::pair{m.student.widths, m.teacher.widths};
        auto it = index.find(key);
        if (it == index.end()) {
            it = index.emplace(key, layout.groups.size()).first;
            layout.groups.push_back({group_name(key.first, key.second),
                                     key.first.front(),
                                     key.second.front(),
                                     {},
                                     key.first,
                                     key.second,
                                     1});
        }
        auto& g = layout.groups[it->second];
        // The cluster axis: the mixture's clusters (`clusters` is not swept, so one C a file).
        if (m.inputs == InputKind::mixture)
            g.clusters = std::max(g.clusters, m.mixture.clusters());
        // The task axis: the teachers (`teachers` is not swept, so one count a file).
        g.tasks = std::max(g.tasks, static_cast<std::size_t>(m.teachers));
        // The input axis of saved weights: the group's largest N (save-weights is not swept).
        if (spec.save_weights != SaveWeights::none)
            g.inputs = std::max(g.inputs, static_cast<std::size_t>(m.N));
        layout.group_of[r] = it->second;
        layout.index_in_group[r] = static_cast<std::int64_t>(g.runs.size());
        g.runs.push_back(static_cast<std::int64_t>(r));
    }
    return layout;
}

namespace {

/// The chunk index entry and checksum of one chunk (measured: about 45 bytes).
constexpr std::uint64_t chunk_index_bytes = 48;

/// Bytes one run of shape (K, M) and input dimension N takes in the file: its slab of every
/// variable of `table` the file holds with `save` (written_with) plus its per-run coordinates
/// (run_index, seed, N, eta). Saved weights are stored uncompressed (random weights do not
/// compress: analysis/SCHEMA.md, "Saved weights").
std::uint64_t run_bytes(const std::vector<int>& K, const std::vector<int>& M, std::size_t records,
                        std::span<const VariableSpec> table, SaveWeights save, std::int64_t N) {
    const std::size_t inputs = save == SaveWeights::none ? 0 : static_cast<std::size_t>(N);
    const GroupShape shape = group_shape(1, records, K, M, 1, 1, inputs);
    std::uint64_t per_run = std::uint64_t{8} * 4;
    for (const auto& v : table) {
        if (!written_with(v, save))
            continue;
        const std::uint64_t element = v.dtype == h5::ElementType::int8 ? 1 : 8;
        per_run += element * v.values_per_record(shape) * (v.per_record() ? records : 1);
        // each run has its own checksummed chunk (one per record: chunk_per_record)
        per_run += chunk_index_bytes * (chunk_per_record(v) ? records : 1);
    }
    return per_run;
}

/// HDF5 and netCDF bookkeeping: the root attributes, and per group its dimensions, coordinates
/// and attributes (measured: about 20 KB per group).
constexpr std::uint64_t metadata_bytes(std::size_t groups) noexcept {
    return std::uint64_t{32} * 1024 + std::uint64_t{24} * 1024 * groups;
}

/// Bytes of memory per run while a campaign is set up and run: CampaignLayout (group, index in
/// group, the group's run list), the list of runs to do and of unfinished runs, the values of
/// one per-run coordinate while a group is built (8 bytes each) and the status (1 byte).
constexpr std::uint64_t memory_per_run = 6 * 8 + 1;

/// Bytes of memory per grid point: the point (its parameters, coordinates and settings, their
/// texts) and its line of the summary table (a sum and a sum of squares per record).
double point_bytes(const GridPoint& g, std::size_t records) {
    double b = sizeof(GridPoint) + 16.0 * static_cast<double>(records);
    for (const auto* list : {&g.coordinates, &g.settings})
        for (const auto& c : *list)
            b += static_cast<double>(sizeof(Coordinate) + c.key.capacity() + c.text.capacity() +
                                     c.long_name.capacity());
    return b;
}

} // namespace

CampaignEstimate estimate_campaign(const CampaignSpec& spec, std::span<const VariableSpec> table,
                                   const EstimateOptions& options) {
    CampaignEstimate e;
    const auto records = static_cast<std::size_t>(spec.points.front().params.schedule.records);
    const auto seeds = static_cast<double>(spec.seeds);
    const double sample = static_cast<double>(spec.points.size());
    const double points = options.grid_points > 0.0 ? options.grid_points : sample;
    const double scale = points / sample; // each point of a sample stands for `scale` points
    std::set<std::pair<std::vector<int>, std::vector<int>>> shapes;
    double bytes = 0.0; // in double: a campaign too large for 64 bits is still refused
    for (const auto& p : spec.points) {
        const auto& K = p.params.model.student.widths;
        const auto& M = p.params.model.teacher.widths;
        shapes.emplace(K, M);
        bytes += static_cast<double>(
                     run_bytes(K, M, records, table, spec.save_weights, p.params.model.N)) *
                 seeds * scale;
    }
    const double runs = points * seeds;
    const auto clamp = [](double x) { // within 64 bits: a campaign too large is still refused
        constexpr double cap = 1.8e19;
        return static_cast<std::uint64_t>(x < cap ? x : cap);
    };
    e.groups = shapes.size();
    e.file_bytes = clamp(bytes + static_cast<double>(metadata_bytes(shapes.size())));
    // Runs in flight: one per worker thread (engine/campaign/campaign.cpp), each holding its
    // weights, training set, matrices and records; the largest grid point bounds them all.
    const int threads = spec.threads > 0 ? spec.threads : oneapi::tbb::info::default_concurrency();
    const double in_flight = std::min(runs, static_cast<double>(std::max(1, threads)));
    for (const auto& p : spec.points) {
        RunMemory m = run_memory(p.params, options.kind, static_cast<std::int64_t>(records));
        if (spec.save_weights != SaveWeights::none) // held with the records until written
            m.records += saved_weights_bytes(p.params.model, spec.save_weights,
                                             static_cast<std::size_t>(records));
        if (m.total() > e.largest_run.total())
            e.largest_run = m;
    }
    e.runs_in_flight = static_cast<std::size_t>(in_flight);
    e.training_bytes = clamp(in_flight * e.largest_run.training);
    e.in_flight_bytes = clamp(in_flight * e.largest_run.total());
    double per_point = 0.0;
    for (const auto& p : spec.points)
        per_point = std::max(per_point, point_bytes(p, records));
    // The weights runs start from (student-from, teacher-from), held for every run while the
    // campaign runs (engine/io/start_weights.hpp): K (or M) x (N + 1) doubles a run each.
    double start = 0.0;
    for (const auto& p : spec.points) {
        const auto& m = p.params.model;
        const double inputs = static_cast<double>(m.N) + 1.0;
        start += 8.0 * inputs * seeds * scale *
                 ((spec.student_from.empty() ? 0.0 : static_cast<double>(m.student.hidden())) +
                  (spec.teacher_from.empty() ? 0.0 : static_cast<double>(m.teacher.hidden())));
    }
    const double bookkeeping =
        runs * static_cast<double>(memory_per_run) + points * per_point + start;
    e.bookkeeping_bytes = clamp(bookkeeping);
    // The finished run being written and its copy in the summary, and HDF5's chunk caches.
    const double writer = 2.0 * e.largest_run.records + 4e6;
    e.writer_bytes = clamp(writer);
    e.memory_bytes =
        clamp(program_bytes + bookkeeping + in_flight * e.largest_run.total() + writer);
    return e;
}

namespace {

constexpr std::int8_t status_code(RunStatus s) noexcept {
    return static_cast<std::int8_t>(s);
}

std::string utc_now() {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::array<char, 32> buf{};
    std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf.data();
}

std::string host_name() {
    std::array<char, 256> buf{};
    if (gethostname(buf.data(), buf.size() - 1) != 0)
        return "unknown";
    return buf.data();
}

std::string variable_name(const std::string& key) {
    std::string name = key;
    for (auto& c : name)
        if (c == '-')
            c = '_';
    return name;
}

void set_text(const h5::Object& o, std::string_view long_name, std::string_view units) {
    h5::set_attribute(o, "long_name", long_name);
    if (!units.empty())
        h5::set_attribute(o, "units", units);
}

/// The teachers of a campaign (`teachers` is not swept: one count a file).
std::size_t teachers_of(const CampaignSpec& spec) {
    int n = 1;
    for (const auto& point : spec.points)
        n = std::max(n, point.params.model.teachers);
    return static_cast<std::size_t>(n);
}

/// The table's variables a file of `kind` holds, in table order: those of several teachers only
/// when the campaign has them (only_with_teachers), the saved weights only when it saves them
/// (only_with_weights), those at every record only with save-weights = records
/// (only_with_record_weights).
std::vector<VariableSpec> variables_for(std::span<const VariableSpec> table,
                                        const std::string& kind, std::size_t teachers,
                                        SaveWeights weights) {
    const auto k = parse<FileKind>(kind);
    if (!k)
        throw std::logic_error("CampaignWriter: unknown file kind '" + kind + "'");
    std::vector<VariableSpec> out;
    for (const auto& v : table)
        if (v.written_by.contains(*k) && (teachers > 1 || !only_with_teachers(v)) &&
            written_with(v, weights))
            out.push_back(v);
    if (std::count_if(out.begin(), out.end(), [](const VariableSpec& v) {
            return v.field == ObservableField::status;
        }) != 1)
        throw std::logic_error("CampaignWriter: the variable table needs one 'status'");
    return out;
}

/// Runs per chunk of a flag variable (`status`, `outcome`; each chunk carries a checksum).
constexpr hsize_t status_block = 1024;

/// What `run_checksum` covers, in the order write() sums it: the observables in table order,
/// then `outcome` (the status is not covered: it changes after the run's data are written).
std::string covered_names(const std::vector<VariableSpec>& variables) {
    std::string out;
    const auto append = [&out](std::string_view n) {
        out += (out.empty() ? "" : " ") + std::string(n);
    };
    for (const auto& v : variables)
        if (is_observable(v.field))
            append(v.name);
    for (const auto& v : variables)
        if (v.field == ObservableField::outcome)
            append(v.name);
    return out;
}

/// The group attributes that say what its runs were: every setting that is not a per-run
/// coordinate (named as the coordinates are, `-` as `_`), listed in the attribute `settings`.
void write_settings(const h5::Group& g, const std::vector<Coordinate>& settings) {
    std::string names;
    for (const Coordinate& c : settings) {
        const std::string name = variable_name(c.key);
        if (name == "K" || name == "M")
            continue; // the group's own attributes
        names += (names.empty() ? "" : " ") + name;
        if (!c.text.empty())
            h5::set_attribute(g, name, std::string_view(c.text));
        else if (c.is_integer)
            h5::set_attribute(g, name, static_cast<std::int64_t>(std::llround(c.number)));
        else
            h5::set_attribute(g, name, c.number);
    }
    h5::set_attribute(g, "settings", std::string_view(names));
}

/// The flag_values and flag_meanings of a flag variable, from its enum's table and names.
struct Flags {
    std::vector<std::int8_t> values;
    std::string meanings;
};
template <class E, std::size_t N>
Flags flags_from(const std::array<E, N>& all) {
    Flags out;
    for (const E e : all) {
        out.values.push_back(static_cast<std::int8_t>(e));
        out.meanings += (out.meanings.empty() ? "" : " ") + std::string(name(e));
    }
    return out;
}
Flags flags_of(ObservableField field) {
    if (field == ObservableField::outcome)
        return flags_from(all_run_outcomes);
    return flags_from(std::array{RunStatus::pending, RunStatus::completed, RunStatus::diverged});
}

/// Builds one group: dimensions, coordinates, per-run variables (values written now), data.
h5::Group build_group(h5::Group& root, const CampaignLayout::GroupInfo& info,
                      const CampaignSpec& spec, const std::vector<double>& alphas,
                      const std::vector<VariableSpec>& variables) {
    h5::Group g = root.create_group(info.name);
    h5::set_attribute(g, "K", static_cast<std::int64_t>(info.K));
    h5::set_attribute(g, "M", static_cast<std::int64_t>(info.M));
    write_settings(g, spec.point_of(info.runs.front()).settings);
    const auto n_runs = static_cast<hsize_t>(info.runs.size());
    const GroupShape shape = info.shape(alphas.size());

    // The dimensions, in the order of all_dims; alpha and escape_level are coordinate variables.
    // Those of several teachers and of saved weights only when the campaign has them
    // (only_with_teachers, only_with_weights); escape_level only when a variable of the file
    // uses it (theory files, schema 1.13).
    const auto used = [&](Dim d) {
        return std::any_of(variables.begin(), variables.end(), [d](const VariableSpec& v) {
            return std::ranges::find(v.dims(), d) != v.dims().end();
        });
    };
    std::vector<std::optional<h5::Dataset>> dimensions(all_dims.size());
    for (const Dim d : all_dims) {
        if ((only_with_teachers(d) && shape.tasks == 1) ||
            (only_with_weights(d) && shape.inputs == 0) || (d == Dim::escape_level && !used(d)))
            continue;
        auto& made = dimensions[static_cast<std::size_t>(d)];
        if (d == Dim::alpha)
            made.emplace(h5::create_coordinate(
                g, name(d), alphas, "examples per input dimension, alpha = steps/N", "1"));
        else if (d == Dim::escape_level)
            made.emplace(h5::create_coordinate(
                g, name(d),
                std::vector<double>(escape_law_level_values.begin(), escape_law_level_values.end()),
                "probability level q of the escape-time quantiles", "1"));
        else
            made.emplace(h5::create_dimension(g, name(d), static_cast<hsize_t>(shape.length(d))));
    }
    const auto dim = [&](Dim d) -> const h5::Dataset* {
        return &dimensions[static_cast<std::size_t>(d)].value();
    };
    const h5::Dataset& run = *dim(Dim::run);

    // Per-run coordinates: global run index, seed index, then N, eta and the swept keys.
    std::string coordinates = "run_index seed";
    {
        h5::Dataset ri = h5::create_variable(g, "run_index", h5::ElementType::int64, {&run});
        set_text(ri, "index of the run in the campaign (keys its random streams)", {});
        h5::Dataset si = h5::create_variable(g, "seed", h5::ElementType::int64, {&run});
        set_text(si, "seed index of the run within its grid point (0 .. seeds-1)", {});
        std::vector<std::int64_t> seeds(info.runs.size());
        for (std::size_t i = 0; i < info.runs.size(); ++i)
            seeds[i] = spec.seed_index_of(info.runs[i]);
        const std::array<hsize_t, 1> offset{0};
        const std::array<hsize_t, 1> count{n_runs};
        h5::write_slab(ri, offset, count, info.runs.data());
        h5::write_slab(si, offset, count, seeds.data());
    }
    const auto& first = spec.point_of(info.runs.front()).coordinates;
    for (std::size_t c = 0; c < first.size(); ++c) {
        const Coordinate& proto = first[c];
        const std::string name = variable_name(proto.key);
        coordinates += " " + name;
        const auto type = !proto.text.empty() ? h5::ElementType::string
                          : proto.is_integer  ? h5::ElementType::int64
                                              : h5::ElementType::float64;
        h5::Dataset var = h5::create_variable(g, name, type, {&run});
        set_text(var,
                 proto.long_name.empty() ? "configuration key '" + proto.key + "'"
                                         : proto.long_name,
                 {});
        h5::set_attribute(var, "config_key", std::string_view(proto.key));
        std::vector<double> numbers;
        std::vector<std::int64_t> integers;
        for (std::size_t i = 0; i < info.runs.size(); ++i) {
            const Coordinate& value = spec.point_of(info.runs[i]).coordinates[c];
            if (type == h5::ElementType::string)
                h5::write_string(var, i, value.text);
            else if (type == h5::ElementType::int64)
                integers.push_back(std::llround(value.number));
            else
                numbers.push_back(value.number);
        }
        const std::array<hsize_t, 1> offset{0};
        const std::array<hsize_t, 1> count{n_runs};
        if (type == h5::ElementType::int64)
            h5::write_slab(var, offset, count, integers.data());
        else if (type == h5::ElementType::float64)
            h5::write_slab(var, offset, count, numbers.data());
    }

    for (const VariableSpec& v : variables) {
        std::vector<const h5::Dataset*> dims;
        for (const Dim d : v.dims())
            dims.push_back(dim(d));
        if (is_flag(v.field)) {
            // Checksummed in blocks of runs (one chunk per run would cost an index entry each);
            // 0 (pending) until the run is written.
            const std::vector<hsize_t> block{std::min<hsize_t>(n_runs, status_block)};
            h5::Dataset flag =
                h5::create_variable(g, v.name, h5::ElementType::int8, dims, block,
                                    status_code(RunStatus::pending), h5::Checksum::fletcher32);
            set_text(flag, v.long_name, v.units);
            const Flags flags = flags_of(v.field);
            h5::set_attribute(flag, "flag_values", flags.values);
            h5::set_attribute(flag, "flag_meanings", std::string_view(flags.meanings));
            h5::set_attribute(flag, "coordinates", std::string_view(coordinates));
            continue;
        }
        if (v.field == ObservableField::checksum) {
            // One chunk per run like the data: a run's write covers its own chunk only.
            h5::Dataset sum = h5::create_variable(g, v.name, h5::ElementType::int64, dims,
                                                  std::vector<hsize_t>{1}, std::nullopt,
                                                  h5::Checksum::fletcher32);
            set_text(sum, v.long_name, v.units);
            h5::set_attribute(sum, run_checksum_covers, std::string_view(covered_names(variables)));
            h5::set_attribute(sum, "coordinates", std::string_view(coordinates));
            continue;
        }
        if (v.dtype != h5::ElementType::float64)
            throw std::logic_error("CampaignWriter: data variable '" + std::string(v.name) +
                                   "' is not float64");
        // One chunk per run, with its checksum: a run's write covers exactly its own chunks. The
        // weights at every record: one chunk per record of a run (K x N values, as a run's
        // saved weights), so that one record is read without the others.
        std::vector<hsize_t> chunk = v.shape(shape);
        chunk[0] = 1;
        if (chunk_per_record(v))
            chunk[1] = 1;
        h5::Dataset d = h5::create_variable(g, v.name, h5::ElementType::float64, dims, chunk,
                                            std::nullopt, h5::Checksum::fletcher32);
        set_text(d, v.long_name, v.units);
        h5::set_attribute(d, "coordinates", std::string_view(coordinates));
    }
    return g;
}

/// What identifies the file and the campaign a group's runs come from: on the root, and
/// copied into every group, so that a group read alone (or concatenated with another file's)
/// keeps them.
struct Provenance {
    const CampaignSpec& spec;
    const FileMetadata& meta;
    SchemaVersion version;
    std::string created = utc_now();

    void write(const h5::Object& o) const {
        h5::set_attribute(o, "schema", std::string_view(campaign_schema_name));
        h5::set_attribute(o, schema_major_attribute, version.major);
        h5::set_attribute(o, schema_minor_attribute, version.minor);
        h5::set_attribute(o, "kind", std::string_view(meta.kind));
        h5::set_attribute(o, "software_version", std::string_view(software_version));
        h5::set_attribute(o, "git_describe", std::string_view(git_describe));
        h5::set_attribute(o, "config_sha256", std::string_view(sha256_hex(meta.config_text)));
        h5::set_attribute(o, "master_seed", static_cast<std::int64_t>(spec.master_seed));
        h5::set_attribute(o, "seeds", spec.seeds);
        h5::set_attribute(o, "created", std::string_view(created));
    }
};

void write_root_attributes(const h5::Group& root, const Provenance& provenance) {
    provenance.write(root);
    const FileMetadata& meta = provenance.meta;
    h5::set_attribute(root, "compiler", std::string_view(compiler_id));
    h5::set_attribute(root, "config", std::string_view(meta.config_text));
    h5::set_attribute(root, "command_line", std::string_view(meta.command_line));
    h5::set_attribute(root, "runs", provenance.spec.runs());
    h5::set_attribute(root, "host", std::string_view(host_name()));
    if (meta.theory)
        write_theory_attributes(root, *meta.theory);
    if (const Shard& shard = provenance.spec.shard; !shard.whole())
        h5::set_attribute(root, "shard", std::string_view(shard.text()));
    if (provenance.spec.ranks > 1) {
        h5::set_attribute(root, "mpi_ranks", static_cast<std::int64_t>(provenance.spec.ranks));
        // The --threads of each computing rank (0: all its cores).
        h5::set_attribute(root, "mpi_threads", static_cast<std::int64_t>(provenance.spec.threads));
    }
}

/// `path` as it stands in a message.
std::string shown(const fs::path& path) {
    return printable(path.string(), 300);
}

std::string invalid_out(const fs::path& path) {
    return "invalid value '" + shown(path) + "' for 'out': ";
}

fs::path directory_of(const fs::path& path) {
    return path.parent_path().empty() ? fs::path(".") : path.parent_path();
}

void check_directory(const fs::path& path) {
    const fs::path dir = directory_of(path);
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw OutputError(invalid_out(path) + "its directory does not exist");
    if (access(dir.c_str(), W_OK) != 0)
        throw OutputError(invalid_out(path) + "its directory is not writable");
}

/// The longest file name the file system of `dir` accepts.
std::size_t name_max(const fs::path& dir) {
    const long n = pathconf(dir.c_str(), _PC_NAME_MAX);
    return n > 0 ? static_cast<std::size_t>(n) : 255;
}

/// The name of the file being created, next to the target: ".NAME.part-PID", or, when that
/// would be longer than the file system allows, ".plateau-HASH.part-PID" (HASH: the first 16
/// hex digits of the SHA-256 of NAME).
std::string part_prefix(const fs::path& path, bool short_form) {
    const std::string name = path.filename().string();
    return short_form ? ".plateau-" + sha256_hex(name).substr(0, 16) + ".part-"
                      : "." + name + ".part-";
}

fs::path part_path(const fs::path& path) {
    const std::string pid = std::to_string(getpid());
    const std::string name = path.filename().string();
    const bool fits = part_prefix(path, false).size() + pid.size() <= name_max(directory_of(path));
    return path.parent_path() / (part_prefix(path, !fits) + pid);
}

std::string describe_file_type(fs::file_type t) {
    switch (t) {
    case fs::file_type::directory:
        return "a directory";
    case fs::file_type::symlink:
        return "a symbolic link";
    case fs::file_type::block:
    case fs::file_type::character:
        return "a device";
    case fs::file_type::fifo:
        return "a FIFO";
    case fs::file_type::socket:
        return "a socket";
    default:
        return "not a regular file";
    }
}

/// Raises OutputError for every `out` path the writer will not use in `mode`.
void check_target(const fs::path& path, OutputMode mode) {
    if (path.empty())
        throw OutputError("invalid value '' for 'out': allowed is the path of a file (an empty "
                          "-o would write nothing)");
    const std::string name = path.filename().string();
    if (name.empty() || name == "." || name == "..")
        throw OutputError(invalid_out(path) +
                          "it names a directory; allowed is the path of a file");
    check_directory(path);
    const std::size_t max = name_max(directory_of(path));
    if (name.size() > max)
        throw OutputError(invalid_out(path) + "its file name is " + std::to_string(name.size()) +
                          " bytes long; the file system allows " + std::to_string(max));
    std::error_code ec;
    const fs::file_status link = fs::symlink_status(path, ec);
    if (link.type() == fs::file_type::not_found || link.type() == fs::file_type::none) {
        if (mode == OutputMode::resume)
            throw OutputError(invalid_out(path) + "--resume needs an existing campaign file");
        return;
    }
    const fs::file_type target = fs::status(path, ec).type();
    if (target == fs::file_type::directory)
        throw OutputError(invalid_out(path) + "it is a directory; allowed is the path of a file");
    switch (mode) {
    case OutputMode::create:
        throw OutputError(invalid_out(path) +
                          "the file exists; allowed is a new path, or --overwrite to replace it, "
                          "or --resume to finish it");
    case OutputMode::overwrite:
        if (link.type() != fs::file_type::regular)
            throw OutputError(invalid_out(path) + "it is " + describe_file_type(link.type()) +
                              "; --overwrite replaces a regular file only");
        return;
    case OutputMode::resume:
        if (target != fs::file_type::regular)
            throw OutputError(invalid_out(path) + "it is " + describe_file_type(target) +
                              ", not a campaign file");
        return;
    }
}

/// Why creating the file failed, in a few words (the HDF5 error stack of a full disk is long).
std::string creation_failure(const h5::Error& e, const fs::path& tmp) {
    std::error_code ec;
    const auto space = fs::space(directory_of(tmp), ec);
    if (!ec && space.available < std::uint64_t{1024} * 1024)
        return "no space left on the file system (" + std::to_string(space.available / 1024) +
               " KB free)";
    return printable(e.what(), 300);
}

/// Reserves the disk blocks of the whole file before HDF5 writes it (fallocate, keeping the
/// size, so HDF5 sees a new file; HDF5 truncates the file to what it used when it closes it).
/// HDF5 1.10 cannot close a file after a flush failed for a full disk (and crashes at exit on
/// it), so a full disk must be found here, before HDF5 flushes anything.
void reserve_space(const fs::path& tmp, const fs::path& path, std::uint64_t estimate) {
    const auto bytes = static_cast<off_t>(estimate + estimate / 16 + std::uint64_t{64} * 1024);
    const int fd = open(tmp.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        throw OutputError(invalid_out(path) + "cannot create it (" +
                          std::system_category().message(errno) + ")");
    const int rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, bytes);
    const int err = errno;
    close(fd);
    if (rc != 0 && (err == ENOSPC || err == EFBIG || err == EDQUOT)) {
        std::error_code ec;
        const auto space = fs::space(directory_of(path), ec);
        // In MB to 2 significant digits: a 0.1 MB file needs ~0.1 MB, not ~1 MB.
        const auto megabytes = [](std::uint64_t n) {
            std::array<char, 32> buf{};
            std::snprintf(buf.data(), buf.size(), "%.2g MB", static_cast<double>(n) / 1e6);
            return std::string(buf.data());
        };
        throw OutputError(invalid_out(path) + "the file needs ~" +
                          megabytes(static_cast<std::uint64_t>(bytes)) + ", its file system has " +
                          (ec ? std::string("less") : megabytes(space.available)) + " free");
    }
    // Other errors (a file system without fallocate): HDF5 allocates as it goes.
}

/// Closes and removes a temporary file whose creation failed. HDF5 flushes a file when it
/// closes it; a flush that fails (a full disk) leaves the file half-closed, and HDF5 1.10 then
/// crashes in H5close at exit. So the space the file holds is freed first (truncate), which
/// lets the closing flush succeed; the file is removed after.
void abandon(std::optional<h5::File>& file, const fs::path& tmp) noexcept {
    if (file) {
        (void)truncate(tmp.c_str(), 0);
        try {
            file->close();
        } catch (const h5::Error&) {
            // already reported the failure that brought us here
        }
        file.reset();
    }
    std::error_code ec;
    fs::remove(tmp, ec);
}

h5::File open_checked(const fs::path& path, bool write) {
    try {
        return write ? h5::File::open_readwrite(path) : h5::File::open_readonly(path);
    } catch (const h5::Error& e) {
        // The lock HDF5 takes on an open file: another plateau writing it, or a reader such as
        // h5py holding it open.
        if (e.kind() == h5::ErrorKind::file_locked)
            throw OutputError(invalid_out(path) +
                              "it is in use (another process holds it open: a plateau writing "
                              "it, or a reader such as h5py); allowed is a file no process has "
                              "open");
        if (e.kind() == h5::ErrorKind::not_hdf5)
            throw OutputError(invalid_out(path) + "not an HDF5 file");
        throw OutputError(invalid_out(path) + "cannot open it" + (write ? " for writing" : "") +
                          " (" + printable(e.what(), 300) + ")");
    }
}

/// Everything --resume refuses, checked on a read-only open so that a refused file keeps every
/// byte (a read-write open of HDF5 marks the superblock).
void check_resumable(const fs::path& path, const FileMetadata& meta, const Shard& ours_shard,
                     SchemaVersion ours) {
    const h5::File file = open_checked(path, false);
    const h5::Group root = file.root();
    const auto schema = h5::get_string_attribute(root, "schema");
    const auto major = h5::get_int64_attribute(root, schema_major_attribute);
    if (schema != campaign_schema_name || major != ours.major)
        throw OutputError(invalid_out(path) + "not a " + campaign_schema_name +
                          " file of schema version " + std::to_string(ours.major) + ".x");
    // Resuming adds runs: the file must hold exactly the variables this writer writes.
    const SchemaVersion theirs{*major,
                               h5::get_int64_attribute(root, schema_minor_attribute).value_or(0)};
    if (theirs != ours)
        throw OutputError("refusing to resume '" + shown(path) + "': it has schema version " +
                          to_string(theirs) + ", this plateau writes " + to_string(ours) +
                          "; allowed is resuming with the plateau version that created it");
    const auto sha = h5::get_string_attribute(root, "config_sha256");
    const std::string expected = sha256_hex(meta.config_text);
    if (sha != expected)
        throw OutputError("refusing to resume '" + shown(path) +
                          "': its configuration differs (config_sha256 " +
                          printable(sha.value_or("none")) + ", this configuration " + expected +
                          "); allowed is the configuration stored in its 'config' attribute");
    const std::string shard = h5::get_string_attribute(root, "shard").value_or("0/1");
    if (shard != ours_shard.text())
        throw OutputError("refusing to resume '" + shown(path) + "': it holds shard " +
                          printable(shard) + " of its campaign, not " + ours_shard.text() +
                          "; allowed is --shard " + printable(shard) +
                          (shard == "0/1" ? " (or no --shard)" : ""));
}

} // namespace

CampaignWriter::CampaignWriter(h5::File file, FileKind kind, CampaignLayout layout,
                               std::vector<VariableSpec> variables,
                               std::vector<GroupHandles> groups)
    : file_(std::move(file)), kind_(kind), layout_(std::move(layout)),
      variables_(std::move(variables)), groups_(std::move(groups)) {}

std::size_t CampaignWriter::status_index() const {
    for (std::size_t i = 0; i < variables_.size(); ++i)
        if (variables_[i].field == ObservableField::status)
            return i;
    throw std::logic_error("CampaignWriter: no status variable");
}

std::vector<StalePartFile> stale_part_files(const fs::path& path) {
    std::vector<StalePartFile> out;
    if (path.filename().empty())
        return out;
    std::error_code ec;
    const std::array<std::string, 2> prefixes{part_prefix(path, false), part_prefix(path, true)};
    for (fs::directory_iterator it(directory_of(path), ec), end; !ec && it != end;
         it.increment(ec)) {
        const std::string name = it->path().filename().string();
        for (const auto& prefix : prefixes) {
            if (!name.starts_with(prefix) || name.size() == prefix.size() ||
                name.size() - prefix.size() > 9)
                continue;
            const std::string digits = name.substr(prefix.size());
            if (!std::all_of(digits.begin(), digits.end(),
                             [](char c) { return c >= '0' && c <= '9'; }))
                continue;
            const auto pid = static_cast<pid_t>(std::stol(digits));
            if (pid == getpid() || pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH)
                continue; // ours, or its process may still be creating it
            out.push_back({it->path(), static_cast<std::int64_t>(pid)});
        }
    }
    return out;
}

void check_output_path(const fs::path& path, OutputMode mode) {
    check_target(path, mode);
}

fs::path temporary_path(const fs::path& path) {
    return part_path(path);
}

void move_into_place(const fs::path& tmp, const fs::path& path, bool replace) {
    // link() refuses an existing target, so without `replace` nothing that appeared meanwhile
    // is lost; with `replace`, rename() swaps atomically (and only a regular file is ever
    // replaced: check_target refused anything else).
    if (replace) {
        if (rename(tmp.c_str(), path.c_str()) != 0)
            throw OutputError(invalid_out(path) + "cannot replace it (" +
                              std::system_category().message(errno) + ")");
    } else {
        if (link(tmp.c_str(), path.c_str()) != 0)
            throw OutputError(invalid_out(path) + "cannot create it (" +
                              std::system_category().message(errno) + ")");
        fs::remove(tmp);
    }
}

CampaignWriter CampaignWriter::create(const fs::path& path, const CampaignSpec& spec,
                                      const FileMetadata& meta, bool replace,
                                      std::span<const VariableSpec> table) {
    check_target(path, replace ? OutputMode::overwrite : OutputMode::create);
    const std::vector<VariableSpec> variables =
        variables_for(table, meta.kind, teachers_of(spec), spec.save_weights);
    CampaignLayout layout = CampaignLayout::of(spec);
    const std::vector<double> alphas = record_grid(spec.points.front().params.schedule);

    // Build the complete file under a temporary name next to the target.
    const fs::path tmp = part_path(path);
    std::error_code ec;
    fs::remove(tmp, ec);
    // A signal that ends the process while HDF5 fills the file (one call per dataset, which may
    // take long: a flag checked here would not do) removes the temporary file first.
    const RemoveOnSignal guard(tmp);
    std::optional<h5::File> file;
    try {
        file.emplace(h5::File::create_exclusive(tmp));
        // A shard writes its own runs' chunks only: its share of the data.
        reserve_space(tmp, path,
                      estimate_campaign(spec, table).file_bytes /
                          static_cast<std::uint64_t>(spec.shard.count));
        {
            h5::Group root = file->root();
            const Provenance provenance{spec, meta, schema_version_of(table)};
            write_root_attributes(root, provenance);
            for (const auto& g : layout.groups)
                provenance.write(build_group(root, g, spec, alphas, variables));
            root.close();
        }
        file->flush();
        file->close();
        file.reset();
        move_into_place(tmp, path, replace);
    } catch (const h5::Error& e) {
        const std::string why = creation_failure(e, tmp);
        abandon(file, tmp);
        throw OutputError(invalid_out(path) + "cannot create it: " + why);
    } catch (...) {
        abandon(file, tmp);
        throw;
    }
    return resume(path, spec, meta, table);
}

namespace {

/// Why the chunk index of a campaign file is inconsistent (a chunk past the end of the file, or
/// two chunks sharing bytes), or empty. Every chunked variable of every group is checked.
std::string
chunk_index_damage(const h5::File& file,
                   const std::vector<std::pair<std::string, const h5::Dataset*>>& datasets) {
    hsize_t file_size = 0;
    if (H5Fget_filesize(file.id(), &file_size) < 0)
        return "its size cannot be read";
    struct Owned {
        h5::ChunkExtent extent;
        std::size_t dataset;
    };
    std::vector<Owned> all;
    for (std::size_t d = 0; d < datasets.size(); ++d)
        for (const h5::ChunkExtent& e : h5::chunk_extents(*datasets[d].second))
            all.push_back({e, d});
    const auto name = [&](const Owned& o) {
        return datasets[o.dataset].first;
    };
    std::sort(all.begin(), all.end(),
              [](const Owned& a, const Owned& b) { return a.extent.address < b.extent.address; });
    for (std::size_t i = 0; i < all.size(); ++i) {
        const h5::ChunkExtent& e = all[i].extent;
        if (e.address == HADDR_UNDEF || e.address + e.size > file_size)
            return "a chunk of " + name(all[i]) + " lies past the end of the file";
        if (i + 1 < all.size() && e.address + e.size > all[i + 1].extent.address)
            return "the chunk index of " + name(all[i]) + " and " + name(all[i + 1]) +
                   " gives them overlapping bytes";
    }
    return {};
}

} // namespace

CampaignWriter CampaignWriter::resume(const fs::path& path, const CampaignSpec& spec,
                                      const FileMetadata& meta,
                                      std::span<const VariableSpec> table) {
    check_target(path, OutputMode::resume);
    try {
        check_resumable(path, meta, spec.shard, schema_version_of(table));
    } catch (const h5::Error& e) {
        // The root's attributes cannot be read (the file opened): its metadata are damaged.
        throw OutputError("refusing to resume '" + shown(path) + "': it is damaged (" +
                          printable(e.what(), 300) + ")");
    }
    // What the reader cannot open, --resume does not finish (damaged metadata: it would leave
    // a file no reader opens and exit 0).
    try {
        (void)CampaignReader::open(path, table);
    } catch (const CampaignReadError& e) {
        throw OutputError("refusing to resume '" + shown(path) + "': it is damaged (" +
                          printable(e.reason(), 300) + ")");
    }
    h5::File file = open_checked(path, true);
    const h5::Group root = file.root();
    std::vector<VariableSpec> variables =
        variables_for(table, meta.kind, teachers_of(spec), spec.save_weights);
    CampaignLayout layout = CampaignLayout::of(spec);
    std::vector<GroupHandles> groups;
    for (const auto& info : layout.groups) {
        h5::Group g = root.open_group(info.name);
        GroupHandles handles;
        for (const auto& v : variables)
            handles.datasets.push_back(g.open_dataset(v.name));
        handles.checksums = RunChecksums::of(g);
        groups.push_back(std::move(handles));
    }
    // A damaged chunk-index entry may point a chunk into another one's bytes: the checksums see
    // the misdirected read, but rewriting that "damaged" run would overwrite the other run's
    // chunk. The index must be consistent before anything is rewritten.
    std::vector<std::pair<std::string, const h5::Dataset*>> chunked;
    for (std::size_t g = 0; g < groups.size(); ++g)
        for (std::size_t k = 0; k < variables.size(); ++k)
            chunked.emplace_back(layout.groups[g].name + "/" + std::string(variables[k].name),
                                 &groups[g].datasets[k]);
    if (const std::string why = chunk_index_damage(file, chunked); !why.empty())
        throw OutputError("refusing to resume '" + shown(path) + "': it is damaged (" + why +
                          "); rewriting its runs would overwrite others");
    CampaignWriter writer(std::move(file), *parse<FileKind>(meta.kind), std::move(layout),
                          std::move(variables), std::move(groups));
    writer.find_damaged_runs();
    return writer;
}

namespace {

/// A read of a run's chunk (or of a block of flags) failed: returns if its checksum failed (the
/// chunk is damaged: its runs are computed again). Any other failure (an I/O error of the disk or
/// of a network file system, which may pass) is no evidence of damage: rethrown, naming what was
/// read, so that --resume stops instead of marking runs to redo.
void require_checksum_failure(const h5::Error& e, const std::string& what) {
    if (e.kind() == h5::ErrorKind::checksum)
        return;
    throw h5::Error("reading " + what +
                        " to check its checksum failed for another reason than "
                        "a checksum (nothing marked damaged): " +
                        e.what(),
                    e.stack());
}

} // namespace

void CampaignWriter::find_damaged_runs() {
    damaged_.clear();
    for (std::size_t gi = 0; gi < layout_.groups.size(); ++gi) {
        const auto& info = layout_.groups[gi];
        const GroupShape shape = info.shape(layout_.records);
        std::vector<bool> bad(info.runs.size(), false);
        for (std::size_t k = 0; k < variables_.size(); ++k) {
            h5::Dataset& d = groups_[gi].datasets[k];
            if (!h5::has_checksum(d))
                continue; // a file written before checksums
            if (is_flag(variables_[k].field)) {
                // Status and outcome in blocks: a damaged block is rewritten whole as pending (a
                // partial write would have to read the damaged chunk) and all its runs are
                // redone.
                const hsize_t n = info.runs.size();
                for (hsize_t first = 0; first < n; first += status_block) {
                    const hsize_t count = std::min(status_block, n - first);
                    const std::array<hsize_t, 1> off{first};
                    const std::array<hsize_t, 1> cnt{count};
                    try {
                        (void)h5::read_slab<std::int8_t>(d, off, cnt);
                    } catch (const h5::Error& e) {
                        require_checksum_failure(
                            e, std::string(variables_[k].name) + " of " + std::to_string(count) +
                                   " runs from run_index " + std::to_string(info.runs[first]));
                        const std::vector<std::int8_t> pending(count,
                                                               status_code(RunStatus::pending));
                        h5::write_slab(d, off, cnt, pending.data());
                        for (hsize_t i = first; i < first + count; ++i)
                            bad[i] = true;
                    }
                }
                continue;
            }
            std::vector<hsize_t> count = variables_[k].shape(shape);
            count[0] = 1;
            std::vector<hsize_t> offset(count.size(), 0);
            for (std::size_t i = 0; i < info.runs.size(); ++i) {
                offset[0] = i;
                try {
                    if (variables_[k].field == ObservableField::checksum)
                        (void)h5::read_slab<std::int64_t>(d, offset, count);
                    else
                        (void)h5::read_slab<double>(d, offset, count);
                } catch (const h5::Error& e) {
                    require_checksum_failure(e, std::string(variables_[k].name) + " of run_index " +
                                                    std::to_string(info.runs[i]));
                    bad[i] = true;
                }
            }
        }
        // The run checksum (schema 1.4) of every finished run whose chunks passed Fletcher-32:
        // it sees a zeroed chunk, or one whose index entry no longer names its filter.
        if (const auto& sums = groups_[gi].checksums) {
            const auto status = h5::read_all<std::int8_t>(groups_[gi].datasets[status_index()]);
            for (std::size_t i = 0; i < info.runs.size(); ++i) {
                if (bad[i] || status[i] == status_code(RunStatus::pending))
                    continue;
                try {
                    bad[i] = !sums->matches(i);
                } catch (const h5::Error& e) {
                    require_checksum_failure(e, "the data of run_index " +
                                                    std::to_string(info.runs[i]));
                    bad[i] = true;
                }
            }
        }
        for (std::size_t i = 0; i < bad.size(); ++i)
            if (bad[i])
                damaged_.push_back(info.runs[i]);
    }
    std::sort(damaged_.begin(), damaged_.end());
    if (!damaged_.empty())
        file_.flush();
}

std::vector<std::int64_t> CampaignWriter::unfinished_runs() const {
    std::vector<std::int64_t> out = damaged_;
    for (std::size_t gi = 0; gi < layout_.groups.size(); ++gi) {
        const auto status = h5::read_all<std::int8_t>(groups_[gi].datasets[status_index()]);
        const auto& runs = layout_.groups[gi].runs;
        for (std::size_t i = 0; i < runs.size(); ++i)
            if (status[i] == status_code(RunStatus::pending))
                out.push_back(runs[i]);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

void CampaignWriter::check_extras(const FinishedRun& run) const {
    // The extras of this file's table, and those today's table has for its kind: a file of an
    // older table (an older schema version, as the tests write) leaves the newer ones out, as
    // the plateau of that version did.
    const auto extra_of_kind = [this](const VariableSpec& v) {
        return v.field == ObservableField::extra && v.written_by.contains(kind_);
    };
    const auto holds = [&](std::string_view key) {
        const auto named = [&](const VariableSpec& v) {
            return extra_of_kind(v) && v.name == key;
        };
        return std::any_of(variables_.begin(), variables_.end(), named) ||
               std::any_of(campaign_variables().begin(), campaign_variables().end(), named);
    };
    for (const Observables& o : run.result.records)
        for (const auto& entry : o.extras) {
            if (holds(entry.first))
                continue;
            std::string allowed;
            for (const VariableSpec& v : campaign_variables())
                if (extra_of_kind(v))
                    allowed += (allowed.empty() ? "" : ", ") + std::string(v.name);
            for (const VariableSpec& v : variables_)
                if (extra_of_kind(v) && allowed.find(v.name) == std::string::npos)
                    allowed += (allowed.empty() ? "" : ", ") + std::string(v.name);
            throw UnknownObservableError(
                "CampaignWriter: run " + std::to_string(run.run) + " has the extra observable '" +
                printable(entry.first, 100) + "', which is not a variable of a " +
                std::string(name(kind_)) + " file; allowed are " +
                (allowed.empty() ? std::string("none") : allowed));
        }
}

void CampaignWriter::write(const FinishedRun& finished) {
    check_extras(finished);
    const auto r = static_cast<std::size_t>(finished.run);
    GroupHandles& g = groups_[layout_.group_of[r]];
    const auto& info = layout_.groups[layout_.group_of[r]];
    const auto i = static_cast<hsize_t>(layout_.index_in_group[r]);
    const GroupShape shape = info.shape(layout_.records);
    const auto& recs = finished.result.records;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();

    // Whole slabs, NaN where no record exists: a rerun overwrites any partial earlier write, and
    // a slab is exactly the run's chunk, so a damaged chunk is replaced without being read.
    // A per-run variable (no alpha axis, e.g. T) comes from the first record.
    Crc32 crc; // run_checksum: the order of covered_names()
    for (std::size_t k = 0; k < variables_.size(); ++k) {
        const VariableSpec& v = variables_[k];
        if (!is_observable(v.field))
            continue;
        const std::size_t per = v.values_per_record(shape);
        const std::size_t slots = v.per_record() ? shape.records : 1;
        std::vector<double> values(slots * per, nan);
        for (std::size_t a = 0; a < std::min(slots, recs.size()); ++a)
            copy_out(v, recs[a], shape, std::span<double>(values).subspan(a * per, per));
        std::vector<hsize_t> offset(v.rank, 0);
        offset[0] = i;
        std::vector<hsize_t> count = v.shape(shape);
        count[0] = 1;
        h5::write_slab(g.datasets[k], offset, count, values.data());
        crc.add(std::as_bytes(std::span(values)));
    }
    // The outcome (schema 1.1) is data of the run: written before the status marks it done.
    for (std::size_t k = 0; k < variables_.size(); ++k)
        if (variables_[k].field == ObservableField::outcome) {
            const auto outcome = static_cast<std::int8_t>(finished.result.outcome);
            h5::write_slab(g.datasets[k], std::array<hsize_t, 1>{i}, std::array<hsize_t, 1>{1},
                           &outcome);
            crc.add(std::as_bytes(std::span(&outcome, 1)));
        }
    for (std::size_t k = 0; k < variables_.size(); ++k)
        if (variables_[k].field == ObservableField::checksum) {
            const std::int64_t sum = crc.value();
            h5::write_slab(g.datasets[k], std::array<hsize_t, 1>{i}, std::array<hsize_t, 1>{1},
                           &sum);
        }
    file_.flush();

    const std::int8_t code = status_code(finished.result.status);
    h5::write_slab(g.datasets[status_index()], std::array<hsize_t, 1>{i}, std::array<hsize_t, 1>{1},
                   &code);
    file_.flush();
}

void CampaignWriter::close() {
    groups_.clear();
    file_.flush();
    file_.close();
}

} // namespace plateau
