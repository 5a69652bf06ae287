// The engine's folders by role (docs/ARCHITECTURE.md, "Layout"), from the bottom up:
//     models/  <  engine/core/  <  engine/run/  <  engine/simulation/ | engine/theory/
//              <  engine/campaign/  <  engine/io/  <  cli/
// A file includes only from its own folder and those below it, and simulation/ and theory/
// never include each other. This test reads every #include "..." line of the tree and keeps it
// so; `layout_violations` is the rule, tested on a made-up tree first so that it can fail.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

/// A folder's level: a file may include a file of a level no higher than its own, and two
/// different folders of one level (simulation, theory) may not include each other.
struct Level {
    std::string folder;
    int rank;
};

const std::vector<Level>& levels() {
    static const std::vector<Level> table = {
        {"models", 0},        {"engine/core", 1},     {"engine/run", 2}, {"engine/simulation", 3},
        {"engine/theory", 3}, {"engine/campaign", 4}, {"engine/io", 5},  {"cli", 6},
        {"python", 7},
    };
    return table;
}

/// The level of a repository path (the longest matching folder), or nullopt outside the layout.
std::optional<Level> level_of(const std::string& path) {
    std::optional<Level> best;
    for (const Level& l : levels())
        if (path.rfind(l.folder + "/", 0) == 0 && (!best || l.folder.size() > best->folder.size()))
            best = l;
    return best;
}

/// Every include of `files` (repository path -> the quoted includes it has) that breaks the
/// order, as "from -> to".
std::vector<std::string>
layout_violations(const std::map<std::string, std::vector<std::string>>& files) {
    std::vector<std::string> bad;
    for (const auto& [from, includes] : files) {
        const auto a = level_of(from);
        if (!a)
            continue;
        for (const std::string& to : includes) {
            const auto b = level_of(to);
            if (!b)
                continue; // generated headers (plateau_version.hpp)
            if (b->rank > a->rank || (b->rank == a->rank && b->folder != a->folder))
                bad.push_back(from + " -> " + to);
        }
    }
    return bad;
}

std::map<std::string, std::vector<std::string>> read_tree(const fs::path& root) {
    static const std::regex include_line(R"re(^\s*#\s*include\s*"([^"]+)")re");
    std::map<std::string, std::vector<std::string>> files;
    for (const char* top : {"models", "engine", "cli", "python"}) {
        for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
            const auto ext = entry.path().extension();
            if (!entry.is_regular_file() || (ext != ".hpp" && ext != ".cpp"))
                continue;
            const std::string rel = fs::relative(entry.path(), root).generic_string();
            std::ifstream in(entry.path());
            std::string line;
            auto& includes = files[rel];
            std::smatch m;
            while (std::getline(in, line))
                if (std::regex_search(line, m, include_line))
                    includes.push_back(m[1].str());
        }
    }
    return files;
}

} // namespace

TEST_CASE("layout: the include rule refuses an upward or sideways include", "[layout]") {
    const std::map<std::string, std::vector<std::string>> tree = {
        {"engine/core/a.hpp", {"models/network.hpp", "engine/core/b.hpp"}},
        {"engine/run/run.hpp", {"engine/simulation/state.hpp"}},        // upward
        {"engine/theory/flow.hpp", {"engine/simulation/observer.hpp"}}, // sideways
        {"engine/io/writer.cpp", {"engine/campaign/campaign.hpp", "plateau_version.hpp"}},
        {"models/network.hpp", {"engine/core/errors.hpp"}}, // upward
        {"cli/main.cpp", {"engine/io/writer.hpp"}},
    };
    const auto bad = layout_violations(tree);
    REQUIRE(bad.size() == 3);
    CHECK(bad[0] == "engine/run/run.hpp -> engine/simulation/state.hpp");
    CHECK(bad[1] == "engine/theory/flow.hpp -> engine/simulation/observer.hpp");
    CHECK(bad[2] == "models/network.hpp -> engine/core/errors.hpp");
}

TEST_CASE("layout: no file of the tree includes a higher folder or a sibling backend", "[layout]") {
    const auto tree = read_tree(PLATEAU_SOURCE_DIR);
    REQUIRE(tree.size() > 50);
    // Every engine file is in a role folder: nothing left at engine/'s top level.
    for (const auto& [path, includes] : tree) {
        INFO(path);
        CHECK(level_of(path).has_value());
    }
    for (const std::string& v : layout_violations(tree))
        FAIL_CHECK("include against the layout: " << v);
}
