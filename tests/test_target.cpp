// Targets that are polynomials of the teacher's fields (models/target.hpp, docs/theory.md §13):
// values against hand computations, gradients by central finite differences, and the message of
// every kind of malformed text (the position and what was expected there).
#include "models/target.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <string>
#include <vector>

using namespace plateau;

namespace {

double value_of(const char* text, std::vector<double> y) {
    return PolynomialTarget::parse(text).value(y);
}

} // namespace

TEST_CASE("target: polynomial values against hand computations", "[target]") {
    const std::vector<double> y{0.7, -1.3, 2.1};
    const double a = y[0], b = y[1], c = y[2];
    CHECK(value_of("y1", y) == Approx(a));
    CHECK(value_of("y1 + y1*y2 + y1*y2*y3", y) == Approx(a + a * b + a * b * c));
    CHECK(value_of("y1*y2*y3", y) == Approx(a * b * c));
    CHECK(value_of("he1(y2)", y) == Approx(b));
    CHECK(value_of("he2(y1)", y) == Approx((a * a - 1.0) / std::sqrt(2.0)));
    CHECK(value_of("he3(y3)", y) == Approx((c * c * c - 3.0 * c) / std::sqrt(6.0)));
    CHECK(value_of("he4(y2)", y) == Approx((b * b * b * b - 6.0 * b * b + 3.0) / std::sqrt(24.0)));
    CHECK(value_of("2.5*y1^3 - 0.5", y) == Approx(2.5 * a * a * a - 0.5));
    CHECK(value_of("(y1 + y2)^2", y) == Approx((a + b) * (a + b)));
    CHECK(value_of("-y1^2", y) == Approx(-a * a));
    CHECK(value_of("-(y1 - y3) * +y2", y) == Approx(-(a - c) * b));
    CHECK(value_of("1e-1 * he2(y1) * he2(y2)", y) ==
          Approx(0.1 * (a * a - 1.0) * (b * b - 1.0) / 2.0));
    CHECK(value_of("y2^0", y) == Approx(1.0));
    CHECK(value_of("3", y) == Approx(3.0));
}

TEST_CASE("target: the expansion merges like terms and knows its fields and degree", "[target]") {
    const auto p = PolynomialTarget::parse("(y1 + y2)^2 - y1^2 - y2^2");
    REQUIRE(p.monomials().size() == 1); // 2 y1 y2
    CHECK(p.monomials()[0].coefficient == 2.0);
    CHECK(p.monomials()[0].factors == std::vector<PolynomialTarget::Factor>{{0, 1}, {1, 1}});
    CHECK(p.degree() == 2);
    CHECK(p.fields() == 2);
    // A field that cancels still counts: M must be at least the highest index written.
    const auto q = PolynomialTarget::parse("y1 + y3 - y3");
    CHECK(q.fields() == 3);
    CHECK(q.monomials().size() == 1);
    // he4 in the power basis: (y^4 - 6 y^2 + 3)/sqrt 24, Eq. (13.2).
    const auto h = PolynomialTarget::parse("he4(y2)");
    CHECK(h.degree() == 4);
    CHECK(h.monomials().size() == 3);
    CHECK(h.fields() == 2);
    CHECK(PolynomialTarget::parse("he2(y1)") == PolynomialTarget::parse("he2(y1)"));
    CHECK(parse_target("committee").is_committee());
    CHECK(parse_target("he2(y1)").text() == "he2(y1)");
}

TEST_CASE("target: gradients by central finite differences", "[target]") {
    const std::vector<double> y{0.4, -0.9, 1.6};
    for (const char* text : {"y1", "y1 + y1*y2 + y1*y2*y3", "he2(y1)", "he3(y2) * he4(y3)",
                             "he4(y1)", "(y1 - 2*y2 + 0.5*y3)^3", "y1^2 * y2 * y1", "7"}) {
        CAPTURE(text);
        const auto p = PolynomialTarget::parse(text);
        std::array<double, 3> grad{};
        const double tau = p.value_and_gradient(y, grad);
        CHECK(tau == Approx(p.value(y)).epsilon(1e-14));
        for (std::size_t n = 0; n < y.size(); ++n) {
            const double h = 1e-5;
            auto up = y;
            auto down = y;
            up[n] += h;
            down[n] -= h;
            const double fd = (p.value(up) - p.value(down)) / (2.0 * h);
            CAPTURE(n);
            CHECK(grad[n] == Approx(fd).epsilon(1e-7).margin(1e-8));
        }
    }
    // At y_n = 0 the gradient has no division by y_n: d(y1^2 y2)/dy2 = y1^2.
    const auto p = PolynomialTarget::parse("y1^2*y2");
    std::array<double, 2> grad{};
    p.value_and_gradient(std::array{1.5, 0.0}, grad);
    CHECK(grad[0] == 0.0);
    CHECK(grad[1] == Approx(2.25));
}

TEST_CASE("target: every malformed text names the position and what was expected", "[target]") {
    struct Case {
        const char* text;
        std::size_t position;
        std::string message;
    };
    const std::string operand =
        "expected a number, a field y1, y2, ..., he1(yN) to he4(yN), '-' or '('";
    const std::string more = "expected '+', '-', '*', '^' or the end";
    const std::vector<Case> cases{
        {"", 1, "at character 1: " + operand + ", found the end"},
        {"y1 +", 5, "at character 5: " + operand + ", found the end"},
        {"y1 * * y2", 6, "at character 6: " + operand + ", found '*'"},
        {"x1", 1, "at character 1: " + operand + ", found 'x1'"},
        {"he5(y1)", 1, "at character 1: " + operand + ", found 'he5'"},
        {"2y1", 2, "at character 2: " + more + ", found 'y1'"},
        {"y1 y2", 4, "at character 4: " + more + ", found 'y2'"},
        {"y1)", 3, "at character 3: " + more + ", found ')'"},
        {"(y1 + y2", 9, "at character 9: expected '+', '-', '*', '^' or ')', found the end"},
        {"y0", 1,
         "at character 1: expected a field y1, y2, ... (an index from 1 to 1048576), "
         "found 'y0'"},
        {"y", 1,
         "at character 1: expected a field y1, y2, ... (an index from 1 to 1048576), "
         "found 'y'"},
        {"y1a", 1,
         "at character 1: expected a field y1, y2, ... (an index from 1 to 1048576), "
         "found 'y1a'"},
        {"he2 y1", 5, "at character 5: expected '(' after he2, found 'y1'"},
        {"he2(2)", 5, "at character 5: expected a field y1, y2, ... inside he2( ), found '2'"},
        {"he2(y1 + y2)", 8, "at character 8: expected ')' closing he2(, found '+'"},
        {"y1^2.5", 4, "at character 4: expected an integer power from 0 to 8, found '2.5'"},
        {"y1^9", 4, "at character 4: expected an integer power from 0 to 8, found '9'"},
        {"y1^-1", 4, "at character 4: expected an integer power from 0 to 8, found '-'"},
        {"y1^y2", 4, "at character 4: expected an integer power from 0 to 8, found 'y2'"},
        {"y1^2^2", 5,
         "at character 5: expected '+', '-', '*' or the end of the factor (powers "
         "do not chain: write (y1^2)^2), found '^'"},
        {"1e999*y1", 1, "at character 1: expected a finite number, found '1e999'"},
        {"(y1+y2)^8*(y1+y2)^8*y1", 20,
         "at character 20: expected a polynomial of degree at most 16 after expansion, found '*'"},
        {"y1, y2", 3, "at character 3: " + more + ", found ','"},
        {"y1 +\x01", 5, "at character 5: " + operand + ", found the byte 0x01"},
        {"y1 \xc3\xa9", 4, "at character 4: " + more + ", found the byte 0xc3"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        try {
            (void)PolynomialTarget::parse(c.text);
            FAIL("parsed");
        } catch (const TargetSyntaxError& e) {
            CHECK(e.position() == c.position);
            CHECK(std::string(e.what()) == c.message);
        }
    }
}
