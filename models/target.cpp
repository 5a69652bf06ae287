#include "models/target.hpp"

#include "models/polynomial.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <utility>

namespace plateau {

TargetSyntaxError::TargetSyntaxError(std::size_t position, std::string expected,
                                     const std::string& found)
    : std::invalid_argument("at character " + std::to_string(position) + ": expected " + expected +
                            ", found " + found),
      position_(position), expected_(std::move(expected)) {}

namespace {

/// Exponents a_n of y_{n+1} at index n, without trailing zeros: the key of a monomial.
using Exponents = std::vector<std::int32_t>;
/// A polynomial under construction: monomial -> coefficient.
using Poly = std::map<Exponents, double>;

int degree_of(const Exponents& e) {
    int d = 0;
    for (const auto a : e)
        d += a;
    return d;
}

int degree_of(const Poly& p) {
    int d = 0;
    for (const auto& [e, c] : p)
        d = std::max(d, degree_of(e));
    return d;
}

/// Normalised probabilists' Hermite polynomials he_k(y) = He_k(y)/sqrt(k!) in the power basis,
/// coefficient of y^i at [k][i] (docs/theory.md §13, Eq. (13.2)): the one Hermite recursion of
/// models/polynomial.hpp (`hermite`), which the he1..he4 activations use too.
constexpr int max_hermite = 4;
const std::array<std::array<double, max_hermite + 1>, max_hermite + 1>& hermite_coefficients() {
    static const std::array<std::array<double, max_hermite + 1>, max_hermite + 1> table = [] {
        std::array<std::array<double, max_hermite + 1>, max_hermite + 1> out{};
        double factorial = 1.0;
        for (int k = 0; k <= max_hermite; ++k) {
            factorial *= k > 0 ? k : 1;
            const Polynomial he = hermite(k, 1.0 / std::sqrt(factorial));
            for (std::size_t i = 0; i <= max_hermite; ++i)
                out[static_cast<std::size_t>(k)][i] = he.c[i];
        }
        return out;
    }();
    return table;
}

/// The recursive-descent parser of PolynomialTarget::parse, building the expansion as it goes.
class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    Poly parse() {
        Poly p = sum();
        skip_space();
        if (pos_ < text_.size())
            fail(after_operand(false));
        return p;
    }

    /// The highest field index written (n of y_n), even if it cancels: y3 - y3 needs M >= 3.
    [[nodiscard]] int max_field() const noexcept { return max_field_; }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
    int max_field_ = 0;

    static constexpr std::string_view operand =
        "a number, a field y1, y2, ..., he1(yN) to he4(yN), '-' or '('";

    static std::string after_operand(bool nested) {
        return nested ? "'+', '-', '*', '^' or ')'" : "'+', '-', '*', '^' or the end";
    }

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t'))
            ++pos_;
    }

    /// What is at `at`: "'*'", "'he5'", "the end".
    [[nodiscard]] std::string found(std::size_t at) const {
        if (at >= text_.size())
            return "the end";
        if (const auto byte = static_cast<unsigned char>(text_[at]); std::isprint(byte) == 0) {
            // Never a control or non-ASCII byte in a message: its value instead.
            constexpr std::string_view hex = "0123456789abcdef";
            return std::string("the byte 0x") + hex[byte >> 4U] + hex[byte & 15U];
        }
        std::size_t end = at + 1;
        const auto word = [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.';
        };
        if (word(text_[at]))
            while (end < text_.size() && word(text_[end]))
                ++end;
        return "'" + std::string(text_.substr(at, end - at)) + "'";
    }

    [[noreturn]] void fail(const std::string& expected) const { fail_at(pos_, expected); }
    [[noreturn]] void fail_at(std::size_t at, const std::string& expected) const {
        throw TargetSyntaxError(at + 1, expected, found(at));
    }

    void check_degree(int degree, std::size_t at) const {
        if (degree > PolynomialTarget::max_degree)
            fail_at(at, "a polynomial of degree at most " +
                            std::to_string(PolynomialTarget::max_degree) + " after expansion");
    }
    void check_count(std::size_t monomials, std::size_t at) const {
        if (monomials > static_cast<std::size_t>(PolynomialTarget::max_monomials))
            fail_at(at, "at most " + std::to_string(PolynomialTarget::max_monomials) +
                            " monomials after expansion");
    }

    static void add(Poly& into, const Poly& p, double sign) {
        for (const auto& [e, c] : p)
            into[e] += sign * c;
    }

    Poly multiply(const Poly& a, const Poly& b, std::size_t at) const {
        // The degree before the work; the count after it (each factor has at most
        // max_monomials, so the work is bounded).
        check_degree(degree_of(a) + degree_of(b), at);
        Poly out;
        for (const auto& [ea, ca] : a)
            for (const auto& [eb, cb] : b) {
                Exponents e(std::max(ea.size(), eb.size()), 0);
                for (std::size_t i = 0; i < ea.size(); ++i)
                    e[i] += ea[i];
                for (std::size_t i = 0; i < eb.size(); ++i)
                    e[i] += eb[i];
                out[std::move(e)] += ca * cb;
            }
        check_count(out.size(), at);
        return out;
    }

    Poly sum() {
        Poly p = product();
        for (;;) {
            skip_space();
            if (pos_ >= text_.size() || (text_[pos_] != '+' && text_[pos_] != '-'))
                return p;
            const double sign = text_[pos_] == '-' ? -1.0 : 1.0;
            const std::size_t at = pos_++;
            add(p, product(), sign);
            check_count(p.size(), at);
        }
    }

    Poly product() {
        Poly p = signed_power();
        for (;;) {
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] != '*')
                return p;
            const std::size_t at = pos_++;
            p = multiply(p, signed_power(), at);
        }
    }

    Poly signed_power() {
        skip_space();
        if (pos_ < text_.size() && (text_[pos_] == '-' || text_[pos_] == '+')) {
            const double sign = text_[pos_++] == '-' ? -1.0 : 1.0;
            Poly p = signed_power();
            for (auto& [e, c] : p)
                c *= sign;
            return p;
        }
        return power();
    }

    Poly power() {
        Poly base = primary();
        skip_space();
        if (pos_ >= text_.size() || text_[pos_] != '^')
            return base;
        const std::size_t at = pos_++;
        skip_space();
        const std::string expected =
            "an integer power from 0 to " + std::to_string(PolynomialTarget::max_power);
        std::int32_t k = 0;
        const auto* first = text_.data() + pos_;
        const auto res = std::from_chars(first, text_.data() + text_.size(), k);
        if (res.ec != std::errc{} || k < 0 || k > PolynomialTarget::max_power ||
            (res.ptr < text_.data() + text_.size() && (*res.ptr == '.' || *res.ptr == 'e')))
            fail(expected);
        pos_ = static_cast<std::size_t>(res.ptr - text_.data());
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == '^')
            fail("'+', '-', '*' or the end of the factor (powers do not chain: write (y1^2)^2)");
        Poly out{{Exponents{}, 1.0}};
        for (std::int32_t i = 0; i < k; ++i)
            out = multiply(out, base, at);
        return out;
    }

    /// 'y' index at pos_ (pos_ on the 'y'): the field's 0-based index.
    std::int32_t field() {
        const std::size_t at = pos_;
        const std::string expected = "a field y1, y2, ...";
        if (pos_ >= text_.size() || text_[pos_] != 'y')
            fail(expected);
        std::int32_t n = 0;
        const auto* first = text_.data() + pos_ + 1;
        const auto* last = text_.data() + text_.size();
        const auto res = std::from_chars(first, last, n);
        if (res.ec != std::errc{} || first == last || *first < '1' || *first > '9' ||
            n > PolynomialTarget::max_field ||
            (res.ptr < last && std::isalnum(static_cast<unsigned char>(*res.ptr)) != 0))
            fail_at(at, expected + " (an index from 1 to " +
                            std::to_string(PolynomialTarget::max_field) + ")");
        pos_ = static_cast<std::size_t>(res.ptr - text_.data());
        max_field_ = std::max(max_field_, static_cast<int>(n));
        return n - 1;
    }

    static Poly monomial(std::int32_t n, std::int32_t a, double c) {
        Exponents e(static_cast<std::size_t>(n) + 1, 0);
        e.back() = a;
        if (a == 0)
            e.clear();
        return Poly{{std::move(e), c}};
    }

    Poly primary() {
        skip_space();
        if (pos_ >= text_.size())
            fail(std::string(operand));
        const char c = text_[pos_];
        if (c == '(') {
            ++pos_;
            Poly p = sum();
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] != ')')
                fail(after_operand(true));
            ++pos_;
            return p;
        }
        if (c == 'y') {
            const std::int32_t n = field();
            return monomial(n, 1, 1.0);
        }
        if (c == 'h' && text_.substr(pos_).starts_with("he") && pos_ + 2 < text_.size() &&
            text_[pos_ + 2] >= '1' && text_[pos_ + 2] <= '0' + max_hermite &&
            (pos_ + 3 >= text_.size() ||
             std::isalnum(static_cast<unsigned char>(text_[pos_ + 3])) == 0)) {
            const int k = text_[pos_ + 2] - '0';
            const std::string name(text_.substr(pos_, 3));
            pos_ += 3;
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] != '(')
                fail("'(' after " + name);
            ++pos_;
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] != 'y')
                fail("a field y1, y2, ... inside " + name + "( )");
            const std::int32_t n = field();
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] != ')')
                fail("')' closing " + name + "(");
            ++pos_;
            // he_k(y_n) = sum_i c_ki y_n^i, Eq. (13.2).
            Poly p;
            for (int i = 0; i <= k; ++i)
                if (const double ci = hermite_coefficients()[static_cast<std::size_t>(k)]
                                                            [static_cast<std::size_t>(i)];
                    ci != 0.0)
                    add(p, monomial(n, i, ci), 1.0);
            return p;
        }
        if ((c >= '0' && c <= '9') || c == '.') {
            // A decimal number: digits, an optional fraction, an optional exponent.
            std::size_t end = pos_;
            const auto digits = [&] {
                while (end < text_.size() && text_[end] >= '0' && text_[end] <= '9')
                    ++end;
            };
            digits();
            if (end < text_.size() && text_[end] == '.') {
                ++end;
                digits();
            }
            if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
                std::size_t e = end + 1;
                if (e < text_.size() && (text_[e] == '+' || text_[e] == '-'))
                    ++e;
                if (e < text_.size() && text_[e] >= '0' && text_[e] <= '9') {
                    end = e;
                    digits();
                }
            }
            double x = 0.0;
            const auto res = std::from_chars(text_.data() + pos_, text_.data() + end, x);
            if (res.ec != std::errc{} || res.ptr != text_.data() + end || !std::isfinite(x))
                fail("a finite number");
            pos_ = end;
            return Poly{{Exponents{}, x}};
        }
        fail(std::string(operand));
    }
};

/// y^a for a small integer a >= 1 by repeated multiplication.
inline double int_power(double y, std::int32_t a) noexcept {
    double p = y;
    for (std::int32_t i = 1; i < a; ++i)
        p *= y;
    return p;
}

} // namespace

PolynomialTarget PolynomialTarget::parse(std::string_view text) {
    Parser parser(text);
    const Poly p = parser.parse();
    PolynomialTarget out;
    out.text_ = std::string(text);
    out.starts_.push_back(0);
    for (const auto& [e, c] : p) {
        if (c == 0.0)
            continue; // exact cancellation: y1 - y1
        out.coefficients_.push_back(c);
        for (std::size_t n = 0; n < e.size(); ++n)
            if (e[n] > 0) {
                out.factors_.push_back({static_cast<std::int32_t>(n), e[n]});
                out.fields_ = std::max(out.fields_, static_cast<int>(n) + 1);
            }
        out.starts_.push_back(static_cast<std::uint32_t>(out.factors_.size()));
    }
    out.fields_ = std::max(out.fields_, parser.max_field());
    return out;
}

double PolynomialTarget::value(std::span<const double> y) const noexcept {
    // tau = sum_m c_m prod_n y_n^{a_mn}, Eq. (13.1).
    double tau = 0.0;
    for (std::size_t m = 0; m < coefficients_.size(); ++m) {
        double term = coefficients_[m];
        for (std::uint32_t f = starts_[m]; f < starts_[m + 1]; ++f)
            term *= int_power(y[static_cast<std::size_t>(factors_[f].field)], factors_[f].power);
        tau += term;
    }
    return tau;
}

double PolynomialTarget::value_and_gradient(std::span<const double> y,
                                            std::span<double> grad) const noexcept {
    std::fill(grad.begin(), grad.end(), 0.0);
    double tau = 0.0;
    for (std::size_t m = 0; m < coefficients_.size(); ++m) {
        const std::uint32_t begin = starts_[m];
        const std::uint32_t end = starts_[m + 1];
        double term = coefficients_[m];
        for (std::uint32_t f = begin; f < end; ++f)
            term *= int_power(y[static_cast<std::size_t>(factors_[f].field)], factors_[f].power);
        tau += term;
        // d/dy_n of c prod y^a: c a_n y_n^{a_n - 1} prod_{n' != n} y_n'^{a_n'} (no division by
        // y_n, which may be 0).
        for (std::uint32_t f = begin; f < end; ++f) {
            const Factor& df = factors_[f];
            const auto n = static_cast<std::size_t>(df.field);
            double d =
                coefficients_[m] * df.power * (df.power > 1 ? int_power(y[n], df.power - 1) : 1.0);
            for (std::uint32_t g = begin; g < end; ++g)
                if (g != f)
                    d *= int_power(y[static_cast<std::size_t>(factors_[g].field)],
                                   factors_[g].power);
            grad[n] += d;
        }
    }
    return tau;
}

int PolynomialTarget::degree() const noexcept {
    int d = 0;
    for (std::size_t m = 0; m < coefficients_.size(); ++m) {
        int dm = 0;
        for (std::uint32_t f = starts_[m]; f < starts_[m + 1]; ++f)
            dm += factors_[f].power;
        d = std::max(d, dm);
    }
    return d;
}

std::vector<polynomial_averages::Term> PolynomialTarget::terms(int first_field) const {
    // y_n^a as factors of degree <= Polynomial::max_degree each (docs/theory.md Eq. (13.5)).
    std::vector<polynomial_averages::Term> out;
    for (const Monomial& m : monomials()) {
        polynomial_averages::Term t{m.coefficient, {}};
        for (const Factor& f : m.factors)
            for (int left = f.power; left > 0; left -= Polynomial::max_degree) {
                Polynomial power;
                power.c[static_cast<std::size_t>(std::min(left, Polynomial::max_degree))] = 1.0;
                t.factors.push_back({first_field + f.field, power});
            }
        out.push_back(std::move(t));
    }
    return out;
}

std::vector<PolynomialTarget::Monomial> PolynomialTarget::monomials() const {
    std::vector<Monomial> out;
    for (std::size_t m = 0; m < coefficients_.size(); ++m)
        out.push_back({coefficients_[m], std::vector<Factor>(factors_.begin() + starts_[m],
                                                             factors_.begin() + starts_[m + 1])});
    return out;
}

Target parse_target(std::string_view text) {
    if (text == Target::committee_name)
        return {};
    return {PolynomialTarget::parse(text)};
}

} // namespace plateau
