#include "engine/writer.hpp"

#include "engine/errors.hpp"
#include "engine/h5/h5.hpp"
#include "engine/schedule.hpp"
#include "engine/sha256.hpp"
#include "plateau_version.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <system_error>

namespace plateau {

namespace fs = std::filesystem;

CampaignLayout CampaignLayout::of(const CampaignSpec& spec) {
    CampaignLayout layout;
    const auto runs = static_cast<std::size_t>(spec.runs());
    layout.group_of.resize(runs);
    layout.index_in_group.resize(runs);
    layout.records = static_cast<std::size_t>(spec.points.front().params.schedule.records);
    std::map<std::pair<int, int>, std::size_t> index;
    for (std::size_t r = 0; r < runs; ++r) {
        const auto& m = spec.point_of(static_cast<std::int64_t>(r)).params.model;
        const auto key = std::pair{m.student.hidden(), m.teacher.hidden()};
        auto it = index.find(key);
        if (it == index.end()) {
            it = index.emplace(key, layout.groups.size()).first;
            layout.groups.push_back({group_name(key.first, key.second), key.first, key.second, {}});
        }
        auto& g = layout.groups[it->second];
        layout.group_of[r] = it->second;
        layout.index_in_group[r] = static_cast<std::int64_t>(g.runs.size());
        g.runs.push_back(static_cast<std::int64_t>(r));
    }
    return layout;
}

std::uint64_t CampaignLayout::data_bytes(std::span<const VariableSpec> table) const {
    std::uint64_t bytes = 0;
    for (const auto& g : groups) {
        const GroupShape shape{1, records, static_cast<std::size_t>(g.K),
                               static_cast<std::size_t>(g.M)};
        std::uint64_t per_run = 8 * 4; // run_index, seed, N, eta
        for (const auto& v : table) {
            const std::uint64_t element = v.dtype == h5::ElementType::int8 ? 1 : 8;
            per_run += element * v.values_per_record(shape) * (v.per_record() ? records : 1);
        }
        bytes += per_run * g.runs.size();
    }
    return bytes + 64 * 1024; // metadata
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

/// The table's variables a file of `kind` holds, in table order.
std::vector<VariableSpec> variables_for(std::span<const VariableSpec> table,
                                        const std::string& kind) {
    const auto k = file_kind_of(kind);
    if (!k)
        throw std::logic_error("CampaignWriter: unknown file kind '" + kind + "'");
    std::vector<VariableSpec> out;
    for (const auto& v : table)
        if (v.written_by.contains(*k))
            out.push_back(v);
    if (std::count_if(out.begin(), out.end(), [](const VariableSpec& v) {
            return v.field == ObservableField::status;
        }) != 1)
        throw std::logic_error("CampaignWriter: the variable table needs one 'status'");
    return out;
}

/// Builds one group: dimensions, coordinates, per-run variables (values written now), data.
void build_group(h5::Group& root, const CampaignLayout::GroupInfo& info, const CampaignSpec& spec,
                 const std::vector<double>& alphas, const std::vector<VariableSpec>& variables) {
    h5::Group g = root.create_group(info.name);
    h5::set_attribute(g, "K", static_cast<std::int64_t>(info.K));
    h5::set_attribute(g, "M", static_cast<std::int64_t>(info.M));
    const auto n_runs = static_cast<hsize_t>(info.runs.size());
    const GroupShape shape{info.runs.size(), alphas.size(), static_cast<std::size_t>(info.K),
                           static_cast<std::size_t>(info.M)};

    // The dimensions, in the order of all_dims; alpha is a coordinate variable.
    std::vector<h5::Dataset> dimensions;
    for (const Dim d : all_dims)
        dimensions.push_back(
            d == Dim::alpha
                ? h5::create_coordinate(g, name(d), alphas,
                                        "examples per input dimension, alpha = steps/N", "1")
                : h5::create_dimension(g, name(d), static_cast<hsize_t>(shape.length(d))));
    const auto dim = [&](Dim d) -> const h5::Dataset* {
        return &dimensions[static_cast<std::size_t>(d)];
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
        if (v.field == ObservableField::status) {
            h5::Dataset status = h5::create_variable(g, v.name, h5::ElementType::int8, dims,
                                                     std::nullopt, status_code(RunStatus::pending));
            set_text(status, v.long_name, v.units);
            h5::set_attribute(status, "flag_values",
                              std::vector<std::int8_t>{status_code(RunStatus::pending),
                                                       status_code(RunStatus::completed),
                                                       status_code(RunStatus::diverged)});
            h5::set_attribute(status, "flag_meanings",
                              std::string_view("pending completed diverged"));
            h5::set_attribute(status, "coordinates", std::string_view(coordinates));
            continue;
        }
        if (v.dtype != h5::ElementType::float64)
            throw std::logic_error("CampaignWriter: data variable '" + std::string(v.name) +
                                   "' is not float64");
        h5::Dataset d = h5::create_variable(g, v.name, h5::ElementType::float64, dims);
        set_text(d, v.long_name, v.units);
        h5::set_attribute(d, "coordinates", std::string_view(coordinates));
    }
}

void write_root_attributes(const h5::Group& root, const CampaignSpec& spec,
                           const FileMetadata& meta, SchemaVersion version) {
    h5::set_attribute(root, "schema", std::string_view(campaign_schema_name));
    h5::set_attribute(root, schema_major_attribute, version.major);
    h5::set_attribute(root, "kind", std::string_view(meta.kind));
    h5::set_attribute(root, "software_version", std::string_view(software_version));
    h5::set_attribute(root, "git_describe", std::string_view(git_describe));
    h5::set_attribute(root, "compiler", std::string_view(compiler_id));
    h5::set_attribute(root, "config", std::string_view(meta.config_text));
    h5::set_attribute(root, "config_sha256", std::string_view(sha256_hex(meta.config_text)));
    h5::set_attribute(root, "command_line", std::string_view(meta.command_line));
    h5::set_attribute(root, "master_seed", static_cast<std::int64_t>(spec.master_seed));
    h5::set_attribute(root, "seeds", spec.seeds);
    h5::set_attribute(root, "runs", spec.runs());
    h5::set_attribute(root, "created", std::string_view(utc_now()));
    h5::set_attribute(root, "host", std::string_view(host_name()));
    h5::set_attribute(root, schema_minor_attribute, version.minor);
}

void check_directory(const fs::path& path) {
    const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw OutputError("invalid value '" + path.string() +
                          "' for 'out': its directory does not exist");
    if (access(dir.c_str(), W_OK) != 0)
        throw OutputError("invalid value '" + path.string() +
                          "' for 'out': its directory is not writable");
}

} // namespace

CampaignWriter::CampaignWriter(h5::File file, CampaignLayout layout,
                               std::vector<VariableSpec> variables,
                               std::vector<GroupHandles> groups)
    : file_(std::move(file)), layout_(std::move(layout)), variables_(std::move(variables)),
      groups_(std::move(groups)) {}

std::size_t CampaignWriter::status_index() const {
    for (std::size_t i = 0; i < variables_.size(); ++i)
        if (variables_[i].field == ObservableField::status)
            return i;
    throw std::logic_error("CampaignWriter: no status variable");
}

CampaignWriter CampaignWriter::create(const fs::path& path, const CampaignSpec& spec,
                                      const FileMetadata& meta, bool replace,
                                      std::span<const VariableSpec> table) {
    check_directory(path);
    std::error_code ec;
    if (!replace && fs::exists(path, ec))
        throw OutputError("invalid value '" + path.string() +
                          "' for 'out': the file exists; allowed is a new path, or --overwrite "
                          "to replace it, or --resume to finish it");
    const std::vector<VariableSpec> variables = variables_for(table, meta.kind);
    CampaignLayout layout = CampaignLayout::of(spec);
    const std::vector<double> alphas = record_alphas(spec.points.front().params.schedule);

    // Build the complete file under a temporary name next to the target.
    const fs::path tmp =
        path.parent_path() / ("." + path.filename().string() + ".part-" + std::to_string(getpid()));
    fs::remove(tmp, ec);
    try {
        h5::File file = h5::File::create_exclusive(tmp);
        h5::Group root = file.root();
        write_root_attributes(root, spec, meta, schema_version_of(table));
        for (const auto& g : layout.groups)
            build_group(root, g, spec, alphas, variables);
        file.flush();
        file.close();
        // Move into place: link() refuses an existing target, so without `replace` nothing
        // that appeared meanwhile is lost; with `replace`, rename() swaps atomically.
        if (replace) {
            fs::rename(tmp, path);
        } else {
            if (link(tmp.c_str(), path.c_str()) != 0)
                throw OutputError("invalid value '" + path.string() +
                                  "' for 'out': cannot create it (" +
                                  std::system_category().message(errno) + ")");
            fs::remove(tmp);
        }
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
    return resume(path, spec, meta, table);
}

CampaignWriter CampaignWriter::resume(const fs::path& path, const CampaignSpec& spec,
                                      const FileMetadata& meta,
                                      std::span<const VariableSpec> table) {
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw OutputError("invalid value '" + path.string() +
                          "' for 'out': --resume needs an existing campaign file");
    check_directory(path);
    h5::File file = [&] {
        try {
            return h5::File::open_readwrite(path);
        } catch (const h5::Error&) {
            throw OutputError("invalid value '" + path.string() +
                              "' for 'out': not an HDF5 file that can be opened for writing");
        }
    }();
    const h5::Group root = file.root();
    const auto schema = h5::get_string_attribute(root, "schema");
    const auto major = h5::get_int64_attribute(root, schema_major_attribute);
    const SchemaVersion ours = schema_version_of(table);
    if (schema != campaign_schema_name || major != ours.major)
        throw OutputError("invalid value '" + path.string() + "' for 'out': not a " +
                          campaign_schema_name + " file of schema version " +
                          std::to_string(ours.major) + ".x");
    // Resuming adds runs: the file must hold exactly the variables this writer writes.
    const SchemaVersion theirs{*major,
                               h5::get_int64_attribute(root, schema_minor_attribute).value_or(0)};
    if (theirs != ours)
        throw OutputError("refusing to resume '" + path.string() + "': it has schema version " +
                          to_string(theirs) + ", this plateau writes " + to_string(ours) +
                          "; allowed is resuming with the plateau version that created it");
    const auto sha = h5::get_string_attribute(root, "config_sha256");
    const std::string expected = sha256_hex(meta.config_text);
    if (sha != expected)
        throw OutputError("refusing to resume '" + path.string() +
                          "': its configuration differs (config_sha256 " + sha.value_or("none") +
                          ", this configuration " + expected +
                          "); allowed is the configuration stored in its 'config' attribute");

    std::vector<VariableSpec> variables = variables_for(table, meta.kind);
    CampaignLayout layout = CampaignLayout::of(spec);
    std::vector<GroupHandles> groups;
    for (const auto& info : layout.groups) {
        h5::Group g = root.open_group(info.name);
        GroupHandles handles;
        for (const auto& v : variables)
            handles.datasets.push_back(g.open_dataset(v.name));
        groups.push_back(std::move(handles));
    }
    return CampaignWriter(std::move(file), std::move(layout), std::move(variables),
                          std::move(groups));
}

std::vector<std::int64_t> CampaignWriter::unfinished_runs() const {
    std::vector<std::int64_t> out;
    for (std::size_t gi = 0; gi < layout_.groups.size(); ++gi) {
        const auto status = h5::read_all<std::int8_t>(groups_[gi].datasets[status_index()]);
        const auto& runs = layout_.groups[gi].runs;
        for (std::size_t i = 0; i < runs.size(); ++i)
            if (status[i] == status_code(RunStatus::pending))
                out.push_back(runs[i]);
    }
    std::sort(out.begin(), out.end());
    return out;
}

void CampaignWriter::write(const FinishedRun& finished) {
    const auto r = static_cast<std::size_t>(finished.run);
    GroupHandles& g = groups_[layout_.group_of[r]];
    const auto& info = layout_.groups[layout_.group_of[r]];
    const auto i = static_cast<hsize_t>(layout_.index_in_group[r]);
    const GroupShape shape{info.runs.size(), layout_.records, static_cast<std::size_t>(info.K),
                           static_cast<std::size_t>(info.M)};
    const auto& recs = finished.result.records;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();

    // Whole slabs, NaN where no record exists: a rerun overwrites any partial earlier write.
    // A per-run variable (no alpha axis, e.g. T) comes from the first record.
    for (std::size_t k = 0; k < variables_.size(); ++k) {
        const VariableSpec& v = variables_[k];
        if (v.field == ObservableField::status)
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
