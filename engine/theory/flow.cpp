// The flow of the order parameters, docs/theory.md §3; see flow.hpp.
#include "engine/theory/flow.hpp"

#include "engine/core/errors.hpp"
#include "engine/core/linear_algebra.hpp"
#include "engine/theory/flow_paths.hpp"
#include "engine/theory/joint_rule.hpp"
#include "engine/theory/manifold_flow.hpp"
#include "engine/theory/mixture_flow.hpp"
#include "engine/theory/tensor_rule.hpp"
#include "models/gaussian_integrals.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
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
    // Mixture inputs: the joint rule over the K student fields, per cluster (docs/theory.md §15c).
    if (m.inputs == InputKind::mixture)
        return FlowMethod::joint;
    // A polynomial target (docs/theory.md §13): with a polynomial g and h = identity every
    // average is exact by Isserlis' theorem (Eq. (13.5), polynomial_target_averages); otherwise
    // the joint rule evaluates tau at each of its points (teacher_output).
    if (!m.target.is_committee())
        return m.student.h.kind == ActivationKind::linear && as_polynomial(m.student.g)
                   ? FlowMethod::integrals
                   : FlowMethod::joint;
    const bool identity_outputs =
        m.student.h.kind == ActivationKind::linear && m.teacher.h.kind == ActivationKind::linear;
    // Several teachers (docs/theory.md §17b): one teacher of nM units.
    const int fields = m.student.hidden() + m.teachers * m.teacher.hidden();
    if (!identity_outputs) {
        // Smooth outputs h = h* in {tanh, sigmoid} on smooth g = g* in {erf, tanh, sigmoid}: the
        // tensor rule with e = tau - sigma at each node (docs/theory.md §9 "Smoothness", §10),
        // exact to rounding at the specialized point, where the joint rule's noise is not.
        const auto smooth = [](ActivationKind k, std::initializer_list<ActivationKind> kinds) {
            return std::find(kinds.begin(), kinds.end(), k) != kinds.end();
        };
        const bool tensor =
            m.student.g == m.teacher.g && m.student.h == m.teacher.h &&
            smooth(m.student.g.kind,
                   {ActivationKind::erf, ActivationKind::tanh, ActivationKind::sigmoid}) &&
            smooth(m.student.h.kind, {ActivationKind::tanh, ActivationKind::sigmoid});
        return tensor && fields <= 4 ? FlowMethod::tensor : FlowMethod::joint;
    }
    if (m.student.g == m.teacher.g) {
        // tanh, sigmoid: the nested quadrature's per-integral bias stalls the flow near the
        // specialized point; the tensor rule's error is proportional to e (docs/theory.md §9
        // "Smoothness"). Its cost grows like n^(K+M): K + M <= 4 only.
        const ActivationKind k = m.student.g.kind;
        const bool smooth = k == ActivationKind::tanh || k == ActivationKind::sigmoid;
        return smooth && fields <= 4 ? FlowMethod::tensor : FlowMethod::integrals;
    }
    // Polynomial g != g*: the tensor Gauss-Hermite rule is exact (docs/theory.md §8).
    const int gh = tensor_gauss_hermite_nodes(m.student.g, m.teacher.g);
    return gh > 0 && std::pow(static_cast<double>(gh), fields) <= max_tensor_nodes
               ? FlowMethod::tensor
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
    // Mixture inputs (docs/theory.md §15c): their own flow (engine/theory/mixture_flow.hpp),
    // either loss; hidden-manifold inputs: theirs (engine/theory/manifold_flow.hpp, §16b). With
    // other inputs than mixtures the logistic loss has no theory here.
    if (m.inputs == InputKind::mixture)
        require_mixture_theory_support(m);
    else if (m.inputs == InputKind::hidden_manifold)
        require_manifold_theory_support(m); // docs/theory.md §16b
    if (m.inputs != InputKind::mixture && m.loss.kind() != LossKind::squared)
        throw ConfigError("loss", std::string(loss_name(m.loss.kind())),
                          "squared with plateau ode and these inputs (the theory of the "
                          "logistic loss is built for mixture inputs only, docs/theory.md "
                          "section 15c)");
    // One hidden layer: h = h* = identity with g = g* by the integrals (any g, §9), every
    // other model, and every polynomial target (§13), by the joint rule (§10).
}

void check_order_parameter_sizes(const ModelParams& m, const OrderParameters& op) {
    // Several teachers (docs/theory.md §17b): R, T and v* over all nM teacher units.
    const Eigen::Index K = m.student.hidden(),
                       M = static_cast<Eigen::Index>(m.teachers) * m.teacher.hidden();
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
    // The flow of Q, R, v for Gaussian inputs: mixture inputs take MixtureFlow (§15c) and
    // hidden-manifold inputs ManifoldFlow (§16b), which have no fixed-point search, escape
    // prediction or eta_max yet.
    if (p.model.inputs != InputKind::gaussian)
        throw ConfigError("inputs", std::string(name(p.model.inputs)),
                          "gaussian here: fixed points, the escape prediction and eta_max are "
                          "built for Gaussian inputs only (docs/theory.md sections 15c, 16b)");
    // Several teachers (docs/theory.md §17b) take TeachersFlow, with the settings of one teacher
    // of nM units (widened_teacher_params); nothing else is built for them.
    if (p.model.teachers > 1)
        throw ConfigError("teachers", std::to_string(p.model.teachers),
                          "1 here: fixed points, the escape prediction and eta_max are built for "
                          "one teacher (docs/theory.md section 17b)");
    return gaussian_field_flow_settings(p);
}

FlowSettings gaussian_field_flow_settings(const RunParams& p) {
    fix_eigen_blocking(); // machine-independent products (engine/core/linear_algebra.hpp)
    require_theory_support(p.model);
    require_theory_regime(p);
    FlowSettings s;
    s.g = p.model.student.g;
    s.g_teacher = p.model.teacher.g;
    s.h = p.model.student.h;
    s.h_teacher = p.model.teacher.h;
    s.method = flow_method(p.model);
    // Momentum's N -> infinity limit is SGD at eta/(1 - beta) (docs/theory.md §6c).
    s.eta = p.training.eta * momentum_gain(p.training);
    s.eta_v = p.training.eta_v * momentum_gain(p.training);
    s.noise = p.model.noise;
    s.learn_v = p.model.learn_v;
    s.batch = static_cast<double>(p.training.batch.size);
    s.weight_decay = p.training.weight_decay;
    s.readout = p.model.student.readout_factor(); // docs/theory.md §14
    s.readout_teacher = p.model.teacher.readout_factor();
    s.sphere = p.model.constraint == Constraint::sphere;
    s.schedules = rate_schedules(p); // §6b, each cosine ending at alpha_max
    s.target = p.model.target;
    s.eta2 = p.ode_eta2;
    if (s.method == FlowMethod::joint)
        s.joint_rule = make_joint_rule(p.model.student.hidden() + p.model.teacher.hidden(),
                                       p.observer.joint_points);
    if (s.method == FlowMethod::tensor)
        s.tensor_rule = make_tensor_rule(p.model);
    return s;
}

bool needs_second_order(const FlowSettings& s) noexcept {
    const double eta = s.eta_now();
    // With ode-eta2 = noise-only the eta^2 term is (eta^2/B) s^2 <d_j d_k> (§3): zero for s = 0.
    return eta * eta / s.batch != 0.0 && (s.eta2 == Eta2Terms::keep || s.noise != 0.0);
}

double teacher_output(const FlowSettings& s, std::span<const double> y,
                      const Eigen::VectorXd& v_star) noexcept {
    if (s.target.polynomial)
        return s.target.polynomial->value(y);                // Eq. (13.1)
    return committee_output<double>(s, y, y.size(), v_star); // Eq. (1)
}

void assemble_flow(const FlowSettings& s, const FlowAverages& a, Eigen::MatrixXd& dQ,
                   Eigen::MatrixXd& dR, Eigen::VectorXd& dv) {
    const auto K = a.cu.rows();
    const auto M = a.cu.cols() - K;
    const double eta = s.eta_now(), eta_v = s.eta_v_now();
    // dR_jn/dalpha = eta <c_j y_n> (docs/theory.md §3; Saad & Solla 1995; Biehl & Schwarze 1995).
    dR = eta * a.cu.rightCols(M);
    // dQ_jk/dalpha = eta (<c_j x_k> + <c_k x_j>) + (eta^2/B) <(e^2 + s^2) d_j d_k>: a batch of B
    // fresh examples per update divides the eta^2 term by B (docs/theory.md §3, §6; B = 1
    // divides by 1.0, exactly). With ode-eta2 = noise-only the method's cc is s^2 <d_j d_k>
    // alone (§3, "Small-eta limit"). Symmetric: j <= k computed.
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
    const double eta = s.eta_now(), eta_v = s.eta_v_now();
    dQ -= (2.0 * eta * s.weight_decay) * Q;
    dR -= (eta * s.weight_decay) * R;
    if (s.learn_v)
        dv -= (eta_v * s.weight_decay) * v;
}

void add_sphere_projection(const FlowSettings& s, const Eigen::MatrixXd& Q,
                           const Eigen::MatrixXd& R, Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR) {
    if (!s.sphere)
        return;
    // docs/theory.md §14, Eq. (14.2): w^(j) <- w^(j)/sqrt(Q'_jj) after the unconstrained step
    // (dQ, dR: its flow, eta^2 term and weight decay included), to first order in 1/N.
    const auto K = Q.rows();
    Eigen::VectorXd rel(K); // dQ_jj / Q_jj
    for (Eigen::Index j = 0; j < K; ++j)
        rel(j) = dQ(j, j) / Q(j, j);
    for (Eigen::Index j = 0; j < K; ++j) {
        for (Eigen::Index k = 0; k < K; ++k)
            dQ(j, k) -= 0.5 * Q(j, k) * (rel(j) + rel(k));
        dQ(j, j) = 0.0; // exactly: Q_jj stays 1
        dR.row(j) -= (0.5 * rel(j)) * R.row(j);
    }
}

void compute_flow(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                  const Eigen::MatrixXd& T, const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                  Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR, Eigen::VectorXd& dv) {
    if (s.readout != 1.0 || s.readout_teacher != 1.0) {
        // readout-scale = inverse-k (docs/theory.md §14, Eq. (14.1)): the flow of the model with
        // v -> c v, v* -> c* v*, whose dv_j (eta_v <e h' g(x_j)>) gets the factor c; the weight
        // decay of v acts on v itself, so it is added after.
        FlowSettings scaled = s;
        scaled.readout = scaled.readout_teacher = 1.0;
        scaled.weight_decay = 0.0;
        scaled.sphere = false;
        const Eigen::VectorXd cv = s.readout * v;
        const Eigen::VectorXd cv_star = s.readout_teacher * v_star;
        compute_flow(scaled, Q, R, T, cv, cv_star, dQ, dR, dv);
        dv *= s.readout;
        add_weight_decay(s, Q, R, v, dQ, dR, dv);
        add_sphere_projection(s, Q, R, dQ, dR);
        return;
    }
    switch (s.method) {
    case FlowMethod::integrals:
        compute_integral_flow(s, Q, R, T, v, v_star, dQ, dR, dv);
        break;
    case FlowMethod::joint:
        compute_joint_flow(s, Q, R, T, v, v_star, dQ, dR, dv);
        break;
    case FlowMethod::tensor:
        compute_tensor_flow(s, Q, R, T, v, v_star, dQ, dR, dv);
        break;
    }
    add_sphere_projection(s, Q, R, dQ, dR);
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
    if (s.readout != 1.0 || s.readout_teacher != 1.0) { // docs/theory.md §14: c v, c* v*
        FlowSettings scaled = s;
        scaled.readout = scaled.readout_teacher = 1.0;
        return flow_generalization_error(scaled, Q, R, T, s.readout * v,
                                         s.readout_teacher * v_star);
    }
    switch (s.method) {
    case FlowMethod::integrals:
        if (s.target.polynomial)
            return polynomial_target_generalization_error(s, Q, R, T, v);
        return integrals::generalization_error(s.g, Q, R, T, v, v_star);
    case FlowMethod::joint:
        return joint_generalization_error(s, Q, R, T, v, v_star);
    case FlowMethod::tensor:
        return tensor_generalization_error(s, Q, R, T, v, v_star);
    }
    return std::numeric_limits<double>::quiet_NaN();
}

OrderParameters flow(const RunParams& params, const OrderParameters& op) {
    if (params.model.inputs == InputKind::mixture) // docs/theory.md §15c
        return mixture_flow(params, op);
    if (params.model.inputs == InputKind::hidden_manifold) // docs/theory.md §16b
        return manifold_flow(params, op);
    const FlowSettings s = flow_settings(params);
    check_order_parameter_sizes(params.model, op);
    OrderParameters d;
    compute_flow(s, op.Q, op.R, op.T, op.v, op.v_star, d.Q, d.R, d.v);
    d.T = Eigen::MatrixXd::Zero(op.T.rows(), op.T.cols());
    d.v_star = Eigen::VectorXd::Zero(op.v_star.size());
    return d;
}

} // namespace plateau
