// The target tau(y) of docs/theory.md §13: what the student learns, from the teacher's
// first-layer fields y_n = B_n . xi. The default is the teacher network's committee
// h*(sum_n v*_n g*(y_n)) of Eq. (1); a target may instead be a polynomial of the fields and of
// their normalised Hermite polynomials he_k(y) = He_k(y)/sqrt(k!), written as text:
//     he2(y1)            y1 + y1*y2 + y1*y2*y3            0.5*y1^2 - he4(y2)
// The text is compiled once into a flat list of monomials c prod_n y_n^{a_n} (the power basis,
// like terms merged), which evaluates tau and its gradient in y with no allocation per call.
// The label noise is added by the caller, as for the committee.
#pragma once

#include "models/deep_network.hpp"
#include "models/network.hpp"
#include "models/polynomial_averages.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace plateau {

/// A target text that is not a polynomial of the fields: what() is one line, "at character 5:
/// expected a field y1, y2, ..., found '*'". position() is 1-based (text.size() + 1: the end).
class TargetSyntaxError : public std::invalid_argument {
public:
    TargetSyntaxError(std::size_t position, std::string expected, const std::string& found);
    [[nodiscard]] std::size_t position() const noexcept { return position_; }
    [[nodiscard]] const std::string& expected() const noexcept { return expected_; }

private:
    std::size_t position_;
    std::string expected_;
};

/// A polynomial of the teacher's fields y_1 .. y_M (docs/theory.md §13, Eq. (13.1)).
class PolynomialTarget {
public:
    /// One factor y_{field+1}^power of a monomial (field 0-based, power >= 1).
    struct Factor {
        std::int32_t field = 0;
        std::int32_t power = 1;
        friend bool operator==(const Factor&, const Factor&) = default;
    };
    /// c prod y_n^{a_n}: a monomial of the expansion.
    struct Monomial {
        double coefficient = 0.0;
        std::vector<Factor> factors; ///< by increasing field, each field once
    };

    /// The grammar (whitespace ignored):
    ///   sum     := product (('+' | '-') product)*
    ///   product := signed ('*' signed)*
    ///   signed  := ('+' | '-') signed | power
    ///   power   := primary ('^' integer from 0 to max_power)?
    ///   primary := number | 'y' index | 'he' k '(' 'y' index ')' | '(' sum ')'
    /// with index >= 1 and k = 1..4. No commas, so a list of targets is a sweep. Throws
    /// TargetSyntaxError naming the position and what was expected there.
    [[nodiscard]] static PolynomialTarget parse(std::string_view text);

    static constexpr int max_power = 8;                ///< largest exponent after '^'
    static constexpr int max_degree = 16;              ///< largest total degree of the expansion
    static constexpr int max_monomials = 4096;         ///< largest number of monomials
    static constexpr std::int32_t max_field = 1 << 20; ///< largest index n of y_n

    /// tau = sum_m c_m prod y_n^{a_n}, Eq. (13.1); y holds at least fields() entries.
    [[nodiscard]] double value(std::span<const double> y) const noexcept;
    /// tau and d tau / d y_n into grad (fields() entries at least; entries past the highest
    /// field used are set to 0).
    double value_and_gradient(std::span<const double> y, std::span<double> grad) const noexcept;

    /// The highest field index used, n of y_n (so M >= fields()); 0 for a constant.
    [[nodiscard]] int fields() const noexcept { return fields_; }
    /// The total degree of the expansion (0 for a constant or zero).
    [[nodiscard]] int degree() const noexcept;
    /// The expansion, monomials in a fixed (lexicographic) order.
    [[nodiscard]] std::vector<Monomial> monomials() const;
    /// The expansion as terms of exact Gaussian averages (models/polynomial_averages.hpp):
    /// y_n is the field first_field + n - 1 (first_field = K: the students' fields come first).
    [[nodiscard]] std::vector<polynomial_averages::Term> terms(int first_field) const;
    /// The text it was parsed from.
    [[nodiscard]] const std::string& text() const noexcept { return text_; }

    /// Same text, same polynomial.
    friend bool operator==(const PolynomialTarget& a, const PolynomialTarget& b) noexcept {
        return a.text_ == b.text_;
    }

private:
    std::string text_;
    std::vector<double> coefficients_;  ///< c_m
    std::vector<std::uint32_t> starts_; ///< monomial m's factors: [starts_[m], starts_[m+1])
    std::vector<Factor> factors_;
    int fields_ = 0;
};

/// The target of a run (docs/theory.md §13): the teacher's committee of Eq. (1) (default) or a
/// polynomial of its fields. The one place that turns the teacher's fields into the noiseless
/// label: the trainers, the Gram chain and the observer's Monte-Carlo eps_g call value() (or
/// deep_value() when a network is deeper).
struct Target {
    std::optional<PolynomialTarget> polynomial{}; ///< nullopt: the committee

    [[nodiscard]] bool is_committee() const noexcept { return !polynomial.has_value(); }
    /// "committee" or the polynomial's text: the configuration's value.
    [[nodiscard]] std::string text() const {
        return polynomial ? polynomial->text() : std::string(committee_name);
    }
    /// tau(y) without noise: h*(sum_n v*_n g*(y_n)) (Eq. 1) for the committee of `teacher`
    /// (one hidden layer), else the polynomial (Eq. (13.1); `teacher` and `v_star` unused).
    [[nodiscard]] double value(const NetworkSpec& teacher, std::span<const double> y,
                               std::span<const double> v_star) const noexcept {
        return polynomial ? polynomial->value(y) : forward(teacher, y, v_star).output;
    }

    /// The same when the student or the teacher is deeper (docs/theory.md §12): the committee
    /// down the teacher's layers (Eq. (12.1), deep_forward on `pass`), or the polynomial (a
    /// teacher with one hidden layer, validate()).
    [[nodiscard]] double deep_value(const NetworkSpec& teacher, std::span<const double> y,
                                    const LayerWeights& layers_star, std::span<const double> v_star,
                                    DeepWorkspace& pass) const {
        return polynomial ? polynomial->value(y)
                          : deep_forward(teacher, y, layers_star, v_star, pass).output;
    }

    static constexpr std::string_view committee_name = "committee";
    friend bool operator==(const Target&, const Target&) = default;
};

/// "committee" -> the committee, anything else -> PolynomialTarget::parse (which throws
/// TargetSyntaxError).
[[nodiscard]] Target parse_target(std::string_view text);

} // namespace plateau
