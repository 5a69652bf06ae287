// The ODEs of on-line SGD on Gaussian-mixture inputs, docs/theory.md §15c; see mixture_flow.hpp.
#include "engine/theory/mixture_flow.hpp"

#include "engine/core/errors.hpp"
#include "engine/core/linear_algebra.hpp"
#include "engine/theory/joint_rule.hpp"
#include "models/activation.hpp"
#include "models/loss.hpp"
#include "models/quadrature.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace plateau {

namespace {

/// True when g has a kink (relu): the flow then takes the radial rule.
bool kinked(const Activation& g) noexcept {
    return visit_activation(g.kind, []<class E>(std::type_identity<E>) {
        return E::quadrature == activations::QuadratureShape::kink_at_zero;
    });
}

} // namespace

void require_mixture_theory_support(const ModelParams& m) {
    if (m.inputs != InputKind::mixture)
        return;
    if (m.student.hidden() > max_mixture_theory_units)
        throw ConfigError("K", widths_text(m.student.widths),
                          "at most " + std::to_string(max_mixture_theory_units) +
                              " with inputs = mixture in plateau ode (the joint rule over K "
                              "fields, docs/theory.md section 15c)");
    if (m.loss.kind() != LossKind::squared && m.noise != 0.0)
        throw ConfigError("noise", number_text(m.noise),
                          "0 with loss = logistic in plateau ode (label noise enters the logistic "
                          "loss's error signal non-linearly, docs/theory.md section 15c)");
}

MixtureFlowSettings mixture_flow_settings(const RunParams& p) {
    fix_eigen_blocking(); // machine-independent products (engine/core/linear_algebra.hpp)
    require_theory_support(p.model);
    require_theory_regime(p);
    if (p.model.inputs != InputKind::mixture)
        throw std::logic_error("mixture_flow_settings: inputs = gaussian takes flow_settings");
    MixtureFlowSettings s;
    s.g = p.model.student.g;
    s.h = p.model.student.h;
    s.loss = p.model.loss;
    // Momentum's N -> infinity limit is SGD at eta/(1 - beta) (docs/theory.md §6c).
    s.eta = p.training.eta * momentum_gain(p.training);
    s.eta_v = p.training.eta_v * momentum_gain(p.training);
    s.noise = p.model.noise;
    s.learn_v = p.model.learn_v;
    s.batch = static_cast<double>(p.training.batch.size);
    s.weight_decay = p.training.weight_decay;
    s.readout = p.model.student.readout_factor(); // docs/theory.md §14
    s.sphere = p.model.constraint == Constraint::sphere;
    s.schedules = rate_schedules(p); // §6b, each cosine ending at alpha_max
    s.eta2 = p.ode_eta2;
    const Mixture& mix = p.model.mixture;
    const auto C = static_cast<Eigen::Index>(mix.clusters());
    const auto D = static_cast<Eigen::Index>(mix.dims);
    s.means.resize(C, D);
    s.labels.resize(C);
    s.weights.resize(C);
    for (Eigen::Index c = 0; c < C; ++c) {
        const auto cc = static_cast<std::size_t>(c);
        for (Eigen::Index d = 0; d < D; ++d)
            s.means(c, d) = mix.mean(cc, static_cast<std::size_t>(d));
        s.labels(c) = mix.labels[cc];
        s.weights(c) = mix.weights[cc];
    }
    s.gamma = s.means * s.means.transpose(); // Gamma_cc' = mu_c . mu_c'
    s.variance = mix.variance;
    const int K = p.model.student.hidden();
    s.rule = make_joint_rule(K, p.observer.joint_points);
    // A kinked g (relu): the radial rule on directions, 1/32 of joint-points (each direction
    // takes ~(R + K) 8 nodes on its line), at least 2 per shift (docs/theory.md §15c).
    if (kinked(s.g)) {
        s.directions =
            make_joint_rule(K, std::max(2 * JointRule::shift_count, p.observer.joint_points / 32));
        s.legendre = quadrature::make_gauss_legendre(6);
        s.unit_directions = s.directions->nodes();
        for (Eigen::Index i = 0; i < s.unit_directions.cols(); ++i)
            s.unit_directions.col(i).normalize();
    }
    return s;
}

double MixtureEstimate::relative_flow_error() const {
    double err2 = 0.0, flow2 = 0.0;
    for (Eigen::Index j = 0; j < dQ.rows(); ++j)
        for (Eigen::Index k = j; k < dQ.cols(); ++k) {
            err2 += dQ_error(j, k) * dQ_error(j, k);
            flow2 += dQ(j, k) * dQ(j, k);
        }
    err2 += dM_error.squaredNorm() + dv_error.squaredNorm();
    flow2 += dM.squaredNorm() + dv.squaredNorm();
    return flow2 > 0.0 ? std::sqrt(err2 / flow2) : std::numeric_limits<double>::quiet_NaN();
}

namespace {

/// S = Q^(1/2) and its pseudo-inverse S^+ from one eigen-decomposition (negative eigenvalues
/// from rounding set to 0; eigenvalues below 1e-13 of the largest have no inverse).
void sqrt_and_pseudo_inverse(const Eigen::MatrixXd& Q, Eigen::MatrixXd& S,
                             Eigen::MatrixXd& S_plus) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(Q);
    const Eigen::VectorXd lambda = eig.eigenvalues().cwiseMax(0.0);
    const double floor = 1e-13 * std::max(lambda.maxCoeff(), 0.0);
    Eigen::VectorXd root = lambda.cwiseSqrt();
    Eigen::VectorXd inverse(lambda.size());
    for (Eigen::Index i = 0; i < lambda.size(); ++i)
        inverse(i) = lambda(i) > floor && lambda(i) > 0.0 ? 1.0 / root(i) : 0.0;
    S = eig.eigenvectors() * root.asDiagonal() * eig.eigenvectors().transpose();
    S_plus = eig.eigenvectors() * inverse.asDiagonal() * eig.eigenvectors().transpose();
}

/// Mean and standard error over the entries of `shifts` (one value per shift).
void mean_and_error(const std::vector<double>& shifts, double& mean, double& error) {
    const auto n = static_cast<double>(shifts.size());
    double sum = 0.0;
    for (const double x : shifts)
        sum += x;
    mean = sum / n;
    double dev = 0.0;
    for (const double x : shifts)
        dev += (x - mean) * (x - mean);
    error = std::sqrt(dev / (n * (n - 1.0)));
}

void mean_and_error(const std::vector<Eigen::MatrixXd>& shifts, Eigen::MatrixXd& mean,
                    Eigen::MatrixXd& error) {
    const auto n = static_cast<double>(shifts.size());
    mean = Eigen::MatrixXd::Zero(shifts.front().rows(), shifts.front().cols());
    for (const auto& x : shifts)
        mean += x;
    mean /= n;
    error = Eigen::MatrixXd::Zero(mean.rows(), mean.cols());
    for (const auto& x : shifts)
        error.array() += (x - mean).array().square();
    error = (error / (n * (n - 1.0))).cwiseSqrt();
}

/// A weighted node set of the standard normal zeta in K dimensions, in the rule's shifts: the
/// columns [begin[r], begin[r+1]) are copy r, their weights sum to 1.
struct NodeSet {
    Eigen::MatrixXd zeta;
    Eigen::VectorXd weight;
    std::vector<Eigen::Index> begin;
};

/// The joint rule's points as they are (weights 1/per_shift).
NodeSet plain_nodes(const JointRule& rule) {
    NodeSet out{
        rule.nodes(),
        Eigen::VectorXd::Constant(rule.points(), 1.0 / static_cast<double>(rule.per_shift())),
        {}};
    for (int r = 0; r <= rule.shifts(); ++r)
        out.begin.push_back(static_cast<Eigen::Index>(r) * rule.per_shift());
    return out;
}

/// The radial rule of a kinked g (docs/theory.md §15c, "Averages"): zeta = rho u for the unit
/// directions u (s.unit_directions) and rho on the whole line with density
/// |rho|^(K-1) e^(-rho^2/2) / (2^(K/2) Gamma(K/2)) (u and -u at once), cut at |rho| <= R =
/// sqrt(K) + 6. The line is split at fixed panels of width 2, at 0 and at every kink of cluster
/// c's fields, x_j = M_jc + sqrt(Delta) rho (S u)_j = 0, with Gauss-Legendre nodes on every
/// piece: every kink is resolved exactly, so the averages are smooth functions of (Q, M, v), as
/// the integrator needs. Each direction's weights are normalised to sum 1 / per_shift. Fills
/// `out` (its storage is reused).
void radial_nodes(const MixtureFlowSettings& s, const Eigen::MatrixXd& S, const Eigen::VectorXd& m,
                  double root_delta, NodeSet& out, std::vector<double>& cuts) {
    const Eigen::MatrixXd& U = s.unit_directions;
    const Eigen::Index K = S.rows();
    const auto k = static_cast<double>(K);
    const double radius = std::sqrt(k) + 6.0;
    const double log_norm = 0.5 * k * std::log(2.0) + std::lgamma(0.5 * k);
    const Eigen::Index per_shift = s.directions->per_shift();
    const double per_direction = 1.0 / static_cast<double>(per_shift);
    const Eigen::Index points = U.cols();
    const auto q_count = static_cast<Eigen::Index>(s.legendre.x.size());
    const auto panels = static_cast<Eigen::Index>(std::ceil(radius)) + 2;
    const Eigen::Index capacity = points * (panels + K + 2) * q_count;
    if (out.zeta.cols() < capacity) {
        out.zeta.resize(K, capacity);
        out.weight.resize(capacity);
    }
    out.begin.clear();
    const Eigen::MatrixXd A = root_delta * (S * U); // the slopes of x_j along each direction
    Eigen::Index n = 0;
    for (Eigen::Index i = 0; i < points; ++i) {
        if (i % per_shift == 0)
            out.begin.push_back(n);
        cuts.clear();
        for (double x = -radius; x < radius; x += 2.0)
            cuts.push_back(x);
        cuts.push_back(radius);
        cuts.push_back(0.0);
        for (Eigen::Index j = 0; j < K; ++j)
            if (A(j, i) != 0.0) {
                const double kink = -m(j) / A(j, i);
                if (std::abs(kink) < radius)
                    cuts.push_back(kink);
            }
        std::sort(cuts.begin(), cuts.end());
        const Eigen::Index first = n;
        double total = 0.0;
        for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
            const double lo = cuts[p], hi = cuts[p + 1];
            if (!(hi > lo))
                continue;
            for (Eigen::Index q = 0; q < q_count; ++q) {
                const auto qu = static_cast<std::size_t>(q);
                const double r = lo + (hi - lo) * s.legendre.x[qu];
                double power = 1.0; // |r|^(K-1)
                for (Eigen::Index j = 1; j < K; ++j)
                    power *= std::abs(r);
                const double w =
                    (hi - lo) * s.legendre.w[qu] * power * std::exp(-0.5 * r * r - log_norm);
                out.zeta.col(n) = r * U.col(i);
                out.weight(n) = w;
                total += w;
                ++n;
            }
        }
        out.weight.segment(first, n - first) *= per_direction / total;
    }
    out.begin.push_back(n);
}

} // namespace

MixtureEstimate mixture_estimate(const MixtureFlowSettings& s, const Eigen::MatrixXd& Q,
                                 const Eigen::MatrixXd& M, const Eigen::VectorXd& v,
                                 bool with_class_error, MixtureWorkspace* workspace) {
    MixtureWorkspace own;
    MixtureWorkspace& ws = workspace != nullptr ? *workspace : own;
    const Eigen::Index K = Q.rows();
    const Eigen::Index C = s.means.rows();
    if (M.rows() != K || M.cols() != C || v.size() != K || s.rule == nullptr ||
        s.rule->dimension() != K || (s.directions != nullptr && s.directions->dimension() != K))
        throw std::invalid_argument("plateau theory: the mixture flow needs Q K x K, M K x C, v K "
                                    "and rules in K dimensions");
    const int shifts = s.rule->shifts();
    const double eta = s.eta * s.rate_factors.w;     // docs/theory.md §6b
    const double eta_v = s.eta_v * s.rate_factors.v; // docs/theory.md §6b
    const double delta = s.variance;
    const double root_delta = std::sqrt(delta);
    const bool second_order =
        eta * eta / s.batch != 0.0 && (s.eta2 == Eta2Terms::keep || s.noise != 0.0);
    const Eigen::VectorXd ve = s.readout * v; // sigma = h(c sum_j v_j g(x_j)), §14

    Eigen::MatrixXd S, S_plus;
    sqrt_and_pseudo_inverse(Q, S, S_plus);
    // B = S^+ M: the regression of mu_c . z on the whitened fields (Eq. (15.10)).
    const Eigen::MatrixXd B = S_plus * M;

    // Per shift r: the averages (weighted by p_c over the clusters) of Eqs. (15.11)-(15.14).
    const auto count = static_cast<std::size_t>(shifts);
    std::vector<Eigen::MatrixXd> cx(count, Eigen::MatrixXd::Zero(K, K)); // <c_j x_k>
    std::vector<Eigen::MatrixXd> cz(count, Eigen::MatrixXd::Zero(K, K)); // <c_j zeta_k>
    std::vector<Eigen::MatrixXd> cm(count, Eigen::MatrixXd::Zero(K, C)); // <c_j>_c, per cluster
    std::vector<Eigen::MatrixXd> cc(count, Eigen::MatrixXd::Zero(K, K)); // <c c + s^2 d d>
    std::vector<Eigen::MatrixXd> gv(count, Eigen::MatrixXd::Zero(K, 1)); // <-e' h' g(x_j)>
    std::vector<double> eg(count, 0.0);
    std::vector<double> wrong(count, 0.0);

    const bool radial = s.directions != nullptr;
    const NodeSet plain = plain_nodes(*s.rule);
    // Every node's values: the flow's and eps_g's from `nodes`; class_error from the plain rule
    // (an indicator: its rule need not be smooth, it is not part of the flow).
    const auto visit = [&](Eigen::Index c, const NodeSet& nodes, bool flow, bool classify) {
        const double p = s.weights(c);
        const double y = s.labels(c);
        const Eigen::Index points = nodes.begin.back();
        const auto zeta = nodes.zeta.leftCols(points);
        // x = M_c + sqrt(Delta) S zeta, Eq. (15.2)
        for (Eigen::MatrixXd* m : {&ws.X, &ws.Cn, &ws.Dn, &ws.Gx})
            if (m->rows() != K || m->cols() < points)
                m->resize(K, points);
        for (Eigen::VectorXd* m : {&ws.nu, &ws.value, &ws.miss})
            if (m->size() < points)
                m->resize(points);
        auto X = ws.X.leftCols(points);
        auto Cn = ws.Cn.leftCols(points);
        auto Dn = ws.Dn.leftCols(points);
        auto Gx = ws.Gx.leftCols(points);
        auto nu = ws.nu.head(points);
        auto value = ws.value.head(points);
        auto miss = ws.miss.head(points);
        X.noalias() = root_delta * (S * zeta);
        X.colwise() += M.col(c);
        for (Eigen::Index i = 0; i < points; ++i) {
            double a = 0.0;
            for (Eigen::Index j = 0; j < K; ++j) {
                Gx(j, i) = s.g.value(X(j, i));
                a += ve(j) * Gx(j, i);
            }
            const double sigma = s.h.value(a);
            const double hp = s.h.derivative(a);
            const double err = s.loss.error(sigma, y); // de/dsigma, Eq. (2) or (15.3)
            for (Eigen::Index j = 0; j < K; ++j) {
                Dn(j, i) = hp * ve(j) * s.g.derivative(X(j, i)); // d_j = h'(a) v_j g'(x_j)
                Cn(j, i) = -err * Dn(j, i);                      // c_j = -de/dx_j
            }
            nu(i) = -err * hp;
            value(i) = s.loss.value(sigma, y);
            // sign(sigma) != y_c; a tie is half an error (as the observer, §15b)
            const double margin = y * sigma;
            miss(i) = margin > 0.0 ? 0.0 : margin < 0.0 ? 1.0 : 0.5;
        }
        for (int r = 0; r < shifts; ++r) {
            const auto ru = static_cast<std::size_t>(r);
            const Eigen::Index first = nodes.begin[ru];
            const Eigen::Index n = nodes.begin[ru + 1] - first;
            const auto w = nodes.weight.segment(first, n);
            if (classify)
                wrong[ru] += p * miss.segment(first, n).dot(w);
            if (!flow)
                continue;
            const Eigen::MatrixXd Cw = Cn.middleCols(first, n) * (p * w).asDiagonal();
            cx[ru].noalias() += Cw * X.middleCols(first, n).transpose();
            cz[ru].noalias() += Cw * zeta.middleCols(first, n).transpose();
            cm[ru].col(c) = Cn.middleCols(first, n) * w;
            if (second_order) {
                const auto Db = Dn.middleCols(first, n);
                if (s.eta2 == Eta2Terms::keep)
                    cc[ru].noalias() += Cw * Cn.middleCols(first, n).transpose();
                if (s.noise != 0.0)
                    cc[ru].noalias() += s.noise * (Db * (p * w).asDiagonal() * Db.transpose());
            }
            if (s.learn_v)
                gv[ru].noalias() +=
                    Gx.middleCols(first, n) * nu.segment(first, n).cwiseProduct(w) * p;
            eg[ru] += p * value.segment(first, n).dot(w);
        }
    };
    NodeSet line{std::move(ws.zeta), std::move(ws.weight), std::move(ws.begin)};
    for (Eigen::Index c = 0; c < C; ++c) {
        if (radial) {
            radial_nodes(s, S, M.col(c), root_delta, line, ws.cuts);
            visit(c, line, true, false);
            if (with_class_error)
                visit(c, plain, false, true);
        } else {
            visit(c, plain, true, with_class_error);
        }
    }
    ws.zeta = std::move(line.zeta);
    ws.weight = std::move(line.weight);
    ws.begin = std::move(line.begin);

    // The flow per shift (docs/theory.md §15c):
    std::vector<Eigen::MatrixXd> dQ(count), dM(count), dv(count);
    const double eta2 = second_order ? eta * eta * delta / s.batch : 0.0;
    for (int r = 0; r < shifts; ++r) {
        const auto ru = static_cast<std::size_t>(r);
        // Eq. (15.11): dQ_jk = eta (<c_j x_k> + <c_k x_j>) + (eta^2 Delta / B) <c_j c_k + s^2 d d>
        dQ[ru] = eta * (cx[ru] + cx[ru].transpose());
        if (second_order)
            dQ[ru] += eta2 * cc[ru];
        // Eq. (15.12): dM_jc = eta sum_c' p_c' (Gamma_cc' <c_j>_c' + sqrt(Delta) sum_k
        // <c_j z_k>_c' B_kc)
        dM[ru] = eta * (cm[ru] * s.weights.asDiagonal() * s.gamma + root_delta * cz[ru] * B);
        // Eq. (15.13): dv_j = eta_v c <-e' h'(a) g(x_j)>
        dv[ru] =
            s.learn_v ? Eigen::MatrixXd(eta_v * s.readout * gv[ru]) : Eigen::MatrixXd::Zero(K, 1);
        // Weight decay (docs/theory.md §6): -2 eta lambda Q, -eta lambda M, -eta_v lambda v.
        if (s.weight_decay != 0.0) {
            dQ[ru] -= (2.0 * eta * s.weight_decay) * Q;
            dM[ru] -= (eta * s.weight_decay) * M;
            if (s.learn_v)
                dv[ru] -= (eta_v * s.weight_decay) * v;
        }
        // The sphere (docs/theory.md §14, Eq. (14.2)): every row rescaled to unit norm.
        if (s.sphere) {
            const Eigen::VectorXd rel = dQ[ru].diagonal().cwiseQuotient(Q.diagonal());
            for (Eigen::Index j = 0; j < K; ++j) {
                for (Eigen::Index k = 0; k < K; ++k)
                    dQ[ru](j, k) -= 0.5 * Q(j, k) * (rel(j) + rel(k));
                dQ[ru](j, j) = 0.0;
                dM[ru].row(j) -= (0.5 * rel(j)) * M.row(j);
            }
        }
    }
    MixtureEstimate e;
    mean_and_error(dQ, e.dQ, e.dQ_error);
    mean_and_error(dM, e.dM, e.dM_error);
    Eigen::MatrixXd dv_mean, dv_error;
    mean_and_error(dv, dv_mean, dv_error);
    e.dv = dv_mean.col(0);
    e.dv_error = dv_error.col(0);
    mean_and_error(eg, e.eg, e.eg_error);
    mean_and_error(wrong, e.class_error, e.class_error_error);
    if (!with_class_error)
        e.class_error = e.class_error_error = std::numeric_limits<double>::quiet_NaN();
    return e;
}

OrderParameters mixture_flow(const RunParams& params, const OrderParameters& op) {
    const MixtureFlowSettings s = mixture_flow_settings(params);
    const MixtureEstimate e = mixture_estimate(s, op.Q, op.mean_overlaps, op.v);
    OrderParameters d;
    d.Q = e.dQ;
    d.R = Eigen::MatrixXd::Zero(op.R.rows(), op.R.cols());
    d.T = Eigen::MatrixXd::Zero(op.T.rows(), op.T.cols());
    d.v = e.dv;
    d.v_star = Eigen::VectorXd::Zero(op.v_star.size());
    d.mean_overlaps = e.dM;
    return d;
}

// ---------------------------------------------------------------------------------------------
// MixtureFlow: the packed flow for the integrator.
// ---------------------------------------------------------------------------------------------

MixtureFlow::MixtureFlow(const RunParams& p, const OrderParameters& init)
    : settings_(mixture_flow_settings(p)), K_(p.model.student.hidden()),
      C_(static_cast<Eigen::Index>(p.model.mixture.clusters())), fixed_(init) {
    check_order_parameter_sizes(p.model, init);
    if (init.mean_overlaps.rows() != K_ || init.mean_overlaps.cols() != C_)
        throw std::invalid_argument(
            "plateau theory: mixture inputs need the initial mean overlaps M (K x C = " +
            std::to_string(K_) + " x " + std::to_string(C_) + "); got " +
            std::to_string(init.mean_overlaps.rows()) + " x " +
            std::to_string(init.mean_overlaps.cols()));
    // No symmetry classes (engine/theory/ode_integrator.hpp): every entry is controlled on its
    // own (the classes of the Gaussian flow, student and teacher permutations, made the step
    // control of the mixture flow take ~1.6x the steps for the same result).
    size_ = K_ * (K_ + 1) / 2 + K_ * C_ + (settings_.learn_v ? K_ : 0);
}

void MixtureFlow::pack(const OrderParameters& op, Eigen::VectorXd& y) const {
    y.resize(size_);
    Eigen::Index i = 0;
    for (Eigen::Index j = 0; j < K_; ++j)
        for (Eigen::Index k = j; k < K_; ++k)
            y(i++) = op.Q(j, k);
    for (Eigen::Index j = 0; j < K_; ++j)
        for (Eigen::Index c = 0; c < C_; ++c)
            y(i++) = op.mean_overlaps(j, c);
    if (settings_.learn_v)
        for (Eigen::Index j = 0; j < K_; ++j)
            y(i++) = op.v(j);
}

void MixtureFlow::unpack(const Eigen::VectorXd& y, Eigen::MatrixXd& Q, Eigen::MatrixXd& M,
                         Eigen::VectorXd& v) const {
    Q.resize(K_, K_);
    M.resize(K_, C_);
    v = fixed_.v;
    Eigen::Index i = 0;
    for (Eigen::Index j = 0; j < K_; ++j)
        for (Eigen::Index k = j; k < K_; ++k) {
            Q(j, k) = Q(k, j) = y(i);
            ++i;
        }
    for (Eigen::Index j = 0; j < K_; ++j)
        for (Eigen::Index c = 0; c < C_; ++c)
            M(j, c) = y(i++);
    if (settings_.learn_v)
        for (Eigen::Index j = 0; j < K_; ++j)
            v(j) = y(i++);
}

OrderParameters MixtureFlow::order_parameters(const Eigen::VectorXd& y) const {
    OrderParameters op = fixed_;
    unpack(y, op.Q, op.mean_overlaps, op.v);
    return op;
}

bool MixtureFlow::operator()(double t, const Eigen::VectorXd& y, Eigen::VectorXd& dy) {
    ++evaluations_;
    settings_.rate_factors = settings_.schedules.factors(t); // docs/theory.md §6b
    Eigen::MatrixXd Q, M;
    Eigen::VectorXd v;
    unpack(y, Q, M, v);
    if (!Q.allFinite() || !M.allFinite() || !v.allFinite())
        return false;
    const MixtureEstimate e = mixture_estimate(settings_, Q, M, v, false, &workspace_);
    OrderParameters d;
    d.Q = e.dQ;
    d.mean_overlaps = e.dM;
    d.v = e.dv;
    pack(d, dy);
    return dy.allFinite();
}

} // namespace plateau
