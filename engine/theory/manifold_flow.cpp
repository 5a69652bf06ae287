// The ODEs of on-line SGD on hidden-manifold inputs, docs/theory.md §16b; see manifold_flow.hpp.
#include "engine/theory/manifold_flow.hpp"

#include "engine/core/errors.hpp"
#include "engine/theory/flow_paths.hpp"
#include "models/gaussian_integrals.hpp"
#include "models/hidden_manifold.hpp"

#include <Eigen/Cholesky>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace plateau {

void require_manifold_theory_support(const ModelParams& m) {
    if (m.inputs != InputKind::hidden_manifold)
        return;
    const auto& s = m.student;
    const auto& t = m.teacher;
    const std::string why = " for plateau ode with inputs = hidden-manifold (closed-form averages "
                            "of the Gaussian-equivalent fields, docs/theory.md section 16b)";
    if (s.h.kind != ActivationKind::linear || s.h != t.h)
        throw ConfigError(
            s.h.kind != ActivationKind::linear ? "output-activation" : "teacher-output-activation",
            std::string(name(s.h.kind != ActivationKind::linear ? s.h.kind : t.h.kind)),
            "linear" + why);
    if (!integrals::has_closed_form(s.g.kind, s.h.kind, t.g.kind, t.h.kind))
        throw ConfigError("activation", std::string(name(s.g.kind)), "erf, relu or linear" + why);
    if (s.g != t.g)
        throw ConfigError("teacher-activation", std::string(name(t.g.kind)),
                          "the student's activation and gamma" + why);
    if (m.target.polynomial)
        throw ConfigError("target", m.target.text(),
                          "committee with inputs = hidden-manifold in plateau ode (docs/theory.md "
                          "section 16b)");
    if (m.constraint != Constraint::none)
        throw ConfigError("constraint", std::string(name(m.constraint)),
                          "none with inputs = hidden-manifold in plateau ode (docs/theory.md "
                          "section 16b)");
    const std::int64_t D = latent_dimension(m.manifold, m.N);
    if (std::min(D, m.N) > max_manifold_modes) {
        const std::string allowed =
            "a value with min(D, N) <= " + std::to_string(max_manifold_modes) +
            " input modes for plateau ode with inputs = hidden-manifold (an eigendecomposition of "
            "that size per run, docs/theory.md section 16b)";
        if (D > m.N)
            throw ConfigError("N", std::to_string(m.N), allowed);
        if (m.manifold.latent_ratio)
            throw ConfigError("latent-ratio", number_text(*m.manifold.latent_ratio), allowed);
        throw ConfigError("latent-dim", std::to_string(D), allowed);
    }
}

FlowSettings manifold_flow_settings(const RunParams& p) {
    if (p.model.inputs != InputKind::hidden_manifold)
        throw std::logic_error("manifold_flow_settings: needs inputs = hidden-manifold");
    // require_theory_support (with require_manifold_theory_support) and require_theory_regime.
    FlowSettings s = gaussian_field_flow_settings(p);
    if (s.method != FlowMethod::integrals)
        throw std::logic_error("manifold_flow_settings: closed forms expected");
    return s;
}

void compute_manifold_flow(const FlowSettings& s, const ManifoldModes& modes,
                           const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                           const Eigen::VectorXd& v_star, ManifoldDerivatives& d) {
    const Eigen::Index K = v.size(), M = v_star.size(), G = modes.groups();
    const Eigen::MatrixXd Q = modes.field_covariance(K); // Eq. (16b.6)
    const Eigen::MatrixXd R = modes.teacher_overlaps(K, M);
    // The one step's averages of Gaussian fields (lambda, nu) with covariance C = [[Q, R],
    // [R^T, T]] (Gaussian equivalence, Eq. (16b.2)): <c_j u_b>, <(e^2 + s^2) d_j d_k>,
    // <e g(lambda_j)>, with the readout factors c v, c* v* (docs/theory.md §14).
    const FlowAverages a =
        integral_flow_averages(s, Q, R, T, s.readout * v, s.readout_teacher * v_star);
    // The regression of the field error on the fields, A = <c u> C^{-1} (Eq. (16b.3)): for any
    // direction psi of the inputs, <c_j psi.x> = sum_b A_jb Cov(u_b, psi.x).
    const Eigen::MatrixXd C = integrals::field_covariance(Q, R, T);
    const Eigen::MatrixXd A = C.ldlt().solve(a.cu.transpose()).transpose(); // K x (K+M)
    const double eta = s.eta_now(), eta_v = s.eta_v_now();
    const double eta2 = needs_second_order(s) ? eta * eta / s.batch : 0.0;
    const double lambda = s.weight_decay;
    d.dq.resize(K * K, G);
    d.dr.resize(K * M, G);
    for (Eigen::Index g = 0; g < G; ++g) {
        const double kappa = modes.kappa(g);
        const double* q = modes.q.col(g).data(); // q(j, k) = q[j + K k]
        const double* r = modes.r.col(g).data(); // r(j, n) = r[j + K n]
        const double* t = modes.t.col(g).data(); // t(m, n) = t[m + M n]
        double* dq = d.dq.col(g).data();
        double* dr = d.dr.col(g).data();
        // Eq. (16b.7): dr_jn = eta [kappa sum_l A_jl r_ln + sum_m A_j,K+m t_mn] - eta lambda r_jn.
        for (Eigen::Index n = 0; n < M; ++n)
            for (Eigen::Index j = 0; j < K; ++j) {
                double sum = 0.0;
                for (Eigen::Index l = 0; l < K; ++l)
                    sum += kappa * A(j, l) * r[l + K * n];
                for (Eigen::Index m = 0; m < M; ++m)
                    sum += A(j, K + m) * t[m + M * n];
                dr[j + K * n] = eta * sum - eta * lambda * r[j + K * n];
            }
        // Eq. (16b.8): dq_jk = eta [kappa (A q + q A^T)_jk + (A_T r^T + r A_T^T)_jk]
        //                     + (eta^2/B) kappa cc_jk - 2 eta lambda q_jk.
        for (Eigen::Index k = 0; k < K; ++k)
            for (Eigen::Index j = 0; j <= k; ++j) {
                double first = 0.0;
                for (Eigen::Index l = 0; l < K; ++l)
                    first += kappa * (A(j, l) * q[l + K * k] + A(k, l) * q[l + K * j]);
                for (Eigen::Index m = 0; m < M; ++m)
                    first += A(j, K + m) * r[k + K * m] + A(k, K + m) * r[j + K * m];
                double value = eta * first - 2.0 * eta * lambda * q[j + K * k];
                if (eta2 != 0.0)
                    value += eta2 * kappa * a.cc(j, k);
                dq[j + K * k] = dq[k + K * j] = value;
            }
    }
    // dv_j = c eta_v <e g(lambda_j)> - eta_v lambda v_j (docs/theory.md §3, §6, §14).
    if (s.learn_v)
        d.dv = (s.readout * eta_v) * a.eg - (eta_v * lambda) * v;
    else
        d.dv.setZero(K);
    // The fields' covariance moves as the groups do (Eq. (16b.6)).
    ManifoldModes moved;
    moved.kappa = modes.kappa;
    moved.share = modes.share;
    moved.q = d.dq;
    moved.r = d.dr;
    d.dQ = moved.field_covariance(K);
    d.dR = moved.teacher_overlaps(K, M);
}

double manifold_flow_generalization_error(const FlowSettings& s, const ManifoldModes& modes,
                                          const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                                          const Eigen::VectorXd& v_star) {
    const Eigen::Index K = v.size(), M = v_star.size();
    // Eq. (16b.10): the Gaussian fields' eps_g (docs/theory.md §2) at (Q, R, T).
    return flow_generalization_error(s, modes.field_covariance(K), modes.teacher_overlaps(K, M), T,
                                     v, v_star);
}

void check_manifold_modes(const ModelParams& m, const OrderParameters& op) {
    const Eigen::Index K = m.student.hidden(), M = m.teacher.hidden();
    const ManifoldModes& x = op.manifold;
    const Eigen::Index G = x.groups();
    if (G == 0 || x.share.size() != G || x.q.rows() != K * K || x.q.cols() != G ||
        x.r.rows() != K * M || x.r.cols() != G || x.t.rows() != M * M || x.t.cols() != G)
        throw std::invalid_argument(
            "plateau theory: hidden-manifold inputs need the order parameters resolved by input "
            "mode (docs/theory.md section 16b: --init sample); got " +
            std::to_string(G) + " mode groups");
    const Eigen::MatrixXd Q = x.field_covariance(K), R = x.teacher_overlaps(K, M);
    const double scale = 1.0 + op.Q.cwiseAbs().maxCoeff() + op.R.cwiseAbs().maxCoeff();
    if ((Q - op.Q).cwiseAbs().maxCoeff() > 1e-8 * scale ||
        (R - op.R).cwiseAbs().maxCoeff() > 1e-8 * scale)
        throw std::invalid_argument("plateau theory: the mode groups' Q, R (docs/theory.md Eq. "
                                    "(16b.6)) differ from the order parameters' Q, R");
}

OrderParameters manifold_flow(const RunParams& params, const OrderParameters& op) {
    const FlowSettings s = manifold_flow_settings(params);
    check_order_parameter_sizes(params.model, op);
    check_manifold_modes(params.model, op);
    ManifoldDerivatives d;
    compute_manifold_flow(s, op.manifold, op.T, op.v, op.v_star, d);
    OrderParameters out;
    out.Q = d.dQ;
    out.R = d.dR;
    out.v = d.dv;
    out.T = Eigen::MatrixXd::Zero(op.T.rows(), op.T.cols());
    out.v_star = Eigen::VectorXd::Zero(op.v_star.size());
    out.manifold.kappa = op.manifold.kappa;
    out.manifold.share = op.manifold.share;
    out.manifold.q = d.dq;
    out.manifold.r = d.dr;
    out.manifold.t = Eigen::MatrixXd::Zero(op.manifold.t.rows(), op.manifold.t.cols());
    return out;
}

// ---------------------------------------------------------------------------------------------
// ManifoldFlow
// ---------------------------------------------------------------------------------------------

ManifoldFlow::ManifoldFlow(const RunParams& p, const OrderParameters& init)
    : settings_(manifold_flow_settings(p)), K_(p.model.student.hidden()),
      M_(p.model.teacher.hidden()), G_(0), fixed_(init) {
    check_order_parameter_sizes(p.model, init);
    check_manifold_modes(p.model, init);
    G_ = init.manifold.groups();
    size_ = G_ * (K_ * (K_ + 1) / 2 + K_ * M_) + (settings_.learn_v ? K_ : 0);
    modes_ = init.manifold;
    v_ = init.v;
}

void ManifoldFlow::pack(const OrderParameters& op, Eigen::VectorXd& y) const {
    pack(op.manifold.q, op.manifold.r, op.v, y);
}

void ManifoldFlow::pack(const Eigen::MatrixXd& q_groups, const Eigen::MatrixXd& r_groups,
                        const Eigen::VectorXd& v, Eigen::VectorXd& y) const {
    y.resize(size_);
    Eigen::Index i = 0;
    for (Eigen::Index g = 0; g < G_; ++g) {
        const double* q = q_groups.col(g).data();
        const double* r = r_groups.col(g).data();
        for (Eigen::Index j = 0; j < K_; ++j)
            for (Eigen::Index k = j; k < K_; ++k)
                y(i++) = q[j + K_ * k];
        for (Eigen::Index j = 0; j < K_; ++j)
            for (Eigen::Index n = 0; n < M_; ++n)
                y(i++) = r[j + K_ * n];
    }
    if (settings_.learn_v)
        for (Eigen::Index j = 0; j < K_; ++j)
            y(i++) = v(j);
}

void ManifoldFlow::unpack(const Eigen::VectorXd& y, ManifoldModes& modes,
                          Eigen::VectorXd& v) const {
    Eigen::Index i = 0;
    for (Eigen::Index g = 0; g < G_; ++g) {
        double* q = modes.q.col(g).data();
        double* r = modes.r.col(g).data();
        for (Eigen::Index j = 0; j < K_; ++j)
            for (Eigen::Index k = j; k < K_; ++k) {
                q[j + K_ * k] = q[k + K_ * j] = y(i);
                ++i;
            }
        for (Eigen::Index j = 0; j < K_; ++j)
            for (Eigen::Index n = 0; n < M_; ++n)
                r[j + K_ * n] = y(i++);
    }
    if (settings_.learn_v)
        for (Eigen::Index j = 0; j < K_; ++j)
            v(j) = y(i++);
}

OrderParameters ManifoldFlow::order_parameters(const Eigen::VectorXd& y) const {
    OrderParameters op = fixed_;
    unpack(y, op.manifold, op.v);
    op.Q = op.manifold.field_covariance(K_); // Eq. (16b.6)
    op.R = op.manifold.teacher_overlaps(K_, M_);
    return op;
}

double ManifoldFlow::max_field_variance(const Eigen::VectorXd& y) const {
    // Q_jj = sum_g share_g kappa_g q_g,jj (Eq. (16b.6)), from the packed entries.
    Eigen::VectorXd diag = Eigen::VectorXd::Zero(K_);
    const Eigen::Index per_group = K_ * (K_ + 1) / 2 + K_ * M_;
    for (Eigen::Index g = 0; g < G_; ++g) {
        const double w = fixed_.manifold.share(g) * fixed_.manifold.kappa(g);
        Eigen::Index i = g * per_group;
        for (Eigen::Index j = 0; j < K_; ++j) {
            diag(j) += w * y(i);
            i += K_ - j;
        }
    }
    return diag.maxCoeff();
}

bool ManifoldFlow::operator()(double t, const Eigen::VectorXd& y, Eigen::VectorXd& dy) {
    ++evaluations_;
    settings_.rate_factors = settings_.schedules.factors(t); // docs/theory.md §6b
    unpack(y, modes_, v_);
    if (!modes_.q.allFinite() || !modes_.r.allFinite() || !v_.allFinite())
        return false;
    compute_manifold_flow(settings_, modes_, fixed_.T, v_, fixed_.v_star, d_);
    pack(d_.dq, d_.dr, d_.dv, dy);
    return dy.allFinite();
}

} // namespace plateau
