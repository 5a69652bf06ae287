// The joint rule of docs/theory.md §10; see joint_rule.hpp.
#include "engine/theory/joint_rule.hpp"

#include "models/gaussian_integrals.hpp"
#include "models/loss.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace plateau {

double inverse_normal_cdf(double p) noexcept {
    // Acklam's algorithm (coefficients of P. J. Acklam, 2003), then one Halley step on
    // Phi(x) - p with Phi(x) = erfc(-x/sqrt 2)/2.
    static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                   -2.759285104469687e+02, 1.383577518672690e+02,
                                   -3.066479806614716e+01, 2.506628277459239e+00};
    static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                   -1.556989798598866e+02, 6.680131188771972e+01,
                                   -1.328068155288572e+01};
    static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                   -2.400758277161838e+00, -2.549732539343734e+00,
                                   4.374664141464968e+00,  2.938163982698783e+00};
    static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                   2.445134137142996e+00, 3.754408661907416e+00};
    constexpr double low = 0.02425;
    double x = 0.0;
    if (p < low) {
        const double q = std::sqrt(-2.0 * std::log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else if (p <= 1.0 - low) {
        const double q = p - 0.5;
        const double r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    } else {
        const double q = std::sqrt(-2.0 * std::log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    const double e = 0.5 * std::erfc(-x / std::numbers::sqrt2) - p;
    const double u = e * std::sqrt(2.0 * std::numbers::pi) * std::exp(0.5 * x * x);
    return x - u / (1.0 + 0.5 * x * u);
}

JointRule::JointRule(int dimension, int points)
    : dimension_(dimension), per_shift_(points / shift_count) {
    if (dimension < 1 || per_shift_ < 2)
        throw std::invalid_argument("plateau theory: a joint rule needs dimension >= 1 and at "
                                    "least " +
                                    std::to_string(2 * shift_count) + " points; got dimension " +
                                    std::to_string(dimension) + ", points " +
                                    std::to_string(points));
    // The Halton sequence: coordinate j of point i is the radical inverse of i in the j-th prime
    // base (2, 3, 5, ...), i = 1, 2, ... (0 would be the corner).
    std::vector<int> bases;
    for (int c = 2; static_cast<int>(bases.size()) < dimension; ++c)
        if (std::none_of(bases.begin(), bases.end(), [c](int b) { return c % b == 0; }))
            bases.push_back(c);
    const auto radical_inverse = [](int i, int base) {
        double x = 0.0, f = 1.0 / base;
        for (; i > 0; i /= base, f /= base)
            x += f * (i % base);
        return x;
    };
    // The shifts: constants of the rule, from a local generator with a fixed seed (std::
    // mt19937_64 is specified bit for bit; the 53 top bits give a uniform double in [0, 1)).
    std::mt19937_64 bits(0x706c617465617531ULL);
    const auto uniform = [&bits] {
        return static_cast<double>(bits() >> 11) * 0x1.0p-53;
    };
    z_.resize(dimension, static_cast<Eigen::Index>(shift_count) * per_shift_);
    constexpr double tiny = 0x1.0p-60; // keeps Phi^-1 finite (|z| <= 9.1)
    for (int r = 0; r < shift_count; ++r) {
        Eigen::VectorXd shift(dimension);
        for (int j = 0; j < dimension; ++j)
            shift(j) = uniform();
        for (int i = 0; i < per_shift_; ++i)
            for (int j = 0; j < dimension; ++j) {
                double x = shift(j) + radical_inverse(i + 1, bases[static_cast<std::size_t>(j)]);
                x -= std::floor(x);
                x = std::clamp(x, tiny, 1.0 - 0x1.0p-53);
                z_(j, static_cast<Eigen::Index>(r) * per_shift_ + i) = inverse_normal_cdf(x);
            }
    }
}

std::shared_ptr<const JointRule> make_joint_rule(int dimension, int points) {
    return std::make_shared<const JointRule>(dimension, points);
}

double JointEstimate::relative_flow_error() const {
    double err2 = 0.0, flow2 = 0.0;
    for (Eigen::Index j = 0; j < dQ.rows(); ++j)
        for (Eigen::Index k = j; k < dQ.cols(); ++k) {
            err2 += dQ_error(j, k) * dQ_error(j, k);
            flow2 += dQ(j, k) * dQ(j, k);
        }
    err2 += dR_error.squaredNorm() + dv_error.squaredNorm();
    flow2 += dR.squaredNorm() + dv.squaredNorm();
    return flow2 > 0.0 ? std::sqrt(err2 / flow2) : std::numeric_limits<double>::quiet_NaN();
}

namespace {

/// Mean and standard error over the shifts of the columns of `per_shift` (one column per shift).
void mean_and_error(const Eigen::MatrixXd& per_shift, Eigen::VectorXd& mean,
                    Eigen::VectorXd& error) {
    const auto n = static_cast<double>(per_shift.cols());
    mean = per_shift.rowwise().mean();
    const Eigen::MatrixXd dev = per_shift.colwise() - mean;
    error = (dev.rowwise().squaredNorm() / (n * (n - 1.0))).cwiseSqrt();
}

} // namespace

JointEstimate joint_estimate(const FlowSettings& s, const Eigen::MatrixXd& Q,
                             const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                             const Eigen::VectorXd& v, const Eigen::VectorXd& v_star) {
    const auto K = static_cast<int>(Q.rows());
    const auto M = static_cast<int>(T.rows());
    const int P = K + M;
    std::shared_ptr<const JointRule> own;
    const JointRule* rule = s.joint_rule.get();
    if (rule == nullptr || rule->dimension() != P) {
        own = make_joint_rule(P, ObserverParams{}.joint_points);
        rule = own.get();
    }

    // u = S z with S = C^(1/2), the symmetric square root from the eigen-decomposition (negative
    // eigenvalues from rounding clamped to 0): defined for a semi-definite C, and a smooth
    // function of C even where eigenvalues coincide (the symmetric plateau), unlike a factor
    // built from the eigenvectors alone or a pivoted Cholesky factor.
    const Eigen::MatrixXd C = integrals::field_covariance(Q, R, T);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(C);
    const Eigen::MatrixXd S = eig.eigenvectors() *
                              eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal() *
                              eig.eigenvectors().transpose();

    // Per shift, the flow entries (docs/theory.md §10): with e = tau - sigma, d_j = h'(a) v_j
    // g'(x_j) and c_j = e d_j (the field error of student j, sign of the update w += (eta/N) c xi):
    //   dR_jn = eta <c_j y_n>,  dQ_jk = eta <c_j x_k + c_k x_j> + (eta^2/B) <(e^2 + s^2) d_j d_k>,
    //   dv_j = eta_v <e h'(a) g(x_j)>,  eps_g = <e^2>/2.
    const int n = rule->per_shift();
    const int entries = K * M + K * K + K + 1;
    Eigen::MatrixXd per_shift(entries, rule->shifts());
    Eigen::MatrixXd dQ, dR;
    Eigen::VectorXd dv;
    Eigen::MatrixXd U(P, n), Cm(K, n), Dm(K, n), Gx(K, n);
    Eigen::VectorXd e_hp(n), e2(n);
    for (int r = 0; r < rule->shifts(); ++r) {
        U.noalias() = S * rule->nodes().middleCols(static_cast<Eigen::Index>(r) * n, n);
        for (int i = 0; i < n; ++i) {
            double a = 0.0, b = 0.0;
            for (int j = 0; j < K; ++j) {
                Gx(j, i) = s.g.value(U(j, i));
                a += v(j) * Gx(j, i);
            }
            for (int m = 0; m < M; ++m)
                b += v_star(m) * s.g_teacher.value(U(K + m, i));
            // e = tau - sigma = -de/dsigma (models/loss.hpp; the theory is the squared loss's)
            const double e = -SquaredLoss::error(s.h.value(a), s.h_teacher.value(b));
            const double hp = s.h.derivative(a);
            for (int j = 0; j < K; ++j) {
                Dm(j, i) = hp * v(j) * s.g.derivative(U(j, i));
                Cm(j, i) = e * Dm(j, i);
            }
            e_hp(i) = e * hp;
            e2(i) = e * e;
        }
        const double inv_n = 1.0 / static_cast<double>(n);
        // The shift's averages (docs/theory.md §10), assembled into the flow by the one rule
        // for the step sizes and the regime (assemble_flow, engine/theory/flow.cpp).
        FlowAverages a;
        a.cu.resize(K, P);
        a.cu.rightCols(M) = (Cm * U.bottomRows(M).transpose()) * inv_n; // <c_j y_n>
        a.cu.leftCols(K) = (Cm * U.topRows(K).transpose()) * inv_n;     // <c_j x_k>
        a.cc = (Dm * (e2.array() + s.noise).matrix().asDiagonal() * Dm.transpose()) * inv_n;
        a.eg = (Gx * e_hp) * inv_n; // <e h'(a) g(x_j)>
        assemble_flow(s, a, dQ, dR, dv);
        Eigen::Index row = 0;
        for (int j = 0; j < K; ++j)
            for (int m = 0; m < M; ++m)
                per_shift(row++, r) = dR(j, m);
        for (int j = 0; j < K; ++j)
            for (int k = 0; k < K; ++k)
                per_shift(row++, r) = dQ(j, k);
        for (int j = 0; j < K; ++j)
            per_shift(row++, r) = dv(j);
        per_shift(row, r) = 0.5 * e2.mean();
    }

    Eigen::VectorXd mean, error;
    mean_and_error(per_shift, mean, error);
    JointEstimate out;
    out.dR.resize(K, M);
    out.dR_error.resize(K, M);
    out.dQ.resize(K, K);
    out.dQ_error.resize(K, K);
    out.dv.resize(K);
    out.dv_error.resize(K);
    Eigen::Index row = 0;
    for (int j = 0; j < K; ++j)
        for (int m = 0; m < M; ++m) {
            out.dR(j, m) = mean(row);
            out.dR_error(j, m) = error(row++);
        }
    for (int j = 0; j < K; ++j)
        for (int k = 0; k < K; ++k) {
            out.dQ(j, k) = mean(row);
            out.dQ_error(j, k) = error(row++);
        }
    for (int j = 0; j < K; ++j) {
        out.dv(j) = mean(row);
        out.dv_error(j) = error(row++);
    }
    out.eg = mean(row);
    out.eg_error = error(row);
    return out;
}

} // namespace plateau
