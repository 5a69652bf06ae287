// What docs/ARCHITECTURE.md states as lists is checked against the code it describes: the
// random-stream purposes (a renumbered or unlisted purpose would change results silently) and
// the engine's role folders.
#include "engine/core/random.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace {

std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// The section of a Markdown text under `heading` (up to the next heading of level 2).
std::string section(const std::string& text, const std::string& heading) {
    const auto start = text.find("\n## " + heading + "\n");
    REQUIRE(start != std::string::npos);
    const auto end = text.find("\n## ", start + 1);
    return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

} // namespace

TEST_CASE("docs: ARCHITECTURE names every random-stream purpose", "[docs]") {
    const std::filesystem::path root(PLATEAU_SOURCE_DIR);
    const std::string header = read(root / "engine" / "core" / "random.hpp");
    const std::string doc = section(read(root / "docs" / "ARCHITECTURE.md"), "Random numbers");
    // The enumerators of StreamPurpose, as the header writes them: `name = number,`.
    const auto begin = header.find("enum class StreamPurpose");
    REQUIRE(begin != std::string::npos);
    const std::string body = header.substr(begin, header.find("};", begin) - begin);
    static const std::regex enumerator(R"re(\n\s*(\w+)\s*=\s*(\d+),)re");
    int count = 0;
    for (std::sregex_iterator it(body.begin(), body.end(), enumerator), end; it != end; ++it) {
        ++count;
        INFO("purpose " << (*it)[1] << " = " << (*it)[2]);
        CHECK(doc.find("`" + (*it)[1].str() + "`") != std::string::npos);
    }
    CHECK(count >= 14);
}

TEST_CASE("docs: ARCHITECTURE's layout table lists every engine folder", "[docs]") {
    const std::filesystem::path root(PLATEAU_SOURCE_DIR);
    const std::string doc = section(read(root / "docs" / "ARCHITECTURE.md"), "Layout");
    int folders = 0;
    for (const auto& entry : std::filesystem::directory_iterator(root / "engine")) {
        if (!entry.is_directory())
            continue;
        ++folders;
        const std::string name = entry.path().filename().string();
        INFO("engine/" << name);
        CHECK(doc.find("| `" + name + "/` |") != std::string::npos);
    }
    CHECK(folders == 6);
}
