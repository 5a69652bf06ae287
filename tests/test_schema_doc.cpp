// analysis/SCHEMA.md against the engine's table of variables (engine/io/variables.hpp): every
// variable of the table is documented with the same dims, type, units, kinds and version, and
// the document lists no other; the title, the root attributes' rows and the History of
// "Versions" state the version the writer writes, and History names each variable under the
// version that added it.
#include "engine/io/variables.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace plateau;

namespace {

std::string read_schema_doc() {
    // (A path, not std::string + "...": GCC 12 reports a false -Warray-bounds there, bug 105651.)
    std::ifstream in(std::filesystem::path(PLATEAU_SOURCE_DIR) / "analysis" / "SCHEMA.md");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string::npos)
        return "";
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

/// The rows of the table under "### Data variables": cells of each row starting "| `".
std::vector<std::vector<std::string>> variable_rows(const std::string& doc) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(doc);
    std::string line;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.rfind("#", 0) == 0) {
            inside = line == "### Data variables";
            continue;
        }
        if (!inside || line.rfind("| `", 0) != 0)
            continue;
        std::vector<std::string> cells;
        std::size_t start = 1;
        for (std::size_t bar = line.find('|', start); bar != std::string::npos && cells.size() < 6;
             bar = line.find('|', start)) {
            cells.push_back(trim(line.substr(start, bar - start)));
            start = bar + 1;
        }
        rows.push_back(std::move(cells));
    }
    return rows;
}

/// The line of `doc` that starts with `start`, or "".
std::string row_of(const std::string& doc, const std::string& start) {
    std::istringstream in(doc);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(start, 0) == 0)
            return line;
    return "";
}

/// The entries of the History list of "## Versions" ("- 1.2: text", continued on indented
/// lines), in document order: (version, text).
std::vector<std::pair<std::string, std::string>> history(const std::string& doc) {
    std::vector<std::pair<std::string, std::string>> entries;
    std::istringstream in(doc);
    std::string line;
    bool versions = false;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.rfind("#", 0) == 0) {
            versions = line == "## Versions";
            inside = false;
            continue;
        }
        if (versions && line == "History:") {
            inside = true;
            continue;
        }
        if (!inside)
            continue;
        if (line.rfind("- ", 0) == 0) {
            const auto colon = line.find(':');
            entries.emplace_back(line.substr(2, colon - 2), line.substr(colon + 1));
        } else if (line.rfind("  ", 0) == 0 && !entries.empty()) {
            entries.back().second += " " + trim(line);
        }
    }
    return entries;
}

/// How the document must describe `v`: variable, dims, type, units, written by, since.
std::vector<std::string> documented(const VariableSpec& v) {
    std::string dims = "(";
    for (const Dim d : v.dims())
        dims += std::string(dims.size() > 1 ? ", " : "") + std::string(name(d));
    std::string kinds;
    for (const FileKind k : all_values<FileKind>())
        if (v.written_by.contains(k))
            kinds += std::string(kinds.empty() ? "" : ", ") + std::string(name(k));
    return {"`" + std::string(v.name) + "`",
            dims + ")",
            std::string(h5::name(v.dtype)),
            v.units.empty() ? "—" : std::string(v.units),
            kinds,
            to_string(SchemaVersion{1, v.since_minor})};
}

/// What differs between `table` and the document, one line each (empty: they agree).
std::vector<std::string> mismatches(std::span<const VariableSpec> table, const std::string& doc) {
    std::vector<std::string> out;
    const auto rows = variable_rows(doc);
    for (const VariableSpec& v : table) {
        const auto expected = documented(v);
        const auto row = std::find_if(rows.begin(), rows.end(),
                                      [&](const auto& r) { return r.at(0) == expected[0]; });
        if (row == rows.end()) {
            out.push_back("variable " + expected[0] + " is not documented");
            continue;
        }
        for (std::size_t c = 1; c < expected.size(); ++c)
            if (c >= row->size() || (*row)[c] != expected[c])
                out.push_back("variable " + expected[0] + ": column " + std::to_string(c) +
                              " is '" + (c < row->size() ? (*row)[c] : "") + "', expected '" +
                              expected[c] + "'");
    }
    for (const auto& r : rows)
        if (std::none_of(table.begin(), table.end(),
                         [&](const VariableSpec& v) { return r.at(0) == documented(v)[0]; }))
            out.push_back("variable " + r.at(0) + " is documented but not in the table");
    const SchemaVersion version = schema_version_of(table);
    const std::string title =
        "# The `plateau-campaign` file schema, version " + to_string(version) + "\n";
    if (doc.rfind(title, 0) != 0)
        out.push_back("the title does not say version " + to_string(version));
    // The root attributes state the version's numbers.
    const std::string major_row = row_of(doc, "| `" + std::string(schema_major_attribute) + "` |");
    if (major_row.find("the major version, `" + std::to_string(version.major) + "`") ==
        std::string::npos)
        out.push_back("the row of `" + std::string(schema_major_attribute) +
                      "` does not say the major version, `" + std::to_string(version.major) + "`");
    const std::string minor_row = row_of(doc, "| `" + std::string(schema_minor_attribute) + "` |");
    if (minor_row.find("(`" + std::to_string(version.minor) + "` today)") == std::string::npos)
        out.push_back("the row of `" + std::string(schema_minor_attribute) + "` does not say (`" +
                      std::to_string(version.minor) + "` today)");
    // "Versions", History: the newest entry is the version, and each entry names the variables
    // its version added (every variable named in an entry has that entry's `since`).
    const auto entries = history(doc);
    if (entries.empty() || entries.back().first != to_string(version))
        out.push_back("the newest History entry is not " + to_string(version));
    for (const VariableSpec& v : table) {
        if (v.since_minor == 0)
            continue; // 1.0: the first version lists none
        const std::string since = to_string(SchemaVersion{1, v.since_minor});
        const std::string named = "`" + std::string(v.name) + "`";
        for (const auto& [entry, text] : entries) {
            const bool names = text.find(named) != std::string::npos;
            if (names && entry != since)
                out.push_back("History " + entry + " names " + named + ", added in " + since);
        }
        if (std::none_of(entries.begin(), entries.end(), [&](const auto& e) {
                return e.first == since && e.second.find(named) != std::string::npos;
            }))
            out.push_back("no History entry " + since + " names " + named);
    }
    return out;
}

} // namespace

TEST_CASE("analysis/SCHEMA.md documents exactly the table of variables", "[schema]") {
    const std::string doc = read_schema_doc();
    REQUIRE(variable_rows(doc).size() >= 2);
    const auto problems = mismatches(campaign_variables(), doc);
    for (const auto& p : problems)
        UNSCOPED_INFO(p);
    CHECK(problems.empty());
}

TEST_CASE("the SCHEMA.md check fails for an undocumented or misdocumented variable", "[schema]") {
    const std::string doc = read_schema_doc();
    std::vector<VariableSpec> table(campaign_variables().begin(), campaign_variables().end());
    table.push_back({"train_error",
                     {Dim::run, Dim::alpha},
                     h5::ElementType::float64,
                     "1",
                     "training error",
                     KindSet{true, false},
                     campaign_schema_version().minor + 1,
                     ObservableField::extra});
    auto problems = mismatches(table, doc);
    const std::string next = to_string(SchemaVersion{1, campaign_schema_version().minor + 1});
    CHECK(problems == std::vector<std::string>{
                          "variable `train_error` is not documented",
                          "the title does not say version " + next,
                          "the row of `schema_version_minor` does not say (`" +
                              std::to_string(campaign_schema_version().minor + 1) + "` today)",
                          "the newest History entry is not " + next,
                          "no History entry " + next + " names `train_error`"});

    // A stale number or a variable under another version's entry.
    std::string stale = doc;
    const std::string today = "(`" + std::to_string(campaign_schema_version().minor) + "` today)";
    REQUIRE(stale.find(today) != std::string::npos);
    stale.replace(stale.find(today), today.size(), "(`1` today)");
    CHECK(mismatches(campaign_variables(), stale) ==
          std::vector<std::string>{"the row of `schema_version_minor` does not say " + today});
    stale = doc;
    const std::string entry = "- 1.3: `flow_error`";
    REQUIRE(stale.find(entry) != std::string::npos);
    stale.replace(stale.find(entry), entry.size(), "- 1.2: `flow_error`");
    CHECK(mismatches(campaign_variables(), stale) ==
          std::vector<std::string>{"History 1.2 names `flow_error`, added in 1.3",
                                   "no History entry 1.3 names `flow_error`"});

    table.pop_back();
    table.front().units = "m";
    problems = mismatches(table, doc);
    CHECK(problems == std::vector<std::string>{"variable `eg`: column 3 is '1', expected 'm'"});

    table.erase(table.begin());
    problems = mismatches(table, doc);
    CHECK(problems == std::vector<std::string>{"variable `eg` is documented but not in the table"});
}
