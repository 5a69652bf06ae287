// Error messages quote user input as one readable line (engine/core/errors.hpp, printable()) and
// write numbers through number_text().
#include "engine/core/errors.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/theory.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using plateau::ConfigError;
using plateau::printable;

TEST_CASE("printable keeps printable ASCII and escapes every other byte", "[errors]") {
    CHECK(printable("eta = 0.5, linspace(1, 2, 3)") == "eta = 0.5, linspace(1, 2, 3)");
    CHECK(printable(std::string("a\x01\tb\x7f", 5)) == "a\\x01\\x09b\\x7f");
    CHECK(printable(std::string("1\0002", 3)) == "1\\x002"); // a NUL does not end the text
    CHECK(printable("\xef\xbb\xbf"
                    "1") == "\\xef\\xbb\\xbf1"); // a byte-order mark is shown, not hidden
    CHECK(printable("\xc3\xa9") == "\\xc3\\xa9");
    CHECK(printable("line\nbreak\r") == "line\\x0abreak\\x0d");
}

TEST_CASE("printable cuts long text and says how long it was", "[errors]") {
    const std::string digits(300, '9');
    const std::string shown = printable(digits);
    CHECK(shown.size() < 110);
    CHECK(shown.starts_with("9999"));
    CHECK(shown.ends_with("... (300 bytes)"));
    CHECK(printable(std::string(80, 'x')) == std::string(80, 'x')); // at the limit: kept whole
}

TEST_CASE("a configuration error is one printable line whatever the value", "[errors]") {
    const ConfigError e("records", std::string("\x01\x02") + std::string(5000, '7'),
                        "an integer from 2 to 16777216");
    const std::string what = e.what();
    CHECK(what.size() < 250);
    CHECK(what.find('\x01') == std::string::npos);
    CHECK(what.find("for 'records': allowed is an integer from 2 to 16777216") !=
          std::string::npos);
    const auto unknown = ConfigError::unknown_key("et\x1b[31ma", "1", "N, K");
    CHECK(std::string(unknown.what()).find('\x1b') == std::string::npos);
}

TEST_CASE("numbers in messages are written as the configuration writes them", "[errors]") {
    // A tiny asymmetry was "0.000000" (std::to_string), a long alpha-train cut to 6 digits.
    plateau::ModelParams m;
    m.student.widths = {2};
    m.teacher.widths = {2};
    try {
        (void)plateau::symmetric_initial_conditions(m, 0.2, 1.0, 1e-12);
        FAIL("r0 = 1 with q0 = 0.2 is not a covariance");
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        CHECK_THAT(what, Catch::Contains("q0 = 0.2, r0 = 1, asymmetry = 1e-12)"));
    }
    plateau::RunParams p;
    p.training.alpha_train = 1.23456789;
    try {
        plateau::require_theory_regime(p);
        FAIL("a training set has no theory");
    } catch (const ConfigError& e) {
        CHECK(e.value() == "1.23456789");
        CHECK_THAT(std::string(e.what()), Catch::Contains("'1.23456789' for 'alpha-train'"));
    }
}
