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
//    sum_u c_u^2 I4(u,u) + 2 sum_{u<w} c_u c_w I4(u,w), over the fields with c_u != 0. The
//    arguments of one pair (j, k) are collected in one array and their arcsines taken together
//    (asin_in_place, vectorized): the arcsines are most of the cost.
//  * J2(j, k) = (2/pi) L4^(-1/2), I2(j, u) = (2/pi) arcsin(C_ju / sqrt((1+C_jj)(1+C_uu))).
// Variances enter as max(C_ii, 0) and arcsin arguments are clamped to [-1, 1], as in
// gaussian_integrals.cpp.
#include "models/erf_sums.hpp"

#include "models/erf_constants.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace plateau::integrals {

namespace {
constexpr double four_over_pi2 = 4.0 / (std::numbers::pi * std::numbers::pi);

// fdlibm e_asin.c: (arcsin(x) - x) / x^3 = p(t) / q(t), t = x^2, minimax on |x| <= 1/2.
constexpr double pS0 = 1.66666666666666657415e-01, pS1 = -3.25565818622400915405e-01,
                 pS2 = 2.01212532134862925881e-01, pS3 = -4.00555345006794114027e-02,
                 pS4 = 7.91534994289814532176e-04, pS5 = 3.47933107596021167570e-05;
constexpr double qS1 = -2.40339491173441421878e+00, qS2 = 2.02094576023350569471e+00,
                 qS3 = -6.88283971605453293030e-01, qS4 = 7.70381505559019352791e-02;
constexpr double pio2_hi = 1.57079632679489655800e+00, pio2_lo = 6.12323399573676603587e-17;
} // namespace

void asin_in_place(Eigen::Ref<Eigen::ArrayXd> x) {
    // |x| < 1/2: arcsin|x| = |x| + |x| R(x^2); |x| >= 1/2: with t = (1 - |x|)/2, s = sqrt(t),
    // arcsin|x| = pi/2 - 2 (s + s R(t)). Both branches are evaluated on every entry (no branch
    // in the vector loop) and selected; the sign is restored at the end.
    const Eigen::Index n = x.size();
    Eigen::ArrayXd t(n), r(n);
    const auto ax = x.abs();
    t = (ax < 0.5).select(x.square(), 0.5 * (1.0 - ax));
    r = t * (pS0 + t * (pS1 + t * (pS2 + t * (pS3 + t * (pS4 + t * pS5))))) /
        (1.0 + t * (qS1 + t * (qS2 + t * (qS3 + t * qS4))));
    const auto s = t.sqrt();
    t = (ax < 0.5).select(ax + ax * r, pio2_hi - (2.0 * (s + s * r) - pio2_lo));
    x = (x < 0.0).select(-t, t);
}

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
    Eigen::ArrayXd x(n), y(n), p(n), q(n), r(n);
    // The pairs u <= w of active fields, row by row, and their weights c_u c_w (2 c_u c_w off
    // the diagonal).
    const Eigen::Index pairs = static_cast<Eigen::Index>(n) * (n + 1) / 2;
    Eigen::ArrayXd weight(pairs), arg(pairs);
    {
        Eigen::Index at = 0;
        for (int i = 0; i < n; ++i)
            for (int l = i; l < n; ++l)
                weight(at++) = (i == l ? 1.0 : 2.0) * ca(i) * ca(l);
    }
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
            }
            p = cjk * x - aj * y;
            q = cjk * y - ak * x;
            r = 1.0 / (lambda4 * one_plus_a.array() + p * y + q * x).sqrt();
            // arg(u, w) = L0(u, w) / sqrt(L1(u) L1(w)) for u <= w, clamped to [-1, 1] (C is
            // symmetric: column i of Ca is row i)
            Eigen::Index at = 0;
            for (int i = 0; i < n; ++i) {
                const Eigen::Index len = n - i;
                arg.segment(at, len) = ((lambda4 * Ca.col(i).segment(i, len).array() +
                                         p(i) * y.segment(i, len) + q(i) * x.segment(i, len)) *
                                        (r(i) * r.segment(i, len)))
                                           .max(-1.0)
                                           .min(1.0);
                at += len;
            }
            asin_in_place(arg);
            const double sum = (weight * arg).sum();
            s4(j, k) = s4(k, j) = four_over_pi2 * inv_sqrt_l4 * sum;
        }
}

} // namespace plateau::integrals
