// The flow of docs/theory.md §3 for h = h* = identity and g = g*: sums of the Gaussian averages
// I2, I3, I4, J2 (models/gaussian_integrals.hpp). See flow.hpp, FlowMethod::integrals.
//
// Two implementations of the same sums: for g = erf the sums of models/erf_sums.hpp (the closed
// forms of docs/theory.md §2 with the factors shared by many terms computed once); for every other
// g the generic loop over the Activation overloads of I2, I3, I4, J2 (one call per term), which is
// also kept as integral_flow_averages_reference for the tests and the benchmark (bench_ode).
// They return the averages; engine/theory/flow.cpp (assemble_flow, add_weight_decay) turns them
// into the flow, with eta, eta_v, B and lambda, for every method alike.
#include "engine/theory/flow_paths.hpp"
#include "models/erf_sums.hpp"
#include "models/gaussian_integrals.hpp"
#include "models/polynomial_averages.hpp"

#include <algorithm>
#include <array>
#include <vector>

namespace plateau {

/// The generic loop: one call of I2/I3/I4/J2 per term (docs/theory.md §3).
FlowAverages integral_flow_averages_reference(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                              const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                              const Eigen::VectorXd& v,
                                              const Eigen::VectorXd& v_star) {
    const auto K = static_cast<int>(Q.rows());
    const auto M = static_cast<int>(T.rows());
    const int P = K + M;
    const Activation& g = s.g;
    const Eigen::MatrixXd C = integrals::field_covariance(Q, R, T);

    // Coefficients of tau - sigma = sum_u c_u g(u_u): c = (-v, +v*), docs/theory.md §3.
    Eigen::VectorXd c(P);
    c.head(K) = -v;
    c.tail(M) = v_star;

    FlowAverages a;
    // cu(j, b) = <delta_j u_b> = v_j sum_u c_u I3(j, b, u), docs/theory.md §3, for every field b
    // (students b < K give <delta_j x_k>, teachers b = K+n give <delta_j y_n>).
    a.cu.resize(K, P);
    for (int j = 0; j < K; ++j)
        for (int b = 0; b < P; ++b) {
            double sum = 0.0;
            for (int u = 0; u < P; ++u)
                if (c(u) != 0.0)
                    sum += c(u) * integrals::I3(g, C, j, b, u);
            a.cu(j, b) = v(j) * sum;
        }

    // cc(j, k) = <delta_j delta_k> = v_j v_k [ sum_{u,u'} c_u c_u' I4(j, k, u, u') + s^2 J2(j, k) ]
    // (docs/theory.md §3; Saad & Solla 1995; the s^2 term: label noise zeta ~ N(0, s^2) enters
    // (tau - sigma)^2 as <zeta^2> = s^2 times <g'(x_j) g'(x_k)>). Symmetric: j <= k computed.
    // I4(j,k,u,u') is symmetric in u <-> u': the double sum is sum_u c_u^2 I4(j,k,u,u) +
    // 2 sum_{u<u'} c_u c_u' I4(j,k,u,u').
    a.cc = Eigen::MatrixXd::Zero(K, K);
    if (needs_second_order(s))
        for (int j = 0; j < K; ++j)
            for (int k = j; k < K; ++k) {
                double sum4 = 0.0; // 0 with ode-eta2 = noise-only (docs/theory.md §3)
                for (int u = 0; u < P && s.eta2 == Eta2Terms::keep; ++u) {
                    if (c(u) == 0.0)
                        continue;
                    sum4 += c(u) * c(u) * integrals::I4(g, C, j, k, u, u);
                    double off = 0.0;
                    for (int w = u + 1; w < P; ++w)
                        if (c(w) != 0.0)
                            off += c(w) * integrals::I4(g, C, j, k, u, w);
                    sum4 += 2.0 * c(u) * off;
                }
                const double noise = s.noise != 0.0 ? s.noise * integrals::J2(g, C, j, k) : 0.0;
                a.cc(j, k) = a.cc(k, j) = v(j) * v(k) * (sum4 + noise);
            }

    // eg(j) = <(tau - sigma) g(x_j)> = sum_u c_u I2(j, u) (docs/theory.md §3; Riegler & Biehl
    // 1995), for a learned second layer.
    a.eg.setZero(K);
    if (s.learn_v)
        for (int j = 0; j < K; ++j) {
            double sum = 0.0;
            for (int u = 0; u < P; ++u)
                if (c(u) != 0.0)
                    sum += c(u) * integrals::I2(g, C, j, u);
            a.eg(j) = sum;
        }
    return a;
}

namespace {

/// g = erf: the same averages from the sums of models/erf_sums.hpp.
FlowAverages erf_flow_averages(const FlowSettings& s, const Eigen::MatrixXd& Q,
                               const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                               const Eigen::VectorXd& v, const Eigen::VectorXd& v_star) {
    const auto K = static_cast<int>(Q.rows());
    const auto M = static_cast<int>(T.rows());
    const int P = K + M;
    const Eigen::MatrixXd C = integrals::field_covariance(Q, R, T);
    // c = (-v, +v*): tau - sigma = sum_u c_u g(u_u), docs/theory.md §3.
    Eigen::VectorXd c(P);
    c.head(K) = -v;
    c.tail(M) = v_star;
    integrals::ErfSumsRequest request;
    const bool second_order = needs_second_order(s);
    request.s4 = second_order && s.eta2 == Eta2Terms::keep; // noise-only: no e^2 term (§3)
    request.j2 = second_order && s.noise != 0.0;
    request.s2 = s.learn_v;
    Eigen::MatrixXd s3, s4, j2;
    Eigen::VectorXd s2;
    integrals::erf_flow_sums(C, c, K, request, s3, s4, j2, s2);

    FlowAverages a;
    // cu(j, b) = <delta_j u_b> = v_j sum_u c_u I3(j, b, u), docs/theory.md §3.
    a.cu = v.asDiagonal() * s3;
    // cc(j, k) = v_j v_k [ sum_{u,u'} c_u c_u' I4(j, k, u, u') + s^2 J2(j, k) ] (§3).
    a.cc = Eigen::MatrixXd::Zero(K, K);
    if (second_order)
        for (int j = 0; j < K; ++j)
            for (int k = j; k < K; ++k) {
                const double noise = s.noise != 0.0 ? s.noise * j2(j, k) : 0.0;
                const double e2 = request.s4 ? s4(j, k) : 0.0;
                a.cc(j, k) = a.cc(k, j) = v(j) * v(k) * (e2 + noise);
            }
    // eg(j) = sum_u c_u I2(j, u) (§3), for a learned second layer.
    if (s.learn_v)
        a.eg = s2;
    else
        a.eg.setZero(K);
    return a;
}

} // namespace

namespace {

using polynomial_averages::Factor;
using polynomial_averages::Term;

/// A polynomial g with a polynomial target (docs/theory.md §13): g, g', x and the target's
/// monomials (Eq. (13.1)) as terms over u = (x_1..x_K, y_1..y_M), y_n the field K + n - 1. A
/// power above Polynomial::max_degree is split into several factors of the same field.
struct PolynomialModel {
    Polynomial g, dg, x;
    std::vector<Term> tau;

    PolynomialModel(const FlowSettings& s, int K)
        : g(as_polynomial(s.g).value()), dg(g.derivative()) {
        x.c[1] = 1.0;
        for (const PolynomialTarget::Monomial& m : s.target.polynomial->monomials()) {
            Term t{m.coefficient, {}};
            for (const PolynomialTarget::Factor& f : m.factors)
                for (int left = f.power; left > 0; left -= Polynomial::max_degree) {
                    Polynomial power;
                    power.c[static_cast<std::size_t>(std::min(left, Polynomial::max_degree))] = 1.0;
                    t.factors.push_back({K + f.field, power});
                }
            tau.push_back(std::move(t));
        }
    }
};

} // namespace

FlowAverages polynomial_target_averages(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                        const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                        const Eigen::VectorXd& v) {
    using polynomial_averages::average;
    using polynomial_averages::average_of_square;
    const auto K = static_cast<int>(Q.rows());
    const auto M = static_cast<int>(T.rows());
    const int P = K + M;
    const Eigen::MatrixXd C = integrals::field_covariance(Q, R, T);
    const PolynomialModel pm(s, K);
    const auto f = [](int field, const Polynomial& p) {
        return Factor{field, p};
    };
    // e = tau(y) - sum_k v_k g(x_k), d_j = v_j g'(x_j), c_j = e d_j (docs/theory.md Eq. (13.4));
    // every average a sum of Gaussian moments by Isserlis' theorem (Eq. (13.5)).
    FlowAverages a;
    a.cu.resize(K, P); // <c_j u_b> = v_j (<g'_j u_b tau> - sum_k v_k <g'_j u_b g_k>)
    for (int j = 0; j < K; ++j)
        for (int b = 0; b < P; ++b) {
            const std::array<Factor, 2> jb{f(j, pm.dg), f(b, pm.x)};
            double sum = average(jb, pm.tau, C);
            for (int k = 0; k < K; ++k) {
                const std::array<Factor, 3> jbk{f(j, pm.dg), f(b, pm.x), f(k, pm.g)};
                sum -= v(k) * polynomial_averages::average(jbk, C);
            }
            a.cu(j, b) = v(j) * sum;
        }
    // <(e^2 + s^2) d_j d_k> = v_j v_k (<g'_j g'_k tau^2> - 2 sum_l v_l <g'_j g'_k g_l tau> +
    // sum_lm v_l v_m <g'_j g'_k g_l g_m> + s^2 <g'_j g'_k>); s^2 alone with ode-eta2 =
    // noise-only (§3).
    a.cc = Eigen::MatrixXd::Zero(K, K);
    if (needs_second_order(s))
        for (int j = 0; j < K; ++j)
            for (int k = j; k < K; ++k) {
                const std::array<Factor, 2> jk{f(j, pm.dg), f(k, pm.dg)};
                double sum = s.noise * polynomial_averages::average(jk, C);
                if (s.eta2 == Eta2Terms::keep) {
                    sum += average_of_square(jk, pm.tau, C);
                    for (int l = 0; l < K; ++l) {
                        const std::array<Factor, 3> jkl{f(j, pm.dg), f(k, pm.dg), f(l, pm.g)};
                        sum -= 2.0 * v(l) * average(jkl, pm.tau, C);
                        for (int m = 0; m < K; ++m) {
                            const std::array<Factor, 4> jklm{f(j, pm.dg), f(k, pm.dg), f(l, pm.g),
                                                             f(m, pm.g)};
                            sum += v(l) * v(m) * polynomial_averages::average(jklm, C);
                        }
                    }
                }
                a.cc(j, k) = a.cc(k, j) = v(j) * v(k) * sum;
            }
    // <e g(x_j)> = <g_j tau> - sum_k v_k <g_j g_k>, for a learned second layer.
    a.eg.setZero(K);
    if (s.learn_v)
        for (int j = 0; j < K; ++j) {
            const std::array<Factor, 1> gj{f(j, pm.g)};
            double sum = average(gj, pm.tau, C);
            for (int k = 0; k < K; ++k) {
                const std::array<Factor, 2> jk{f(j, pm.g), f(k, pm.g)};
                sum -= v(k) * polynomial_averages::average(jk, C);
            }
            a.eg(j) = sum;
        }
    return a;
}

double polynomial_target_generalization_error(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                              const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                              const Eigen::VectorXd& v) {
    // eps_g = (<tau^2> - 2 sum_j v_j <g_j tau> + sum_jk v_j v_k <g_j g_k>)/2 (Eq. (13.4)).
    const auto K = static_cast<int>(Q.rows());
    const Eigen::MatrixXd C = integrals::field_covariance(Q, R, T);
    const PolynomialModel pm(s, K);
    double sum = polynomial_averages::average_of_square({}, pm.tau, C);
    for (int j = 0; j < K; ++j) {
        const std::array<Factor, 1> gj{Factor{j, pm.g}};
        sum -= 2.0 * v(j) * polynomial_averages::average(gj, pm.tau, C);
        for (int k = 0; k < K; ++k) {
            const std::array<Factor, 2> jk{Factor{j, pm.g}, Factor{k, pm.g}};
            sum += v(j) * v(k) * polynomial_averages::average(jk, C);
        }
    }
    return 0.5 * sum;
}

FlowAverages integral_flow_averages(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                    const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                    const Eigen::VectorXd& v, const Eigen::VectorXd& v_star) {
    if (s.target.polynomial)
        return polynomial_target_averages(s, Q, R, T, v);
    if (s.g.kind == ActivationKind::erf)
        return erf_flow_averages(s, Q, R, T, v, v_star);
    return integral_flow_averages_reference(s, Q, R, T, v, v_star);
}

} // namespace plateau
