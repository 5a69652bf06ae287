// analysis/SCHEMA.md against the engine's table of variables (engine/io/variables.hpp): every
// variable of the table is documented with the same dims, type, units, kinds and version, and
// the document lists no other.
#include "engine/io/variables.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
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
    const std::string title = "# The `plateau-campaign` file schema, version " +
                              to_string(schema_version_of(table)) + "\n";
    if (doc.rfind(title, 0) != 0)
        out.push_back("the title does not say version " + to_string(schema_version_of(table)));
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
    CHECK(problems == std::vector<std::string>{
                          "variable `train_error` is not documented",
                          "the title does not say version " +
                              to_string(SchemaVersion{1, campaign_schema_version().minor + 1})});

    table.pop_back();
    table.front().units = "m";
    problems = mismatches(table, doc);
    CHECK(problems == std::vector<std::string>{"variable `eg`: column 3 is '1', expected 'm'"});

    table.erase(table.begin());
    problems = mismatches(table, doc);
    CHECK(problems == std::vector<std::string>{"variable `eg` is documented but not in the table"});
}
