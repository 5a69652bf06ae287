// The flow of the order parameters, docs/theory.md §3; see flow.hpp.
#include "engine/flow.hpp"

#include "engine/errors.hpp"
#include "models/gaussian_integrals.hpp"

#include <sstream>
#include <stdexcept>
#include <string>

namespace plateau {

// ---------------------------------------------------------------------------------------------
// Which models the theory covers.
// ---------------------------------------------------------------------------------------------

bool theory_supports(const ModelParams& m) noexcept {
    return integrals::has_closed_form(m.student.g.kind, m.student.h.kind, m.teacher.g.kind,
                                      m.teacher.h.kind);
}

void require_theory_support(const ModelParams& m) {
    // Deeper networks (docs/theory.md §9) have no ODE theory here: refuse them first.
    for (const auto* net : {&m.student, &m.teacher})
        if (net->widths.size() > 1) {
            std::string widths;
            for (const int w : net->widths)
                widths += (widths.empty() ? "" : "x") + std::to_string(w);
            throw ConfigError(net == &m.student ? "K" : "M", widths,
                              "one hidden layer: plateau ode covers two-layer networks (deeper "
                              "networks run with plateau run)");
        }
    const std::string covered =
        "the ODE theory covers only h = h* = identity with g = g* in {" +
        integrals::closed_form_names() +
        "} (output-activation = teacher-output-activation = identity, activation = "
        "teacher-activation)";
    if (m.student.h.kind != ActivationKind::linear)
        throw ConfigError("output-activation", std::string(output_name(m.student.h.kind)), covered);
    if (m.teacher.h.kind != ActivationKind::linear)
        throw ConfigError("teacher-output-activation", std::string(output_name(m.teacher.h.kind)),
                          covered);
    if (!integrals::has_closed_form(m.student.g.kind))
        throw ConfigError("activation", std::string(name(m.student.g.kind)), covered);
    if (m.teacher.g.kind != m.student.g.kind)
        throw ConfigError("teacher-activation", std::string(name(m.teacher.g.kind)),
                          covered + ", here activation = " + std::string(name(m.student.g.kind)));
}

void check_order_parameter_sizes(const ModelParams& m, const OrderParameters& op) {
    const Eigen::Index K = m.student.hidden(), M = m.teacher.hidden();
    if (op.Q.rows() != K || op.Q.cols() != K || op.R.rows() != K || op.R.cols() != M ||
        op.T.rows() != M || op.T.cols() != M || op.v.size() != K || op.v_star.size() != M)
        throw std::invalid_argument(
            "plateau theory: order parameters must have Q K x K, R K x M, T M x M, v K, v_star M "
            "entries with K = " +
            std::to_string(K) + ", M = " + std::to_string(M) + "; got Q " +
            std::to_string(op.Q.rows()) + "x" + std::to_string(op.Q.cols()) + ", R " +
            std::to_string(op.R.rows()) + "x" + std::to_string(op.R.cols()) + ", T " +
            std::to_string(op.T.rows()) + "x" + std::to_string(op.T.cols()) + ", v " +
            std::to_string(op.v.size()) + ", v_star " + std::to_string(op.v_star.size()));
}

// ---------------------------------------------------------------------------------------------
// The flow, docs/theory.md §3.
//
// The error signal is a sum over all K+M units u (students first): tau - sigma = sum_u c_u g(u)
// with c_u = -v_j on student unit j and c_u = +v*_n on teacher unit n (the label noise zeta adds
// to tau and is independent of the fields). With delta_j = v_j g'(x_j) (tau - sigma) the update
// is w^(j) += (eta/N) delta_j xi, so per step N dR_jn = eta delta_j y_n and
// N dQ_jk = eta (delta_j x_k + delta_k x_j) + eta^2 delta_j delta_k |xi|^2/N; averaging over the
// fresh example (|xi|^2/N -> 1) gives the equations below.
// ---------------------------------------------------------------------------------------------

void require_theory_regime(const RunParams& p) {
    const std::string why =
        "none: a finite training set has no closed theory (its examples are "
        "re-used, so the order parameters do not close, docs/theory.md section 6); "
        "simulate it with plateau run";
    if (p.training.train_set)
        throw ConfigError("train-set", std::to_string(*p.training.train_set), why);
    if (p.training.alpha_train) {
        std::ostringstream text;
        text << *p.training.alpha_train;
        throw ConfigError("alpha-train", text.str(), why);
    }
    if (p.training.batch.all)
        throw ConfigError("batch", "all",
                          "an integer >= 1 (batch = all needs a training set, "
                          "which has no closed theory)");
}

FlowSettings flow_settings(const RunParams& p) {
    require_theory_support(p.model);
    require_theory_regime(p);
    return {p.model.student.g.kind, p.training.eta,  p.training.eta_v,
            p.model.noise,          p.model.learn_v, static_cast<double>(p.training.batch.size),
            p.training.weight_decay};
}

/// Fills dQ (K x K, symmetric), dR (K x M), dv (K) with the derivatives d/dalpha.
void compute_flow(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                  const Eigen::MatrixXd& T, const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                  Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR, Eigen::VectorXd& dv) {
    const auto K = static_cast<int>(Q.rows());
    const auto M = static_cast<int>(T.rows());
    const int P = K + M;
    const ActivationKind g = s.g;
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

OrderParameters flow(const RunParams& params, const OrderParameters& op) {
    const FlowSettings s = flow_settings(params);
    check_order_parameter_sizes(params.model, op);
    OrderParameters d;
    compute_flow(s, op.Q, op.R, op.T, op.v, op.v_star, d.Q, d.R, d.v);
    d.T = Eigen::MatrixXd::Zero(op.T.rows(), op.T.cols());
    d.v_star = Eigen::VectorXd::Zero(op.v_star.size());
    return d;
}

} // namespace plateau
