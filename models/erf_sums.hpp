// The sums of erf Gaussian averages that the ODE flow of docs/theory.md §3 needs, evaluated
// together instead of one average at a time (engine/theory/integral_flow.cpp calls them for g =
// erf).
//
// With the fields u = (x_1..x_K, y_1..y_M), covariance C = [[Q, R], [R^T, T]] and coefficients
// c_u of tau - sigma = sum_u c_u g(u_u) (c = (-v, +v*)), the flow needs, for students j, k and
// every field b:
//   s3(j, b)   = sum_u c_u I3(j, b, u)
//   s4(j, k)   = sum_{u,w} c_u c_w I4(j, k, u, w)
//   j2(j, k)   = J2(j, k)
//   s2(j)      = sum_u c_u I2(j, u)
// with I2, I3, I4, J2 the erf averages of models/gaussian_integrals.hpp (docs/theory.md §2).
// They agree with the sums of those functions up to rounding (~1e-13 relative to the largest
// term): the closed forms are the same, but the factors that depend only on (j, k), (j, u) or
// (j, k, u) are computed once instead of once per term (see erf_sums.cpp). Terms with c_u = 0
// are skipped, as the generic loop does.
#pragma once

#include <Eigen/Core>

namespace plateau::integrals {

/// What erf_flow_sums computes; each part only when asked for.
struct ErfSumsRequest {
    bool s4 = true;  ///< s4 and j2 (the eta^2 term of dQ)
    bool j2 = false; ///< j2 (the label-noise term)
    bool s2 = false; ///< s2 (the learned second layer)
};

/// arcsin of every entry of x (|x| <= 1), in place, vectorized (Eigen array operations): the
/// rational minimax approximation of fdlibm's e_asin.c (Sun Microsystems 1993) on |x| < 1/2 and
/// arcsin|x| = pi/2 - 2 arcsin sqrt((1 - |x|)/2) above; within ~2 ulp of std::asin.
void asin_in_place(Eigen::Ref<Eigen::ArrayXd> x);

/// The sums above, for the first K fields of C being the students. C is (K+M) x (K+M), c has
/// K+M entries. Fills s3 (K x (K+M)); s4, j2 (K x K, symmetric) and s2 (K) when requested.
void erf_flow_sums(const Eigen::MatrixXd& C, const Eigen::VectorXd& c, int K,
                   const ErfSumsRequest& request, Eigen::MatrixXd& s3, Eigen::MatrixXd& s4,
                   Eigen::MatrixXd& j2, Eigen::VectorXd& s2);

} // namespace plateau::integrals
