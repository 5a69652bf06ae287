// Exact Gaussian averages of polynomial activations (docs/theory.md §9b).
//
// For zero-mean jointly Gaussian fields u ~ N(0, C) and polynomials p_i, the average
// E[ prod_i p_i(u_{a_i}) ] is a polynomial in the entries of C. It is computed here exactly (up to
// rounding), without quadrature or sampling:
//  * the factors on the same field are multiplied out: one polynomial P_f per distinct field f;
//  * the mixed moments m(k) = E[ prod_f u_f^{k_f} ], 0 <= k_f <= deg P_f, by Isserlis' (Wick's)
//    theorem in its recursive form (Stein's lemma, E[u_i F(u)] = sum_j C_ij E[d_j F(u)]):
//        m(0) = 1,   m(k) = (k_i - 1) C_ii m(k - 2 e_i) + sum_{j != i} k_j C_ij m(k - e_i - e_j)
//    for any i with k_i > 0 (docs/theory.md Eq. (9b.1)); m(k) = 0 when sum_f k_f is odd;
//  * E = sum_k prod_f [x^{k_f}] P_f  m(k).
// The cost is O(r prod_f (deg P_f + 1)) for r distinct fields: 5184 moments for the four-field
// I4 of a degree-8 polynomial, whatever C. C may be singular (any symmetric C: the formula is a
// polynomial in its entries). Rounding: the terms of the sum are added in double precision, so
// the absolute error is ~1e-16 times the sum of their magnitudes (a few 1e-15 of the average's
// scale for he1..he4 at unit variances; tests/test_polynomial_averages.cpp).
//
// The averages I2, I3, I4, J2 of models/gaussian_integrals.hpp for polynomial activations
// (linear, square, he1..he4, poly: as_polynomial, models/activation.hpp), with one activation for
// every field (g = g*) or one per field (a student's g and a teacher's g* that differ). All
// functions are pure and may be called concurrently. An index outside C throws std::out_of_range,
// a non-square C std::invalid_argument.
#pragma once

#include "models/polynomial.hpp"

#include <Eigen/Core>

#include <span>
#include <vector>

namespace plateau::polynomial_averages {

/// One factor p(u_field) of the product.
struct Factor {
    int field = 0;
    Polynomial p{};
};

/// E[ prod_i factors[i].p(u_{factors[i].field}) ] for u ~ N(0, C), exactly (Eq. (9b.1)). The
/// product of no factors is 1.
[[nodiscard]] double average(std::span<const Factor> factors, const Eigen::MatrixXd& C);

/// One term c prod_i factors[i].p(u_{factors[i].field}) of a polynomial of several fields (a
/// monomial of a polynomial target, docs/theory.md §13). No factors: the constant c.
struct Term {
    double coefficient = 0.0;
    std::vector<Factor> factors;
};

/// E[ prod_i factors[i] * sum_t terms[t] ], term by term by Eq. (9b.1) (docs/theory.md §13,
/// Eq. (13.5)).
[[nodiscard]] double average(std::span<const Factor> factors, std::span<const Term> terms,
                             const Eigen::MatrixXd& C);
/// E[ prod_i factors[i] * (sum_t terms[t])^2 ], over the pairs of terms (Eq. (13.5)).
[[nodiscard]] double average_of_square(std::span<const Factor> factors, std::span<const Term> terms,
                                       const Eigen::MatrixXd& C);

/// The averages of docs/theory.md §2 with the polynomial g on every field:
/// <g(u_a) g(u_b)>
[[nodiscard]] double I2(const Polynomial& g, const Eigen::MatrixXd& C, int a, int b);
/// <g'(u_a) u_b g(u_c)>
[[nodiscard]] double I3(const Polynomial& g, const Eigen::MatrixXd& C, int a, int b, int c);
/// <g'(u_a) g'(u_b) g(u_c) g(u_d)>
[[nodiscard]] double I4(const Polynomial& g, const Eigen::MatrixXd& C, int a, int b, int c, int d);
/// <g'(u_a) g'(u_b)>
[[nodiscard]] double J2(const Polynomial& g, const Eigen::MatrixXd& C, int a, int b);

/// The same with the polynomial g[f] on field f (g.size() == C.rows(): students' g, then
/// teachers' g*), for a student and a teacher with different polynomial activations.
[[nodiscard]] double I2(std::span<const Polynomial> g, const Eigen::MatrixXd& C, int a, int b);
[[nodiscard]] double I3(std::span<const Polynomial> g, const Eigen::MatrixXd& C, int a, int b,
                        int c);
[[nodiscard]] double I4(std::span<const Polynomial> g, const Eigen::MatrixXd& C, int a, int b,
                        int c, int d);
[[nodiscard]] double J2(std::span<const Polynomial> g, const Eigen::MatrixXd& C, int a, int b);

} // namespace plateau::polynomial_averages
