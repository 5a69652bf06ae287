// Gaussian averages of the order-parameter theory (docs/theory.md, §2, §3,
// §3b).
//
// The fields u = (x_1..x_K, y_1..y_M) of the students and teachers are zero-mean jointly Gaussian
// with covariance C = [[Q, R], [R^T, T]] (students first). Every average that the ODEs of §3 need
// is one of the four kinds below, evaluated for the hidden-unit activation g of both networks:
//
//   I2(a,b)     = < g(u_a) g(u_b) >
//   I3(a,b,c)   = < g'(u_a) u_b g(u_c) >
//   I4(a,b,c,d) = < g'(u_a) g'(u_b) g(u_c) g(u_d) >
//   J2(a,b)     = < g'(u_a) g'(u_b) >            (label-noise term of dQ/dalpha)
//
// Indices a, b, c, d are rows/columns of C and may coincide; an index outside C throws
// std::out_of_range. C must be symmetric positive semi-definite; singular C (collinear fields,
// students in the teachers' span, zero variances) is fine, and a rounding-level indefinite C is
// read as a nearby PSD one. For relu, g'(0) = 0, so a field of zero variance contributes 0.
// All functions are pure and may be called concurrently.
//
// Supported activations (has_closed_form): erf (g(x) = erf(x/sqrt 2), Saad & Solla 1995), relu
// (Straat & Biehl 2019; its I4 is a one-dimensional quadrature, see gaussian_integrals.cpp) and
// linear (exact). Any other activation makes these functions throw std::invalid_argument.
#pragma once

#include "models/activation.hpp"

#include <Eigen/Dense>

#include <string>

namespace plateau::integrals {

/// True for the activations whose averages are implemented here: erf, relu, linear.
[[nodiscard]] bool has_closed_form(ActivationKind g) noexcept;

/// The one rule for "the Gaussian averages of this student-teacher pair have closed forms":
/// h = h* = identity and g = g* with has_closed_form(g) (docs/theory.md §2, §3b). The observer
/// computes eps_g exactly exactly when this holds, and the ODE theory covers exactly these pairs.
[[nodiscard]] bool has_closed_form(ActivationKind student_g, ActivationKind student_h,
                                   ActivationKind teacher_g, ActivationKind teacher_h) noexcept;

/// The hidden activations with closed forms, as text for messages: "erf, relu, linear".
[[nodiscard]] std::string closed_form_names();

/// <g(u_a) g(u_b)>: docs/theory.md §2 (erf; Saad & Solla 1995), §3b (relu; Straat & Biehl 2019),
/// C_ab (linear, exact).
[[nodiscard]] double I2(ActivationKind g, const Eigen::MatrixXd& C, int a, int b);
/// <g'(u_a) u_b g(u_c)>: docs/theory.md §2 (erf; Saad & Solla 1995), §3b (relu; Straat & Biehl
/// 2019), C_bc (linear, exact).
[[nodiscard]] double I3(ActivationKind g, const Eigen::MatrixXd& C, int a, int b, int c);
/// <g'(u_a) g'(u_b) g(u_c) g(u_d)>: docs/theory.md §2 (erf; Saad & Solla 1995), C_cd (linear,
/// exact); relu (Straat & Biehl 2019 setting, docs/theory.md §3b) has no closed form and is a
/// one-dimensional quadrature with closed-form radial part, accurate to ~1e-12 (see the .cpp).
[[nodiscard]] double I4(ActivationKind g, const Eigen::MatrixXd& C, int a, int b, int c, int d);
/// <g'(u_a) g'(u_b)>: docs/theory.md §2 (erf; Saad & Solla 1995), §3b (relu; Straat & Biehl 2019),
/// 1 (linear, exact).
[[nodiscard]] double J2(ActivationKind g, const Eigen::MatrixXd& C, int a, int b);

/// Generalization error of docs/theory.md §2 for h = identity and the same g in student and
/// teacher: eps_g = 1/2 [ sum_jk v_j v_k I2(j,k) + sum_nm v*_n v*_m I2(n,m) - 2 sum_jn v_j v*_n
/// I2(j,n) ], with Q (K x K), R (K x M), T (M x M), v (K), v_star (M). Throws std::invalid_argument
/// on inconsistent sizes.
[[nodiscard]] double generalization_error(ActivationKind g, const Eigen::MatrixXd& Q,
                                          const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                          const Eigen::VectorXd& v, const Eigen::VectorXd& v_star);

// ---------------------------------------------------------------------------------------------
// The same averages for an Activation (kind and slope gamma): the closed forms above for erf,
// relu and linear; numerical quadrature (docs/theory.md §9) for the others (tanh(gamma x),
// sigmoid). These are what the ODE flow calls.
// ---------------------------------------------------------------------------------------------
[[nodiscard]] double I2(const Activation& g, const Eigen::MatrixXd& C, int a, int b);
[[nodiscard]] double I3(const Activation& g, const Eigen::MatrixXd& C, int a, int b, int c);
[[nodiscard]] double I4(const Activation& g, const Eigen::MatrixXd& C, int a, int b, int c, int d);
[[nodiscard]] double J2(const Activation& g, const Eigen::MatrixXd& C, int a, int b);
/// eps_g of docs/theory.md §2 for h = identity and the hidden activation g in both networks.
[[nodiscard]] double generalization_error(const Activation& g, const Eigen::MatrixXd& Q,
                                          const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                          const Eigen::VectorXd& v, const Eigen::VectorXd& v_star);

/// The field covariance [[Q, R], [R^T, T]] of size K+M, students first. Throws
/// std::invalid_argument on inconsistent sizes.
[[nodiscard]] Eigen::MatrixXd field_covariance(const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                                               const Eigen::MatrixXd& T);

} // namespace plateau::integrals
