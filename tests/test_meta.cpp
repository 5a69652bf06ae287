// Tests of the test suite itself: every Catch2 test case must be one ctest entry.
//
// catch_discover_tests (tests/CMakeLists.txt) turns each test case name into a ctest entry and
// that entry's test spec. CMake splits a name at `;` (two entries, each matching nothing), and a
// name ending in a backslash escapes the spec's end. Such a test case never runs, while its
// ctest entries pass. `-w NoTests` makes those entries fail; this test refuses the names.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

TEST_CASE("every test case name survives ctest discovery", "[meta]") {
    const auto& all = Catch::getRegistryHub().getTestCaseRegistry().getAllTests();
    REQUIRE(all.size() > 10);
    std::vector<std::string> bad;
    for (const auto& test : all) {
        const std::string& name = test.getTestCaseInfo().name;
        if (name.find(';') != std::string::npos || name.ends_with('\\') || name.empty() ||
            name.front() == ' ' || name.back() == ' ')
            bad.push_back(name);
    }
    INFO("test case names that ctest discovery splits or mangles (no ';', no trailing '\\' or "
         "space): "
         << bad.size());
    for (const auto& name : bad)
        UNSCOPED_INFO(name);
    CHECK(bad.empty());
}
