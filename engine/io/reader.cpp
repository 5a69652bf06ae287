#include "engine/io/reader.hpp"

#include "engine/io/h5/h5.hpp"
#include "engine/io/h5/netcdf.hpp"
#include "engine/io/h5/verify.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <system_error>

namespace plateau {

namespace fs = std::filesystem;

namespace {

/// Why a read failed, for a message: a checksum failure (damage) or another error.
std::string read_failure(const h5::Error& e) {
    if (e.kind() == h5::ErrorKind::checksum)
        return "fails its checksum (bits changed on disk); 'plateau run --resume' computes "
               "damaged runs again";
    return std::string("cannot be read (") + e.what() + ")";
}

} // namespace

CampaignReader::CampaignReader(fs::path path, h5::File file, Metadata metadata,
                               std::vector<GroupInfo> groups, std::vector<GroupData> data)
    : path_(std::move(path)), file_(std::move(file)), metadata_(std::move(metadata)),
      groups_(std::move(groups)), data_(std::move(data)) {}

CampaignReader CampaignReader::open(const fs::path& path, std::span<const VariableSpec> table) {
    const auto fail = [&](const std::string& reason) {
        throw CampaignReadError(path, reason);
    };
    std::error_code ec;
    (void)fs::status(path, ec);
    if (ec == std::errc::too_many_symbolic_link_levels)
        fail("a loop of symbolic links, not a file");
    if (!fs::exists(path, ec))
        fail("no such file");
    if (fs::is_directory(path, ec))
        fail("is a directory, not a campaign file");
    // A damage HDF5 itself does not survive (a corrupt global heap: a segmentation fault in
    // the library) is met in a child process first (engine/io/h5/verify.hpp).
    if (const int signal = h5::crash_signal_of_verification(path); signal != 0)
        fail("its HDF5 structure is damaged (the HDF5 library crashed reading its metadata: "
             "signal " +
             std::to_string(signal) + ")");
    h5::File file = [&] {
        try {
            return h5::File::open_readonly(path);
        } catch (const h5::Error& e) {
            if (e.kind() == h5::ErrorKind::file_locked)
                throw CampaignReadError(path, "in use (a plateau writing it holds HDF5's lock)");
            if (e.kind() == h5::ErrorKind::not_hdf5)
                throw CampaignReadError(path, "not an HDF5 file");
            throw CampaignReadError(path, std::string("cannot open it (") + e.what() + ")");
        }
    }();
    // Everything a reader such as h5py touches on opening (attributes, dimension scales,
    // coordinates): damaged metadata is refused here, named, not met later.
    try {
        h5::verify_structure(file);
    } catch (const h5::Error& e) {
        fail(std::string("its HDF5 structure is damaged (") + e.what() + ")");
    }
    const h5::Group root = file.root();
    Metadata meta;
    try {
        if (h5::get_string_attribute(root, "schema") != std::string(campaign_schema_name))
            fail(std::string("not a ") + campaign_schema_name + " file");
        const auto major = h5::get_int64_attribute(root, schema_major_attribute);
        if (!major)
            fail(std::string("no '") + schema_major_attribute + "' attribute");
        meta.version = {*major, h5::get_int64_attribute(root, schema_minor_attribute).value_or(0)};
        const SchemaVersion ours = schema_version_of(table);
        if (meta.version.major != ours.major)
            fail("schema version " + to_string(meta.version) +
                 " is not readable by this plateau (it reads " + std::to_string(ours.major) +
                 ".x, any minor version)");
        const std::string kind = h5::get_string_attribute(root, "kind").value_or("");
        const auto k = parse<FileKind>(kind);
        if (!k)
            fail("unknown kind '" + kind + "' (expected " + names<FileKind>(" or ") + ")");
        meta.kind = *k;
        meta.config = h5::get_string_attribute(root, "config").value_or("");
        meta.config_sha256 = h5::get_string_attribute(root, "config_sha256").value_or("");
        meta.command_line = h5::get_string_attribute(root, "command_line").value_or("");
        meta.software_version = h5::get_string_attribute(root, "software_version").value_or("");
        meta.git_describe = h5::get_string_attribute(root, "git_describe").value_or("");
        meta.compiler = h5::get_string_attribute(root, "compiler").value_or("");
        meta.master_seed = h5::get_int64_attribute(root, "master_seed").value_or(0);
        meta.seeds = h5::get_int64_attribute(root, "seeds").value_or(0);
        meta.runs = h5::get_int64_attribute(root, "runs").value_or(0);
        meta.theory = read_theory_attributes(root);

        std::vector<GroupInfo> groups;
        std::vector<GroupData> data;
        for (const auto& gname : root.child_groups()) {
            const auto km = parse_group_widths(gname);
            if (!km)
                fail("group '" + gname + "' is not named K<K>_M<M>");
            h5::Group g = root.open_group(gname);
            GroupInfo info{gname, km->first.front(), km->second.front(), {}, {},
                           {},    km->first,         km->second,         1};
            info.run_index = h5::read_all<std::int64_t>(g.open_dataset("run_index"));
            info.alpha = h5::read_all<double>(g.open_dataset("alpha"));
            if (g.has(name(Dim::cluster))) // schema 1.6
                info.clusters = h5::read_all<double>(g.open_dataset(name(Dim::cluster))).size();
            if (g.has(name(Dim::task))) // schema 1.8
                info.tasks = h5::read_all<double>(g.open_dataset(name(Dim::task))).size();
            if (g.has(name(Dim::input))) // schema 1.11, with saved weights
                info.inputs = h5::read_all<double>(g.open_dataset(name(Dim::input))).size();
            GroupData gd{std::move(g), {}, std::nullopt};
            for (const VariableSpec& v : table) {
                if (!v.written_by.contains(meta.kind))
                    continue;
                if (!gd.group.has(v.name)) {
                    // A file of one teacher has no variables of several (only_with_teachers), a
                    // file without saved weights none of theirs (only_with_weights), a file
                    // without save-weights = records none at every record.
                    if (v.since_minor <= meta.version.minor &&
                        !(only_with_teachers(v) && !gd.group.has(name(Dim::task))) &&
                        !(only_with_weights(v) && !gd.group.has(name(Dim::input))) &&
                        !only_with_record_weights(v))
                        fail("group '" + gname + "' lacks the variable '" + std::string(v.name) +
                             "' of schema version " + to_string(meta.version));
                    continue; // added after the file's minor version
                }
                info.variables.emplace_back(v.name);
                gd.datasets.emplace_back(v, gd.group.open_dataset(v.name));
            }
            if (std::none_of(gd.datasets.begin(), gd.datasets.end(), [](const auto& d) {
                    return d.first.field == ObservableField::status;
                }))
                fail("group '" + gname + "' has no 'status'");
            gd.checksums = RunChecksums::of(gd.group);
            groups.push_back(std::move(info));
            data.push_back(std::move(gd));
        }
        if (groups.empty())
            fail("campaign file without any group of runs");
        return CampaignReader(path, std::move(file), std::move(meta), std::move(groups),
                              std::move(data));
    } catch (const h5::Error& e) {
        throw CampaignReadError(path, std::string("unreadable (") + e.what() + ")");
    }
}

std::optional<CampaignReader::RunLocation> CampaignReader::find_run(std::int64_t run_index) const {
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        const auto& runs = groups_[g].run_index;
        const auto it = std::find(runs.begin(), runs.end(), run_index);
        if (it != runs.end())
            return RunLocation{g, static_cast<std::size_t>(it - runs.begin())};
    }
    return std::nullopt;
}

std::vector<std::int64_t> CampaignReader::damaged_runs() const {
    std::vector<std::int64_t> out;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        const GroupInfo& info = groups_[g];
        const GroupShape shape =
            group_shape(info.run_index.size(), info.alpha.size(), info.student_widths,
                        info.teacher_widths, info.clusters, info.tasks, info.inputs);
        for (const auto& [spec, dataset] : data_[g].datasets) {
            if (!h5::has_checksum(dataset))
                continue;
            const bool status = is_flag(spec.field); // int8, one value per run
            std::vector<hsize_t> count = status ? std::vector<hsize_t>{1} : spec.shape(shape);
            count[0] = 1;
            std::vector<hsize_t> offset(count.size(), 0);
            for (std::size_t i = 0; i < info.run_index.size(); ++i) {
                offset[0] = i;
                try {
                    if (status)
                        (void)h5::read_slab<std::int8_t>(dataset, offset, count);
                    else if (spec.field == ObservableField::checksum)
                        (void)h5::read_slab<std::int64_t>(dataset, offset, count);
                    else
                        (void)h5::read_slab<double>(dataset, offset, count);
                } catch (const h5::Error& e) {
                    // Only a checksum failure is damage; any other read error (an I/O error,
                    // which may pass) is no evidence of it.
                    if (e.kind() != h5::ErrorKind::checksum)
                        throw CampaignReadError(path_, "run_index " +
                                                           std::to_string(info.run_index[i]) +
                                                           ": variable '" + std::string(spec.name) +
                                                           "' cannot be read (" + e.what() + ")");
                    out.push_back(info.run_index[i]);
                }
            }
        }
        // The run checksum of each finished run whose chunks passed (schema 1.4).
        for (std::size_t i = 0; data_[g].checksums && i < info.run_index.size(); ++i) {
            if (std::find(out.begin(), out.end(), info.run_index[i]) != out.end())
                continue;
            try {
                if (fails_run_checksum({g, i}))
                    out.push_back(info.run_index[i]);
            } catch (const h5::Error& e) {
                if (e.kind() != h5::ErrorKind::checksum)
                    throw CampaignReadError(path_,
                                            "run_index " + std::to_string(info.run_index[i]) +
                                                ": its data cannot be read (" + e.what() + ")");
                out.push_back(info.run_index[i]);
            }
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

bool CampaignReader::fails_run_checksum(RunLocation where) const {
    const GroupData& gd = data_.at(where.group);
    if (!gd.checksums)
        return false;
    for (const auto& [spec, dataset] : gd.datasets)
        if (spec.field == ObservableField::status) {
            const std::array<hsize_t, 1> at{where.index};
            const std::array<hsize_t, 1> one{1};
            const auto code = h5::read_slab<std::int8_t>(dataset, at, one).at(0);
            if (code == static_cast<std::int8_t>(RunStatus::pending))
                return false;
        }
    return !gd.checksums->matches(where.index);
}

std::vector<RunStatus> CampaignReader::status(std::size_t group) const {
    for (const auto& [spec, dataset] : data_.at(group).datasets)
        if (spec.field == ObservableField::status) {
            std::vector<std::int8_t> codes;
            try {
                codes = h5::read_all<std::int8_t>(dataset);
            } catch (const h5::Error& e) {
                throw CampaignReadError(path_, "the status of group '" + groups_.at(group).name +
                                                   "' " + read_failure(e));
            }
            std::vector<RunStatus> out;
            for (const std::int8_t code : codes) {
                if (code < 0 || code > 2)
                    throw CampaignReadError(path_, "group '" + groups_.at(group).name +
                                                       "': status " + std::to_string(code) +
                                                       " is outside the flag values (0 pending, "
                                                       "1 completed, 2 diverged)");
                out.push_back(static_cast<RunStatus>(code));
            }
            return out;
        }
    return {};
}

std::optional<std::vector<RunOutcome>> CampaignReader::stored_outcomes(std::size_t group) const {
    for (const auto& [spec, dataset] : data_.at(group).datasets)
        if (spec.field == ObservableField::outcome) {
            std::vector<std::int8_t> codes;
            try {
                codes = h5::read_all<std::int8_t>(dataset);
            } catch (const h5::Error& e) {
                throw CampaignReadError(path_, "the outcome of group '" + groups_.at(group).name +
                                                   "' " + read_failure(e));
            }
            std::vector<RunOutcome> out;
            for (const std::int8_t code : codes) {
                const auto known = std::find_if(
                    all_run_outcomes.begin(), all_run_outcomes.end(),
                    [code](RunOutcome o) { return static_cast<std::int8_t>(o) == code; });
                if (known == all_run_outcomes.end())
                    throw CampaignReadError(path_, "group '" + groups_.at(group).name +
                                                       "': outcome " + std::to_string(code) +
                                                       " is outside the flag values (0 pending, "
                                                       "1 learned, 2 plateau, 3 failed, 4 "
                                                       "diverged, 5 searching, 6 escaped)");
                out.push_back(*known);
            }
            return out;
        }
    return std::nullopt;
}

std::vector<Observables> CampaignReader::read_records(RunLocation where, std::size_t first,
                                                      std::optional<std::size_t> count) const {
    const GroupInfo& info = groups_.at(where.group);
    const std::size_t records = info.alpha.size();
    const std::size_t n = count.value_or(records > first ? records - first : 0);
    if (first + n > records || where.index >= info.run_index.size())
        throw CampaignReadError(path_, "records [" + std::to_string(first) + ", " +
                                           std::to_string(first + n) + ") of run " +
                                           std::to_string(where.index) + " of group '" + info.name +
                                           "' out of range");
    const GroupShape shape =
        group_shape(info.run_index.size(), records, info.student_widths, info.teacher_widths,
                    info.clusters, info.tasks, info.inputs);
    const auto failed = [&](const std::string& why) {
        return CampaignReadError(path_, "run_index " + std::to_string(info.run_index[where.index]) +
                                            " of group '" + info.name + "' " + why);
    };
    try {
        if (fails_run_checksum(where))
            throw failed("fails its run_checksum (its data changed on disk: a zeroed or "
                         "misdirected chunk); 'plateau run --resume' computes damaged runs again");
    } catch (const h5::Error& e) {
        throw failed(read_failure(e));
    }
    std::vector<Observables> out(n);
    for (const auto& entry : data_[where.group].datasets) {
        // Named references, not a structured binding: lambdas below capture them (clang 14
        // cannot capture structured bindings).
        const auto& spec = entry.first;
        const auto& dataset = entry.second;
        if (!is_observable(spec.field))
            continue;
        // Saved weights: record 0's, as written (K x N a run: not copied into every record).
        const bool weights = only_with_weights(spec);
        if (weights && (first > 0 || n == 0))
            continue;
        const std::size_t per = spec.values_per_record(shape);
        std::vector<hsize_t> offset(spec.rank, 0);
        std::vector<hsize_t> extent = spec.shape(shape);
        offset[0] = where.index;
        extent[0] = 1;
        if (spec.per_record()) {
            offset[1] = first;
            extent[1] = n;
        }
        const auto values = [&] {
            try {
                return h5::read_slab<double>(dataset, offset, extent);
            } catch (const h5::Error& e) {
                throw CampaignReadError(path_, "run_index " +
                                                   std::to_string(info.run_index[where.index]) +
                                                   " of group '" + info.name + "': variable '" +
                                                   std::string(spec.name) + "' " + read_failure(e));
            }
        }();
        for (std::size_t a = 0; a < (weights ? 1 : n); ++a) {
            const std::size_t at = spec.per_record() ? a * per : 0;
            copy_in(spec, std::span<const double>(values).subspan(at, per), shape, out[a]);
        }
    }
    return out;
}

RunResult CampaignReader::read_run(RunLocation where) const {
    RunResult result;
    result.status = status(where.group).at(where.index);
    result.records = read_records(where);
    const auto reached = std::find_if(result.records.begin(), result.records.end(),
                                      [](const Observables& o) { return std::isnan(o.eg); });
    result.records.erase(reached, result.records.end());
    // Stored since schema 1.1; computed by the same rule for older files.
    const auto stored = stored_outcomes(where.group);
    result.outcome =
        stored ? stored->at(where.index) : assess_outcome(result, groups_.at(where.group).alpha);
    return result;
}

std::optional<CampaignReader::Weights> CampaignReader::read_weights(RunLocation where) const {
    const GroupInfo& info = groups_.at(where.group);
    if (info.inputs == 0)
        return std::nullopt;
    std::int64_t N = 0;
    try {
        N = h5::read_all<std::int64_t>(data_.at(where.group).group.open_dataset("N"))
                .at(where.index);
    } catch (const h5::Error& e) {
        throw CampaignReadError(path_, "the N of group '" + info.name + "' " + read_failure(e));
    }
    if (N < 1 || static_cast<std::size_t>(N) > info.inputs)
        throw CampaignReadError(path_, "group '" + info.name + "': N = " + std::to_string(N) +
                                           " of run " + std::to_string(where.index) +
                                           " is outside its input axis (" +
                                           std::to_string(info.inputs) + ")");
    const auto records = read_records(where, 0, std::min<std::size_t>(1, info.alpha.size()));
    if (records.empty())
        return std::nullopt;
    const auto& extras = records.front().extras;
    const auto get = [&](std::string_view key) -> const Eigen::VectorXd* {
        const auto it = extras.find(key);
        return it == extras.end() ? nullptr : &it->second;
    };
    const auto* alpha = get(extra_name::weights_alpha);
    const auto* W = get(extra_name::weights_W);
    const auto* v = get(extra_name::weights_v);
    const auto* B = get(extra_name::weights_B);
    const auto* v_star = get(extra_name::weights_v_star);
    if (alpha == nullptr || W == nullptr || v == nullptr || B == nullptr || v_star == nullptr ||
        std::isnan((*alpha)[0]))
        return std::nullopt;
    // Row-major K x inputs, the run's first N columns (NaN past them).
    const auto rows = [&](const Eigen::VectorXd& flat, int count) {
        const auto stride = static_cast<Eigen::Index>(info.inputs);
        Eigen::MatrixXd m(count, static_cast<Eigen::Index>(N));
        for (Eigen::Index i = 0; i < count; ++i)
            m.row(i) = flat.segment(i * stride, static_cast<Eigen::Index>(N)).transpose();
        return m;
    };
    return Weights{(*alpha)[0], rows(*W, info.K), *v, rows(*B, info.M), *v_star};
}

} // namespace plateau
