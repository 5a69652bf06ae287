// The symmetric fixed point of the flow and its escape rate; see fixed_point.hpp.
#include "engine/fixed_point.hpp"

#include "engine/errors.hpp"
#include "engine/flow.hpp"
#include "engine/ode_integrator.hpp"
#include "engine/theory.hpp"
#include "models/gaussian_integrals.hpp"

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <stdexcept>
#include <vector>

namespace plateau {

// ---------------------------------------------------------------------------------------------
// The symmetric fixed point.
//
// Reduced coordinates p = (q, c, r[, v]) (c absent for K = 1): Q_jj = q, Q_jk = c, R_jn = r,
// v_j = v, with T = I and v*_n = v_star. The subspace is invariant under the flow (the flow is
// equivariant under independent permutations of students and of teachers), so the reduced flow
// is the full flow read off at (0,0), (0,1), R(0,0), v(0).
// ---------------------------------------------------------------------------------------------

namespace {

class ReducedFlow {
public:
    explicit ReducedFlow(const RunParams& p)
        : settings_(flow_settings(p)), K_(p.model.student.hidden()), M_(p.model.teacher.hidden()),
          learn_v_(p.model.learn_v), v0_(p.model.v0), v_star_(p.model.v_star) {}

    [[nodiscard]] Eigen::Index size() const noexcept {
        return 2 + (K_ > 1 ? 1 : 0) + (learn_v_ ? 1 : 0);
    }

    [[nodiscard]] OrderParameters expand(const Eigen::VectorXd& p) const {
        Eigen::Index i = 0;
        const double q = p(i++);
        const double c = K_ > 1 ? p(i++) : 0.0;
        const double r = p(i++);
        const double v = learn_v_ ? p(i) : v0_;
        OrderParameters op;
        op.Q = Eigen::MatrixXd::Constant(K_, K_, c);
        op.Q.diagonal().setConstant(q);
        op.R = Eigen::MatrixXd::Constant(K_, M_, r);
        op.T = Eigen::MatrixXd::Identity(M_, M_);
        op.v = Eigen::VectorXd::Constant(K_, v);
        op.v_star = Eigen::VectorXd::Constant(M_, v_star_);
        return op;
    }

    [[nodiscard]] Eigen::VectorXd reduce(const OrderParameters& op) const {
        Eigen::VectorXd p(size());
        Eigen::Index i = 0;
        p(i++) = op.Q(0, 0);
        if (K_ > 1)
            p(i++) = op.Q(0, 1);
        p(i++) = op.R(0, 0);
        if (learn_v_)
            p(i) = op.v(0);
        return p;
    }

    bool operator()(const Eigen::VectorXd& p, Eigen::VectorXd& dp) const {
        if (!p.allFinite())
            return false;
        const OrderParameters op = expand(p);
        OrderParameters d;
        compute_flow(settings_, op.Q, op.R, op.T, op.v, op.v_star, d.Q, d.R, d.v);
        dp = reduce(d);
        return dp.allFinite();
    }

private:
    FlowSettings settings_;
    int K_, M_;
    bool learn_v_;
    double v0_, v_star_;
};

/// Central-difference Jacobian of f at x with steps h_i.
template <class F>
bool numerical_jacobian(F&& f, const Eigen::VectorXd& x, const Eigen::VectorXd& h,
                        Eigen::MatrixXd& J, const FixedPointProgress& progress = {}) {
    const Eigen::Index n = x.size();
    J.resize(n, n);
    Eigen::VectorXd xp = x, xm = x, fp, fm;
    for (Eigen::Index i = 0; i < n; ++i) {
        xp(i) = x(i) + h(i);
        xm(i) = x(i) - h(i);
        if (!f(xp, fp) || !f(xm, fm))
            return false;
        J.col(i) = (fp - fm) / (xp(i) - xm(i));
        xp(i) = xm(i) = x(i);
        if (progress)
            progress(i + 1, n);
    }
    return true;
}

/// Steps 1e-7 max(1, |x_i|): central differences with truncation error ~1e-14 and rounding error
/// ~1e-16 |f| / 1e-7 ~ 1e-9 relative.
Eigen::VectorXd default_steps(const Eigen::VectorXd& x) {
    return 1e-7 * x.cwiseAbs().cwiseMax(1.0);
}

/// The equations solved by Newton. Unknowns x = (q, d, r[, v]) with c = q - d (K >= 2) or
/// x = (q, r[, v]) (K = 1); equations F_q = 0, G = 0, F_r = 0[, F_v = 0] with the deflated
///   G = (F_q - F_c) / d.
/// Why deflated: identical students stay identical, so c = q is an invariant manifold and
/// F_q - F_c vanishes on it; at finite eta it contains a second symmetric fixed point (the eta -> 0
/// point of Saad & Solla continued at c = q, unstable along q - c) next to the plateau, whose
/// q - c = O(eta) is small. Dividing by d removes the c = q solutions, so that Newton cannot
/// converge to them from a start close to both.
class NewtonSystem {
public:
    NewtonSystem(ReducedFlow& flow, bool deflate) : flow_(flow), deflate_(deflate) {}

    [[nodiscard]] Eigen::VectorXd to_unknowns(const Eigen::VectorXd& p) const {
        Eigen::VectorXd x = p;
        if (deflate_)
            x(1) = p(0) - p(1);
        return x;
    }
    [[nodiscard]] Eigen::VectorXd to_reduced(const Eigen::VectorXd& x) const {
        Eigen::VectorXd p = x;
        if (deflate_)
            p(1) = x(0) - x(1);
        return p;
    }

    bool operator()(const Eigen::VectorXd& x, Eigen::VectorXd& e) const {
        if (deflate_ && !(x(1) > 0.0))
            return false; // only physical (c < q) states
        Eigen::VectorXd f;
        if (!flow_(to_reduced(x), f))
            return false;
        e = f;
        if (deflate_)
            e(1) = (f(0) - f(1)) / x(1);
        return e.allFinite();
    }

    /// Newton from p (reduced coordinates) with a central-difference Jacobian and backtracking on
    /// max |equations|. On success p is the solution and the reduced flow there is at rounding
    /// level (<= 1e-12 rate).
    bool solve(Eigen::VectorXd& p, double rate) const {
        Eigen::VectorXd x = to_unknowns(p);
        Eigen::VectorXd e;
        if (!(*this)(x, e))
            return false;
        for (int it = 0; it < 60; ++it) {
            Eigen::MatrixXd J;
            Eigen::VectorXd steps = default_steps(x);
            if (deflate_) // stay at d > 0 (q - c can be as small as O(eta))
                steps(1) = std::min(steps(1), 0.01 * x(1));
            if (!numerical_jacobian(*this, x, steps, J))
                return false;
            const Eigen::VectorXd dx = J.fullPivLu().solve(-e);
            if (!dx.allFinite())
                return false;
            const double e_norm = e.lpNorm<Eigen::Infinity>();
            double lambda = 1.0;
            Eigen::VectorXd x_new, e_new;
            bool improved = false;
            for (int ls = 0; ls < 40; ++ls) {
                x_new = x + lambda * dx;
                if ((*this)(x_new, e_new) && e_new.lpNorm<Eigen::Infinity>() <= e_norm) {
                    improved = true;
                    break;
                }
                lambda *= 0.5;
            }
            if (!improved)
                break;
            const double step = (x_new - x).lpNorm<Eigen::Infinity>();
            x = x_new;
            e = e_new;
            if (step <= 1e-14 * std::max(1.0, x.lpNorm<Eigen::Infinity>()))
                break;
        }
        Eigen::VectorXd f;
        p = to_reduced(x);
        return flow_(p, f) && f.lpNorm<Eigen::Infinity>() <= 1e-12 * rate;
    }

private:
    ReducedFlow& flow_;
    bool deflate_;
};

} // namespace

FixedPoint symmetric_fixed_point(const RunParams& params, const FixedPointProgress& progress) {
    require_theory_support(params.model);
    const ModelParams& m = params.model;
    const int K = m.student.hidden(), M = m.teacher.hidden();
    if (K < 1 || M < 1)
        throw std::invalid_argument("plateau theory: need K >= 1 and M >= 1");
    if (m.learn_v && m.student.g.kind == ActivationKind::relu)
        throw ConfigError("learn-v", "true",
                          "false for symmetric_fixed_point with activation = relu: relu is "
                          "positively homogeneous, so (w, v) -> (l w, v / l) leaves the network "
                          "unchanged, the symmetric stationary states form a continuum at small "
                          "eta and at finite eta the symmetric flow drifts along it (no isolated "
                          "fixed point)");
    const double rate = std::max(params.training.eta, m.learn_v ? params.training.eta_v : 0.0);
    ReducedFlow reduced(params);
    NewtonSystem newton_system(reduced, K > 1);
    FixedPoint fp;

    // Generic symmetric start: Q = q_s I, R = 0, v = v0, with q_s = q0 (0.2 if q0 = 0).
    Eigen::VectorXd p =
        reduced.reduce(symmetric_initial_conditions(m, m.q0 > 0.0 ? m.q0 : 0.2, 0.0, 0.0));

    OdeParams relax_ode;
    relax_ode.rtol = 1e-10;
    relax_ode.atol = 1e-13;
    relax_ode.h_max = 1e9;
    OdeIntegrator relax(
        [&](const Eigen::VectorXd& y, Eigen::VectorXd& dy) { return reduced(y, dy); },
        relax_ode); // every entry its own class: no asymmetries here
    const double divergence_q = params.observer.divergence_q;
    const auto bounded = [&](const Eigen::VectorXd& y) {
        return y.allFinite() && y(0) <= divergence_q;
    };

    // Relax inside the symmetric subspace (where the plateau attracts) for 100/eta, then solve
    // by Newton; if Newton fails, relax four times longer and retry.
    double t = 0.0, t_relaxed = 0.0;
    bool newton_ok = false;
    Eigen::VectorXd solution = p;
    for (int attempt = 0; attempt < 5 && !newton_ok; ++attempt) {
        t_relaxed += 100.0 / rate * std::pow(4.0, attempt);
        if (relax.advance(p, t, t_relaxed, bounded) != OdeOutcome::ok)
            break;
        solution = p;
        newton_ok = newton_system.solve(solution, rate);
    }
    if (!newton_ok && p.allFinite())
        solution = p;

    fp.op = reduced.expand(solution);
    fp.eg = solution.allFinite()
                ? flow_generalization_error(flow_settings(params), fp.op.Q, fp.op.R, fp.op.T,
                                            fp.op.v, fp.op.v_star)
                : std::numeric_limits<double>::quiet_NaN();

    // Linearize the full flow (every independent entry) at the fixed point.
    PackedFlow full(params, fp.op);
    Eigen::VectorXd y;
    full.packing().pack(fp.op.Q, fp.op.R, fp.op.v, y);
    Eigen::VectorXd fy;
    const bool finite = solution.allFinite() && full(y, fy);
    fp.residual = finite ? fy.lpNorm<Eigen::Infinity>() : std::numeric_limits<double>::infinity();
    Eigen::MatrixXd J;
    if (finite && numerical_jacobian(full, y, default_steps(y), J, progress)) {
        const Eigen::EigenSolver<Eigen::MatrixXd> eig(J, false);
        Eigen::VectorXcd ev = eig.eigenvalues();
        std::vector<std::complex<double>> sorted(ev.data(), ev.data() + ev.size());
        std::sort(sorted.begin(), sorted.end(),
                  [](const auto& a, const auto& b) { return a.real() > b.real(); });
        fp.eigenvalues = Eigen::Map<Eigen::VectorXcd>(sorted.data(), ev.size());
        fp.escape_rate = sorted.front().real();
        fp.converged = newton_ok;
    } else {
        fp.escape_rate = std::numeric_limits<double>::quiet_NaN();
        fp.converged = false;
    }
    return fp;
}

} // namespace plateau
