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
    const auto& first = readers.front().metadata();
    const SchemaVersion ours = schema_version_of(campaign_variables());
    for (std::size_t p = 0; p < readers.size(); ++p) {
        const auto& m = readers[p].metadata();
        if (m.version != ours)
            throw ConfigError("part", o.parts[p],
                              "a file of schema version " + to_string(ours) + " (it has " +
                                  to_string(m.version) +
                                  "; merge with the plateau version that wrote the parts)");
        if (m.config_sha256 != first.config_sha256 || m.kind != first.kind)
            throw ConfigError("part", o.parts[p],
                              "a part of the campaign of " + quoted(o.parts.front()) +
                                  " (config_sha256 " + printable(m.config_sha256) + " kind " +
                                  std::string(name(m.kind)) + ", there " +
                                  printable(first.config_sha256) + " kind " +
                                  std::string(name(first.kind)) + ")");
        // Parts of other builds hold other bits for the same runs: the merge would equal
        // neither build's file.
        if (m.build() != first.build() && !o.allow_mixed_builds)
            throw ConfigError("part", o.parts[p],
                              "a part written by the build that wrote " + quoted(o.parts.front()) +
                                  " (it: " + printable(m.build()) +
                                  "; there: " + printable(first.build()) +
                                  "); merge parts of different builds with --allow-mixed-builds");
    }

    // The campaign, as the parts' own configuration describes it.
    // (A theory file's text goes on with plateau ode's own options: not keys of the campaign.)
    Configuration config;
    read_ini_text(first.config.substr(0, first.config.find(ode_options_header)),
                  o.parts.front() + " (attribute 'config')", config);
    const CampaignSpec spec = config.expand();
    if (spec.runs() != first.runs)
        throw ConfigError("part", o.parts.front(),
                          "a file whose " + std::to_string(first.runs) +
                              " runs are those of its configuration (" +
                              std::to_string(spec.runs()) + ")");

    // Which part holds each finished run; a damaged run counts as not there.
    constexpr std::size_t none = static_cast<std::size_t>(-1);
    std::vector<std::size_t> owner(static_cast<std::size_t>(spec.runs()), none);
    std::vector<std::int64_t> duplicates;
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
                if (o_r != none)
                    duplicates.push_back(r);
                else
                    o_r = p;
            }
        }
    }
    std::sort(duplicates.begin(), duplicates.end());
    if (!duplicates.empty())
        throw ConfigError("part", o.parts.back(),
                          "parts that share no finished run (run_index " + list_runs(duplicates) +
                              " are finished in two parts: shards of one --shard i/n split)");
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
