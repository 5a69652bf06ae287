// `plateau merge OUT PART...`: joins the files of a campaign's shards (`plateau run --shard i/n`,
// one per task of a job array) into one file whose data equal a single-process run's bit for bit.
// Reads every part through the engine's CampaignReader and writes with the same CampaignWriter
// as `plateau run`; refuses, before writing anything, parts of different campaigns or versions,
// runs finished in two parts, and (unless --allow-incomplete) runs finished in none.
#include "cli/command_support.hpp"
#include "cli/commands.hpp"
#include "cli/mpi.hpp"
#include "cli/options.hpp"
#include "engine/core/errors.hpp"
#include "engine/io/reader.hpp"
#include "engine/io/remove_on_signal.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

namespace plateau::cli {

namespace po = boost::program_options;

namespace {

/// "3, 7, 12, ... (25 in all)": the first run indices of a list.
std::string list_runs(const std::vector<std::int64_t>& runs) {
    std::string out;
    for (std::size_t i = 0; i < runs.size() && i < 10; ++i)
        out += (i ? ", " : "") + std::to_string(runs[i]);
    if (runs.size() > 10)
        out += ", ... (" + std::to_string(runs.size()) + " in all)";
    return out;
}

std::string quoted(const std::string& path) {
    return "'" + printable(path, 300) + "'";
}

/// The part the others are checked against: the first of the largest group of parts that agree
/// (`same(p, q)`), the earliest group on a tie. A part that differs from it is the one a refusal
/// names: with parts b, a, c where only b is of another campaign, b (not a).
template <class Same>
std::size_t reference_part(std::size_t parts, const Same& same) {
    std::size_t best = 0;
    std::size_t best_count = 0;
    for (std::size_t p = 0; p < parts; ++p) {
        std::size_t count = 0;
        for (std::size_t q = 0; q < parts; ++q)
            count += same(p, q) ? 1 : 0;
        if (count > best_count) {
            best = p;
            best_count = count;
        }
    }
    return best;
}

/// The 'key = value' lines of a file's `config` attribute (comments left out).
std::map<std::string, std::string, std::less<>> config_lines(const std::string& text) {
    std::map<std::string, std::string, std::less<>> out;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        const auto eq = line.find('=');
        if (line.starts_with('#') || eq == std::string::npos)
            continue;
        out.emplace(trim(std::string_view(line).substr(0, eq)),
                    trim(std::string_view(line).substr(eq + 1)));
    }
    return out;
}

/// "eta = 0.3 here, 0.5 there; batch = 4 here, 1 (default) there": the keys in which the
/// configuration `here` differs from `there` (a key left out of a file's configuration is at its
/// default); empty if none.
std::string config_differences(const std::string& here, const std::string& there) {
    const auto a = config_lines(here);
    const auto b = config_lines(there);
    const auto value = [](const auto& lines, const std::string& key) -> std::string {
        if (const auto it = lines.find(key); it != lines.end())
            return printable(it->second, 40);
        const KeyInfo* k = find_key(key);
        return k != nullptr && !k->default_value.empty()
                   ? std::string(k->default_value) + " (default)"
                   : "unset";
    };
    std::set<std::string, std::less<>> names;
    for (const auto& [key, v] : a)
        names.insert(key);
    for (const auto& [key, v] : b)
        names.insert(key);
    std::string out;
    std::size_t listed = 0;
    for (const auto& key : names) {
        const auto x = value(a, key);
        const auto y = value(b, key);
        if (x == y)
            continue;
        if (++listed > 5) {
            out += "; ...";
            break;
        }
        out +=
            (out.empty() ? "" : "; ") + printable(key, 40) + " = " + x + " here, " + y + " there";
    }
    return out;
}

struct MergeOptions {
    std::string out;
    std::vector<std::string> parts;
    bool overwrite = false;
    bool allow_incomplete = false;
    bool allow_mixed_builds = false;
    bool quiet = false;
};

int merge(const MergeOptions& o, const std::string& command_line) {
    if (mpi::world().distributed())
        throw UsageError("merge runs as one process (it only copies files): allowed is "
                         "'plateau merge OUT.h5 PART.h5 ...' without an MPI launcher");
    if (o.parts.empty())
        throw UsageError("no PART files to merge: usage is plateau merge OUT.h5 PART.h5 ...");
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto& part : o.parts)
        if (fs::equivalent(o.out, part, ec))
            throw OutputError("invalid value " + quoted(o.out) +
                              " for 'out': it is one of the parts; allowed is a new file");
    check_output_path(o.out, o.overwrite ? OutputMode::overwrite : OutputMode::create);
    const OutputLock lock(o.out, "merge"); // until OUT is in place
    for (const auto& part : o.parts)
        require_regular_input("part", part); // a FIFO would block the open for ever

    std::vector<CampaignReader> readers;
    readers.reserve(o.parts.size());
    for (const auto& part : o.parts) {
        try {
            readers.push_back(CampaignReader::open(part));
        } catch (const CampaignReadError& e) {
            throw ConfigError("part", part, "a campaign file (" + e.reason() + ")");
        }
    }
    const SchemaVersion ours = schema_version_of(campaign_variables());
    for (std::size_t p = 0; p < readers.size(); ++p) {
        const auto& m = readers[p].metadata();
        if (m.version != ours)
            throw ConfigError("part", o.parts[p],
                              "a file of schema version " + to_string(ours) + " (it has " +
                                  to_string(m.version) +
                                  "; merge with the plateau version that wrote the parts)");
    }
    // The part that differs from the others is named, with what differs: the parts' campaign
    // is that of most of them (of the first part on a tie).
    const auto metadata = [&](std::size_t p) -> const CampaignReader::Metadata& {
        return readers[p].metadata();
    };
    const std::size_t ref = reference_part(readers.size(), [&](std::size_t p, std::size_t q) {
        return metadata(p).config_sha256 == metadata(q).config_sha256 &&
               metadata(p).kind == metadata(q).kind;
    });
    const auto& first = metadata(ref);
    for (std::size_t p = 0; p < readers.size(); ++p) {
        const auto& m = metadata(p);
        if (m.config_sha256 == first.config_sha256 && m.kind == first.kind)
            continue;
        std::string differences = m.kind != first.kind
                                      ? "kind " + std::string(name(m.kind)) + " here, " +
                                            std::string(name(first.kind)) + " there"
                                      : std::string{};
        if (const auto keys = config_differences(m.config, first.config); !keys.empty())
            differences += (differences.empty() ? "" : "; ") + keys;
        if (differences.empty())
            differences = "config_sha256 " + printable(m.config_sha256) + " here, " +
                          printable(first.config_sha256) + " there";
        throw ConfigError("part", o.parts[p],
                          "a part of the campaign of " + quoted(o.parts[ref]) + " (" + differences +
                              ")");
    }
    // Parts of other builds hold other bits for the same runs: the merge would equal neither
    // build's file.
    const std::size_t build_ref = reference_part(readers.size(), [&](std::size_t p, std::size_t q) {
        return metadata(p).build() == metadata(q).build();
    });
    for (std::size_t p = 0; p < readers.size() && !o.allow_mixed_builds; ++p)
        if (metadata(p).build() != metadata(build_ref).build())
            throw ConfigError("part", o.parts[p],
                              "a part written by the build that wrote " +
                                  quoted(o.parts[build_ref]) +
                                  " (it: " + printable(metadata(p).build()) +
                                  "; there: " + printable(metadata(build_ref).build()) +
                                  "); merge parts of different builds with --allow-mixed-builds");

    // The campaign, as the parts' own configuration describes it.
    // (A theory file's text goes on with plateau ode's own options: not keys of the campaign.)
    Configuration config;
    read_ini_text(first.config.substr(0, first.config.find(ode_options_header)),
                  o.parts[ref] + " (attribute 'config')", config);
    const CampaignSpec spec = config.expand();
    if (spec.runs() != first.runs)
        throw ConfigError("part", o.parts[ref],
                          "a file whose " + std::to_string(first.runs) +
                              " runs are those of its configuration (" +
                              std::to_string(spec.runs()) + ")");

    // Which part holds each finished run; a damaged run counts as not there.
    constexpr std::size_t none = static_cast<std::size_t>(-1);
    std::vector<std::size_t> owner(static_cast<std::size_t>(spec.runs()), none);
    std::vector<std::int64_t> duplicates;
    std::int64_t duplicate_run = -1;
    std::size_t duplicate_part = none;  ///< the part that finished a run again ...
    std::size_t duplicate_owner = none; ///< ... after this one
    for (std::size_t p = 0; p < readers.size(); ++p) {
        const auto damaged = readers[p].damaged_runs();
        if (!damaged.empty() && !o.quiet)
            std::fprintf(stderr,
                         "plateau merge: %s: run_index %s fail their checksum; they count as "
                         "not in this part\n",
                         quoted(o.parts[p]).c_str(), list_runs(damaged).c_str());
        for (std::size_t g = 0; g < readers[p].groups().size(); ++g) {
            const auto& info = readers[p].groups()[g];
            const auto status = readers[p].status(g);
            for (std::size_t i = 0; i < status.size(); ++i) {
                const std::int64_t r = info.run_index[i];
                if (status[i] == RunStatus::pending ||
                    std::binary_search(damaged.begin(), damaged.end(), r))
                    continue;
                auto& o_r = owner[static_cast<std::size_t>(r)];
                if (o_r != none) {
                    if (duplicates.empty()) {
                        duplicate_run = r;
                        duplicate_part = p;
                        duplicate_owner = o_r;
                    }
                    duplicates.push_back(r);
                } else
                    o_r = p;
            }
        }
    }
    std::sort(duplicates.begin(), duplicates.end());
    if (!duplicates.empty())
        throw ConfigError("part", o.parts[duplicate_part],
                          "parts that share no finished run (run_index " + list_runs(duplicates) +
                              " are finished in two parts, run_index " +
                              std::to_string(duplicate_run) + " in this one and in " +
                              quoted(o.parts[duplicate_owner]) +
                              ": shards of one --shard i/n split)");
    std::vector<std::int64_t> missing;
    for (std::size_t r = 0; r < owner.size(); ++r)
        if (owner[r] == none)
            missing.push_back(static_cast<std::int64_t>(r));
    if (!missing.empty() && !o.allow_incomplete)
        throw ConfigError("part", std::to_string(o.parts.size()) + " file(s)",
                          "parts that together finish every run (run_index " + list_runs(missing) +
                              " are pending or in no part: add their shard, finish it with "
                              "--resume, or merge with --allow-incomplete; they stay pending "
                              "and 'plateau run --resume' finishes them)");

    // The temporary file of a merge (or creation) whose process is gone holds nothing that the
    // parts do not: remove it, and say so.
    for (const auto& stale : stale_part_files(o.out)) {
        if (fs::remove(stale.path, ec) && !o.quiet)
            std::fprintf(stderr,
                         "plateau merge: removed %s, the temporary file of an interrupted "
                         "creation or merge (process %lld is gone)\n",
                         quoted(stale.path.string()).c_str(), static_cast<long long>(stale.pid));
    }
    // Written whole under a temporary name, then moved into place: an interrupted merge leaves
    // OUT as it was (absent, or the file --overwrite would have replaced), never half-merged.
    const FileMetadata meta{first.config, command_line, std::string(name(first.kind)),
                            first.theory};
    const fs::path tmp = temporary_path(o.out);
    RemoveOnSignal on_signal(tmp);
    try {
        fs::remove(tmp, ec);
        CampaignWriter writer = CampaignWriter::create(tmp, spec, meta, false);
        for (std::int64_t r = 0; r < spec.runs(); ++r) {
            const std::size_t p = owner[static_cast<std::size_t>(r)];
            if (p == none)
                continue;
            const auto where = readers[p].find_run(r);
            writer.write(FinishedRun{r, readers[p].read_run(*where)});
        }
        writer.close();
        move_into_place(tmp, o.out, o.overwrite);
        on_signal.release();
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
    const std::string pending =
        missing.empty() ? "" : ", " + std::to_string(missing.size()) + " pending";
    if (!o.quiet)
        std::fprintf(
            stderr, "plateau merge: wrote %s: %lld run(s) from %zu part(s)%s\n",
            quoted(o.out).c_str(),
            static_cast<long long>(spec.runs() - static_cast<std::int64_t>(missing.size())),
            readers.size(), pending.c_str());
    return 0;
}

} // namespace

int merge_command(int argc, char** argv, const std::string& command_line) {
    return guarded("merge", [&] {
        MergeOptions o;
        po::options_description options("Options");
        options.add_options()("help,h", "this text")("overwrite", po::bool_switch(&o.overwrite),
                                                     "replace an existing OUT file")(
            "allow-incomplete", po::bool_switch(&o.allow_incomplete),
            "merge even if some runs are in no part (they stay pending; 'plateau run --resume "
            "-o OUT' finishes them)")("allow-mixed-builds", po::bool_switch(&o.allow_mixed_builds),
                                      "merge parts written by different builds of plateau "
                                      "(software_version, git_describe, compiler)")(
            "quiet,q", po::bool_switch(&o.quiet), "no messages");
        po::options_description hidden;
        hidden.add_options()("out", po::value<std::string>(&o.out))(
            "parts", po::value<std::vector<std::string>>(&o.parts));
        po::positional_options_description positional;
        positional.add("out", 1).add("parts", -1);
        po::options_description all;
        all.add(options).add(hidden);
        po::variables_map vm;
        // Exact option names only, as run and ode: the default style took "--over" for
        // "--overwrite".
        const int style =
            po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
        po::store(po::command_line_parser(argc, argv)
                      .options(all)
                      .style(style)
                      .positional(positional)
                      .run(),
                  vm);
        if (vm.count("help")) {
            std::cout << "usage: plateau merge OUT.h5 PART.h5 ... [--overwrite] "
                         "[--allow-incomplete] [--allow-mixed-builds]\n\n"
                         "Joins the files of a campaign's shards (plateau run --shard i/n -o "
                         "PART.h5) into OUT.h5,\nwhose data equal a single-process run's bit for "
                         "bit.\n\n"
                      << options;
            return 0;
        }
        po::notify(vm);
        if (o.out.empty())
            throw UsageError("no OUT file: usage is plateau merge OUT.h5 PART.h5 ...");
        return merge(o, command_line);
    });
}

} // namespace plateau::cli
