// The flow of the order parameters, docs/theory.md §3; see flow.hpp.
#include "engine/theory/flow.hpp"

#include "engine/core/errors.hpp"
#include "engine/core/linear_algebra.hpp"
#include "engine/theory/flow_paths.hpp"
#include "engine/theory/joint_rule.hpp"
#include "models/gaussian_integrals.hpp"

#include <limits>
#include <stdexcept>
#include <string>

namespace plateau {

// ---------------------------------------------------------------------------------------------
// Which models the theory covers.
// ---------------------------------------------------------------------------------------------

// Every two-layer model: h = h* = identity with g = g* (kind and gamma) by the closed forms of
// models/gaussian_integrals.hpp or by quadrature (docs/theory.md §9), everything else by the
// joint rule (§10). Deeper networks are not covered (§12).
bool theory_supports(const ModelParams& m) noexcept {
    return m.student.widths.size() == 1 && m.teacher.widths.size() == 1;
}

FlowMethod flow_method(const ModelParams& m) noexcept {
    const bool identity_outputs =
        m.student.h.kind == ActivationKind::linear && m.teacher.h.kind == ActivationKind::linear;
    return identity_outputs && m.student.g == m.teacher.g ? FlowMethod::integrals
                                                          : FlowMethod::joint;
}

void require_theory_support(const ModelParams& m) {
    // Deeper networks (docs/theory.md §12) have no ODE theory here: refuse them first.
    for (const auto* net : {&m.student, &m.teacher})
        if (net->widths.size() > 1) {
            throw ConfigError(net == &m.student ? "K" : "M", widths_text(net->widths),
                              "one hidden layer: plateau ode covers two-layer networks (deeper "
                              "networks run with plateau run)");
        }
    // A polynomial target (docs/theory.md §13): simulations only, for now.
    if (!m.target.is_committee())
        throw ConfigError("target", m.target.text(),
                          "committee with plateau ode (the theory of polynomial targets is not "
                          "built yet; plateau run simulates them)");
    // Mixture inputs and the logistic loss (docs/theory.md §15): simulations only, for now.
    if (m.inputs != InputKind::gaussian)
        throw ConfigError("inputs", std::string(name(m.inputs)),
                          "gaussian with plateau ode (theory of mixture inputs: not built yet)");
    if (m.loss.kind() != LossKind::squared)
        throw ConfigError("loss", std::string(loss_name(m.loss.kind())),
                          "squared with plateau ode (the theory of the logistic loss: not built "
                          "yet)");
    // One hidden layer: h = h* = identity with g = g* by the integrals (any g, §9), every
    // other model by the joint rule (§10).
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
    if (p.training.alpha_train)
        throw ConfigError("alpha-train", number_text(*p.training.alpha_train), why);
    if (p.training.batch.all)
        throw ConfigError("batch", "all",
                          "an integer >= 1 (batch = all needs a training set, "
                          "which has no closed theory)");
}

FlowSettings flow_settings(const RunParams& p) {
    fix_eigen_blocking(); // machine-independent products (engine/core/linear_algebra.hpp)
    require_theory_support(p.model);
    require_theory_regime(p);
    FlowSettings s;
    s.g = p.model.student.g;
    s.g_teacher = p.model.teacher.g;
    s.h = p.model.student.h;
    s.h_teacher = p.model.teacher.h;
    s.method = flow_method(p.model);
    s.eta = p.training.eta;
    s.eta_v = p.training.eta_v;
    s.noise = p.model.noise;
    s.learn_v = p.model.learn_v;
    s.batch = static_cast<double>(p.training.batch.size);
    s.weight_decay = p.training.weight_decay;
    s.schedule = p.training.eta_schedule;
    if (s.method == FlowMethod::joint)
        s.joint_rule = make_joint_rule(p.model.student.hidden() + p.model.teacher.hidden(),
                                       p.observer.joint_points);
    return s;
}

namespace {

/// eta and eta_v at the flow's time: eta s(alpha), eta_v s(alpha) (docs/theory.md §6b); exactly
/// eta and eta_v for a constant schedule (s = 1).
struct Rates {
    double eta, eta_v;
};
Rates rates(const FlowSettings& s) noexcept {
    return {s.eta * s.rate_factor, s.eta_v * s.rate_factor};
}

} // namespace

bool needs_second_order(const FlowSettings& s) noexcept {
    const double eta = rates(s).eta;
    return eta * eta / s.batch != 0.0;
}

void assemble_flow(const FlowSettings& s, const FlowAverages& a, Eigen::MatrixXd& dQ,
                   Eigen::MatrixXd& dR, Eigen::VectorXd& dv) {
    const auto K = a.cu.rows();
    const auto M = a.cu.cols() - K;
    const auto [eta, eta_v] = rates(s);
    // dR_jn/dalpha = eta <c_j y_n> (docs/theory.md §3; Saad & Solla 1995; Biehl & Schwarze 1995).
    dR = eta * a.cu.rightCols(M);
    // dQ_jk/dalpha = eta (<c_j x_k> + <c_k x_j>) + (eta^2/B) <(e^2 + s^2) d_j d_k>: a batch of B
    // fresh examples per update divides the eta^2 term by B (docs/theory.md §3, §6; B = 1
    // divides by 1.0, exactly). Symmetric: j <= k computed.
    const double eta2 = eta * eta / s.batch;
    dQ.resize(K, K);
    for (Eigen::Index j = 0; j < K; ++j)
        for (Eigen::Index k = j; k < K; ++k)
            dQ(j, k) = dQ(k, j) =
                eta * (a.cu(j, k) + a.cu(k, j)) + (eta2 != 0.0 ? eta2 * a.cc(j, k) : 0.0);
    // dv_j/dalpha = eta_v <e h'(a) g(x_j)> (docs/theory.md §3; Riegler & Biehl 1995); zero for a
    // fixed second layer.
    if (s.learn_v)
        dv = eta_v * a.eg;
    else
        dv.setZero(K);
}

void add_weight_decay(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                      const Eigen::VectorXd& v, Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR,
                      Eigen::VectorXd& dv) {
    if (s.weight_decay == 0.0)
        return;
    // docs/theory.md §6: -2 eta lambda Q_jk, -eta lambda R_jn, -eta_v lambda v_j (learned v).
    const auto [eta, eta_v] = rates(s);
    dQ -= (2.0 * eta * s.weight_decay) * Q;
    dR -= (eta * s.weight_decay) * R;
    if (s.learn_v)
        dv -= (eta_v * s.weight_decay) * v;
}

void compute_flow(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                  const Eigen::MatrixXd& T, const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                  Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR, Eigen::VectorXd& dv) {
    switch (s.method) {
    case FlowMethod::integrals:
        compute_integral_flow(s, Q, R, T, v, v_star, dQ, dR, dv);
        return;
    case FlowMethod::joint:
        compute_joint_flow(s, Q, R, T, v, v_star, dQ, dR, dv);
        return;
    }
}

void compute_integral_flow(const FlowSettings& s, const Eigen::MatrixXd& Q,
                           const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                           const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                           Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR, Eigen::VectorXd& dv) {
    assemble_flow(s, integral_flow_averages(s, Q, R, T, v, v_star), dQ, dR, dv);
    add_weight_decay(s, Q, R, v, dQ, dR, dv);
}

void compute_integral_flow_reference(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                     const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                     const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                                     Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR,
                                     Eigen::VectorXd& dv) {
    assemble_flow(s, integral_flow_averages_reference(s, Q, R, T, v, v_star), dQ, dR, dv);
    add_weight_decay(s, Q, R, v, dQ, dR, dv);
}

double flow_generalization_error(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                 const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                 const Eigen::VectorXd& v, const Eigen::VectorXd& v_star) {
    switch (s.method) {
    case FlowMethod::integrals:
        return integrals::generalization_error(s.g, Q, R, T, v, v_star);
    case FlowMethod::joint:
        return joint_generalization_error(s, Q, R, T, v, v_star);
    }
    return std::numeric_limits<double>::quiet_NaN();
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
