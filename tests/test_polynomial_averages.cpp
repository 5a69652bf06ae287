// Polynomial activations (he1..he4, poly; models/activations/) and the exact Gaussian averages of
// polynomials (models/polynomial_averages.hpp, docs/theory.md §9b): against Mehler's formula,
// against an independent tensor Gauss-Hermite rule on random covariances, against the production
// quadrature, and against Monte Carlo for a student and a teacher with different polynomials.
#include "models/polynomial_averages.hpp"

#include "engine/core/errors.hpp"
#include "engine/core/run_params.hpp"
#include "models/activation.hpp"
#include "models/gaussian_integrals.hpp"
#include "models/quadrature.hpp"

#include "stat_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>

#include <array>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

using plateau::Activation;
using plateau::ActivationKind;
using plateau::Polynomial;
namespace pa = plateau::polynomial_averages;
namespace gi = plateau::integrals;
namespace quad = plateau::quadrature;

constexpr std::array hermite_kinds{ActivationKind::he1, ActivationKind::he2, ActivationKind::he3,
                                   ActivationKind::he4};

/// Covariance of n fields from D-dimensional random vectors of norm ~scale (D < n: singular).
Eigen::MatrixXd random_covariance(std::mt19937_64& rng, int n, int D, double scale) {
    std::normal_distribution<double> normal;
    Eigen::MatrixXd W(n, D);
    for (int a = 0; a < n; ++a)
        for (int i = 0; i < D; ++i)
            W(a, i) = scale * normal(rng) / std::sqrt(static_cast<double>(D));
    return W * W.transpose();
}

/// p with |coefficients|.
Polynomial absolute(const Polynomial& p) {
    Polynomial out;
    for (std::size_t k = 0; k < p.c.size(); ++k)
        out.c[k] = std::abs(p.c[k]);
    return out;
}

Polynomial random_polynomial(std::mt19937_64& rng, int degree) {
    std::normal_distribution<double> normal;
    Polynomial p;
    for (int k = 0; k <= degree; ++k)
        p.c[static_cast<std::size_t>(k)] = normal(rng);
    return p;
}

/// The n-point Gauss-Hermite rule for N(0, 1) by Golub-Welsch (an implementation independent of
/// models/quadrature.cpp): exact for polynomials of degree <= 2n - 1.
struct Rule {
    std::vector<long double> x, w;
};
Rule gauss_hermite(int n) {
    Eigen::MatrixXd J = Eigen::MatrixXd::Zero(n, n);
    for (int k = 1; k < n; ++k)
        J(k, k - 1) = J(k - 1, k) = std::sqrt(static_cast<double>(k));
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(J);
    Rule r;
    for (int i = 0; i < n; ++i) {
        r.x.push_back(static_cast<long double>(es.eigenvalues()(i)));
        const double v = es.eigenvectors()(0, i);
        r.w.push_back(static_cast<long double>(v) * static_cast<long double>(v));
    }
    return r;
}

/// E[prod_i f_i(u_{a_i})] by the tensor Gauss-Hermite rule over every field of C (u = S z with S
/// the symmetric square root of C), summed in long double: exact for polynomials up to rounding
/// when 2n - 1 >= the total degree. With `magnitude`, the same rule for prod_i |f_i|(|u_{a_i}|)
/// (|f| with |coefficients|): a scale bounding the magnitude of the average's terms.
long double tensor_reference(const std::vector<pa::Factor>& factors, const Eigen::MatrixXd& C,
                             bool magnitude = false) {
    const auto dim = static_cast<int>(C.rows());
    int degree = 0;
    for (const auto& f : factors)
        degree += f.p.degree();
    const Rule r = gauss_hermite(degree / 2 + 1);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(C);
    const Eigen::MatrixXd S = es.eigenvectors() *
                              es.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal() *
                              es.eigenvectors().transpose();
    const auto n = static_cast<int>(r.x.size());
    std::vector<int> idx(static_cast<std::size_t>(dim), 0);
    long double sum = 0.0L;
    Eigen::VectorXd z(dim);
    while (true) {
        long double w = 1.0L;
        for (int d = 0; d < dim; ++d) {
            const auto i = static_cast<std::size_t>(idx[static_cast<std::size_t>(d)]);
            z(d) = static_cast<double>(r.x[i]);
            w *= r.w[i];
        }
        const Eigen::VectorXd u = S * z;
        long double f = w;
        for (const auto& fac : factors)
            f *= static_cast<long double>(magnitude ? absolute(fac.p).value(std::abs(u(fac.field)))
                                                    : fac.p.value(u(fac.field)));
        sum += f;
        int d = 0;
        while (d < dim && ++idx[static_cast<std::size_t>(d)] == n)
            idx[static_cast<std::size_t>(d++)] = 0;
        if (d == dim)
            break;
    }
    return sum;
}

constexpr std::array<std::array<int, 4>, 8> polynomial_quads{{{0, 1, 2, 3},
                                                              {2, 3, 0, 1},
                                                              {0, 0, 1, 2},
                                                              {1, 2, 3, 3},
                                                              {0, 0, 2, 2},
                                                              {1, 1, 1, 1},
                                                              {0, 1, 1, 1},
                                                              {2, 0, 1, 2}}};

} // namespace

TEST_CASE("polynomials: Horner, slope, derivative and the Hermite recurrence", "[polynomial]") {
    // He_4 = x^4 - 6x^2 + 3
    const Polynomial he4 = plateau::hermite(4);
    CHECK(he4 == Polynomial{{3.0, 0.0, -6.0, 0.0, 1.0}});
    CHECK(he4.degree() == 4);
    CHECK(plateau::hermite(0) == Polynomial{{1.0}});
    CHECK(Polynomial{}.degree() == 0);
    CHECK(Polynomial{}.is_zero());
    // He_k' = k He_(k-1)
    for (int k = 1; k <= Polynomial::max_degree; ++k)
        CHECK(plateau::hermite(k).derivative() == plateau::hermite(k - 1, k));
    for (const double x : {-1.7, 0.0, 0.4, 2.3}) {
        CHECK(he4.value(x) == Approx(((x * x - 6.0) * x * x + 3.0)).epsilon(1e-15));
        CHECK(he4.slope(x) == Approx(4.0 * x * x * x - 12.0 * x).margin(1e-14));
        CHECK(he4.slope(x) == he4.derivative().value(x));
    }
}

TEST_CASE("he1..he4: value and derivative are their polynomial's, normalised", "[polynomial]") {
    double factorial = 1.0;
    for (std::size_t k = 0; k < hermite_kinds.size(); ++k) {
        const Activation g{hermite_kinds[k]};
        factorial *= static_cast<double>(k + 1);
        const auto p = plateau::as_polynomial(g);
        REQUIRE(p.has_value());
        CHECK(p->degree() == static_cast<int>(k) + 1);
        for (int j = 0; j <= Polynomial::max_degree; ++j)
            CHECK(p->c[static_cast<std::size_t>(j)] ==
                  Approx(plateau::hermite(static_cast<int>(k) + 1).c[static_cast<std::size_t>(j)] /
                         std::sqrt(factorial))
                      .margin(1e-16));
        for (const double x : {-2.2, -0.3, 0.0, 0.8, 1.9}) {
            INFO(name(g.kind) << " at " << x);
            CHECK(g.value(x) == Approx(p->value(x)).epsilon(1e-14).margin(1e-15));
            CHECK(g.derivative(x) == Approx(p->slope(x)).epsilon(1e-14).margin(1e-15));
        }
    }
    // poly carries its coefficients; the other kinds have none.
    const Activation poly = plateau::typical_activation(ActivationKind::poly);
    CHECK(poly.value(2.0) == 1.0 - 2.0);
    CHECK(poly.derivative(2.0) == -2.0);
    CHECK(plateau::as_polynomial(poly) == plateau::poly_example_coefficients);
    CHECK_FALSE(plateau::as_polynomial(Activation{ActivationKind::tanh}).has_value());
    CHECK(plateau::as_polynomial(Activation{ActivationKind::square}) ==
          Polynomial{{0.0, 0.0, 1.0}});
}

TEST_CASE("poly's configuration text parses, prints canonically and refuses the rest",
          "[polynomial][config]") {
    const auto g = plateau::parse_hidden_activation("poly:1.0:0:-0.50:0");
    REQUIRE(g.has_value());
    CHECK(g->kind == ActivationKind::poly);
    CHECK(g->coefficients == Polynomial{{1.0, 0.0, -0.5}});
    CHECK(plateau::hidden_activation_text(*g) == "poly:1:0:-0.5");
    CHECK(plateau::hidden_activation_text(plateau::typical_activation(ActivationKind::poly)) ==
          plateau::poly_example);
    CHECK(plateau::parse_hidden_activation("poly:0:0:0:0:0:0:0:0:2")->coefficients.degree() == 8);
    CHECK(plateau::parse_hidden_activation("he3") == Activation{ActivationKind::he3});
    CHECK(plateau::parse_hidden_activation("identity") == Activation{ActivationKind::linear});
    for (const char* bad : {"poly", "poly:", "poly:1:", "poly::1", "poly:0:0", "poly:1:nan",
                            "poly:1:inf", "poly:1:x", "poly: 1", "poly:+1", "poly:1,2",
                            "poly:1:2:3:4:5:6:7:8:9:10", "polynomial", "he5", "poly1"}) {
        INFO(bad);
        CHECK_FALSE(plateau::parse_hidden_activation(bad).has_value());
    }
}

TEST_CASE("validate: poly needs finite coefficients, not all zero, and the other kinds none",
          "[polynomial][config]") {
    plateau::RunParams p;
    p.model.teacher.g = plateau::typical_activation(ActivationKind::poly);
    CHECK_NOTHROW(plateau::validate(p));
    p.model.teacher.g.coefficients = Polynomial{};
    CHECK_THROWS_WITH(plateau::validate(p),
                      "invalid value 'poly:0' for 'teacher-activation': allowed is " +
                          std::string(plateau::poly_form));
    p.model.teacher.g.coefficients.c[2] = std::nan("");
    CHECK_THROWS_AS(plateau::validate(p), plateau::ConfigError);
    p.model.teacher.g = Activation{ActivationKind::erf};
    p.model.student.g = Activation{ActivationKind::he2, 1.0, Polynomial{{0.0, 1.0}}};
    CHECK_THROWS_WITH(plateau::validate(p), "invalid value 'he2:0:1' for 'activation': allowed is "
                                            "he2 without coefficients (only poly has them)");
}

// Mehler's formula: for unit variances and correlation rho, <he_j(u) he_k(w)> = delta_jk rho^k;
// with variances s, t the scaled fields give <He_j(u) He_k(w)> by Isserlis directly, so this
// checks the normalisation of he1..he4 and the recursion of Eq. (9b.1) independently.
TEST_CASE("polynomial averages: Mehler's formula for he1..he4", "[polynomial]") {
    for (const double rho : {-0.83, -0.2, 0.0, 0.37, 0.91, 1.0}) {
        Eigen::MatrixXd C(2, 2);
        C << 1.0, rho, rho, 1.0;
        for (const auto kj : hermite_kinds)
            for (const auto kk : hermite_kinds) {
                const Polynomial pj = *plateau::as_polynomial(Activation{kj});
                const Polynomial pk = *plateau::as_polynomial(Activation{kk});
                const std::array<pa::Factor, 2> f{{{0, pj}, {1, pk}}};
                const double expected = kj == kk ? std::pow(rho, pk.degree()) : 0.0;
                INFO(name(kj) << " " << name(kk) << " rho " << rho);
                CHECK(pa::average(f, C) == Approx(expected).margin(1e-14));
            }
    }
}

TEST_CASE("polynomial averages: exact against a tensor Gauss-Hermite rule on random covariances",
          "[polynomial]") {
    std::mt19937_64 rng(20261206);
    double worst = 0.0;
    int compared = 0;
    // 8 generic and 4 singular covariances of 4 fields, variances ~0.25 to ~4, random
    // polynomials of degree 1 to 4 (all four averages, every field its own polynomial).
    for (int t = 0; t < 12; ++t) {
        const Eigen::MatrixXd C =
            random_covariance(rng, 4, t < 8 ? 6 : 2 + t % 2, 0.5 + 0.2 * static_cast<double>(t));
        std::vector<Polynomial> g;
        for (int f = 0; f < 4; ++f)
            g.push_back(random_polynomial(rng, 1 + (t + f) % 4));
        const auto check = [&](const std::vector<pa::Factor>& factors, double exact) {
            const auto reference = static_cast<double>(tensor_reference(factors, C));
            const auto scale = static_cast<double>(tensor_reference(factors, C, true));
            worst = std::max(worst, std::abs(exact - reference) / std::max(scale, 1e-300));
            ++compared;
        };
        const Polynomial x{{0.0, 1.0}};
        for (const auto& [a, b, c, d] : polynomial_quads) {
            const auto at = [&](int i) {
                return g[static_cast<std::size_t>(i)];
            };
            check({{a, at(a)}, {b, at(b)}}, pa::I2(g, C, a, b));
            check({{a, at(a).derivative()}, {b, x}, {c, at(c)}}, pa::I3(g, C, a, b, c));
            check({{a, at(a).derivative()}, {b, at(b).derivative()}, {c, at(c)}, {d, at(d)}},
                  pa::I4(g, C, a, b, c, d));
            check({{a, at(a).derivative()}, {b, at(b).derivative()}}, pa::J2(g, C, a, b));
        }
    }
    INFO("largest |exact - tensor rule| / scale over " << compared << " averages: " << worst);
    CHECK(compared == 12 * 8 * 4);
    CHECK(worst < 1e-13);
}

TEST_CASE("polynomial averages: the theory's averages of he1..he4 and poly equal the quadrature's",
          "[polynomial]") {
    std::mt19937_64 rng(7);
    double worst = 0.0;
    std::vector<Activation> kinds;
    for (const auto k : hermite_kinds)
        kinds.emplace_back(k);
    kinds.emplace_back(ActivationKind::poly, 1.0, random_polynomial(rng, Polynomial::max_degree));
    kinds.emplace_back(ActivationKind::square);
    for (int t = 0; t < 6; ++t) {
        const Eigen::MatrixXd C = random_covariance(rng, 4, t < 4 ? 6 : 2, 0.6 + 0.1 * t);
        for (const Activation& g : kinds) {
            const Polynomial p = *plateau::as_polynomial(g);
            for (const auto& [a, b, c, d] : polynomial_quads) {
                // gaussian_integrals routes every polynomial activation to the exact averages
                CHECK(gi::I4(g, C, a, b, c, d) == pa::I4(p, C, a, b, c, d));
                const auto rel = [&](double q, double e) {
                    worst = std::max(worst, std::abs(q - e) / std::max(std::abs(e), 1.0));
                };
                rel(quad::I2(g, C, a, b), gi::I2(g, C, a, b));
                rel(quad::I3(g, C, a, b, c), gi::I3(g, C, a, b, c));
                rel(quad::J2(g, C, a, b), gi::J2(g, C, a, b));
                if (g.kind != ActivationKind::poly) // degree 8: 16^4 nodes, too slow here
                    rel(quad::I4(g, C, a, b, c, d), gi::I4(g, C, a, b, c, d));
            }
        }
    }
    INFO("largest relative difference to the quadrature: " << worst);
    CHECK(worst < 1e-10);
}

TEST_CASE("polynomial averages: a student and a teacher with different polynomials against Monte "
          "Carlo",
          "[polynomial]") {
    // K = 2 students with poly:0.2:1:0.5, M = 2 teachers with he3: every average within 5
    // standard errors of 10^6 samples (fixed seed), and each far from 0 (so that the comparison
    // has power: a polynomial of one parity would make some of them vanish).
    std::mt19937_64 rng(11);
    const Eigen::MatrixXd C = random_covariance(rng, 4, 5, 1.0);
    const Polynomial p{{0.2, 1.0, 0.5}};
    const Polynomial he3 = *plateau::as_polynomial(Activation{ActivationKind::he3});
    const std::vector<Polynomial> g{p, p, he3, he3};
    const Eigen::LLT<Eigen::MatrixXd> llt(C);
    REQUIRE(llt.info() == Eigen::Success);
    const Eigen::MatrixXd L = llt.matrixL();
    constexpr int samples = 1000000;
    std::normal_distribution<double> normal;
    std::array<plateau::test::Stat, 4> stat{};
    Eigen::VectorXd z(4);
    for (int s = 0; s < samples; ++s) {
        for (int i = 0; i < 4; ++i)
            z(i) = normal(rng);
        const Eigen::VectorXd u = L * z;
        const auto G = [&](int i) {
            return g[static_cast<std::size_t>(i)].value(u(i));
        };
        const auto D = [&](int i) {
            return g[static_cast<std::size_t>(i)].slope(u(i));
        };
        stat[0].add(G(0) * G(2));               // I2(0, 2)
        stat[1].add(D(3) * u(0) * G(1));        // I3(3, 0, 1)
        stat[2].add(D(0) * D(2) * G(1) * G(3)); // I4(0, 2, 1, 3)
        stat[3].add(D(1) * D(3));               // J2(1, 3)
    }
    const std::array<double, 4> exact{pa::I2(g, C, 0, 2), pa::I3(g, C, 3, 0, 1),
                                      pa::I4(g, C, 0, 2, 1, 3), pa::J2(g, C, 1, 3)};
    for (std::size_t i = 0; i < 4; ++i) {
        INFO("average " << i << ": exact " << exact[i] << ", Monte Carlo " << stat[i].mean()
                        << " +- " << stat[i].standard_error());
        CHECK(std::abs(exact[i] - stat[i].mean()) < 5.0 * stat[i].standard_error());
        CHECK(std::abs(exact[i]) > 10.0 * stat[i].standard_error());
    }
}

TEST_CASE("polynomial averages: singular covariances, constants and bad indices", "[polynomial]") {
    // u_1 = 2 u_0 exactly: <u_0^2 u_1^2> = 4 <u_0^4> = 12 C_00^2
    Eigen::MatrixXd C(2, 2);
    C << 0.5, 1.0, 1.0, 2.0;
    const Polynomial sq{{0.0, 0.0, 1.0}};
    CHECK(pa::I2(sq, C, 0, 1) == Approx(12.0 * 0.25).epsilon(1e-15));
    const std::array<pa::Factor, 2> constants{{{0, Polynomial{{3.0}}}, {1, Polynomial{{-2.0}}}}};
    CHECK(pa::average(constants, C) == -6.0);
    CHECK(pa::average({}, C) == 1.0);
    CHECK_THROWS_AS(pa::I2(sq, C, 0, 2), std::out_of_range);
    CHECK_THROWS_AS(pa::I2(sq, Eigen::MatrixXd(2, 3), 0, 1), std::invalid_argument);
    const std::vector<Polynomial> one{sq};
    CHECK_THROWS_AS(pa::I2(one, C, 0, 1), std::invalid_argument);
}
