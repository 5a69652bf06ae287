// The flow of docs/theory.md §3 for h = h* = identity and g = g*: sums of the Gaussian averages
// I2, I3, I4, J2 (models/gaussian_integrals.hpp). See flow.hpp, FlowMethod::integrals.
//
// Two implementations of the same sums: for g = erf the sums of models/erf_sums.hpp (the closed
// forms of docs/theory.md §2 with the factors shared by many terms computed once); for every other
// g the generic loop over the Activation overloads of I2, I3, I4, J2 (one call per term), which is
// also kept as compute_integral_flow_reference for the tests and the benchmark (bench_ode).
#include "engine/theory/flow_paths.hpp"
#include "models/erf_sums.hpp"
#include "models/gaussian_integrals.hpp"

namespace plateau {

/// The generic loop: one call of I2/I3/I4/J2 per term. Fills dQ (K x K, symmetric), dR (K x M),
/// dv (K) with the derivatives d/dalpha.
void compute_integral_flow_reference(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                     const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                     const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                                     Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR,
                                     Eigen::VectorXd& dv) {
    const auto K = static_cast<int>(Q.rows());
    const auto M = static_cast<int>(T.rows());
    const int P = K + M;
    const Activation& g = s.g;
    const Eigen::MatrixXd C = integrals::field_covariance(Q, R, T);

    // Coefficients of tau - sigma = sum_u c_u g(u_u): c = (-v, +v*), docs/theory.md §3.
    Eigen::VectorXd c(P);
    c.head(K) = -v;
    c.tail(M) = v_star;

    // A(j, b) = <delta_j u_b> = v_j sum_u c_u I3(j, b, u), docs/theory.md §3, for every field b
    // (students b < K give <delta_j x_k>, teachers b = K+n give <delta_j y_n>).
    Eigen::MatrixXd A(K, P);
    for (int j = 0; j < K; ++j)
        for (int b = 0; b < P; ++b) {
            double sum = 0.0;
            for (int u = 0; u < P; ++u)
                if (c(u) != 0.0)
                    sum += c(u) * integrals::I3(g, C, j, b, u);
            A(j, b) = v(j) * sum;
        }

    // dR_jn/dalpha = eta <delta_j y_n> = eta v_j sum_u c_u I3(j, n, u)
    // (docs/theory.md §3; Saad & Solla 1995; Biehl & Schwarze 1995).
    dR.resize(K, M);
    for (int j = 0; j < K; ++j)
        for (int n = 0; n < M; ++n)
            dR(j, n) = s.eta * A(j, K + n);
    // Weight decay: dR_jn/dalpha gains -eta lambda R_jn (docs/theory.md §6).
    if (s.weight_decay != 0.0)
        dR -= (s.eta * s.weight_decay) * R;

    // dQ_jk/dalpha = eta (<delta_j x_k> + <delta_k x_j>) + eta^2 <delta_j delta_k>, with
    // <delta_j delta_k> = v_j v_k [ sum_{u,u'} c_u c_u' I4(j, k, u, u') + s^2 J2(j, k) ]
    // (docs/theory.md §3; Saad & Solla 1995; the s^2 term: label noise zeta ~ N(0, s^2) enters
    // (tau - sigma)^2 as <zeta^2> = s^2 times <g'(x_j) g'(x_k)>).
    // dQ is symmetric: only j <= k is computed. I4(j,k,u,u') is symmetric in u <-> u': the double
    // sum is sum_u c_u^2 I4(j,k,u,u) + 2 sum_{u<u'} c_u c_u' I4(j,k,u,u').
    // A batch of B fresh examples per update divides the eta^2 term by B (docs/theory.md §6;
    // B = 1 divides by 1.0, exactly).
    dQ.resize(K, K);
    const double eta2 = s.eta * s.eta / s.batch;
    for (int j = 0; j < K; ++j)
        for (int k = j; k < K; ++k) {
            double quad = 0.0;
            if (eta2 != 0.0) {
                double sum4 = 0.0;
                for (int u = 0; u < P; ++u) {
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
                quad = v(j) * v(k) * (sum4 + noise);
            }
            dQ(j, k) = dQ(k, j) = s.eta * (A(j, k) + A(k, j)) + eta2 * quad;
        }
    // Weight decay: dQ_jk/dalpha gains -2 eta lambda Q_jk (docs/theory.md §6).
    if (s.weight_decay != 0.0)
        dQ -= (2.0 * s.eta * s.weight_decay) * Q;

    // dv_j/dalpha = eta_v <(tau - sigma) g(x_j)> = eta_v sum_u c_u I2(j, u)
    // (docs/theory.md §3; Riegler & Biehl 1995); zero for a fixed second layer.
    dv.setZero(K);
    if (s.learn_v)
        for (int j = 0; j < K; ++j) {
            double sum = 0.0;
            for (int u = 0; u < P; ++u)
                if (c(u) != 0.0)
                    sum += c(u) * integrals::I2(g, C, j, u);
            dv(j) = s.eta_v * sum;
        }
    // Weight decay on a learned second layer: dv_j/dalpha gains -eta_v lambda v_j (§6).
    if (s.learn_v && s.weight_decay != 0.0)
        dv -= (s.eta_v * s.weight_decay) * v;
}

namespace {

/// g = erf: the same flow from the sums of models/erf_sums.hpp.
void compute_erf_flow(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                      const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                      const Eigen::VectorXd& v_star, Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR,
                      Eigen::VectorXd& dv) {
    const auto K = static_cast<int>(Q.rows());
    const auto M = static_cast<int>(T.rows());
    const int P = K + M;
    const Eigen::MatrixXd C = integrals::field_covariance(Q, R, T);
    // c = (-v, +v*): tau - sigma = sum_u c_u g(u_u), docs/theory.md §3.
    Eigen::VectorXd c(P);
    c.head(K) = -v;
    c.tail(M) = v_star;
    const double eta2 = s.eta * s.eta / s.batch;
    integrals::ErfSumsRequest request;
    request.s4 = eta2 != 0.0;
    request.j2 = eta2 != 0.0 && s.noise != 0.0;
    request.s2 = s.learn_v;
    Eigen::MatrixXd s3, s4, j2;
    Eigen::VectorXd s2;
    integrals::erf_flow_sums(C, c, K, request, s3, s4, j2, s2);

    // A(j, b) = <delta_j u_b> = v_j sum_u c_u I3(j, b, u), docs/theory.md §3.
    const Eigen::MatrixXd A = v.asDiagonal() * s3;
    // dR_jn/dalpha = eta <delta_j y_n>, minus eta lambda R_jn (docs/theory.md §3, §6).
    dR = s.eta * A.rightCols(M);
    if (s.weight_decay != 0.0)
        dR -= (s.eta * s.weight_decay) * R;
    // dQ_jk/dalpha = eta (<delta_j x_k> + <delta_k x_j>) + eta^2/B v_j v_k [ sum_{u,u'} c_u c_u'
    // I4(j, k, u, u') + s^2 J2(j, k) ], minus 2 eta lambda Q_jk (docs/theory.md §3, §6).
    dQ.resize(K, K);
    for (int j = 0; j < K; ++j)
        for (int k = j; k < K; ++k) {
            double quad = 0.0;
            if (eta2 != 0.0) {
                const double noise = s.noise != 0.0 ? s.noise * j2(j, k) : 0.0;
                quad = v(j) * v(k) * (s4(j, k) + noise);
            }
            dQ(j, k) = dQ(k, j) = s.eta * (A(j, k) + A(k, j)) + eta2 * quad;
        }
    if (s.weight_decay != 0.0)
        dQ -= (2.0 * s.eta * s.weight_decay) * Q;
    // dv_j/dalpha = eta_v <(tau - sigma) g(x_j)> = eta_v sum_u c_u I2(j, u), minus eta_v lambda
    // v_j (docs/theory.md §3, §6); zero for a fixed second layer.
    dv.setZero(K);
    if (s.learn_v) {
        dv = s.eta_v * s2;
        if (s.weight_decay != 0.0)
            dv -= (s.eta_v * s.weight_decay) * v;
    }
}

} // namespace

void compute_integral_flow(const FlowSettings& s, const Eigen::MatrixXd& Q,
                           const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                           const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                           Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR, Eigen::VectorXd& dv) {
    if (s.g.kind == ActivationKind::erf)
        compute_erf_flow(s, Q, R, T, v, v_star, dQ, dR, dv);
    else
        compute_integral_flow_reference(s, Q, R, T, v, v_star, dQ, dR, dv);
}

} // namespace plateau
