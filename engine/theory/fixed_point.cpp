// The symmetric fixed point of the flow and its escape rate; see fixed_point.hpp.
#include "engine/theory/fixed_point.hpp"

#include "engine/core/errors.hpp"
#include "engine/run/specialization.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/numerical_jacobian.hpp"
#include "engine/theory/ode_integrator.hpp"
#include "engine/theory/theory.hpp"
#include "models/gaussian_integrals.hpp"

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace plateau {

// ---------------------------------------------------------------------------------------------
// The symmetric fixed point.
//
// Reduced coordinates p = (q, c, r[, v]) (c absent for K = 1; q absent on the sphere, where the
// projected flow keeps Q_jj = 1, docs/theory.md §14): Q_jj = q, Q_jk = c, R_jn = r,
// v_j = v, with T = I and v*_n = v_star. The subspace is invariant under the flow (the flow is
// equivariant under independent permutations of students and of teachers), so the reduced flow
// is the full flow read off at (0,0), (0,1), R(0,0), v(0).
// ---------------------------------------------------------------------------------------------

namespace {

class ReducedFlow {
public:
    explicit ReducedFlow(const RunParams& p)
        : settings_(flow_settings(p)), K_(p.model.student.hidden()), M_(p.model.teacher.hidden()),
          learn_v_(p.model.learn_v), sphere_(p.model.constraint == Constraint::sphere),
          v0_(p.model.v0), v_star_(p.model.v_star) {}

    [[nodiscard]] Eigen::Index size() const noexcept {
        return 2 + (K_ > 1 ? 1 : 0) + (learn_v_ ? 1 : 0) - (sphere_ ? 1 : 0);
    }

    [[nodiscard]] OrderParameters expand(const Eigen::VectorXd& p) const {
        Eigen::Index i = 0;
        const double q = sphere_ ? 1.0 : p(i++);
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
        if (!sphere_)
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
    bool sphere_; ///< constraint = sphere: q = 1, not a coordinate
    double v0_, v_star_;
};

/// Steps 1e-7 max(1, |x_i|) (numerical_jacobian.hpp).
Eigen::VectorXd default_steps(const Eigen::VectorXd& x) {
    return jacobian_steps(x, 1e-7);
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

/// The packed entries that Newton on the full flow and the linearization vary: all of them, or on
/// the sphere (docs/theory.md §14, Eq. (14.2)) all but the Q_jj, which the projected flow keeps
/// at 1: dQ_jj/dalpha = 0 identically, so their rows of the Jacobian vanish, and their columns
/// would add K zero eigenvalues that are no direction of the flow on the sphere.
class TangentFlow {
public:
    TangentFlow(PackedFlow& flow, const Eigen::VectorXd& at, bool sphere) : flow_(flow), at_(at) {
        const std::vector<int>& classes = flow.packing().classes(); // 0: a diagonal Q_jj
        for (Eigen::Index i = 0; i < at.size(); ++i)
            if (!sphere || classes[static_cast<std::size_t>(i)] != 0)
                free_.push_back(i);
    }
    [[nodiscard]] Eigen::VectorXd reduce(const Eigen::VectorXd& y) const {
        Eigen::VectorXd x(static_cast<Eigen::Index>(free_.size()));
        for (std::size_t i = 0; i < free_.size(); ++i)
            x(static_cast<Eigen::Index>(i)) = y(free_[i]);
        return x;
    }
    [[nodiscard]] Eigen::VectorXd expand(const Eigen::VectorXd& x) const {
        Eigen::VectorXd y = at_;
        for (std::size_t i = 0; i < free_.size(); ++i)
            y(free_[i]) = x(static_cast<Eigen::Index>(i));
        return y;
    }
    bool operator()(const Eigen::VectorXd& x, Eigen::VectorXd& fx) {
        Eigen::VectorXd f;
        if (!flow_(expand(x), f))
            return false;
        fx = reduce(f);
        return true;
    }

private:
    PackedFlow& flow_;
    Eigen::VectorXd at_;
    std::vector<Eigen::Index> free_;
};

bool on_sphere(const RunParams& params) noexcept {
    return params.model.constraint == Constraint::sphere;
}

/// Eigenvalues of J sorted by real part, descending.
Eigen::VectorXcd sorted_eigenvalues(const Eigen::MatrixXd& J) {
    const Eigen::EigenSolver<Eigen::MatrixXd> eig(J, false);
    Eigen::VectorXcd ev = eig.eigenvalues();
    std::vector<std::complex<double>> sorted(ev.data(), ev.data() + ev.size());
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.real() > b.real(); });
    return Eigen::Map<Eigen::VectorXcd>(sorted.data(), ev.size());
}

/// A fixed point belongs to an autonomous flow: a learning-rate schedule (docs/theory.md §6b)
/// makes the flow depend on alpha, so none exists. Throws ConfigError naming eta-schedule or the
/// per-layer form that is not constant.
void require_constant_rates(const RunParams& params) {
    const TrainingParams& t = params.training;
    for (const auto& [key, schedule] : {std::pair{"eta-schedule", std::optional(t.eta_schedule)},
                                        std::pair{"eta-v-schedule", t.eta_v_schedule},
                                        std::pair{"eta-layers-schedule", t.eta_layers_schedule}})
        if (schedule && !schedule->is_constant())
            throw ConfigError(key, to_text(*schedule),
                              "constant for fixed points (a flow whose rates change with alpha "
                              "has none)");
    // Momentum's flow is SGD's at eta/(1 - beta) (docs/theory.md §6c): that run has the same
    // fixed points; the searches here bound their steps and eta_max by eta itself.
    if (params.training.momentum != 0.0)
        throw ConfigError("momentum", number_text(params.training.momentum),
                          "0 for fixed points (the flow with momentum beta is SGD's at eta/(1 - "
                          "beta): search that run's fixed points)");
}

/// The symmetric subspace and the specialized point are those of a committee, whose teacher
/// units are interchangeable (docs/theory.md §11); a polynomial target (§13) has neither. Throws
/// ConfigError naming target.
void require_committee_target(const RunParams& params) {
    if (!params.model.target.is_committee())
        throw ConfigError("target", params.model.target.text(),
                          "committee for the symmetric and specialized fixed points (their "
                          "subspaces assume interchangeable teacher units; plateau ode "
                          "integrates polynomial targets)");
}

double rate_of(const RunParams& params) {
    return std::max(params.training.eta, params.model.learn_v ? params.training.eta_v : 0.0);
}

/// eps_g, residual, eigenvalues, escape rate and kind of fp.op (fp.converged is left alone
/// unless the linearization fails).
void linearize(const RunParams& params, FixedPoint& fp, const FixedPointProgress& progress) {
    fp.eg = fp.op.Q.allFinite() && fp.op.R.allFinite()
                ? flow_generalization_error(flow_settings(params), fp.op.Q, fp.op.R, fp.op.T,
                                            fp.op.v, fp.op.v_star)
                : std::numeric_limits<double>::quiet_NaN();
    PackedFlow full(params, fp.op);
    Eigen::VectorXd y;
    full.packing().pack(fp.op.Q, fp.op.R, fp.op.v, y);
    Eigen::VectorXd fy;
    const bool finite = y.allFinite() && full(y, fy);
    fp.residual = finite ? fy.lpNorm<Eigen::Infinity>() : std::numeric_limits<double>::infinity();
    Eigen::MatrixXd J;
    TangentFlow tangent(full, y, on_sphere(params));
    const Eigen::VectorXd x = tangent.reduce(y);
    if (finite && numerical_jacobian(tangent, x, default_steps(x), J,
                                     [&progress](Eigen::Index done, Eigen::Index total) {
                                         if (progress)
                                             progress(done, total);
                                     })) {
        fp.eigenvalues = sorted_eigenvalues(J);
        fp.escape_rate = fp.eigenvalues(0).real();
    } else {
        fp.escape_rate = std::numeric_limits<double>::quiet_NaN();
        fp.converged = false;
    }
    fp.kind = classify_fixed_point(fp.op);
}

/// Newton on the full packed flow from y (its tangent coordinates on the sphere); true when
/// max |flow| <= tol at the result.
bool newton_full(PackedFlow& packed, Eigen::VectorXd& y_full, double tol, bool sphere) {
    TangentFlow flow(packed, y_full, sphere);
    Eigen::VectorXd y = flow.reduce(y_full);
    Eigen::VectorXd f;
    if (!flow(y, f))
        return false;
    for (int it = 0; it < 60 && f.lpNorm<Eigen::Infinity>() > tol; ++it) {
        Eigen::MatrixXd J;
        if (!numerical_jacobian(flow, y, default_steps(y), J))
            return false;
        const Eigen::VectorXd dy = J.fullPivLu().solve(-f);
        if (!dy.allFinite())
            return false;
        const double f_norm = f.lpNorm<Eigen::Infinity>();
        double step = 1.0;
        bool improved = false;
        Eigen::VectorXd y_new, f_new;
        for (int ls = 0; ls < 40; ++ls) {
            y_new = y + step * dy;
            if (flow(y_new, f_new) && f_new.lpNorm<Eigen::Infinity>() < f_norm) {
                improved = true;
                break;
            }
            step *= 0.5;
        }
        if (!improved)
            break;
        y = y_new;
        f = f_new;
    }
    y_full = flow.expand(y);
    return f.lpNorm<Eigen::Infinity>() <= tol;
}

} // namespace

FixedPointKind classify_fixed_point(const OrderParameters& op) {
    if (op.R.size() == 0 || !op.R.allFinite())
        return FixedPointKind::partially;
    const double spread = op.R.maxCoeff() - op.R.minCoeff();
    if (spread <= 1e-6 * std::max(1.0, op.R.cwiseAbs().maxCoeff()))
        return FixedPointKind::unspecialized;
    return assess_specialization(op.Q, op.R, op.T).specialized ? FixedPointKind::specialized
                                                               : FixedPointKind::partially;
}

FixedPoint polish_fixed_point(const RunParams& params, const OrderParameters& guess,
                              const FixedPointProgress& progress) {
    require_constant_rates(params);
    require_theory_support(params.model);
    check_order_parameter_sizes(params.model, guess);
    PackedFlow flow(params, guess);
    Eigen::VectorXd y;
    flow.packing().pack(guess.Q, guess.R, guess.v, y);
    FixedPoint fp;
    fp.converged = newton_full(flow, y, 1e-11 * rate_of(params), on_sphere(params));
    fp.op = flow.order_parameters(y);
    linearize(params, fp, progress);
    return fp;
}

OrderParameters generic_start(const ModelParams& model, double amplitude) {
    OrderParameters op = symmetric_initial_conditions(model, initial_q(model), 0.0, 0.0);
    const auto M = op.R.cols();
    for (Eigen::Index j = 0; j < op.R.rows(); ++j)
        for (Eigen::Index n = 0; n < M; ++n)
            op.R(j, n) += amplitude * std::sin(1.0 + static_cast<double>(j * M + n));
    return op;
}

std::vector<FixedPoint> trajectory_fixed_points(const RunParams& params,
                                                const OrderParameters& start, double alpha_end) {
    require_constant_rates(params);
    require_theory_support(params.model);
    check_order_parameter_sizes(params.model, start);
    PackedFlow flow(params, start);
    OdeIntegrator integrator(
        [&](const Eigen::VectorXd& x, Eigen::VectorXd& dx) { return flow(x, dx); }, OdeParams{},
        flow.packing().classes());
    Eigen::VectorXd y;
    flow.packing().pack(start.Q, start.R, start.v, y);
    const double divergence_q = params.observer.divergence_q;
    const auto bounded = [&](const Eigen::VectorXd& x) {
        return x.allFinite() && x.lpNorm<Eigen::Infinity>() <= divergence_q;
    };
    // The speed s(alpha) = max |dy/dalpha| on a grid of spacing max(0.5/eta, alpha/100): fine
    // where the trajectory starts, 1 % of alpha later (plateaus last tens to thousands of 1/eta;
    // a grid of 0.5/eta to alpha = 2000/eta forced 4000 steps, a minute of the tensor rule's
    // flow). The trajectory ends where it has converged to a fixed point (speed <= 1e-12 of its
    // largest: nothing changes after that).
    const double d_alpha = 0.5 / rate_of(params);
    std::vector<double> alphas, speeds;
    std::vector<Eigen::VectorXd> states;
    double t = 0.0;
    double s_largest = 0.0;
    Eigen::VectorXd f;
    while (true) {
        if (!flow(y, f))
            break;
        alphas.push_back(t);
        speeds.push_back(f.lpNorm<Eigen::Infinity>());
        states.push_back(y);
        s_largest = std::max(s_largest, speeds.back());
        if (t >= alpha_end || speeds.back() <= 1e-12 * s_largest)
            break;
        const double next = std::min(alpha_end, t + std::max(d_alpha, 0.01 * t));
        if (integrator.advance(y, t, next, bounded) != OdeOutcome::ok)
            break;
    }
    std::vector<FixedPoint> found;
    if (speeds.empty())
        return found;
    const double s_max = *std::max_element(speeds.begin(), speeds.end());
    const std::size_t n = speeds.size();
    for (std::size_t i = 1; i < n; ++i) {
        const bool minimum =
            speeds[i] <= speeds[i - 1] && (i + 1 == n || speeds[i] <= speeds[i + 1]);
        if (!minimum || !(speeds[i] <= 1e-2 * s_max))
            continue;
        FixedPoint fp = polish_fixed_point(params, flow.order_parameters(states[i]));
        if (!fp.converged)
            continue;
        Eigen::VectorXd yp;
        flow.packing().pack(fp.op.Q, fp.op.R, fp.op.v, yp);
        const bool seen = std::any_of(found.begin(), found.end(), [&](const FixedPoint& other) {
            Eigen::VectorXd yo;
            flow.packing().pack(other.op.Q, other.op.R, other.op.v, yo);
            return (yo - yp).lpNorm<Eigen::Infinity>() <= 1e-6;
        });
        if (seen)
            continue;
        fp.alpha = alphas[i];
        found.push_back(std::move(fp));
    }
    return found;
}

EtaMax specialized_eta_max(const RunParams& params) {
    require_constant_rates(params);
    require_theory_support(params.model);
    require_committee_target(params);
    EtaMax out;
    const ModelParams& m = params.model;
    if (m.student.hidden() != m.teacher.hidden()) {
        out.why = "eta_max is computed for K = M only (the specialized point Q = R = T)";
        return out;
    }
    const int K = m.student.hidden();
    OrderParameters guess = symmetric_initial_conditions(m, 1.0, 0.0, 0.0);
    guess.Q = guess.T;
    guess.R = guess.T;
    guess.v = Eigen::VectorXd::Constant(K, m.v_star);
    const double ratio = params.training.eta_v / params.training.eta;
    // The largest real part at eta, NaN if the specialized point is not found.
    const auto largest = [&](double eta) {
        RunParams p = params;
        p.training.eta = eta;
        p.training.eta_v = ratio * eta;
        const FixedPoint fp = polish_fixed_point(p, guess);
        return fp.converged ? fp.escape_rate : std::numeric_limits<double>::quiet_NaN();
    };
    double lo = 0.0, hi = 0.25;
    double g_hi = largest(hi);
    while (std::isfinite(g_hi) && g_hi < 0.0 && hi < 1e3) {
        lo = hi;
        hi *= 2.0;
        g_hi = largest(hi);
    }
    if (!std::isfinite(g_hi) || g_hi < 0.0) {
        out.why = "no eta in (0, 1000] at which the specialized point turns unstable";
        return out;
    }
    if (lo == 0.0) {
        // Unstable already at 0.25: look lower, down to 1e-6.
        while (hi > 1e-6 && !(largest(hi) < 0.0))
            hi *= 0.5;
        if (!(largest(hi) < 0.0)) {
            out.why = "the specialized point is unstable at every eta >= 1e-6";
            return out;
        }
        lo = hi;
        hi *= 2.0;
    }
    while (hi - lo > 1e-8 * hi) {
        const double mid = 0.5 * (lo + hi);
        const double g = largest(mid);
        if (g < 0.0)
            lo = mid;
        else
            hi = mid; // unstable, or lost (NaN): above eta_max
    }
    out.found = true;
    out.lower = lo;
    out.upper = hi;
    out.eta_max = 0.5 * (lo + hi);
    return out;
}

FixedPoint symmetric_fixed_point(const RunParams& params, const FixedPointProgress& progress) {
    require_constant_rates(params);
    require_theory_support(params.model);
    require_committee_target(params);
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
    // On the sphere (q = 1) Newton solves for (c, r[, v]) without the deflation (the relaxed
    // plateau has c well below 1).
    NewtonSystem newton_system(reduced, K > 1 && !on_sphere(params));
    NewtonSystem on_identical(reduced, false); // c = q allowed: see below
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
        if (!newton_ok && K > 1) {
            // Weight decay adds -2 eta lambda (q - c) to d(q - c)/dalpha: from lambda ~ 0.003
            // (erf, K = M = 2, eta = 0.5) it outweighs the O(eta^2) push apart of the students,
            // the plateau's q - c = O(eta) branch merges with the c = q point, and the symmetric
            // flow relaxes to c = q (identical students), which the deflation excludes. There
            // the relaxed state is the plateau: Newton without deflation polishes it, accepted
            // when it stays where the flow relaxed to (docs/theory.md §11.1).
            Eigen::VectorXd plain = p;
            if (on_identical.solve(plain, rate) &&
                (plain - p).lpNorm<Eigen::Infinity>() <=
                    1e-4 * std::max(1.0, p.lpNorm<Eigen::Infinity>())) {
                solution = plain;
                newton_ok = true;
            }
        }
    }
    if (!newton_ok && p.allFinite())
        solution = p;

    fp.op = reduced.expand(solution);
    fp.converged = newton_ok;
    linearize(params, fp, progress);
    return fp;
}

TheoryPointSummary theory_point_summary(const RunParams& params) {
    TheoryPointSummary out;
    if (!rate_schedules(params).is_constant() || params.training.momentum != 0.0 ||
        !params.model.target.is_committee() ||
        params.model.student.hidden() + params.model.teacher.hidden() > 8 ||
        flow_method(params.model) != FlowMethod::integrals ||
        !integrals::has_closed_form(params.model.student.g.kind))
        return out;
    try {
        const FixedPoint fp = symmetric_fixed_point(params);
        if (fp.converged) {
            out.escape_rate = fp.escape_rate;
            out.plateau_eg = fp.eg;
        }
    } catch (const ConfigError&) {
        // relu with a learned second layer: no isolated symmetric fixed point (NaN)
    }
    const EtaMax em = specialized_eta_max(params);
    if (em.found)
        out.eta_max = em.eta_max;
    return out;
}

} // namespace plateau
