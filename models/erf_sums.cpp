// The erf sums of the flow; see erf_sums.hpp. The closed forms are those of docs/theory.md §2
// (Saad & Solla, Phys. Rev. E 52, 4225 (1995)), as in models/gaussian_integrals.cpp; what
// differs from calling erf_I2/I3/I4/J2 once per term is only the order of the work:
//
//  * I3(j, b, u) = (2/pi) L3(j,u)^(-1/2) (C_bu - C_jb C_ju / (1+C_jj)), L3 = (1+C_jj)(1+C_uu) -
//    C_ju^2, so with w_ju = c_u (2/pi) L3(j,u)^(-1/2):
//      s3(j, b) = sum_u w_ju C_bu - C_jb / (1+C_jj) sum_u w_ju C_ju
//    (K (K+M) square roots and a matrix product instead of K (K+M)^2 evaluations).
//  * I4(j, k, u, w) = (4/pi^2) L4^(-1/2) arcsin( L0(u,w) / sqrt(L1(u) L1(w)) ) with (x = C_j.,
//    y = C_k., a_j = 1 + C_jj, a_k = 1 + C_kk)
//      L4      = a_j a_k - C_jk^2                                       (per pair j, k)
//      p_u     = C_jk x_u - a_j y_u,  q_u = C_jk y_u - a_k x_u          (per j, k, u)
//      L1(u)   = L4 (1 + C_uu) + p_u y_u + q_u x_u                      (per j, k, u)
//      L0(u,w) = L4 C_uw + p_u y_w + q_u x_w                            (per j, k, u, w)
//    which is the L0, L1 = L2 of docs/theory.md §2 regrouped; only the arcsin and three
//    multiply-adds remain per quadruple. I4 is symmetric in u <-> w: the double sum is
//    sum_u c_u^2 I4(u,u) + 2 sum_{u<w} c_u c_w I4(u,w), over the fields with c_u != 0.
//  * J2(j, k) = (2/pi) L4^(-1/2), I2(j, u) = (2/pi) arcsin(C_ju / sqrt((1+C_jj)(1+C_uu))).
// Variances enter as max(C_ii, 0) and arcsin arguments are clamped to [-1, 1], as in
// gaussian_integrals.cpp.
#include "models/erf_sums.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace plateau::integrals {

namespace {
constexpr double two_over_pi = 2.0 / std::numbers::pi;
constexpr double four_over_pi2 = 4.0 / (std::numbers::pi * std::numbers::pi);

double clamp1(double x) {
    return std::clamp(x, -1.0, 1.0);
}
} // namespace

void erf_flow_sums(const Eigen::MatrixXd& C, const Eigen::VectorXd& c, int K,
                   const ErfSumsRequest& request, Eigen::MatrixXd& s3, Eigen::MatrixXd& s4,
                   Eigen::MatrixXd& j2, Eigen::VectorXd& s2) {
    const auto P = static_cast<int>(C.rows());
    // 1 + C_ii with a slightly negative (rounding) variance read as zero.
    Eigen::VectorXd one_plus(P);
    for (int i = 0; i < P; ++i)
        one_plus(i) = 1.0 + std::max(C(i, i), 0.0);

    // s3 (docs/theory.md §2, I3): W(j, u) = c_u (2/pi) / sqrt(L3(j, u)).
    Eigen::MatrixXd W(K, P);
    for (int u = 0; u < P; ++u)
        for (int j = 0; j < K; ++j)
            W(j, u) = c(u) != 0.0 ? c(u) * two_over_pi /
                                        std::sqrt(one_plus(j) * one_plus(u) - C(j, u) * C(j, u))
                                  : 0.0;
    s3.noalias() = W * C; // sum_u W(j, u) C(u, b); C is symmetric
    for (int j = 0; j < K; ++j) {
        const double diag = W.row(j).dot(C.row(j)) / one_plus(j);
        s3.row(j) -= diag * C.row(j);
    }

    if (request.s2) { // docs/theory.md §2, I2
        s2.resize(K);
        for (int j = 0; j < K; ++j) {
            double sum = 0.0;
            for (int u = 0; u < P; ++u)
                if (c(u) != 0.0)
                    sum += c(u) * two_over_pi *
                           std::asin(clamp1(C(j, u) / std::sqrt(one_plus(j) * one_plus(u))));
            s2(j) = sum;
        }
    }

    if (!request.s4 && !request.j2)
        return;
    // The fields with c_u != 0, their coefficients, 1 + C_uu, and C among them (contiguous).
    std::vector<int> active;
    active.reserve(static_cast<std::size_t>(P));
    for (int u = 0; u < P; ++u)
        if (c(u) != 0.0)
            active.push_back(u);
    const auto n = static_cast<int>(active.size());
    Eigen::MatrixXd Ca(n, n);
    Eigen::VectorXd ca(n), one_plus_a(n);
    for (int i = 0; i < n; ++i) {
        const auto ui = static_cast<std::size_t>(i);
        ca(i) = c(active[ui]);
        one_plus_a(i) = one_plus(active[ui]);
        for (int l = 0; l < n; ++l)
            Ca(i, l) = C(active[ui], active[static_cast<std::size_t>(l)]);
    }
    Eigen::VectorXd x(n), y(n), p(n), q(n), r(n);
    if (request.s4)
        s4.resize(K, K);
    if (request.j2)
        j2.resize(K, K);
    for (int j = 0; j < K; ++j)
        for (int k = j; k < K; ++k) {
            const double cjk = C(j, k);
            const double aj = one_plus(j), ak = one_plus(k);
            const double lambda4 = aj * ak - cjk * cjk;
            const double inv_sqrt_l4 = 1.0 / std::sqrt(lambda4);
            if (request.j2)
                j2(j, k) = j2(k, j) = two_over_pi * inv_sqrt_l4;
            if (!request.s4)
                continue;
            for (int i = 0; i < n; ++i) {
                const auto ui = static_cast<std::size_t>(i);
                x(i) = C(j, active[ui]);
                y(i) = C(k, active[ui]);
                p(i) = cjk * x(i) - aj * y(i);
                q(i) = cjk * y(i) - ak * x(i);
                r(i) = 1.0 / std::sqrt(lambda4 * one_plus_a(i) + p(i) * y(i) + q(i) * x(i));
            }
            double sum = 0.0;
            for (int i = 0; i < n; ++i) {
                const double pi_ = p(i), qi = q(i), ri = r(i);
                double off = 0.0;
                for (int l = i + 1; l < n; ++l) {
                    const double l0 = lambda4 * Ca(i, l) + pi_ * y(l) + qi * x(l);
                    off += ca(l) * std::asin(clamp1(l0 * ri * r(l)));
                }
                const double l0_diag = lambda4 * Ca(i, i) + pi_ * y(i) + qi * x(i);
                sum += ca(i) * (ca(i) * std::asin(clamp1(l0_diag * ri * ri)) + 2.0 * off);
            }
            s4(j, k) = s4(k, j) = four_over_pi2 * inv_sqrt_l4 * sum;
        }
}

} // namespace plateau::integrals
