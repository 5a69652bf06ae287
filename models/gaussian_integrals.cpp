// Gaussian averages of the order-parameter theory; see gaussian_integrals.hpp and docs/theory.md.
#include "models/gaussian_integrals.hpp"

#include "models/erf_constants.hpp"
#include "models/polynomial_averages.hpp"
#include "models/quadrature.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace plateau::integrals {
namespace {

constexpr double pi = std::numbers::pi;
constexpr double inv_two_pi = 1.0 / (2.0 * pi);

[[noreturn]] void throw_no_closed_form(ActivationKind g) {
    throw std::invalid_argument(
        "plateau::integrals: activation '" + std::string(name(g)) +
        "' has no closed-form Gaussian averages (supported: " + closed_form_names() + ")");
}

void check_indices(const Eigen::MatrixXd& C, std::initializer_list<int> idx) {
    if (C.rows() != C.cols())
        throw std::invalid_argument("plateau::integrals: covariance matrix must be square");
    for (const int i : idx)
        if (i < 0 || i >= C.rows())
            throw std::out_of_range("plateau::integrals: index " + std::to_string(i) +
                                    " outside a covariance matrix of size " +
                                    std::to_string(C.rows()));
}

/// Diagonal entry, with a slightly negative (rounding) variance read as zero.
double var(const Eigen::MatrixXd& C, int i) {
    return std::max(C(i, i), 0.0);
}

// ---------------------------------------------------------------------------------------------
// erf: g(x) = erf(x/sqrt 2), g'(x) = sqrt(2/pi) exp(-x^2/2). docs/theory.md §2; Saad & Solla,
// Phys. Rev. E 52, 4225 (1995).
// ---------------------------------------------------------------------------------------------

// docs/theory.md §2: I2 = (2/pi) arcsin( C_ab / sqrt((1+C_aa)(1+C_bb)) ).
double erf_I2(const Eigen::MatrixXd& C, int a, int b) {
    const double caa = var(C, a), cbb = var(C, b);
    return two_over_pi * std::asin(clamp1(C(a, b) / std::sqrt((1.0 + caa) * (1.0 + cbb))));
}

// docs/theory.md §2: I3 = (2/pi) (1/sqrt(L3)) (C_bc (1+C_aa) - C_ab C_ac) / (1+C_aa),
// L3 = (1+C_aa)(1+C_cc) - C_ac^2.
double erf_I3(const Eigen::MatrixXd& C, int a, int b, int c) {
    const double caa = var(C, a), ccc = var(C, c);
    const double cab = C(a, b), cac = C(a, c), cbc = C(b, c);
    const double lambda3 = (1.0 + caa) * (1.0 + ccc) - cac * cac;
    return two_over_pi / std::sqrt(lambda3) * (cbc * (1.0 + caa) - cab * cac) / (1.0 + caa);
}

// docs/theory.md §2: I4 = (4/pi^2) (1/sqrt(L4)) arcsin( L0 / sqrt(L1 L2) ) with L0, L1, L2, L4 as
// written there.
double erf_I4(const Eigen::MatrixXd& C, int a, int b, int c, int d) {
    const double caa = var(C, a), cbb = var(C, b), ccc = var(C, c), cdd = var(C, d);
    const double cab = C(a, b), cac = C(a, c), cad = C(a, d);
    const double cbc = C(b, c), cbd = C(b, d), ccd = C(c, d);
    const double lambda4 = (1.0 + caa) * (1.0 + cbb) - cab * cab;
    const double lambda0 = lambda4 * ccd - cbc * cbd * (1.0 + caa) - cac * cad * (1.0 + cbb) +
                           cab * cac * cbd + cab * cad * cbc;
    const double lambda1 = lambda4 * (1.0 + ccc) - cbc * cbc * (1.0 + caa) -
                           cac * cac * (1.0 + cbb) + 2.0 * cab * cac * cbc;
    const double lambda2 = lambda4 * (1.0 + cdd) - cbd * cbd * (1.0 + caa) -
                           cad * cad * (1.0 + cbb) + 2.0 * cab * cad * cbd;
    return 4.0 / (pi * pi) / std::sqrt(lambda4) *
           std::asin(clamp1(lambda0 / std::sqrt(lambda1 * lambda2)));
}

// docs/theory.md §2: <g'(u_a) g'(u_b)> = (2/pi) / sqrt((1+C_aa)(1+C_bb) - C_ab^2).
double erf_J2(const Eigen::MatrixXd& C, int a, int b) {
    const double caa = var(C, a), cbb = var(C, b), cab = C(a, b);
    return two_over_pi / std::sqrt((1.0 + caa) * (1.0 + cbb) - cab * cab);
}

// ---------------------------------------------------------------------------------------------
// ReLU: g(x) = max(0, x), g'(x) = 1[x > 0] (so g'(0) = 0: a unit with zero variance contributes
// nothing). docs/theory.md §3b; Straat & Biehl, ESANN 2019 (arXiv:1903.07378).
// All formulas are written through the clamped correlation r, so |r| = 1 (collinear fields) and
// zero variances are handled without division by zero.
// ---------------------------------------------------------------------------------------------

// docs/theory.md §3b: I2 = (1/2pi) [ sqrt(C_aa C_bb - C_ab^2) + C_ab (pi - arccos r_ab) ];
// diagonal C_aa/2.
double relu_I2(const Eigen::MatrixXd& C, int a, int b) {
    const double caa = var(C, a), cbb = var(C, b);
    if (caa <= 0.0 || cbb <= 0.0)
        return 0.0;
    if (a == b)
        return 0.5 * caa;
    const double s = std::sqrt(caa) * std::sqrt(cbb);
    const double r = clamp1(C(a, b) / s);
    return inv_two_pi * s * (std::sqrt((1.0 - r) * (1.0 + r)) + r * (pi - std::acos(r)));
}

// docs/theory.md §3b: I3 = p I2(a,c) + q C_cc (pi - arccos r + r sqrt(1-r^2))/(2pi), r = r_ac, with
// (p, q) the regression of u_b on (u_a, u_c). Eliminating (p, q) gives the equivalent form
//   I3 = (1/2pi) [ C_ab sqrt(C_aa C_cc - C_ac^2) / C_aa + C_bc (pi - arccos r_ac) ],
// which needs no 2x2 solve and stays valid when u_a and u_c are collinear (e.g. a == c, where it
// gives C_ab / 2). Derivation: write u_c = (C_ac/C_aa) u_a + w with w independent of u_a and use
// Stein's lemma E[w f(w)] = Var(w) E[f'(w)] on the w-part.
double relu_I3(const Eigen::MatrixXd& C, int a, int b, int c) {
    const double caa = var(C, a), ccc = var(C, c);
    if (caa <= 0.0 || ccc <= 0.0)
        return 0.0;
    const double r = a == c ? 1.0 : clamp1(C(a, c) / (std::sqrt(caa) * std::sqrt(ccc)));
    return inv_two_pi * (C(a, b) * std::sqrt(ccc / caa) * std::sqrt((1.0 - r) * (1.0 + r)) +
                         C(b, c) * (pi - std::acos(r)));
}

// docs/theory.md §3b: <g'(u_a) g'(u_b)> = P(u_a > 0, u_b > 0) = (pi - arccos r_ab) / (2pi).
double relu_J2(const Eigen::MatrixXd& C, int a, int b) {
    const double caa = var(C, a), cbb = var(C, b);
    if (caa <= 0.0 || cbb <= 0.0)
        return 0.0;
    if (a == b)
        return 0.5;
    const double r = clamp1(C(a, b) / (std::sqrt(caa) * std::sqrt(cbb)));
    return inv_two_pi * (pi - std::acos(r));
}

// ---------------------------------------------------------------------------------------------
// ReLU I4 = < 1[u_a>0] 1[u_b>0] relu(u_c) relu(u_d) >: no closed form (it contains the orthant
// probability of a 4-variate Gaussian). Method (derived for this code, checked against Monte
// Carlo and against an independent high-precision evaluation, see the tests):
//
// 1. Collapse repeated indices: the integrand is u_c u_d prod_{i in S} 1[u_i > 0], S the set of
//    distinct indices among a, b, c, d. Work with the correlation matrix of S (I4 scales with
//    sqrt(C_cc C_dd)). |S| <= 2 are closed forms (I2, I3 above).
// 2. Choose a plane of two fields: (c, d) if c != d, else (c, p) with p in S the field least
//    correlated with c. Whiten it by its 2x2 Cholesky factor, u_c = z1, u_e = l21 z1 + l22 z2, and
//    go to polar coordinates (z1, z2) = rho (cos t, sin t). The two plane indicators restrict t to
//    the wedge (-atan2(l21, l22), pi/2); the relu product is rho^2 (e_t . l_c)(e_t . l_e).
// 3. The remaining <= 2 "residual" fields are u_k = rho alpha_k(t) + xi_k, alpha_k = beta_k . e_t,
//    with xi independent of the plane, parametrised by one Cholesky factor
//    xi_3 = s3 z3, xi_4 = p z3 + q z4. The radial integral
//        K(t) = int_0^inf rho^3 exp(-rho^2/2) P(u_3 > 0, u_4 > 0 | rho, t) d rho
//    is elementary: integrating by parts turns the bivariate normal CDF into integrals
//    int_0^inf x^k phi(x) Phi(c x) dx = 1/4 + atan(c)/(2pi) (k = 0), + c/(2pi(1+c^2)) (k = 2).
//    With one residual K = 1 + t3 (1 + e3/2); with two
//        K = 2 F0 + t3 (2 M0(c3) + e3 M2(c3)) + t4 (2 M0(c4) + e4 M2(c4)),
//    t_k = alpha_k / sqrt(s_k^2 + alpha_k^2), e_k = s_k^2 / (s_k^2 + alpha_k^2),
//    F0 = 1/4 + atan2(p, q)/(2pi), c3 = (alpha_4 s3 - p alpha_3) / (q sqrt(s3^2 + alpha_3^2)),
//    c4 = (alpha_3 s4^2 - p s3 alpha_4) / (s3 q sqrt(s4^2 + alpha_4^2)), all evaluated through
//    atan2 so that degenerate residuals (s = 0, q = 0) give the correct limits.
//    Then I4 = (1/2pi) int_wedge (e_t . l_c)(e_t . l_e) K(t) dt.
// 4. The t-integrand is analytic except for transition layers where alpha_3, alpha_4 or the
//    numerators of c3, c4 change sign; their positions and widths are known in closed form
//    (width ~ s_k/|beta_k| etc., small when the covariance is nearly singular: students almost
//    equal, students almost in the teachers' span). The wedge is split at every sharp layer, each
//    piece is halved, and each half is integrated with Gauss-Legendre after the substitution
//    t = t_end +- w sinh(y) (w = width of the nearest layer), which resolves layers of any width
//    at a cost growing only like log(1/w).
// 5. A plane whose two fields are nearly collinear (sqrt(1 - r^2) < collinear_tolerance = 2e-4)
//    is not whitened: its second direction would be defined by the rounding of C. For c != d,
//    r_cd > 0, nearly_collinear_I4 expands relu(u_d) around lambda relu(u_c) (error O(l22^3));
//    for c == d with every field of S within the tolerance of +-u_c the indicators all equal
//    1[u_c > 0] (or one is 1[u_c < 0]) up to an O(l22^3) error. (For r_cd -> -1 the wedge itself
//    shrinks to zero and the plane formula stays accurate.)
//
// Accuracy (checked against a 40-digit evaluation by an independent method, Tallis' formula with
// Plackett's identity, and against Monte Carlo; see the tests): |error| <~ 1e-14 sqrt(C_cc C_dd)
// for well-conditioned covariances, <~ 1e-12 for rank-2/3 covariances and nearly collinear
// pairs, and <~ 1e-9 relative near collinear_tolerance. A pair collinear to within rounding
// (1 - r ~ 1e-16) makes I4 itself uncertain at ~ sqrt(1e-16) = 1e-8 relative (I4 depends on the
// angle between the fields, ~ sqrt(1 - r)); the result is then accurate to that level.
// Cost (one core, -O2): ~1-3 us with three distinct fields, ~8-10 us with four.
// ---------------------------------------------------------------------------------------------

/// Gauss-Legendre rules on [0, 1] (models/quadrature.hpp), computed once.
using GaussLegendreRule = quadrature::Rule1d;
using quadrature::make_gauss_legendre;

constexpr std::array<int, 2> rule_sizes{12, 20};

const GaussLegendreRule& gauss_legendre(std::size_t size_index) {
    static const std::array<GaussLegendreRule, rule_sizes.size()> rules = [] {
        std::array<GaussLegendreRule, rule_sizes.size()> r;
        for (std::size_t i = 0; i < rule_sizes.size(); ++i)
            r[i] = make_gauss_legendre(rule_sizes[i]);
        return r;
    }();
    return rules[size_index];
}

/// N D / (N^2 + D^2) = c / (1 + c^2) for c = N / D, with the limit 0 when N = D = 0.
double c_over_one_plus_c2(double num, double den) {
    const double n2 = num * num + den * den;
    return n2 > 0.0 ? num * den / n2 : 0.0;
}

/// A transition layer of the angular integrand: position and width (radians).
struct Layer {
    double theta;
    double width;
};

class ReluPlaneIntegral {
public:
    /// rho: correlation matrix of the fields (row/col 0 = c, 1 = e, then the residuals).
    /// square: the weight is u_c^2 (c == d) instead of u_c u_e.
    ReluPlaneIntegral(const std::array<std::array<double, 4>, 4>& rho, int n_res, bool square)
        : n_res_(n_res), square_(square) {
        const double r = rho[0][1];
        l21_ = r;
        l22_ = std::sqrt(std::max((1.0 - r) * (1.0 + r), 0.0));
        lo_ = -std::atan2(l21_, l22_);
        for (int k = 0; k < n_res; ++k) {
            const auto uk = static_cast<std::size_t>(k) + 2;
            double b1 = clamp1(rho[0][uk]);
            double b2 = l22_ > 0.0 ? (rho[1][uk] - l21_ * b1) / l22_ : 0.0;
            const double rem = std::max(1.0 - b1 * b1, 0.0);
            if (b2 * b2 > rem)
                b2 = std::copysign(std::sqrt(rem), b2);
            beta_[static_cast<std::size_t>(k)] = {b1, b2};
            ssq_[static_cast<std::size_t>(k)] = std::max(rem - b2 * b2, 0.0);
        }
        if (n_res == 2) {
            s3_ = std::sqrt(ssq_[0]);
            const double sigma34 =
                rho[2][3] - beta_[0][0] * beta_[1][0] - beta_[0][1] * beta_[1][1];
            const double s4 = std::sqrt(ssq_[1]);
            p_ = s3_ > 0.0 ? std::clamp(sigma34 / s3_, -s4, s4) : 0.0;
            q_ = std::sqrt(std::max(ssq_[1] - p_ * p_, 0.0));
            s4sq_ = p_ * p_ + q_ * q_;
            f0_ = 0.25 + std::atan2(p_, q_) * inv_two_pi;
            // numerators of c3, c4 as linear forms in e_t; g4 = q^2 beta_3 - p g3 equals
            // s4^2 beta_3 - p s3 beta_4 and keeps the signs of c3, c4 consistent when q -> 0
            for (std::size_t i = 0; i < 2; ++i) {
                g3_[i] = s3_ * beta_[1][i] - p_ * beta_[0][i];
                g4_[i] = q_ * q_ * beta_[0][i] - p_ * g3_[i];
            }
        } else {
            s3_ = std::sqrt(ssq_[0]);
        }
    }

    /// (1/2pi) * integral over the wedge of weight(t) K(t) dt.
    double integrate() const {
        constexpr double hi = pi / 2.0;
        const double length = hi - lo_;
        if (!(length > 0.0))
            return 0.0;
        std::array<Layer, 4> layers{};
        int n_layers = 0;
        auto add_layer = [&](double g1, double g2, auto&& width_at) {
            const double norm = std::hypot(g1, g2);
            if (!(norm > 0.0))
                return;
            // zeros of g . e_t: e_t parallel to (-g2, g1), and its antipode
            double t0 = std::atan2(g1, -g2);
            double best = t0, best_dist = std::numeric_limits<double>::infinity();
            for (const double t : {t0 - pi, t0, t0 + pi}) {
                const double dist = t < lo_ ? lo_ - t : (t > hi ? t - hi : 0.0);
                if (dist < best_dist) {
                    best_dist = dist;
                    best = t;
                }
            }
            layers[static_cast<std::size_t>(n_layers++)] = {best, width_at(best) / norm};
        };
        const auto& b3 = beta_[0];
        add_layer(b3[0], b3[1], [&](double) { return s3_; });
        if (n_res_ == 2) {
            const auto& b4 = beta_[1];
            const double s4 = std::sqrt(s4sq_);
            add_layer(b4[0], b4[1], [&](double) { return s4; });
            // numerator of c3: alpha_4 s3 - p alpha_3
            add_layer(g3_[0], g3_[1], [&](double t) {
                const double a3 = b3[0] * std::cos(t) + b3[1] * std::sin(t);
                return q_ * std::sqrt(ssq_[0] + a3 * a3);
            });
            // numerator of c4: alpha_3 s4^2 - p s3 alpha_4
            add_layer(g4_[0], g4_[1], [&](double t) {
                const double a4 = b4[0] * std::cos(t) + b4[1] * std::sin(t);
                return s3_ * q_ * std::sqrt(s4sq_ + a4 * a4);
            });
        }

        // split points: the wedge ends and every sharp layer strictly inside
        std::array<double, 6> cuts{};
        int n_cuts = 0;
        cuts[static_cast<std::size_t>(n_cuts++)] = lo_;
        for (int i = 0; i < n_layers; ++i) {
            const Layer& L = layers[static_cast<std::size_t>(i)];
            if (L.theta > lo_ && L.theta < hi && L.width < 0.5 * length)
                cuts[static_cast<std::size_t>(n_cuts++)] = L.theta;
        }
        cuts[static_cast<std::size_t>(n_cuts++)] = hi;
        for (int i = 1; i < n_cuts; ++i) // insertion sort of <= 6 values
            for (int j = i;
                 j > 0 && cuts[static_cast<std::size_t>(j - 1)] > cuts[static_cast<std::size_t>(j)];
                 --j)
                std::swap(cuts[static_cast<std::size_t>(j - 1)], cuts[static_cast<std::size_t>(j)]);

        // width of the layer structure seen from point x (layers of zero width are exact jumps,
        // harmless at a cut)
        auto scale_at = [&](double x) {
            double s = std::numeric_limits<double>::infinity();
            for (int i = 0; i < n_layers; ++i) {
                const Layer& L = layers[static_cast<std::size_t>(i)];
                if (L.width > 1e-15)
                    s = std::min(s, L.width + std::abs(L.theta - x));
            }
            return s;
        };

        double total = 0.0;
        for (int i = 0; i + 1 < n_cuts; ++i) {
            const double x0 = cuts[static_cast<std::size_t>(i)];
            const double x1 = cuts[static_cast<std::size_t>(i) + 1];
            const double half = 0.5 * (x1 - x0);
            if (!(half > 0.0))
                continue;
            total += integrate_half(x0, +1.0, half, scale_at(x0));
            total += integrate_half(x1, -1.0, half, scale_at(x1));
        }
        return inv_two_pi * total;
    }

private:
    /// integral of f over [x_end, x_end + dir*half] with t = x_end + dir*w*sinh(y)
    double integrate_half(double x_end, double dir, double half, double w) const {
        if (!(w < 1e3 * half)) { // no layer nearby: plain Gauss-Legendre
            const GaussLegendreRule& rule = gauss_legendre(0);
            double sum = 0.0;
            for (std::size_t j = 0; j < rule.x.size(); ++j)
                sum += rule.w[j] * integrand(x_end + dir * half * rule.x[j]);
            return sum * half;
        }
        const double ymax = std::asinh(half / std::max(w, 1e-300));
        // sub-intervals of length <= 4 in y, each with a fixed Gauss-Legendre rule (12 or 20
        // nodes; chosen by self-convergence against 64-node rules on sub-intervals of length
        // 0.5: max deviation 2e-12 over 4000 random generic and nearly singular covariances)
        const int n_sub = std::max(1, static_cast<int>(std::ceil(ymax / 4.0)));
        const double dy = ymax / n_sub;
        const std::size_t rule_index = ymax < 0.3 ? 0 : 1;
        const GaussLegendreRule& rule = gauss_legendre(rule_index);
        const double scale = half / std::sinh(ymax);
        double sum = 0.0;
        for (int s = 0; s < n_sub; ++s) {
            const double y0 = s * dy;
            for (std::size_t j = 0; j < rule.x.size(); ++j) {
                const double y = y0 + dy * rule.x[j];
                const double t = x_end + dir * scale * std::sinh(y);
                sum += rule.w[j] * std::cosh(y) * integrand(t);
            }
        }
        return sum * dy * scale;
    }

    double integrand(double t) const {
        const double ct = std::cos(t), st = std::sin(t);
        const double weight = square_ ? ct * ct : ct * (l21_ * ct + l22_ * st);
        const auto& b3 = beta_[0];
        const double a3 = b3[0] * ct + b3[1] * st;
        const double n3sq = ssq_[0] + a3 * a3;
        const double rt3 = std::sqrt(n3sq);
        const double t3 = rt3 > 0.0 ? a3 / rt3 : 0.0;
        const double e3 = n3sq > 0.0 ? ssq_[0] / n3sq : 0.0;
        if (n_res_ == 1)
            return weight * (1.0 + t3 * (1.0 + 0.5 * e3));
        const auto& b4 = beta_[1];
        const double a4 = b4[0] * ct + b4[1] * st;
        if (s3_ == 0.0 && s4sq_ == 0.0) // both residual fields are fixed by the plane
            return a3 > 0.0 && a4 > 0.0 ? 2.0 * weight : 0.0;
        const double n4sq = s4sq_ + a4 * a4;
        const double rt4 = std::sqrt(n4sq);
        const double t4 = rt4 > 0.0 ? a4 / rt4 : 0.0;
        const double e4 = n4sq > 0.0 ? s4sq_ / n4sq : 0.0;
        const double num3 = g3_[0] * ct + g3_[1] * st, den3 = q_ * rt3;
        const double num4 = g4_[0] * ct + g4_[1] * st, den4 = s3_ * q_ * rt4;
        const double m03 = 0.25 + std::atan2(num3, den3) * inv_two_pi;
        const double m23 = m03 + inv_two_pi * c_over_one_plus_c2(num3, den3);
        const double m04 = 0.25 + std::atan2(num4, den4) * inv_two_pi;
        const double m24 = m04 + inv_two_pi * c_over_one_plus_c2(num4, den4);
        const double k = 2.0 * f0_ + t3 * (2.0 * m03 + e3 * m23) + t4 * (2.0 * m04 + e4 * m24);
        return weight * k;
    }

    int n_res_;
    bool square_;
    double l21_ = 0.0, l22_ = 1.0, lo_ = 0.0;
    std::array<std::array<double, 2>, 2> beta_{};
    std::array<double, 2> ssq_{};
    double s3_ = 0.0, p_ = 0.0, q_ = 0.0, s4sq_ = 0.0, f0_ = 0.25;
    std::array<double, 2> g3_{}, g4_{};
};

/// Planes (c, d) with sqrt(1 - r_cd^2) below this are not whitened (the second plane direction
/// would be defined by rounding noise); nearly_collinear_I4 is used instead. Its truncation error
/// is O(tolerance^3) ~ 1e-11, while whitening a plane of conditioning l22 amplifies rounding of
/// C by ~1/l22^2 only where the covariance is also singular in the remaining directions.
constexpr double collinear_tolerance = 2e-4;

double relu_I4(const Eigen::MatrixXd& C, int a, int b, int c, int d);

/// sqrt(1 - r^2), accurate near |r| = 1.
double sine_of(double r) {
    return std::sqrt(std::max((1.0 - r) * (1.0 + r), 0.0));
}

/// Correlation of fields i, j (both of positive variance), clamped to [-1, 1].
double correlation(const Eigen::MatrixXd& C, int i, int j) {
    return i == j ? 1.0 : clamp1(C(i, j) / (std::sqrt(var(C, i)) * std::sqrt(var(C, j))));
}

/// <1[u_y > 0] relu(u_x)> for zero-mean (u_x, u_y) with variances vx, vy and covariance cxy:
/// sqrt(vx) (1 + r_xy) / (2 sqrt(2 pi)).
double indicator_relu_mean(double vx, double vy, double cxy) {
    if (vx <= 0.0)
        return 0.0;
    const double r = vy > 0.0 ? clamp1(cxy / (std::sqrt(vx) * std::sqrt(vy))) : 0.0;
    return std::sqrt(vx) * (1.0 + r) / (2.0 * std::sqrt(2.0 * pi));
}

/// I4 when u_d = lambda u_c + e with lambda = C_cd / C_cc > 0 and Var(e) = sigma^2 tiny.
/// relu(u_d) = lambda relu(u_c) + e 1[u_c > 0] except where u_c and u_d differ in sign, a region of
/// probability O(sigma) on which the integrand is O(sigma^2). With Cov(e, u_c) = 0, Stein's lemma
/// on e gives, for the indicator-only fields R = S \ {c, d},
///   I4 = lambda <prod_R 1 relu(u_c)^2>
///        + sum_{k in R} M_dk phi_k(0) <prod_{R\k} 1 relu(u_c) | u_k = 0> + O(sigma^3),
/// M_dk = C_dk - lambda C_ck = Cov(e, u_k), phi_k(0) = 1/sqrt(2 pi C_kk).
double nearly_collinear_I4(const Eigen::MatrixXd& C, int c, int d, const std::array<int, 2>& res,
                           int n_res) {
    const double lambda = C(c, d) / var(C, c);
    if (n_res == 0)
        return lambda * 0.5 * var(C, c);
    if (n_res == 1) {
        const int k = res[0];
        const double vx = var(C, c) - C(c, k) * C(c, k) / var(C, k);
        const double cond_mean = vx > 0.0 ? std::sqrt(vx) / std::sqrt(2.0 * pi) : 0.0;
        return lambda * relu_I3(C, k, c, c) +
               (C(d, k) - lambda * C(c, k)) / std::sqrt(2.0 * pi * var(C, k)) * cond_mean;
    }
    double total = lambda * relu_I4(C, res[0], res[1], c, c);
    for (std::size_t i = 0; i < 2; ++i) {
        const int k = res[i], m = res[1 - i];
        const double ckk = var(C, k);
        const double vx = var(C, c) - C(c, k) * C(c, k) / ckk;
        const double vy = var(C, m) - C(m, k) * C(m, k) / ckk;
        const double cxy = C(c, m) - C(c, k) * C(k, m) / ckk;
        total += (C(d, k) - lambda * C(c, k)) / std::sqrt(2.0 * pi * ckk) *
                 indicator_relu_mean(vx, vy, cxy);
    }
    return total;
}

double relu_I4(const Eigen::MatrixXd& C, int a, int b, int c, int d) {
    // distinct fields carrying an indicator; c and d are among them
    std::array<int, 4> set{};
    int n = 0;
    for (const int i : {c, d, a, b})
        if (std::find(set.begin(), set.begin() + n, i) == set.begin() + n)
            set[static_cast<std::size_t>(n++)] = i;
    for (int k = 0; k < n; ++k)
        if (var(C, set[static_cast<std::size_t>(k)]) <= 0.0)
            return 0.0; // u = 0 almost surely, and g'(0) = g(0) = 0
    if (n == 1)
        return 0.5 * var(C, c); // <relu(u)^2>
    if (c != d && n == 2)
        return relu_I2(C, c, d); // <relu(u_c) relu(u_d)>, a and b among c, d

    // order: 0 = c, 1 = second plane field, 2.. = residual (indicator-only) fields
    std::array<int, 4> order{};
    order[0] = c;
    order[1] = d;
    if (c == d) {
        // plane (c, p): p the field least correlated with c
        double best_r = 2.0;
        for (int k = 1; k < n; ++k) {
            const int i = set[static_cast<std::size_t>(k)];
            const double r = std::abs(correlation(C, c, i));
            if (r < best_r) {
                best_r = r;
                order[1] = i;
            }
        }
        if (n == 2) // <1[u_p > 0] relu(u_c)^2> = I3(p, c, c), closed form
            return relu_I3(C, order[1], c, c);
        if (sine_of(best_r) < collinear_tolerance) {
            // all fields within the tolerance of +-u_c: the indicators equal 1[u_c > 0] or
            // 1[u_c < 0] up to a region of probability O(sigma) where relu(u_c)^2 = O(sigma^2)
            for (int k = 1; k < n; ++k)
                if (C(c, set[static_cast<std::size_t>(k)]) < 0.0)
                    return 0.0;
            return 0.5 * var(C, c);
        }
    }
    int m = 2;
    for (int k = 0; k < n; ++k) {
        const int i = set[static_cast<std::size_t>(k)];
        if (i != order[0] && i != order[1])
            order[static_cast<std::size_t>(m++)] = i;
    }
    if (c != d) {
        const double r = correlation(C, c, d);
        if (r > 0.0 && sine_of(r) < collinear_tolerance)
            return nearly_collinear_I4(C, c, d, {order[2], order[3]}, n - 2);
    }

    std::array<double, 4> sd{};
    for (int k = 0; k < n; ++k)
        sd[static_cast<std::size_t>(k)] = std::sqrt(var(C, order[static_cast<std::size_t>(k)]));
    std::array<std::array<double, 4>, 4> rho{};
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            const auto ui = static_cast<std::size_t>(i), uj = static_cast<std::size_t>(j);
            rho[ui][uj] = i == j ? 1.0 : clamp1(C(order[ui], order[uj]) / (sd[ui] * sd[uj]));
        }
    const ReluPlaneIntegral integral(rho, n - 2, c == d);
    const double scale = c == d ? sd[0] * sd[0] : sd[0] * sd[1];
    return scale * integral.integrate();
}

// ---------------------------------------------------------------------------------------------
// The closed forms of each evaluator with has_closed_form (models/activations/): one
// specialization each, so an evaluator that claims closed forms without them does not compile.
// ---------------------------------------------------------------------------------------------

template <class E>
struct ClosedForm; // no definition: only the specializations below exist

template <>
struct ClosedForm<activations::Erf> {
    static double I2(const Eigen::MatrixXd& C, int a, int b) { return erf_I2(C, a, b); }
    static double I3(const Eigen::MatrixXd& C, int a, int b, int c) { return erf_I3(C, a, b, c); }
    static double I4(const Eigen::MatrixXd& C, int a, int b, int c, int d) {
        return erf_I4(C, a, b, c, d);
    }
    static double J2(const Eigen::MatrixXd& C, int a, int b) { return erf_J2(C, a, b); }
};

template <>
struct ClosedForm<activations::Relu> {
    static double I2(const Eigen::MatrixXd& C, int a, int b) { return relu_I2(C, a, b); }
    static double I3(const Eigen::MatrixXd& C, int a, int b, int c) { return relu_I3(C, a, b, c); }
    static double I4(const Eigen::MatrixXd& C, int a, int b, int c, int d) {
        return relu_I4(C, a, b, c, d);
    }
    static double J2(const Eigen::MatrixXd& C, int a, int b) { return relu_J2(C, a, b); }
};

/// linear g: exact, g' = 1.
template <>
struct ClosedForm<activations::Linear> {
    /// <u_a u_b>
    static double I2(const Eigen::MatrixXd& C, int a, int b) { return C(a, b); }
    /// <1 u_b u_c>
    static double I3(const Eigen::MatrixXd& C, int /*a*/, int b, int c) { return C(b, c); }
    /// <1 1 u_c u_d>
    static double I4(const Eigen::MatrixXd& C, int /*a*/, int /*b*/, int c, int d) {
        return C(c, d);
    }
    /// <1 1>
    static double J2(const Eigen::MatrixXd& /*C*/, int /*a*/, int /*b*/) { return 1.0; }
};

/// average(std::type_identity<ClosedForm<E>>{}) for the evaluator E of g; throws
/// std::invalid_argument if E has no closed form.
template <class Average>
double closed_form(ActivationKind g, const Average& average) {
    return visit_activation(g, [&]<class E>(std::type_identity<E>) -> double {
        if constexpr (E::has_closed_form)
            return average(std::type_identity<ClosedForm<E>>{});
        else
            throw_no_closed_form(g);
    });
}

} // namespace

bool has_closed_form(ActivationKind g) noexcept {
    return visit_activation(
        g, []<class E>(std::type_identity<E>) noexcept { return E::has_closed_form; });
}

bool has_closed_form(ActivationKind student_g, ActivationKind student_h, ActivationKind teacher_g,
                     ActivationKind teacher_h) noexcept {
    return student_h == ActivationKind::linear && teacher_h == ActivationKind::linear &&
           student_g == teacher_g && has_closed_form(student_g);
}

std::string closed_form_names() {
    std::string out;
    for (const auto g : all_activation_kinds)
        if (has_closed_form(g))
            out += (out.empty() ? "" : ", ") + std::string(name(g));
    return out;
}

double I2(ActivationKind g, const Eigen::MatrixXd& C, int a, int b) {
    check_indices(C, {a, b});
    return closed_form(g, [&]<class F>(std::type_identity<F>) { return F::I2(C, a, b); });
}

double I3(ActivationKind g, const Eigen::MatrixXd& C, int a, int b, int c) {
    check_indices(C, {a, b, c});
    return closed_form(g, [&]<class F>(std::type_identity<F>) { return F::I3(C, a, b, c); });
}

double I4(ActivationKind g, const Eigen::MatrixXd& C, int a, int b, int c, int d) {
    check_indices(C, {a, b, c, d});
    return closed_form(g, [&]<class F>(std::type_identity<F>) { return F::I4(C, a, b, c, d); });
}

double J2(ActivationKind g, const Eigen::MatrixXd& C, int a, int b) {
    check_indices(C, {a, b});
    return closed_form(g, [&]<class F>(std::type_identity<F>) { return F::J2(C, a, b); });
}

// Activation overloads: closed forms where they exist, quadrature otherwise (docs/theory.md §9).
// Closed forms, else the exact averages of a polynomial g (docs/theory.md §9b), else quadrature.
double I2(const Activation& g, const Eigen::MatrixXd& C, int a, int b) {
    if (has_closed_form(g.kind))
        return I2(g.kind, C, a, b);
    if (const auto p = as_polynomial(g))
        return polynomial_averages::I2(*p, C, a, b);
    return quadrature::I2(g, C, a, b);
}

double I3(const Activation& g, const Eigen::MatrixXd& C, int a, int b, int c) {
    if (has_closed_form(g.kind))
        return I3(g.kind, C, a, b, c);
    if (const auto p = as_polynomial(g))
        return polynomial_averages::I3(*p, C, a, b, c);
    return quadrature::I3(g, C, a, b, c);
}

double I4(const Activation& g, const Eigen::MatrixXd& C, int a, int b, int c, int d) {
    if (has_closed_form(g.kind))
        return I4(g.kind, C, a, b, c, d);
    if (const auto p = as_polynomial(g))
        return polynomial_averages::I4(*p, C, a, b, c, d);
    return quadrature::I4(g, C, a, b, c, d);
}

double J2(const Activation& g, const Eigen::MatrixXd& C, int a, int b) {
    if (has_closed_form(g.kind))
        return J2(g.kind, C, a, b);
    if (const auto p = as_polynomial(g))
        return polynomial_averages::J2(*p, C, a, b);
    return quadrature::J2(g, C, a, b);
}

Eigen::MatrixXd field_covariance(const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                                 const Eigen::MatrixXd& T) {
    const Eigen::Index K = Q.rows(), M = T.rows();
    if (Q.cols() != K || T.cols() != M || R.rows() != K || R.cols() != M)
        throw std::invalid_argument("plateau::integrals::field_covariance: need Q (K x K), R (K x "
                                    "M), T (M x M); got Q " +
                                    std::to_string(Q.rows()) + "x" + std::to_string(Q.cols()) +
                                    ", R " + std::to_string(R.rows()) + "x" +
                                    std::to_string(R.cols()) + ", T " + std::to_string(T.rows()) +
                                    "x" + std::to_string(T.cols()));
    Eigen::MatrixXd C(K + M, K + M);
    C.topLeftCorner(K, K) = Q;
    C.topRightCorner(K, M) = R;
    C.bottomLeftCorner(M, K) = R.transpose();
    C.bottomRightCorner(M, M) = T;
    return C;
}

namespace {

// docs/theory.md §2 (erf; the same I2 sum for relu, docs/theory.md §3b, linear g, and any g by
// quadrature, §9):
// eps_g = 1/2 [ sum_jk v_j v_k I2(j,k) + sum_nm v*_n v*_m I2(n,m) - 2 sum_jn v_j v*_n I2(j,n) ].
template <class I2Of>
double eps_g_sum(const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                 const Eigen::VectorXd& v, const Eigen::VectorXd& v_star, I2Of&& i2) {
    const Eigen::MatrixXd C = field_covariance(Q, R, T);
    const auto K = static_cast<int>(Q.rows());
    const auto M = static_cast<int>(T.rows());
    if (v.size() != K || v_star.size() != M)
        throw std::invalid_argument(
            "plateau::integrals::generalization_error: v must have K = " + std::to_string(K) +
            " and v_star M = " + std::to_string(M) + " entries");
    // I2 is symmetric: the diagonal once, each off-diagonal pair twice.
    double ss = 0.0, tt = 0.0, st = 0.0;
    for (int j = 0; j < K; ++j) {
        ss += v(j) * v(j) * i2(C, j, j);
        for (int k = j + 1; k < K; ++k)
            ss += 2.0 * v(j) * v(k) * i2(C, j, k);
    }
    for (int n = 0; n < M; ++n) {
        tt += v_star(n) * v_star(n) * i2(C, K + n, K + n);
        for (int m = n + 1; m < M; ++m)
            tt += 2.0 * v_star(n) * v_star(m) * i2(C, K + n, K + m);
    }
    for (int j = 0; j < K; ++j)
        for (int n = 0; n < M; ++n)
            st += v(j) * v_star(n) * i2(C, j, K + n);
    // eps_g = 1/2 c^T I2 c with c = (v, -v*), a quadratic form of the positive semi-definite
    // matrix I2: it is >= 0, and the difference of the three sums leaves a rounding residue of
    // ~1e-16 (ss + tt) that may be negative when the student has learned. That residue is not
    // a value: clamp it at 0 (log plots would drop the point). A non-finite sum (weights near
    // the largest double: -inf, or inf - inf) is not clamped: std::max(0.0, -inf) is 0, which
    // called such a run learned; left as it is, the run is diverged (record_run, `healthy`).
    const double eg = 0.5 * (ss + tt - 2.0 * st);
    return std::isfinite(eg) ? std::max(0.0, eg) : eg;
}

} // namespace

double generalization_error(ActivationKind g, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                            const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                            const Eigen::VectorXd& v_star) {
    if (!has_closed_form(g))
        throw_no_closed_form(g);
    return eps_g_sum(Q, R, T, v, v_star,
                     [g](const Eigen::MatrixXd& C, int a, int b) { return I2(g, C, a, b); });
}

double generalization_error(const Activation& g, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                            const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                            const Eigen::VectorXd& v_star) {
    return eps_g_sum(Q, R, T, v, v_star,
                     [&g](const Eigen::MatrixXd& C, int a, int b) { return I2(g, C, a, b); });
}

} // namespace plateau::integrals
