// Tests of the Gaussian averages I2, I3, I4, J2 and of the generalization error
// (models/gaussian_integrals.hpp; docs/theory.md §2, §3b) against Monte Carlo, exact identities and
// high-precision reference values.
#include "models/gaussian_integrals.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using plateau::ActivationKind;
namespace gi = plateau::integrals;

constexpr double pi = std::numbers::pi;
constexpr std::array<ActivationKind, 3> closed_kinds{ActivationKind::erf, ActivationKind::relu,
                                                     ActivationKind::linear};

// Index tuples (dimension 4: a, b, c, d can all be distinct), with repeated indices.
constexpr std::array<std::array<int, 2>, 10> pairs{
    {{0, 0}, {0, 1}, {0, 2}, {0, 3}, {1, 1}, {1, 2}, {1, 3}, {2, 2}, {2, 3}, {3, 3}}};
constexpr std::array<std::array<int, 3>, 14> triples{{{0, 1, 2},
                                                      {1, 2, 3},
                                                      {2, 3, 0},
                                                      {3, 0, 1},
                                                      {0, 2, 1},
                                                      {0, 0, 0},
                                                      {3, 3, 3},
                                                      {0, 0, 1},
                                                      {0, 1, 0},
                                                      {1, 0, 0},
                                                      {2, 3, 3},
                                                      {3, 2, 2},
                                                      {1, 3, 1},
                                                      {2, 0, 2}}};
constexpr std::array<std::array<int, 4>, 16> quads{{{0, 1, 2, 3},
                                                    {2, 3, 0, 1},
                                                    {0, 2, 1, 3},
                                                    {1, 3, 0, 2},
                                                    {3, 1, 2, 0},
                                                    {0, 0, 1, 2},
                                                    {1, 2, 3, 3},
                                                    {0, 0, 2, 2},
                                                    {0, 1, 0, 1},
                                                    {1, 1, 1, 1},
                                                    {0, 1, 1, 1},
                                                    {2, 2, 2, 3},
                                                    {3, 0, 3, 3},
                                                    {0, 0, 0, 3},
                                                    {1, 2, 1, 3},
                                                    {2, 3, 2, 3}}};

double g_of(ActivationKind k, double x) {
    switch (k) {
    case ActivationKind::erf:
        return std::erf(x / std::numbers::sqrt2);
    case ActivationKind::relu:
        return x > 0.0 ? x : 0.0;
    default:
        return x;
    }
}

double gprime_of(ActivationKind k, double x) {
    switch (k) {
    case ActivationKind::erf:
        return std::sqrt(2.0 / pi) * std::exp(-0.5 * x * x);
    case ActivationKind::relu:
        return x > 0.0 ? 1.0 : 0.0;
    default:
        return 1.0;
    }
}

/// Running mean and standard error of the mean.
struct Accumulator {
    double sum = 0.0, sum2 = 0.0;
    void add(double x) {
        sum += x;
        sum2 += x * x;
    }
    [[nodiscard]] double mean(double n) const { return sum / n; }
    [[nodiscard]] double standard_error(double n) const {
        const double m = sum / n;
        return std::sqrt(std::max(sum2 / n - m * m, 0.0) / (n - 1.0));
    }
};

/// Monte-Carlo estimates of every tuple above for erf, relu and linear, and of eps_g for K = M = 2
/// (fields 0, 1 students, 2, 3 teachers; h = identity; second-layer weights v, v_star).
struct MonteCarlo {
    double n = 0.0;
    std::array<std::array<Accumulator, pairs.size()>, 3> i2{}, j2{};
    std::array<std::array<Accumulator, triples.size()>, 3> i3{};
    std::array<std::array<Accumulator, quads.size()>, 3> i4{};
    std::array<Accumulator, 3> eps{};
};

/// Samples u = F z, z standard normal (F a Cholesky or any other factor of C = F F^T).
MonteCarlo monte_carlo(const Eigen::MatrixXd& F, long samples, std::uint64_t seed,
                       const Eigen::Vector2d& v, const Eigen::Vector2d& v_star) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    MonteCarlo mc;
    mc.n = static_cast<double>(samples);
    Eigen::VectorXd z(F.cols());
    Eigen::Vector4d u;
    std::array<double, 4> g{}, gp{};
    for (long s = 0; s < samples; ++s) {
        for (Eigen::Index i = 0; i < z.size(); ++i)
            z(i) = normal(rng);
        u = F * z;
        for (std::size_t k = 0; k < closed_kinds.size(); ++k) {
            const ActivationKind kind = closed_kinds[k];
            for (std::size_t i = 0; i < 4; ++i) {
                g[i] = g_of(kind, u(static_cast<Eigen::Index>(i)));
                gp[i] = gprime_of(kind, u(static_cast<Eigen::Index>(i)));
            }
            auto at = [](const std::array<double, 4>& x, int i) {
                return x[static_cast<std::size_t>(i)];
            };
            for (std::size_t t = 0; t < pairs.size(); ++t) {
                const auto [a, b] = pairs[t];
                mc.i2[k][t].add(at(g, a) * at(g, b));
                mc.j2[k][t].add(at(gp, a) * at(gp, b));
            }
            for (std::size_t t = 0; t < triples.size(); ++t) {
                const auto [a, b, c] = triples[t];
                mc.i3[k][t].add(at(gp, a) * u(b) * at(g, c));
            }
            for (std::size_t t = 0; t < quads.size(); ++t) {
                const auto [a, b, c, d] = quads[t];
                mc.i4[k][t].add(at(gp, a) * at(gp, b) * at(g, c) * at(g, d));
            }
            const double sigma = v(0) * g[0] + v(1) * g[1];
            const double tau = v_star(0) * g[2] + v_star(1) * g[3];
            mc.eps[k].add(0.5 * (sigma - tau) * (sigma - tau));
        }
    }
    return mc;
}

/// |closed - MC| < 5 standard errors (+1e-12 for integrands without variance).
void check_against_mc(const std::string& what, double closed, const Accumulator& acc, double n) {
    const double mean = acc.mean(n), se = acc.standard_error(n);
    INFO(what << ": closed form " << closed << ", Monte Carlo " << mean << " +- " << se);
    CHECK(std::isfinite(closed));
    CHECK(std::abs(closed - mean) < 5.0 * se + 1e-12);
}

void check_all_against_mc(const Eigen::MatrixXd& C, const Eigen::MatrixXd& F, long samples,
                          std::uint64_t seed) {
    const Eigen::Vector2d v(0.7, 1.3), v_star(1.0, -0.4);
    const MonteCarlo mc = monte_carlo(F, samples, seed, v, v_star);
    const Eigen::MatrixXd Q = C.topLeftCorner(2, 2), R = C.topRightCorner(2, 2),
                          T = C.bottomRightCorner(2, 2);
    for (std::size_t k = 0; k < closed_kinds.size(); ++k) {
        const ActivationKind kind = closed_kinds[k];
        const std::string kn(plateau::name(kind));
        for (std::size_t t = 0; t < pairs.size(); ++t) {
            const auto [a, b] = pairs[t];
            const std::string idx = "(" + std::to_string(a) + "," + std::to_string(b) + ")";
            check_against_mc(kn + " I2" + idx, gi::I2(kind, C, a, b), mc.i2[k][t], mc.n);
            check_against_mc(kn + " J2" + idx, gi::J2(kind, C, a, b), mc.j2[k][t], mc.n);
        }
        for (std::size_t t = 0; t < triples.size(); ++t) {
            const auto [a, b, c] = triples[t];
            check_against_mc(kn + " I3(" + std::to_string(a) + "," + std::to_string(b) + "," +
                                 std::to_string(c) + ")",
                             gi::I3(kind, C, a, b, c), mc.i3[k][t], mc.n);
        }
        for (std::size_t t = 0; t < quads.size(); ++t) {
            const auto [a, b, c, d] = quads[t];
            check_against_mc(kn + " I4(" + std::to_string(a) + "," + std::to_string(b) + "," +
                                 std::to_string(c) + "," + std::to_string(d) + ")",
                             gi::I4(kind, C, a, b, c, d), mc.i4[k][t], mc.n);
        }
        check_against_mc(kn + " eps_g", gi::generalization_error(kind, Q, R, T, v, v_star),
                         mc.eps[k], mc.n);
    }
}

/// C = A A^T / d + delta I with A 4 x d standard normal.
Eigen::MatrixXd random_covariance(std::uint64_t seed, int d, double delta) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    Eigen::MatrixXd A(4, d);
    for (Eigen::Index i = 0; i < A.rows(); ++i)
        for (Eigen::Index j = 0; j < A.cols(); ++j)
            A(i, j) = normal(rng);
    return A * A.transpose() / d + delta * Eigen::MatrixXd::Identity(4, 4);
}

} // namespace

// [heavy]: 3 x 2 million samples, about 15 s of CPU under ASan (2.7 s in the ci build).
TEST_CASE("Gaussian averages match Monte Carlo on random covariances", "[integrals][heavy]") {
    constexpr long samples = 2'000'000;
    SECTION("well-conditioned covariance") {
        const Eigen::MatrixXd C = random_covariance(20240601, 4, 0.1);
        const Eigen::MatrixXd L = C.llt().matrixL();
        check_all_against_mc(C, L, samples, 1);
    }
    SECTION("covariance of larger scale, strongly correlated") {
        const Eigen::MatrixXd C = 2.5 * random_covariance(777, 3, 0.02);
        const Eigen::MatrixXd L = C.llt().matrixL();
        check_all_against_mc(C, L, samples, 2);
    }
    SECTION("singular covariance: plateau-like students in the teachers' span") {
        // students 0, 1 almost equal combinations of teachers 2, 3, plus a small private part
        Eigen::MatrixXd F(4, 3);
        F << 0.55, 0.45, 0.0, 0.45, 0.55, 0.05, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0;
        const Eigen::MatrixXd C = F * F.transpose();
        check_all_against_mc(C, F, samples / 2, 3);
    }
}

TEST_CASE("Exact values and identities", "[integrals]") {
    const Eigen::MatrixXd C = random_covariance(99, 5, 0.05);
    SECTION("linear g: I2 = C_ab, I3 = C_bc, I4 = C_cd, J2 = 1") {
        for (int a = 0; a < 4; ++a)
            for (int b = 0; b < 4; ++b) {
                CHECK(gi::I2(ActivationKind::linear, C, a, b) == C(a, b));
                CHECK(gi::J2(ActivationKind::linear, C, a, b) == 1.0);
                for (int c = 0; c < 4; ++c) {
                    CHECK(gi::I3(ActivationKind::linear, C, a, b, c) == C(b, c));
                    CHECK(gi::I4(ActivationKind::linear, C, a, b, c, 3 - a) == C(c, 3 - a));
                }
            }
    }
    SECTION("relu diagonals: I2(a,a) = C_aa/2, J2(a,a) = 1/2, I3(a,a,a) = C_aa/2") {
        for (int a = 0; a < 4; ++a) {
            CHECK(gi::I2(ActivationKind::relu, C, a, a) == Approx(C(a, a) / 2).epsilon(1e-15));
            CHECK(gi::J2(ActivationKind::relu, C, a, a) == 0.5);
            CHECK(gi::I3(ActivationKind::relu, C, a, a, a) == Approx(C(a, a) / 2).epsilon(1e-15));
            for (int b = 0; b < 4; ++b) // singular 2x2 regression system (a == c)
                CHECK(gi::I3(ActivationKind::relu, C, a, b, a) ==
                      Approx(C(a, b) / 2).epsilon(1e-14).margin(1e-15));
        }
    }
    SECTION("erf: I2(a,a) = 1/3 at C_aa = 1") {
        const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(3, 3);
        CHECK(gi::I2(ActivationKind::erf, I, 1, 1) == Approx(1.0 / 3.0).epsilon(1e-15));
        CHECK(gi::I2(ActivationKind::erf, I, 0, 1) == 0.0);
        CHECK(gi::J2(ActivationKind::erf, I, 0, 0) == Approx(2.0 / pi / std::sqrt(3.0)));
    }
    SECTION("relu I4 reduces to I2, I3 with repeated indices, and is symmetric") {
        constexpr auto relu = ActivationKind::relu;
        for (int a = 0; a < 4; ++a)
            for (int b = 0; b < 4; ++b) {
                const double i2 = gi::I2(relu, C, a, b);
                CHECK(gi::I4(relu, C, a, b, a, b) == Approx(i2).epsilon(1e-13));
                CHECK(gi::I4(relu, C, a, a, a, b) == Approx(i2).epsilon(1e-13));
                CHECK(gi::I4(relu, C, a, a, b, b) ==
                      Approx(gi::I3(relu, C, a, b, b)).epsilon(1e-13));
                for (int c = 0; c < 4; ++c)
                    for (int d = 0; d < 4; ++d) {
                        // different plane orientation and residual order inside the quadrature
                        const double x = gi::I4(relu, C, a, b, c, d);
                        CHECK(gi::I4(relu, C, b, a, d, c) == Approx(x).margin(1e-11));
                        CHECK(gi::I4(relu, 3.0 * C, a, b, c, d) == Approx(3.0 * x).margin(1e-11));
                    }
            }
    }
}

TEST_CASE("ReLU I4 matches high-precision reference values", "[integrals]") {
    // Reference: independent evaluation at 50 digits (mpmath) by Tallis' second-moment formula
    // E[u_c u_d 1(u_S > 0)] = C_cd P(S) + sum_{k != l} C_ck (C_dl - C_dk C_kl / C_kk)
    // phi_kl(0,0) P(S \ {k,l} | u_k = u_l = 0), with the 4-variate orthant probability P(S) from
    // Plackett's identity integrated along C(t) = I + t (C - I) by tanh-sinh quadrature.
    constexpr auto relu = ActivationKind::relu;
    SECTION("positive definite covariance") {
        Eigen::MatrixXd C(4, 4);
        C << 1.0, 0.3, -0.2, 0.5, 0.3, 1.5, 0.4, -0.1, -0.2, 0.4, 0.8, 0.25, 0.5, -0.1, 0.25, 1.2;
        CHECK(gi::I4(relu, C, 0, 1, 2, 3) == Approx(0.097788619556587134009).margin(1e-11));
        CHECK(gi::I4(relu, C, 2, 3, 0, 1) == Approx(0.12035504822677453881).margin(1e-11));
        CHECK(gi::I4(relu, C, 0, 2, 1, 3) == Approx(0.12415404859550222449).margin(1e-11));
        CHECK(gi::I4(relu, C, 1, 1, 2, 3) == Approx(0.14070502573004039943).margin(1e-11));
        CHECK(gi::I4(relu, C, 0, 1, 2, 2) == Approx(0.11928873744666655733).margin(1e-11));
        CHECK(gi::I4(relu, C, 3, 3, 0, 1) == Approx(0.18533322331505718116).margin(1e-11));
    }
    SECTION("rank-2 covariance: two students exactly in the span of two teachers") {
        Eigen::MatrixXd C(4, 4);
        C << 0.640625, 0.625, 0.625, 0.5, 0.625, 0.640625, 0.5, 0.625, 0.625, 0.5, 1.0, 0.0, 0.5,
            0.625, 0.0, 1.0;
        CHECK(gi::I4(relu, C, 0, 1, 2, 3) == Approx(1.0 / (2.0 * pi)).margin(1e-14));
        CHECK(gi::I4(relu, C, 2, 3, 0, 1) == Approx(0.25820863541839122412).margin(1e-11));
        CHECK(gi::I4(relu, C, 0, 2, 1, 3) == Approx(0.23582747154606144322).margin(1e-11));
        CHECK(gi::I4(relu, C, 0, 1, 0, 2) == Approx(0.32041341967060410526).margin(1e-11));
        CHECK(gi::I4(relu, C, 2, 2, 0, 1) == Approx(0.28553762230862246728).margin(1e-11));
        CHECK(gi::I4(relu, C, 1, 3, 0, 0) == Approx(0.27868783544615191546).margin(1e-11));
    }
}

TEST_CASE("Degenerate covariances are handled", "[integrals]") {
    constexpr auto relu = ActivationKind::relu;
    SECTION("collinear, anti-collinear and zero-variance fields") {
        Eigen::MatrixXd same(2, 2), opposite(2, 2), zero(2, 2);
        same << 1.0, 1.0, 1.0, 1.0;
        opposite << 1.0, -1.0, -1.0, 1.0;
        zero << 0.0, 0.0, 0.0, 1.0;
        CHECK(gi::I2(relu, same, 0, 1) == Approx(0.5).epsilon(1e-15));
        CHECK(gi::J2(relu, same, 0, 1) == Approx(0.5).epsilon(1e-15));
        CHECK(gi::I3(relu, same, 0, 1, 1) == Approx(0.5).epsilon(1e-15));
        CHECK(gi::I4(relu, same, 0, 1, 0, 1) == Approx(0.5).epsilon(1e-15));
        CHECK(gi::I2(relu, opposite, 0, 1) == Approx(0.0).margin(1e-16));
        CHECK(gi::J2(relu, opposite, 0, 1) == Approx(0.0).margin(1e-16));
        CHECK(gi::I3(relu, opposite, 0, 1, 1) == Approx(0.0).margin(1e-16));
        CHECK(gi::I3(relu, opposite, 0, 0, 1) == Approx(0.0).margin(1e-16));
        CHECK(gi::I4(relu, opposite, 0, 1, 0, 1) == Approx(0.0).margin(1e-16));
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b) {
                CHECK(gi::I2(relu, zero, 0, a) == 0.0);
                CHECK(gi::J2(relu, zero, 0, a) == 0.0);
                CHECK(gi::I3(relu, zero, 0, a, b) == 0.0);
                CHECK(gi::I3(relu, zero, a, b, 0) == 0.0);
                CHECK(gi::I4(relu, zero, a, 0, b, 1) == 0.0);
                CHECK(gi::I4(relu, zero, a, b, 1, 0) == 0.0);
            }
        // a rounding-level indefinite matrix still gives finite values
        Eigen::MatrixXd over(2, 2);
        over << 1.0, 1.0 + 1e-15, 1.0 + 1e-15, 1.0;
        CHECK(gi::I2(relu, over, 0, 1) == Approx(0.5).epsilon(1e-12));
        CHECK(gi::I3(relu, over, 0, 1, 1) == Approx(0.5).epsilon(1e-12));
        CHECK(gi::I2(ActivationKind::erf, over, 0, 1) == Approx(1.0 / 3.0).epsilon(1e-12));
    }
    SECTION("perfect student Q = R = T = I (K = M = 2): exact values") {
        const Eigen::MatrixXd I2x2 = Eigen::MatrixXd::Identity(2, 2);
        const Eigen::MatrixXd C = gi::field_covariance(I2x2, I2x2, I2x2);
        const double mean_relu_sq = 1.0 / (2.0 * pi); // <relu(u)>^2 for unit variance
        CHECK(gi::I4(relu, C, 2, 3, 0, 1) == Approx(mean_relu_sq).epsilon(1e-13));
        CHECK(gi::I4(relu, C, 0, 1, 2, 3) == Approx(mean_relu_sq).epsilon(1e-13));
        CHECK(gi::I4(relu, C, 0, 0, 2, 1) == Approx(mean_relu_sq).epsilon(1e-13));
        CHECK(gi::I4(relu, C, 0, 2, 0, 2) == Approx(0.5).epsilon(1e-13));
        CHECK(gi::I4(relu, C, 0, 3, 2, 2) == Approx(0.25).epsilon(1e-13));
        CHECK(gi::I3(relu, C, 0, 2, 2) == Approx(0.5).epsilon(1e-13));
    }
    SECTION("relu I4 with a rounding-level collinear pair (c, d) is stable under rescaling") {
        // u_3 = 1.0001 u_0 up to 1 - r ~ 4e-16, rank 3 (found by fuzzing: whitening the (0, 3)
        // plane amplified rounding to 1e-4 before the nearly-collinear expansion was added)
        Eigen::MatrixXd C(4, 4);
        C << 0.27460354964601702, 0.67548053706221256, -0.19573738996155635, 0.27463100888099451,
            0.67548053706221256, 1.9597598706475092, 0.25343708386479463, 0.67554807895343927,
            -0.19573738996155635, 0.25343708386479463, 2.9273026479612714, -0.19575695859588313,
            0.27463100888099451, 0.67554807895343927, -0.19575695859588313, 0.27465847086178369;
        const double reference = 0.049682157369506363; // mpmath, 40 digits, from this C
        for (const double scale : {1.0, 3.0, 0.7, 1e-150, 1e150})
            CHECK(gi::I4(relu, scale * C, 2, 1, 0, 3) / scale == Approx(reference).epsilon(1e-8));
    }
    SECTION("relu I4 is continuous as fields become collinear") {
        // u_1 -> u_0 and u_3 -> a combination of u_0 and u_2, at distance eps
        std::mt19937_64 rng(5);
        std::normal_distribution<double> normal;
        Eigen::MatrixXd A(4, 4), W(4, 4);
        for (Eigen::Index i = 0; i < 4; ++i)
            for (Eigen::Index j = 0; j < 4; ++j) {
                A(i, j) = normal(rng);
                W(i, j) = normal(rng);
            }
        A.row(1) = A.row(0);
        A.row(3) = 0.6 * A.row(0) - 0.5 * A.row(2);
        const Eigen::MatrixXd C0 = A * A.transpose();
        for (const double eps : {1e-3, 1e-5, 1e-7}) {
            Eigen::MatrixXd Ae = A;
            Ae.row(1) += eps * W.row(1);
            Ae.row(3) += eps * W.row(3);
            const Eigen::MatrixXd Ce = Ae * Ae.transpose();
            for (const auto& q : quads) {
                const double x0 = gi::I4(relu, C0, q[0], q[1], q[2], q[3]);
                const double xe = gi::I4(relu, Ce, q[0], q[1], q[2], q[3]);
                INFO("eps " << eps << " I4(" << q[0] << q[1] << q[2] << q[3] << ") " << x0 << " "
                            << xe);
                CHECK(std::isfinite(xe));
                CHECK(std::abs(xe - x0) < 20.0 * eps);
            }
        }
    }
}

TEST_CASE("Generalization error", "[integrals]") {
    SECTION("vanishes for a perfect student") {
        for (const auto kind : closed_kinds)
            for (const int K : {1, 2, 3}) {
                const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(K, K);
                const Eigen::VectorXd v = Eigen::VectorXd::LinSpaced(K, 0.5, 1.5);
                CHECK(gi::generalization_error(kind, I, I, I, v, v) == Approx(0.0).margin(1e-14));
            }
    }
    SECTION("erf symmetric plateau value (K/pi)[pi/6 - K arcsin(1/(2K))]") {
        // Saad & Solla (1995), unspecialized fixed point for K = M, T = I, eta -> 0:
        // Q_jk = 1/(2K-1) for all j, k and R_jn = 1/sqrt(K(2K-1)) for all j, n. There every
        // student-student and student-teacher I2 is (2/pi) arcsin(1/(2K)) and I2(n,n) = 1/3.
        for (const int K : {1, 2, 3, 5}) {
            const Eigen::MatrixXd Q = Eigen::MatrixXd::Constant(K, K, 1.0 / (2.0 * K - 1.0));
            const Eigen::MatrixXd R =
                Eigen::MatrixXd::Constant(K, K, 1.0 / std::sqrt(K * (2.0 * K - 1.0)));
            const Eigen::MatrixXd T = Eigen::MatrixXd::Identity(K, K);
            const Eigen::VectorXd ones = Eigen::VectorXd::Ones(K);
            const double expected = K / pi * (pi / 6.0 - K * std::asin(1.0 / (2.0 * K)));
            CHECK(gi::generalization_error(ActivationKind::erf, Q, R, T, ones, ones) ==
                  Approx(expected).epsilon(1e-13).margin(1e-15));
        }
    }
    SECTION("field_covariance layout and size checks") {
        Eigen::MatrixXd Q(2, 2), R(2, 3), T = Eigen::MatrixXd::Identity(3, 3);
        Q << 1.0, 0.1, 0.1, 2.0;
        R << 0.1, 0.2, 0.3, 0.4, 0.5, 0.6;
        const Eigen::MatrixXd C = gi::field_covariance(Q, R, T);
        REQUIRE(C.rows() == 5);
        CHECK(C(1, 1) == 2.0);
        CHECK(C(0, 4) == 0.3);
        CHECK(C(4, 0) == 0.3);
        CHECK(C(3, 3) == 1.0);
        CHECK_THROWS_AS(gi::field_covariance(Q, R.transpose(), T), std::invalid_argument);
        const Eigen::VectorXd v2 = Eigen::VectorXd::Ones(2), v3 = Eigen::VectorXd::Ones(3);
        CHECK_THROWS_AS(gi::generalization_error(ActivationKind::erf, Q, R, T, v3, v3),
                        std::invalid_argument);
        CHECK_NOTHROW(gi::generalization_error(ActivationKind::erf, Q, R, T, v2, v3));
    }
}

TEST_CASE("Activations without closed form and bad indices are rejected", "[integrals]") {
    CHECK(gi::has_closed_form(ActivationKind::erf));
    CHECK(gi::has_closed_form(ActivationKind::relu));
    CHECK(gi::has_closed_form(ActivationKind::linear));
    CHECK_FALSE(gi::has_closed_form(ActivationKind::tanh));
    CHECK_FALSE(gi::has_closed_form(ActivationKind::sigmoid));
    const Eigen::MatrixXd C = Eigen::MatrixXd::Identity(2, 2);
    for (const auto kind : {ActivationKind::tanh, ActivationKind::sigmoid}) {
        CHECK_THROWS_AS(gi::I2(kind, C, 0, 1), std::invalid_argument);
        CHECK_THROWS_AS(gi::I3(kind, C, 0, 1, 1), std::invalid_argument);
        CHECK_THROWS_AS(gi::I4(kind, C, 0, 1, 0, 1), std::invalid_argument);
        CHECK_THROWS_AS(gi::J2(kind, C, 0, 1), std::invalid_argument);
        CHECK_THROWS_AS(gi::generalization_error(kind, C, C, C, Eigen::VectorXd::Ones(2),
                                                 Eigen::VectorXd::Ones(2)),
                        std::invalid_argument);
    }
    CHECK_THROWS_WITH(gi::I2(ActivationKind::tanh, C, 0, 1), Catch::Contains("tanh"));
    CHECK_THROWS_AS(gi::I2(ActivationKind::erf, C, 0, 2), std::out_of_range);
    CHECK_THROWS_AS(gi::I4(ActivationKind::relu, C, -1, 0, 0, 0), std::out_of_range);
}

TEST_CASE("eps_g of a student equal to its teacher is zero and never negative", "[integrals]") {
    // eps_g = 1/2 c^T I2 c with c = (v, -v*) and I2 positive semi-definite, so eps_g >= 0; for
    // W = B and v = v* it is 0 exactly, and the difference of the three sums must not leave a
    // negative rounding residue (log plots drop such points; it was -7e-17 in simulations).
    std::mt19937_64 rng(20261202);
    std::normal_distribution<double> normal;
    int negative_before_clamp = 0;
    for (const auto g : {ActivationKind::erf, ActivationKind::relu, ActivationKind::linear}) {
        for (int trial = 0; trial < 200; ++trial) {
            const int K = 1 + trial % 5;
            Eigen::MatrixXd B(K, 40);
            for (Eigen::Index i = 0; i < B.size(); ++i)
                B.data()[i] = normal(rng) / std::sqrt(40.0);
            const Eigen::MatrixXd T = B * B.transpose();
            Eigen::VectorXd v(K);
            for (int j = 0; j < K; ++j)
                v(j) = 0.3 + std::abs(normal(rng));
            const double eg = plateau::integrals::generalization_error(g, T, T, T, v, v);
            CHECK(eg >= 0.0);
            CHECK(eg < 1e-14);
            negative_before_clamp += eg < 0.0;
        }
    }
    CHECK(negative_before_clamp == 0);
}
