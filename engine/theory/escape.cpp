// The escape from the plateau predicted from the ODEs; see escape.hpp and docs/theory.md §11.
#include "engine/theory/escape.hpp"

#include "engine/core/random.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/numerical_jacobian.hpp"
#include "engine/theory/ode_integrator.hpp"
#include "engine/theory/theory.hpp"
#include "models/gaussian_integrals.hpp"
#include "models/network.hpp"

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <variant>
#include <vector>

namespace plateau {

double first_crossing(std::span<const double> alphas, std::span<const double> egs,
                      double threshold) {
    const std::size_t n = std::min(alphas.size(), egs.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (!(egs[i] <= threshold))
            continue;
        if (i == 0)
            return alphas[0];
        // Linear in ln eps_g between the samples i - 1 and i.
        const double l0 = std::log(egs[i - 1]), l1 = std::log(egs[i]), lt = std::log(threshold);
        const double t = l0 > l1 ? std::clamp((l0 - lt) / (l0 - l1), 0.0, 1.0) : 1.0;
        return alphas[i - 1] + t * (alphas[i] - alphas[i - 1]);
    }
    return std::numeric_limits<double>::quiet_NaN();
}

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// The ODEs on packed vectors: a tight integrator (rtol path_rtol) for the symmetric path, whose
/// states are the linearization's grid, and the escape integrations at escape_rtol.
struct Trajectory {
    Trajectory(const RunParams& params, const OrderParameters& fixed)
        : flow(params, fixed), settings(flow_settings(params)), fixed_op(fixed),
          h_max(0.5 / std::max(params.training.eta,
                               params.model.learn_v ? params.training.eta_v : 0.0)) {}

    PackedFlow flow;
    FlowSettings settings;
    OrderParameters fixed_op;
    double h_max;              ///< 0.5/eta: the flow's time scale is 1/eta in alpha
    double escape_rtol = 1e-8; ///< EscapeSettings::escape_rtol
    /// The symmetric path's: 1e-10 with EscapeSettings::adaptive_path (tanh, K = M = 2: the
    /// predictions of 1e-12 to every printed digit at half the path's time), else 1e-12.
    double path_rtol = 1e-12;

    /// rtol (atol = rtol / 100) and the largest step.
    [[nodiscard]] OdeIntegrator integrator(double rtol, double largest = 0.0) {
        OdeParams ode;
        ode.rtol = rtol;
        ode.atol = 1e-2 * rtol;
        ode.h_max = largest > 0.0 ? largest : h_max;
        // The first trial step: the largest (the step control shrinks it if needed); a fresh
        // integrator per sampling interval otherwise climbs from 1e-4 every time.
        ode.h_initial = ode.h_max;
        return {[this](const Eigen::VectorXd& x, Eigen::VectorXd& dx) { return flow(x, dx); }, ode,
                flow.packing().classes()};
    }

    [[nodiscard]] double eg(const Eigen::VectorXd& y) const {
        const OrderParameters op = flow.order_parameters(y);
        return flow_generalization_error(settings, op.Q, op.R, op.T, op.v, op.v_star);
    }

    /// Integrates y from t0 to t1 (at path_rtol, steps up to `largest`, h_max if 0); false on
    /// failure.
    bool advance(Eigen::VectorXd& y, double t0, double t1, double largest = 0.0) {
        if (!(t1 > t0))
            return true;
        OdeIntegrator ode = integrator(path_rtol, largest);
        double t = t0;
        return ode.advance(y, t, t1, [](const Eigen::VectorXd& x) { return x.allFinite(); }) ==
               OdeOutcome::ok;
    }

    /// The escape time of the trajectory from y (at alpha = 0): first alpha with eps_g <=
    /// threshold, sampled every d_alpha, interpolated in ln eps_g; NaN by alpha_limit. The
    /// trajectory is first sampled every coarse_factor d_alpha, with steps up to that long (eps_g
    /// falls through the threshold once: the plateau's eps_g stays above it until the escape),
    /// then the coarse interval of the crossing is bisected on the d_alpha grid down to the two
    /// neighbouring samples that bracket the crossing: the same samples as a scan every d_alpha,
    /// at a fraction of the steps and eps_g evaluations (each a whole flow evaluation for the
    /// tensor and joint rules, docs/theory.md §9, §10). coarse_factor: at least 8, and
    /// 0.5/(lambda d_alpha) for a slow escape (sigmoid: lambda ~ eta/400).
    double escape_time(Eigen::VectorXd y, double threshold, double d_alpha, double alpha_limit,
                       int coarse_factor) {
        const auto finite = [](const Eigen::VectorXd& x) {
            return x.allFinite();
        };
        const double coarse = coarse_factor * d_alpha;
        OdeIntegrator ode = integrator(escape_rtol, coarse);
        double t = 0.0;
        double e_above = eg(y);
        if (e_above <= threshold)
            return 0.0;
        // Coarse: the last state above the threshold and the first below.
        Eigen::VectorXd y_above = y;
        double t_above = 0.0, e_below = nan;
        while (true) {
            if (t_above >= alpha_limit)
                return nan;
            const double t_next = std::min(alpha_limit, t_above + coarse);
            if (ode.advance(y, t, t_next, finite) != OdeOutcome::ok)
                return nan;
            const double e = eg(y);
            if (e <= threshold) {
                e_below = e;
                break;
            }
            y_above = y;
            t_above = t;
            e_above = e;
        }
        // Bisection on the grid t_above + i d_alpha, i = 0 .. n (the last at or beyond t).
        int lo = 0;
        auto hi = static_cast<int>(std::ceil((t - t_above) / d_alpha - 1e-9));
        {
            // The sample at hi: the coarse end is on the grid unless cut at alpha_limit.
            const double t_hi = t_above + hi * d_alpha;
            if (std::abs(t_hi - t) > 1e-9 * std::max(1.0, t)) {
                Eigen::VectorXd y_hi = y;
                OdeIntegrator rest = integrator(escape_rtol, coarse);
                double t_end = t;
                if (rest.advance(y_hi, t_end, t_hi, finite) != OdeOutcome::ok)
                    return nan;
                e_below = eg(y_hi);
            }
        }
        while (hi - lo > 1) {
            const int mid = lo + (hi - lo) / 2;
            Eigen::VectorXd y_mid = y_above;
            OdeIntegrator part = integrator(escape_rtol, coarse);
            double t_mid = t_above + lo * d_alpha;
            if (part.advance(y_mid, t_mid, t_above + mid * d_alpha, finite) != OdeOutcome::ok)
                return nan;
            const double e = eg(y_mid);
            if (e <= threshold) {
                hi = mid;
                e_below = e;
            } else {
                lo = mid;
                y_above = y_mid;
                e_above = e;
            }
        }
        const std::array<double, 2> a{t_above + lo * d_alpha, t_above + hi * d_alpha},
            g{e_above, e_below};
        return first_crossing(a, g, threshold);
    }
};

/// The coarse sampling of escape_time (see there).
int escape_coarse_factor(double lambda, double d_alpha) {
    return std::max(8, static_cast<int>(0.5 / (lambda * d_alpha)));
}

/// Central-difference Jacobian of the packed flow at y (steps 1e-7 max(1, |y_i|)); NaN where the
/// flow is not defined.
Eigen::MatrixXd jacobian(PackedFlow& flow, const Eigen::VectorXd& y) {
    Eigen::MatrixXd J;
    const auto f = [&flow](const Eigen::VectorXd& x, Eigen::VectorXd& out) {
        return flow(x, out);
    };
    if (!numerical_jacobian(f, y, jacobian_steps(y, 1e-7), J))
        return Eigen::MatrixXd::Constant(y.size(), y.size(), nan);
    return J;
}

/// The covariance per example of phi, the update of the packed entries per step in units of
/// eta/N (docs/theory.md §11): phi_Qjk = d_j x_k + d_k x_j + eta d_j d_k, phi_Rjn = d_j y_n,
/// phi_vj = (eta_v/eta) (-de/dv_j), with d_j = -de/dx_j, over the fields (x, y) ~ N(0, C(Q, R,
/// T)) and the label noise, by Monte Carlo with `samples` draws of `rng`.
Eigen::MatrixXd step_covariance(const RunParams& params, const OrderParameters& op, int samples,
                                NormalStream& rng) {
    const ModelParams& m = params.model;
    const auto K = static_cast<std::size_t>(m.student.hidden());
    const auto M = static_cast<std::size_t>(m.teacher.hidden());
    const Packing packing(static_cast<int>(K), static_cast<int>(M), m.learn_v);
    const Eigen::Index n = packing.size();
    const Eigen::MatrixXd C = integrals::field_covariance(op.Q, op.R, op.T);
    // A square root of C that also works for a semi-definite C.
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(C);
    const Eigen::MatrixXd S =
        eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
    const double eta = params.training.eta;
    const double v_ratio = m.learn_v ? params.training.eta_v / eta : 0.0;
    const double noise_sd = std::sqrt(m.noise);
    Eigen::VectorXd z(static_cast<Eigen::Index>(K + M)), u, phi(n), grad_x(K), grad_v(K);
    Eigen::VectorXd sum = Eigen::VectorXd::Zero(n);
    Eigen::MatrixXd sum2 = Eigen::MatrixXd::Zero(n, n);
    for (int s = 0; s < samples; ++s) {
        for (Eigen::Index i = 0; i < z.size(); ++i)
            z(i) = rng.next();
        u = S * z;
        const std::span<const double> x{u.data(), K}, y{u.data() + K, M};
        const double tau = forward(m.teacher, y, {op.v_star.data(), M}).output +
                           (noise_sd > 0.0 ? noise_sd * rng.next() : 0.0);
        const ForwardPass pass = forward(m.student, x, {op.v.data(), K});
        backward(m.student, x, {op.v.data(), K}, pass, tau, {grad_x.data(), K},
                 m.learn_v ? std::span<double>{grad_v.data(), K} : std::span<double>{},
                 Loss{}); // the theory is the squared loss's (require_theory_support)
        Eigen::Index i = 0;
        for (std::size_t j = 0; j < K; ++j)
            for (std::size_t k = j; k < K; ++k) {
                const double dj = -grad_x(static_cast<Eigen::Index>(j));
                const double dk = -grad_x(static_cast<Eigen::Index>(k));
                phi(i++) = dj * x[k] + dk * x[j] + eta * dj * dk;
            }
        for (std::size_t j = 0; j < K; ++j)
            for (std::size_t nn = 0; nn < M; ++nn)
                phi(i++) = -grad_x(static_cast<Eigen::Index>(j)) * y[nn];
        if (m.learn_v)
            for (std::size_t j = 0; j < K; ++j)
                phi(i++) = -v_ratio * grad_v(static_cast<Eigen::Index>(j));
        sum += phi;
        sum2.noalias() += phi * phi.transpose();
    }
    const double ns = samples;
    const Eigen::VectorXd mean = sum / ns;
    return (sum2 / ns - mean * mean.transpose()) * (ns / (ns - 1.0));
}

/// A stage of the prediction failed: its reason (EscapePrediction::why).
struct Failure {
    std::string_view why;
};

/// Stage 1: the unstable modes, an orthonormal basis U (columns) of the left eigenspace of the
/// Jacobian J at the plateau for its largest eigenvalue, which must be real. Simple (K = M = 2):
/// U is the left eigenvector. Degenerate (K = M >= 3: the (K - 1)^2 specialization modes, equal
/// by the permutation symmetry; docs/theory.md §11.2): the eigenvalues within 1e-6 |mu| of mu are
/// one, and U spans the null space of J^T - mu I (its d smallest singular vectors, robust where
/// the eigenvectors of a degenerate eigenvalue are not); a defective eigenvalue (fewer
/// independent eigenvectors than its multiplicity: secular growth alpha e^{mu alpha}) is refused.
std::variant<Eigen::MatrixXd, Failure> unstable_left_space(const Eigen::MatrixXd& J) {
    if (!J.allFinite())
        return Failure{"the Jacobian at the plateau is not finite"};
    const Eigen::Index n = J.rows();
    const Eigen::EigenSolver<Eigen::MatrixXd> left(J.transpose());
    Eigen::Index lead = 0;
    for (Eigen::Index i = 1; i < n; ++i)
        if (left.eigenvalues()(i).real() > left.eigenvalues()(lead).real())
            lead = i;
    const std::complex<double> mu = left.eigenvalues()(lead);
    if (std::abs(mu.imag()) > 1e-9 * std::abs(mu))
        return Failure{"the largest eigenvalue is complex"};
    Eigen::Index d = 0;
    double mean = 0.0;
    for (Eigen::Index i = 0; i < n; ++i)
        if (std::abs(left.eigenvalues()(i) - mu) <= 1e-6 * std::abs(mu)) {
            ++d;
            mean += left.eigenvalues()(i).real();
        }
    if (d == 1)
        return Eigen::MatrixXd(left.eigenvectors().col(lead).real().normalized());
    mean /= static_cast<double>(d);
    const Eigen::MatrixXd shifted = J.transpose() - mean * Eigen::MatrixXd::Identity(n, n);
    const Eigen::JacobiSVD<Eigen::MatrixXd> svd(shifted, Eigen::ComputeFullV);
    const Eigen::VectorXd& sv = svd.singularValues(); // descending
    // The null space has dimension d when the eigenvalue is not defective: its d smallest
    // singular values are at the Jacobian's rounding level, the next is O(|mu|).
    if (!(sv(n - d) <= 1e-4 * std::abs(mu)))
        return Failure{"the largest eigenvalue is degenerate and defective (fewer eigenvectors "
                       "than its multiplicity)"};
    return Eigen::MatrixXd(svd.matrixV().rightCols(d));
}

/// The symmetric trajectory on a grid from y0 to where it reaches the fixed point.
struct SymmetricPath {
    std::vector<Eigen::VectorXd> grid; ///< packed states at s[0] = 0 < s[1] < ... = alpha_linear
    std::vector<double> s;             ///< the grid's alpha: steps of ds0, longer where slow
    double alpha_plateau = nan;        ///< eps_g within 1 % of the plateau's
    double alpha_linear = 0.0;         ///< every entry within 1e-5 of the fixed point
};

/// Stage 2: the symmetric trajectory, kept exactly symmetric (every entry set to its class mean
/// after each step: rounding would otherwise seed an asymmetry that grows like e^{lambda
/// alpha}) until every entry is within 1e-5 of the fixed point (the approach is slow: the
/// slowest stable eigenvalue within the symmetric subspace is small). The grid follows the
/// path's own time scale (docs/theory.md §11.2, "Cost"): steps of ds0 = 0.25/eta while the state
/// moves by more than path_change per step (the fast start), doubled while it moves by less
/// than a quarter of it, up to ds_max (a fraction of 1/lambda) on the slow approach.
constexpr double path_change = 1e-3;
std::variant<SymmetricPath, Failure> symmetric_path(Trajectory& traj, const Eigen::VectorXd& y0,
                                                    const Eigen::VectorXd& y_fp,
                                                    const Eigen::MatrixXd& J_fp, double eg_plateau,
                                                    double ds0, double ds_max, double rate) {
    const Packing& packing = traj.flow.packing();
    const Eigen::Index n = packing.size();
    const auto& classes = packing.classes();
    const auto symmetrize = [&](Eigen::VectorXd& y) {
        std::array<double, 4> sum{}, count{};
        for (Eigen::Index i = 0; i < n; ++i) {
            sum.at(static_cast<std::size_t>(classes[static_cast<std::size_t>(i)])) += y(i);
            count.at(static_cast<std::size_t>(classes[static_cast<std::size_t>(i)])) += 1.0;
        }
        for (Eigen::Index i = 0; i < n; ++i) {
            const auto c = static_cast<std::size_t>(classes[static_cast<std::size_t>(i)]);
            y(i) = sum.at(c) / count.at(c);
        }
    };
    SymmetricPath path;
    path.grid.push_back(y0);
    path.s.push_back(0.0);
    Eigen::VectorXd y = y0;
    double t = 0.0;
    const double limit = 2e4 / rate;
    // Too slow to arrive: every `window` in alpha (100/rate) the distance's decay
    // over the last window is extrapolated; the approach is a sum of decaying exponentials whose
    // slowest dominates later, so the extrapolation can only be too early. When even it arrives
    // after twice the limit, stop now rather than after minutes of flow evaluations (sigmoid,
    // K = M = 2, eta = 0.5: the slowest stable eigenvalue is -8.9e-6; within 1e-5 after ~10^6).
    // And the slowest stable mode inside the symmetric subspace (the class-constant vectors, an
    // orthonormal basis B; B^T J B is the flow's Jacobian there): the deviation's component on
    // it, c r (right eigenvector r, left l, c = l.B^T(y - y*) / l.r), takes ln(|c B r| / 1e-5) /
    // |mu| more; when that exceeds ten times the limit, stop too.
    const double window = 100.0 / rate;
    double check_t = 0.0, check_distance = (y0 - y_fp).lpNorm<Eigen::Infinity>();
    std::array<Eigen::Index, 4> column{-1, -1, -1, -1};
    Eigen::Index n_sym = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        auto& col = column.at(static_cast<std::size_t>(classes[static_cast<std::size_t>(i)]));
        if (col < 0)
            col = n_sym++;
    }
    Eigen::MatrixXd B = Eigen::MatrixXd::Zero(n, n_sym);
    for (Eigen::Index i = 0; i < n; ++i)
        B(i, column.at(static_cast<std::size_t>(classes[static_cast<std::size_t>(i)]))) = 1.0;
    for (Eigen::Index c = 0; c < n_sym; ++c)
        B.col(c).normalize();
    const Eigen::MatrixXd J_sym = B.transpose() * J_fp * B;
    const Eigen::EigenSolver<Eigen::MatrixXd> right(J_sym), left(J_sym.transpose());
    Eigen::Index slow = -1;
    for (Eigen::Index i = 0; i < n_sym; ++i) {
        const std::complex<double> mu = right.eigenvalues()(i);
        if (mu.real() < 0.0 && std::abs(mu.imag()) <= 1e-9 * std::abs(mu) &&
            (slow < 0 || mu.real() > right.eigenvalues()(slow).real()))
            slow = i;
    }
    // The slow mode's share of a deviation from y*, in max norm; NaN if there is none.
    const auto slow_share = [&](const Eigen::VectorXd& at) {
        if (slow < 0 || !J_sym.allFinite())
            return nan;
        const std::complex<double> mu = right.eigenvalues()(slow);
        Eigen::Index match = 0;
        for (Eigen::Index i = 1; i < n_sym; ++i)
            if (std::abs(left.eigenvalues()(i) - mu) < std::abs(left.eigenvalues()(match) - mu))
                match = i;
        const Eigen::VectorXd r = right.eigenvectors().col(slow).real();
        const Eigen::VectorXd l = left.eigenvectors().col(match).real();
        const double c = l.dot(B.transpose() * (at - y_fp)) / l.dot(r);
        return std::abs(c) * (B * r).lpNorm<Eigen::Infinity>();
    };
    bool reached = false;
    double ds = ds0;
    while (t < limit && !reached) {
        if (!traj.advance(y, t, t + ds, ds))
            return Failure{"the symmetric trajectory failed"};
        t += ds;
        symmetrize(y);
        const double change = (y - path.grid.back()).lpNorm<Eigen::Infinity>();
        path.grid.push_back(y);
        path.s.push_back(t);
        if (change < 0.25 * path_change)
            ds = std::min(2.0 * ds, ds_max);
        else if (change > path_change)
            ds = std::max(ds0, 0.5 * ds);
        if (std::isnan(path.alpha_plateau) &&
            std::abs(traj.eg(y) - eg_plateau) <= 0.01 * eg_plateau)
            path.alpha_plateau = t;
        const double now = (y - y_fp).lpNorm<Eigen::Infinity>();
        reached = now <= 1e-5;
        if (!reached && t - check_t >= window) {
            const double decay = std::log(check_distance / now) / (t - check_t);
            check_t = t;
            check_distance = now;
            const double share = slow_share(y);
            const double mu = slow >= 0 ? right.eigenvalues()(slow).real() : nan;
            if ((decay > 0.0 && t + std::log(now / 1e-5) / decay > 2.0 * limit) ||
                (share > 1e-5 && t + std::log(share / 1e-5) / -mu > 10.0 * limit))
                return Failure{"the symmetric trajectory approaches the plateau too slowly: "
                               "extrapolated, it comes within 1e-5 of it long after alpha = "
                               "2e4/eta (a stable eigenvalue close to 0)"};
        }
    }
    if (!reached)
        return Failure{"the symmetric trajectory does not reach the plateau"};
    path.alpha_linear = t;
    return path;
}

/// J(y) e by central differences along the unit vector e (two flow evaluations); NaN if the flow
/// fails.
Eigen::VectorXd jacobian_times(PackedFlow& flow, const Eigen::VectorXd& y,
                               const Eigen::VectorXd& e) {
    const double h = 1e-7 * std::max(1.0, y.lpNorm<Eigen::Infinity>());
    Eigen::VectorXd fp, fm;
    if (!flow(y + h * e, fp) || !flow(y - h * e, fm))
        return Eigen::VectorXd::Constant(y.size(), nan);
    return (fp - fm) / (2.0 * h);
}

/// Stage 3 when the unstable eigenspace is the whole of its symmetry type (docs/theory.md §11.2,
/// "Cost"): the flow is equivariant under the permutations of students and
/// of teachers and the symmetric path is fixed by them, so every J(s) maps each isotypic
/// component of the packed entries into itself; when span(U) is such a component by itself (the
/// specialization modes of K = M: R's asymmetries with zero row and column sums, which Q and v
/// do not have), J(s) and J(s)^T act on it as a number a(s) (Schur), and W(s) = w(s) U with
/// dw/ds = -a(s) w: one directional derivative a(s) = u^T J(s) u per grid point (two flow
/// evaluations) instead of the whole Jacobian (two per entry). Checked, not assumed: J(s) u must
/// equal a(s) u at every grid point (to 1e-6 of the largest |a|), else nullopt (the full
/// adjoint). w by the exact solution for a linear between the grid points (the full adjoint's
/// RK4 uses J linear between them too).
/// int_{s_k}^{s_k+1} of the polynomial through the grid values a around the interval: the cubic
/// through the four nearest (the quadratic through three at the ends, the line through two on
/// a grid of two), by two-point Gauss-Legendre, exact for these degrees on any spacing.
double interval_integral(const std::vector<double>& s, const std::vector<double>& a,
                         std::size_t k) {
    const std::size_t n = s.size();
    const double h = s[k + 1] - s[k];
    if (n < 3)
        return 0.5 * h * (a[k] + a[k + 1]);
    const std::size_t lo = k == 0 ? 0 : k - 1;
    const std::size_t hi = std::min(n - 1, k + 2);
    const auto p = [&](double x) {
        double sum = 0.0;
        for (std::size_t i = lo; i <= hi; ++i) {
            double l = 1.0;
            for (std::size_t j = lo; j <= hi; ++j)
                if (j != i)
                    l *= (x - s[j]) / (s[i] - s[j]);
            sum += l * a[i];
        }
        return sum;
    };
    const double mid = 0.5 * (s[k] + s[k + 1]), d = 0.5 * h / std::numbers::sqrt3;
    return 0.5 * h * (p(mid - d) + p(mid + d));
}

std::optional<std::vector<Eigen::MatrixXd>> scalar_adjoint(PackedFlow& flow,
                                                           const std::vector<Eigen::VectorXd>& grid,
                                                           const std::vector<double>& s,
                                                           const Eigen::MatrixXd& u,
                                                           std::vector<double>& growth) {
    const Eigen::VectorXd e = u.col(0);
    std::vector<double> a(grid.size());
    double scale = 0.0, worst = 0.0;
    for (std::size_t k = 0; k < grid.size(); ++k) {
        const Eigen::VectorXd Je = jacobian_times(flow, grid[k], e);
        if (!Je.allFinite())
            return std::nullopt;
        a[k] = e.dot(Je);
        scale = std::max(scale, std::abs(a[k]));
        worst = std::max(worst, (Je - a[k] * e).lpNorm<Eigen::Infinity>());
    }
    if (!(worst <= 1e-6 * scale))
        return std::nullopt;
    // growth[k] = int_0^{s_k} a: an asymmetry x u at s = 0 is x e^{growth[k]} u at s_k, to first
    // order (the linear phase of stage 6).
    // Fourth order: each interval by the cubic through the four nearest grid values (the
    // quadratic through three at the ends); the trapezoid's error, ~1e-3 in growth over the fast
    // start, would move the linear phase's escapes by ~1e-3/lambda.
    growth.assign(grid.size(), 0.0);
    for (std::size_t k = 0; k + 1 < grid.size(); ++k)
        growth[k + 1] = growth[k] + interval_integral(s, a, k);
    std::vector<Eigen::MatrixXd> w(grid.size());
    double wk = 1.0;
    w.back() = u;
    for (std::size_t k = grid.size() - 1; k-- > 0;) {
        wk *= std::exp(0.5 * (s[k + 1] - s[k]) * (a[k] + a[k + 1]));
        w[k] = wk * u;
        // Rescaled as in the full adjoint (only ratios to W(0) are used).
        if (wk > 1e100) {
            for (std::size_t i = k; i < w.size(); ++i)
                w[i] /= wk;
            wk = 1.0;
        }
    }
    return w;
}

/// Stage 3: the adjoint of the linearized flow along the symmetric path, backwards from
/// alpha_linear: dW/ds = -J(s)^T W, W(alpha_linear) = U, so that W(s)^T delta is the projection
/// on the columns of U at alpha_linear of a perturbation delta injected at s (RK4 with J linear
/// between the grid points).
std::variant<std::vector<Eigen::MatrixXd>, Failure>
adjoint_along(PackedFlow& flow, const std::vector<Eigen::VectorXd>& grid,
              const std::vector<double>& s, const Eigen::MatrixXd& u, bool scalar,
              std::vector<double>& growth) {
    growth.clear();
    if (scalar)
        if (auto w = scalar_adjoint(flow, grid, s, u, growth))
            return std::move(*w);
    std::vector<Eigen::MatrixXd> w(grid.size());
    const double h_sub = grid.size() > 1 ? s[1] - s[0] : 1.0;
    Eigen::MatrixXd J_next = jacobian(flow, grid.back());
    w.back() = u;
    for (std::size_t k = grid.size() - 1; k-- > 0;) {
        const Eigen::MatrixXd J_k = jacobian(flow, grid[k]);
        if (!J_k.allFinite())
            return Failure{"the Jacobian along the symmetric trajectory is not finite"};
        // RK4 in steps no longer than the grid's first (0.25/eta): J has stable eigenvalues of
        // O(eta), beyond RK4's stability over the longer intervals of the slow approach.
        const double h = s[k + 1] - s[k];
        const int steps = std::max(1, static_cast<int>(std::ceil(h / h_sub - 1e-9)));
        const double dh = h / steps;
        // J at the fraction f of the way back from s_{k+1} to s_k (linear between them).
        const auto J_at = [&](double f) -> Eigen::MatrixXd {
            return (1.0 - f) * J_next + f * J_k;
        };
        Eigen::MatrixXd x = w[k + 1];
        for (int i = 0; i < steps; ++i) {
            const double f0 = static_cast<double>(i) / steps;
            const double f1 = static_cast<double>(i + 1) / steps;
            const Eigen::MatrixXd Ja = J_at(f0), Jm = J_at(0.5 * (f0 + f1)), Jb = J_at(f1);
            const Eigen::MatrixXd k1 = Ja.transpose() * x;
            const Eigen::MatrixXd k2 = Jm.transpose() * (x + 0.5 * dh * k1);
            const Eigen::MatrixXd k3 = Jm.transpose() * (x + 0.5 * dh * k2);
            const Eigen::MatrixXd k4 = Jb.transpose() * (x + dh * k3);
            x += dh / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
        }
        w[k] = std::move(x);
        J_next = J_k;
        // Backwards, W grows like e^{lambda (alpha_linear - s)}: over a long approach (weight
        // decay near the merger of the plateau's branches: alpha_linear ~ 10^4) it would
        // overflow. Only its direction and its ratio to W(0) are used (everything is divided
        // by p_ref = W(0)^T d_ref), so W is rescaled, all of it from k on, when it grows large.
        if (const double size = w[k].norm(); size > 1e100)
            for (std::size_t i = k; i < w.size(); ++i)
                w[i] /= size;
    }
    return w;
}

/// The packed direction of the asymmetry of symmetric_initial_conditions (R_jn += eps for
/// n == j mod M), the unit in which eps_0 is measured.
Eigen::VectorXd reference_asymmetry(const Packing& packing, const OrderParameters& start) {
    Eigen::MatrixXd Q0 = Eigen::MatrixXd::Zero(start.Q.rows(), start.Q.cols());
    Eigen::MatrixXd R0 = Eigen::MatrixXd::Zero(start.R.rows(), start.R.cols());
    Eigen::VectorXd v0 = Eigen::VectorXd::Zero(start.v.size());
    for (Eigen::Index j = 0; j < R0.rows(); ++j)
        R0(j, j % R0.cols()) = 1.0;
    Eigen::VectorXd d_ref;
    packing.pack(Q0, R0, v0, d_ref);
    return d_ref;
}

/// Stage 4: the covariance (times N) of eps_0 from the initial law (orthonormal teacher,
/// docs/theory.md §7): R_jn ~ N(0, q0/N), Var Q_jj = 2 q0^2/N, Var Q_jk = q0^2/N, independent to
/// leading order; v deterministic. d x d, d = sensitivity.cols().
Eigen::MatrixXd initial_covariance(const Eigen::MatrixXd& sensitivity,
                                   const std::vector<int>& classes, double q0) {
    Eigen::VectorXd var = Eigen::VectorXd::Zero(sensitivity.rows());
    for (Eigen::Index i = 0; i < sensitivity.rows(); ++i) {
        switch (classes[static_cast<std::size_t>(i)]) {
        case 0:
            var(i) = 2.0 * q0 * q0;
            break;
        case 1:
            var(i) = q0 * q0;
            break;
        case 2:
            var(i) = q0;
            break;
        default:
            break;
        }
    }
    return sensitivity.transpose() * var.asDiagonal() * sensitivity;
}

/// Stage 5: sigma_noise. Per unit alpha the packed entries receive (eta^2/(B N)) Cov(phi); its
/// contribution to the covariance of eps_0 is (eta^2/B) int_0^inf W(s)^T Cov(s) W(s) ds / N,
/// with W(s) = e^{-lambda (s - alpha_linear)} U / p_ref beyond alpha_linear (docs/theory.md §11);
/// sigma_noise^2 is its trace / d (d = U.cols()). Cov by Monte Carlo every `stride` grid points
/// (it changes slowly), held in between.
double noise_sigma(const RunParams& params, const FixedPoint& plateau, PackedFlow& flow,
                   const std::vector<Eigen::VectorXd>& grid, const std::vector<double>& s,
                   const std::vector<Eigen::MatrixXd>& w, const Eigen::MatrixXd& u, double p_ref,
                   double lambda, const EscapeSettings& settings) {
    NormalStream rng(StreamKey{0x65736361706500ULL, 0, StreamPurpose::observer});
    const std::size_t stride = 20;
    const std::size_t n_grid = grid.size();
    double integral = 0.0;
    Eigen::MatrixXd cov;
    for (std::size_t k = 0; k < n_grid; ++k) {
        if (k % stride == 0)
            cov = step_covariance(params, flow.order_parameters(grid[k]), settings.mc_samples, rng);
        // The trapezoid on the path's grid.
        const double weight =
            0.5 * ((k + 1 < n_grid ? s[k + 1] : s[k]) - (k > 0 ? s[k - 1] : s[k]));
        integral += weight * (w[k].transpose() * cov * w[k]).trace();
    }
    const Eigen::MatrixXd cov_fp =
        step_covariance(params, plateau.op, settings.mc_samples_plateau, rng);
    integral += (u.transpose() * cov_fp * u).trace() / (p_ref * p_ref) / (2.0 * lambda);
    const double eta = params.training.eta;
    const double B = static_cast<double>(params.training.batch.size);
    return std::sqrt(eta * eta / B * integral / static_cast<double>(u.cols()));
}

/// The linear phase of stage 6 (docs/theory.md §11.2, "Cost"): what the symmetric path and the
/// scalar adjoint give the escapes from small asymmetries.
struct LinearPhase {
    const std::vector<Eigen::VectorXd>* grid = nullptr; ///< the symmetric path
    const std::vector<double>* s = nullptr;             ///< its grid's alpha
    const std::vector<double>* growth = nullptr;        ///< int_0^s a on the grid
    Eigen::VectorXd u;                                  ///< the unit unstable mode
    double p0 = 0.0;                                    ///< u . d_ref
};

/// Stage 6: the ODE's escape time against eps: eps = 10^(-9 + k/4) up to the largest for which
/// the symmetric start is a covariance (fills out.eps, out.alpha_esc). For eps <= linear_eps (and
/// a scalar adjoint) the start's asymmetry eps p0 u grows along the symmetric path as
/// eps p0 e^{growth(s)} u to first order: the escape is integrated from the first grid point s_k
/// where that reaches linear_switch, from y_s(s_k) + x_k u, and s_k added. Exact to first order
/// in x_k (the u-component has no quadratic term: u is odd under a permutation that fixes the
/// path) and in eps (the start's symmetric part, eps/K on every R_jn, shifts the path by O(eps),
/// left out); measured against the whole integration below.
constexpr double linear_eps = 1.0001e-6;
constexpr double linear_switch = 1e-5;

void escape_times(const ModelParams& m, Trajectory& traj, double lambda, double rate,
                  const LinearPhase& linear, EscapePrediction& out) {
    const Packing& packing = traj.flow.packing();
    const double d_alpha = 0.25 / rate;
    const int coarse_factor = escape_coarse_factor(lambda, d_alpha);
    std::size_t n_linear = 0;
    for (int k = 0; k <= 34; ++k) {
        const double eps = std::pow(10.0, -9.0 + 0.25 * k);
        OrderParameters op;
        try {
            op = symmetric_initial_conditions(m, m.q0, 0.0, eps);
        } catch (const std::invalid_argument&) {
            break;
        }
        const double limit = (-std::log(eps) + 20.0) / lambda + out.alpha_linear + 200.0 / rate;
        out.eps.push_back(eps);
        const bool use_linear = linear.growth != nullptr && !linear.growth->empty();
        if (use_linear && eps <= linear_eps) {
            const std::vector<double>& g = *linear.growth;
            std::size_t i = 0;
            while (i + 1 < g.size() && std::abs(eps * linear.p0) * std::exp(g[i]) < linear_switch)
                ++i;
            // Continued to the next multiple of d_alpha first, so that its eps_g is sampled at
            // the same alpha as an escape integrated whole (the crossing is interpolated between
            // samples: another phase of the samples would move it by ~1e-4 in alpha).
            double s_i = (*linear.s)[i];
            Eigen::VectorXd y = (*linear.grid)[i] + eps * linear.p0 * std::exp(g[i]) * linear.u;
            const double aligned = std::ceil(s_i / d_alpha - 1e-9) * d_alpha;
            OdeIntegrator to_aligned = traj.integrator(traj.escape_rtol, d_alpha);
            if (aligned > s_i && to_aligned.advance(y, s_i, aligned, [](const Eigen::VectorXd& x) {
                    return x.allFinite();
                }) != OdeOutcome::ok) {
                out.alpha_esc.push_back(nan);
                ++n_linear;
                continue;
            }
            out.alpha_esc.push_back(
                s_i + traj.escape_time(y, out.threshold, d_alpha, limit - s_i, coarse_factor));
            ++n_linear;
            if (eps * std::pow(10.0, 0.25) > linear_eps) {
                // The largest linear eps also integrated whole: the offset of the linear phase
                // (the growth's quadrature error over the fast start, ~2e-3 in alpha for erf)
                // measured there and taken off every linear eps.
                Eigen::VectorXd y0;
                packing.pack(op.Q, op.R, op.v, y0);
                const double whole =
                    traj.escape_time(y0, out.threshold, d_alpha, limit, coarse_factor);
                const double offset = whole - out.alpha_esc.back();
                for (std::size_t j = out.alpha_esc.size() - n_linear; j < out.alpha_esc.size(); ++j)
                    out.alpha_esc[j] += offset;
            }
        } else {
            Eigen::VectorXd y;
            packing.pack(op.Q, op.R, op.v, y);
            out.alpha_esc.push_back(
                traj.escape_time(y, out.threshold, d_alpha, limit, coarse_factor));
        }
    }
}

/// Unit directions on the sphere S^{d-1} for averages over an isotropic eps_0. d = 4 (K = M = 3):
/// the vertices of the 24-cell (coarse: a spherical 5-design, every polynomial of degree <= 5
/// averaged exactly) or of the 600-cell (fine: 120 vertices, an 11-design); any other d: `pairs`
/// antithetic pairs (n, -n) drawn once from a fixed stream.
std::vector<Eigen::VectorXd> sphere_directions(Eigen::Index d, bool fine) {
    std::vector<Eigen::VectorXd> out;
    if (d == 4) {
        const auto add = [&](std::array<double, 4> x) {
            // Every sign pattern of the non-zero coordinates.
            for (int signs = 0; signs < 16; ++signs) {
                Eigen::VectorXd v(4);
                bool duplicate = false;
                for (int i = 0; i < 4; ++i) {
                    const bool flip = ((signs >> i) & 1) != 0;
                    duplicate = duplicate || (flip && x.at(static_cast<std::size_t>(i)) == 0.0);
                    v(i) = flip ? -x.at(static_cast<std::size_t>(i))
                                : x.at(static_cast<std::size_t>(i));
                }
                if (!duplicate)
                    out.push_back(v.normalized());
            }
        };
        for (int i = 0; i < 4; ++i) {
            std::array<double, 4> e{};
            e.at(static_cast<std::size_t>(i)) = 1.0;
            add(e);
        }
        add({0.5, 0.5, 0.5, 0.5});
        if (fine) {
            // The 96 even permutations of (phi, 1, 1/phi, 0)/2, every sign.
            const double phi = 0.5 * (1.0 + std::sqrt(5.0));
            const std::array<double, 4> base{0.5 * phi, 0.5, 0.5 / phi, 0.0};
            std::array<int, 4> perm{0, 1, 2, 3};
            do {
                int inversions = 0;
                for (int i = 0; i < 4; ++i)
                    for (int j = i + 1; j < 4; ++j)
                        inversions += perm.at(static_cast<std::size_t>(i)) >
                                      perm.at(static_cast<std::size_t>(j));
                if (inversions % 2 != 0)
                    continue;
                std::array<double, 4> x{};
                for (std::size_t i = 0; i < 4; ++i)
                    x.at(i) = base.at(static_cast<std::size_t>(perm.at(i)));
                add(x);
            } while (std::next_permutation(perm.begin(), perm.end()));
        }
        return out;
    }
    const int pairs = fine ? 120 : 12;
    NormalStream rng(StreamKey{0x65736361706500ULL, fine ? 2U : 1U, StreamPurpose::observer});
    for (int k = 0; k < pairs; ++k) {
        Eigen::VectorXd z(d);
        for (Eigen::Index i = 0; i < d; ++i)
            z(i) = rng.next();
        out.push_back(z.normalized());
        out.push_back(-out.back());
    }
    return out;
}

/// Stage 6 for a degenerate lambda (d = S.cols() > 1, docs/theory.md §11.2): the ODE's escape
/// time against |eps_0| averaged over unit directions n of eps_0, from the symmetric start plus
/// eps delta(n), delta(n) = S_R (S_R^T S_R)^{-1} n the least-norm perturbation of R whose
/// projection on the unstable eigenspace (S: sensitivities, S_R their rows of R) is n. The
/// direction matters (a standard deviation of ~45 in alpha over directions for erf K = M = 3,
/// eta = 0.5, with a tail of slow directions) but hardly how it changes with eps: the table over
/// eps = 10^(-7 + k/2) (while the start is a covariance, eps |delta(n)|_2 < sqrt(q0)) is the mean
/// over the coarse directions, shifted by the fine directions' mean minus the coarse one at
/// eps = 1e-3. out.A_spread: the standard deviation over the fine directions there.
void escape_times_degenerate(const ModelParams& m, Trajectory& traj, double lambda, double rate,
                             const Eigen::MatrixXd& S, EscapePrediction& out) {
    const Packing& packing = traj.flow.packing();
    const auto& classes = packing.classes();
    const Eigen::Index d = S.cols();
    const auto K = static_cast<Eigen::Index>(m.student.hidden());
    const auto M = static_cast<Eigen::Index>(m.teacher.hidden());
    Eigen::Index first_r = 0;
    while (classes[static_cast<std::size_t>(first_r)] != 2)
        ++first_r;
    const Eigen::MatrixXd S_R = S.middleRows(first_r, K * M);
    const Eigen::MatrixXd lift = S_R * (S_R.transpose() * S_R).inverse(); // n -> delta_R(n)
    // The R perturbation of each direction, and the largest |delta(n)|_2 (the start is a
    // covariance for eps below sqrt(q0) / largest).
    const auto perturbations = [&](const std::vector<Eigen::VectorXd>& directions,
                                   double& largest) {
        std::vector<Eigen::MatrixXd> deltas;
        for (const auto& n : directions) {
            const Eigen::VectorXd delta = lift * n;
            // Row-major (j, n) as Packing lays R out.
            deltas.emplace_back(
                Eigen::Map<
                    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                    delta.data(), K, M));
            largest = std::max(
                largest, Eigen::JacobiSVD<Eigen::MatrixXd>(deltas.back()).singularValues()(0));
        }
        return deltas;
    };
    const OrderParameters start = symmetric_initial_conditions(m, m.q0, 0.0, 0.0);
    const double d_alpha = 0.25 / rate;
    const auto escape = [&](const Eigen::MatrixXd& R, double eps) {
        const double limit = (-std::log(eps) + 20.0) / lambda + out.alpha_linear + 200.0 / rate;
        Eigen::VectorXd y;
        packing.pack(start.Q, start.R + eps * R, start.v, y);
        return traj.escape_time(y, out.threshold, d_alpha, limit,
                                escape_coarse_factor(lambda, d_alpha));
    };
    double largest = 0.0;
    const std::vector<Eigen::MatrixXd> coarse = perturbations(sphere_directions(d, false), largest);
    constexpr double eps_shift = 1e-3;
    double coarse_at_shift = std::numeric_limits<double>::quiet_NaN();
    for (int k = 0; k <= 13; ++k) {
        const double eps = std::pow(10.0, -7.0 + 0.5 * k);
        if (!(eps * largest < std::sqrt(m.q0)))
            break;
        double sum = 0.0;
        for (const auto& R : coarse)
            sum += escape(R, eps);
        out.eps.push_back(eps);
        out.alpha_esc.push_back(sum / static_cast<double>(coarse.size()));
        if (std::abs(eps / eps_shift - 1.0) < 1e-9)
            coarse_at_shift = out.alpha_esc.back();
    }
    double largest_fine = 0.0;
    const std::vector<Eigen::MatrixXd> fine =
        perturbations(sphere_directions(d, true), largest_fine);
    std::vector<double> at_shift;
    if (eps_shift * largest_fine < std::sqrt(m.q0))
        for (const auto& R : fine)
            at_shift.push_back(escape(R, eps_shift));
    const auto n_fine = static_cast<double>(at_shift.size());
    double mean = 0.0, var = 0.0;
    for (const double a : at_shift)
        mean += a / n_fine;
    for (const double a : at_shift)
        var += (a - mean) * (a - mean) / (n_fine - 1.0);
    // NaN when the fine directions are missing: the prediction then fails (no finite table).
    const double shift = mean - coarse_at_shift;
    for (double& a : out.alpha_esc)
        a += shift;
    out.directions = static_cast<int>(at_shift.size());
    out.direction_offsets.clear();
    for (const double a : at_shift)
        out.direction_offsets.push_back(a - mean);
    out.A_spread = std::sqrt(var);
    out.direction_shift = shift;
}

/// Stage 7: A with the slope 1/lambda from eps <= 1e-7; the free slope over eps <= 1e-4; c.
bool fit_escape_law(double lambda, EscapePrediction& out) {
    double sum_a = 0.0;
    int n_a = 0;
    double sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0;
    int n_fit = 0;
    for (std::size_t i = 0; i < out.eps.size(); ++i) {
        const double x = -std::log(out.eps[i]), a = out.alpha_esc[i];
        if (!std::isfinite(a))
            continue;
        if (out.eps[i] <= 1.0001e-7) {
            sum_a += a - x / lambda;
            ++n_a;
        }
        if (out.eps[i] <= 1.0001e-4) {
            sx += x;
            sy += a;
            sxx += x * x;
            sxy += x * a;
            ++n_fit;
        }
    }
    if (n_a == 0 || n_fit < 3)
        return false;
    out.A = sum_a / n_a;
    out.fit_slope = (n_fit * sxy - sx * sy) / (n_fit * sxx - sx * sx);
    out.c = std::exp(lambda * (out.A - out.alpha_plateau));
    return true;
}

} // namespace

EscapePrediction predict_escape(const RunParams& params, const FixedPoint& plateau,
                                const EscapeSettings& settings) {
    EscapePrediction out;
    const ModelParams& m = params.model;
    const auto fail = [&out](std::string_view why) {
        out.why = why;
        return out;
    };
    if (!plateau.converged)
        return fail("no symmetric fixed point");
    if (m.teacher_init != TeacherInit::orthonormal)
        return fail("the prediction covers the orthonormal teacher (T = I) only");
    if (!m.target.is_committee()) // step_covariance's tau is the committee's
        return fail("the prediction covers the committee target only");
    out.rate = plateau.escape_rate;
    out.eg_plateau = plateau.eg;
    out.threshold = escape_fraction * plateau.eg;
    const double lambda = out.rate;
    if (!(lambda > 0.0))
        return fail("the plateau is stable (no positive eigenvalue): no escape");
    const double rate = std::max(params.training.eta, m.learn_v ? params.training.eta_v : 0.0);

    const OrderParameters start = symmetric_initial_conditions(m, m.q0, 0.0, 0.0);
    Trajectory traj(params, start);
    traj.escape_rtol = settings.escape_rtol;
    traj.path_rtol = settings.adaptive_path ? 1e-10 : 1e-12;
    const Packing& packing = traj.flow.packing();
    Eigen::VectorXd y_fp;
    packing.pack(plateau.op.Q, plateau.op.R, plateau.op.v, y_fp);
    const Eigen::MatrixXd J_fp = jacobian(traj.flow, y_fp);
    auto mode = unstable_left_space(J_fp);
    if (const auto* f = std::get_if<Failure>(&mode))
        return fail(f->why);
    const Eigen::MatrixXd u = std::get<Eigen::MatrixXd>(std::move(mode));
    out.dimension = static_cast<int>(u.cols());

    const double ds0 = 0.25 / rate;
    Eigen::VectorXd y0;
    packing.pack(start.Q, start.R, start.v, y0);
    auto path_or =
        symmetric_path(traj, y0, y_fp, J_fp, out.eg_plateau, ds0,
                       settings.adaptive_path ? std::max(ds0, 0.25 / lambda) : ds0, rate);
    if (const auto* f = std::get_if<Failure>(&path_or))
        return fail(f->why);
    const SymmetricPath path = std::get<SymmetricPath>(std::move(path_or));
    out.alpha_plateau = path.alpha_plateau;
    out.alpha_linear = path.alpha_linear;

    std::vector<double> growth; // empty unless the adjoint is scalar
    auto w_or = adjoint_along(traj.flow, path.grid, path.s, u, settings.scalar_adjoint, growth);
    if (const auto* f = std::get_if<Failure>(&w_or))
        return fail(f->why);
    std::vector<Eigen::MatrixXd> w = std::get<std::vector<Eigen::MatrixXd>>(std::move(w_or));
    // The unit of eps_0: the reference asymmetry's projection has norm 1 (signed for d = 1).
    const Eigen::VectorXd projection = w.front().transpose() * reference_asymmetry(packing, start);
    const double p_ref = out.dimension == 1 ? projection(0) : projection.norm();
    if (!std::isfinite(p_ref) || !(std::abs(p_ref) > 1e-12 * w.front().norm()))
        return fail("the asymmetry of symmetric_initial_conditions does not reach the unstable "
                    "mode");
    for (auto& x : w)
        x /= p_ref; // now d eps_0 / d y(s)
    out.sensitivity = w.front();
    const Eigen::MatrixXd initial = initial_covariance(out.sensitivity, packing.classes(), m.q0);
    out.sigma_initial = std::sqrt(initial.trace() / static_cast<double>(out.dimension));
    const Eigen::VectorXd spread =
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(initial).eigenvalues();
    out.anisotropy = spread.maxCoeff() / spread.minCoeff();
    if (settings.noise)
        out.sigma_noise = noise_sigma(params, plateau, traj.flow, path.grid, path.s, w, u, p_ref,
                                      lambda, settings);

    if (out.dimension == 1) {
        LinearPhase linear;
        if (settings.linear_phase && !growth.empty()) {
            linear.grid = &path.grid;
            linear.s = &path.s;
            linear.growth = &growth;
            linear.u = u.col(0);
            linear.p0 = linear.u.dot(reference_asymmetry(packing, start));
        }
        escape_times(m, traj, lambda, rate, linear, out);
    } else
        escape_times_degenerate(m, traj, lambda, rate, out.sensitivity, out);
    if (!fit_escape_law(lambda, out))
        return fail("the ODE did not escape from small asymmetries");
    out.valid = true;
    return out;
}

double mean_ln_chi(int d) {
    if (d == 1)
        return mean_ln_abs_normal;
    // psi(d/2): psi(1) = -gamma, psi(1/2) = -gamma - 2 ln 2, psi(x + 1) = psi(x) + 1/x.
    double psi =
        d % 2 == 0 ? -std::numbers::egamma : -std::numbers::egamma - 2.0 * std::numbers::ln2;
    for (double x = d % 2 == 0 ? 1.0 : 0.5; x < 0.5 * d - 0.25; x += 1.0)
        psi += 1.0 / x;
    return 0.5 * (psi + std::numbers::ln2);
}

namespace {

/// The escape time of a run at input dimension N as a function of chi, the norm of its
/// standardized asymmetry (chi ~ chi_d): alpha_esc(sigma chi) = A - ln(sigma chi)/lambda +
/// r(sigma chi), sigma = sqrt((sigma_initial^2 + sigma_noise^2)/N), with r(eps) = alpha_esc(eps)
/// - A + ln(eps)/lambda the ODE's departure from the asymptote (docs/theory.md §11.2),
/// tabulated, linear in ln eps between the tabulated eps, its first value below the smallest,
/// its last finite value above the largest.
class EscapeMap {
public:
    EscapeMap(const EscapePrediction& p, double N)
        : p_(p), sigma_(std::sqrt(
                     (p.sigma_initial * p.sigma_initial + p.sigma_noise * p.sigma_noise) / N)) {
        for (std::size_t i = 0; i < p.eps.size(); ++i)
            if (std::isfinite(p.alpha_esc[i])) {
                le_.push_back(std::log(p.eps[i]));
                r_.push_back(p.alpha_esc[i] - p.A + std::log(p.eps[i]) / p.rate);
                a_.push_back(p.alpha_esc[i]);
            }
        decreasing_ = std::adjacent_find(a_.begin(), a_.end(), std::less_equal<>()) == a_.end();
    }
    /// ln chi at which the map is `a`, in closed form: the map is linear in ln chi between the
    /// table's points (alpha_esc there) and of slope -1/lambda beyond (Eq. (11.9), r constant);
    /// nullopt if the table is not strictly decreasing (then the caller bisects).
    [[nodiscard]] std::optional<double> inverse_log(double a) const {
        if (!decreasing_ || a_.empty())
            return std::nullopt;
        const double ls = std::log(sigma_);
        if (a >= a_.front()) // ln(sigma chi) <= le_0: alpha = A - ln(sigma chi)/lambda + r_0
            return p_.rate * (p_.A + r_.front() - a) - ls;
        if (a <= a_.back())
            return p_.rate * (p_.A + r_.back() - a) - ls;
        // The first table point at or below a (a_ decreasing): a lies in [a_[i], a_[i - 1]).
        const auto it = std::upper_bound(a_.begin(), a_.end(), a, std::greater<>());
        const auto i = static_cast<std::size_t>(it - a_.begin());
        const double t = (a - a_[i - 1]) / (a_[i] - a_[i - 1]);
        return le_[i - 1] + t * (le_[i] - le_[i - 1]) - ls;
    }
    [[nodiscard]] double sigma() const noexcept { return sigma_; }
    [[nodiscard]] double residual(double eps) const {
        const double x = std::log(eps);
        if (x <= le_.front())
            return r_.front();
        if (x >= le_.back())
            return r_.back();
        const auto it = std::upper_bound(le_.begin(), le_.end(), x);
        const auto i = static_cast<std::size_t>(it - le_.begin());
        const double t = (x - le_[i - 1]) / (le_[i] - le_[i - 1]);
        return r_[i - 1] + t * (r_[i] - r_[i - 1]);
    }
    /// alpha_esc for the standardized norm chi.
    [[nodiscard]] double operator()(double chi) const {
        return p_.A - std::log(sigma_ * chi) / p_.rate + residual(sigma_ * chi);
    }

private:
    const EscapePrediction& p_;
    double sigma_;
    std::vector<double> le_, r_, a_;
    bool decreasing_ = false;
};

/// The density of chi_d at z: f_1(z) = 2 phi(z), f_d(z) = z^(d-1) e^(-z^2/2) / (2^(d/2-1)
/// Gamma(d/2)) (the chi distribution).
double chi_density(int d, double z) {
    if (d == 1)
        return 2.0 * std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
    const double norm = std::pow(2.0, 0.5 * d - 1.0) * std::tgamma(0.5 * d);
    return std::pow(z, d - 1) * std::exp(-0.5 * z * z) / norm;
}

/// P(chi_d <= z) = P(chi^2_d <= x), x = z^2, in closed form: for even d, 1 - e^(-x/2)
/// sum_{k < d/2} (x/2)^k / k!; for odd d, erf(sqrt(x/2)) - e^(-x/2) sum_{k <= (d-3)/2}
/// (x/2)^(k+1/2) / Gamma(k + 3/2).
double chi_cdf(int d, double z) {
    const double h = 0.5 * z * z;
    double sum = 0.0;
    if (d % 2 == 0) {
        double term = 1.0;
        for (int k = 0; k < d / 2; ++k) {
            sum += term;
            term *= h / (k + 1);
        }
        return 1.0 - std::exp(-h) * sum;
    }
    double term = std::sqrt(h) / std::tgamma(1.5);
    for (int k = 0; k <= (d - 3) / 2; ++k) {
        sum += term;
        term *= h / (k + 1.5);
    }
    return std::erf(std::sqrt(h)) - std::exp(-h) * sum;
}

/// The p-quantile of chi_d, 0 < p < 1: bisection of chi_cdf in ln z over [1e-12, 40] to
/// relative 1e-13.
double chi_quantile(int d, double p) {
    double lo = std::log(1e-12);
    double hi = std::log(40.0);
    while (hi - lo > 1e-13) {
        const double mid = 0.5 * (lo + hi);
        (chi_cdf(d, std::exp(mid)) < p ? lo : hi) = mid;
    }
    return std::exp(0.5 * (lo + hi));
}

/// E g(chi) for chi ~ chi_d: the trapezoid in ln z over [1e-10, 10] (20 000 steps).
template <typename G>
double chi_expectation(int d, G&& g) {
    const double lo = std::log(1e-10);
    const double hi = std::log(10.0);
    const int steps = 20000;
    const double du = (hi - lo) / steps;
    double sum = 0.0;
    for (int i = 0; i <= steps; ++i) {
        const double z = std::exp(lo + i * du);
        const double density = chi_density(d, z) * z; // per unit of ln z
        sum += (i == 0 || i == steps ? 0.5 : 1.0) * du * density * g(z);
    }
    return sum;
}

} // namespace

double predicted_mean_escape(const EscapePrediction& p, double N) {
    if (!p.valid || p.eps.empty())
        return nan;
    const EscapeMap map(p, N);
    // The mean of alpha_esc(sigma chi_d): A - (ln sigma + E ln chi_d)/lambda + E r(sigma chi_d).
    const double e_r =
        chi_expectation(p.dimension, [&](double z) { return map.residual(map.sigma() * z); });
    return p.A - (std::log(map.sigma()) + mean_ln_chi(p.dimension)) / p.rate + e_r;
}

namespace {

/// The directions' offsets of the law: {0} for d = 1.
std::vector<double> offsets_of(const EscapePrediction& p) {
    return p.direction_offsets.empty() ? std::vector<double>{0.0} : p.direction_offsets;
}

/// chi with map(chi) = a (map decreases in chi) in [1e-12, 40]: the map's closed-form inverse,
/// else bisection in ln chi.
double chi_at(const EscapeMap& map, double a) {
    double lo = std::log(1e-12);
    double hi = std::log(40.0);
    if (const auto x = map.inverse_log(a))
        return std::exp(std::clamp(*x, lo, hi));
    for (int i = 0; i < 200 && hi - lo > 1e-14; ++i) {
        const double mid = 0.5 * (lo + hi);
        (map(std::exp(mid)) > a ? lo : hi) = mid;
    }
    return std::exp(0.5 * (lo + hi));
}

} // namespace

double predicted_escape_sd(const EscapePrediction& p, double N) {
    if (!p.valid || p.eps.empty())
        return nan;
    const EscapeMap map(p, N);
    // Var = E (alpha_esc(sigma chi) - mean)^2 + the offsets' variance (docs/theory.md §11.2b); the
    // mean by the same rule, so that the two cancel to the rule's accuracy.
    const double mean = chi_expectation(p.dimension, [&](double z) { return map(z); });
    double var = chi_expectation(p.dimension, [&](double z) {
        const double a = map(z) - mean;
        return a * a;
    });
    const std::vector<double> offsets = offsets_of(p);
    for (const double o : offsets)
        var += o * o / static_cast<double>(offsets.size());
    return std::sqrt(var);
}

namespace {

/// The q-quantile of the law (docs/theory.md §11.2b, Eq. (11.9)) by bisection of its
/// distribution function P(alpha <= a) = mean over directions of P(chi >= chi*(a - o)), chi*
/// inverting the map; 0 < q < 1.
double law_quantile(const EscapePrediction& p, const EscapeMap& map,
                    const std::vector<double>& offsets, double q) {
    const auto cdf = [&](double a) {
        double sum = 0.0;
        for (const double o : offsets)
            sum += 1.0 - chi_cdf(p.dimension, chi_at(map, a - o));
        return sum / static_cast<double>(offsets.size());
    };
    const auto [low, high] = std::minmax_element(offsets.begin(), offsets.end());
    double lo = map(40.0) + *low;
    double hi = map(1e-12) + *high;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * std::abs(hi); ++i) {
        const double mid = 0.5 * (lo + hi);
        (cdf(mid) < q ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

} // namespace

double predicted_escape_quantile(const EscapePrediction& p, double N, double q) {
    return predicted_escape_quantiles(p, N, std::span<const double>(&q, 1)).front();
}

std::vector<double> predicted_escape_quantiles(const EscapePrediction& p, double N,
                                               std::span<const double> levels) {
    std::vector<double> out(levels.size(), nan);
    if (!p.valid || p.eps.empty())
        return out;
    const EscapeMap map(p, N);
    const std::vector<double> offsets = offsets_of(p);
    for (std::size_t i = 0; i < levels.size(); ++i)
        if (levels[i] > 0.0 && levels[i] < 1.0)
            out[i] = law_quantile(p, map, offsets, levels[i]);
    return out;
}

std::vector<double> predicted_escape_points(const EscapePrediction& p, double N,
                                            int per_direction) {
    std::vector<double> out;
    if (!p.valid || p.eps.empty() || per_direction < 1)
        return out;
    const EscapeMap map(p, N);
    const std::vector<double> offsets = offsets_of(p);
    for (int j = 0; j < per_direction; ++j) {
        const double a = map(chi_quantile(p.dimension, 1.0 - (j + 0.5) / per_direction));
        for (const double o : offsets)
            out.push_back(a + o);
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace plateau
