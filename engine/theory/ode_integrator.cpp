// The Dormand-Prince and RK4 integrators of engine/theory/ode_integrator.hpp.
#include "engine/theory/ode_integrator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

namespace plateau {

// ---------------------------------------------------------------------------------------------
// Dormand-Prince 5(4) (Dormand & Prince 1980; Hairer, Norsett & Wanner, Solving ODEs I, Table
// 5.2), FSAL, local extrapolation (the 5th-order solution is propagated), step control
// h_new = h min(5, max(0.2, 0.9 err^(-1/5))) (no increase right after a rejection).
//
// Error norm: the larger of two RMS norms of the local error estimate e,
//   (a) per entry:         e_i / (atol + rtol max(|y_i|, |y_new_i|)),
//   (b) per asymmetry:     (e_i - <e>_class) / (atol_asymmetry + rtol max(|d_i|, |d_new_i|)),
//       with d_i = y_i - <y>_class the deviation of entry i from the mean of its symmetry class.
// Why (b): the plateau ends when an asymmetry between symmetry-equivalent entries (as small as
// 1e-12 for a nearly symmetric start) has grown to O(1), so the escape time depends on the
// asymmetry's *relative* accuracy. Norm (a) alone only bounds its error by atol per step, which
// for an asymmetry ~ atol is an O(1) relative error. Because the flow is equivariant under the
// permutations, the truncation error of the asymmetric part is itself proportional to the
// asymmetry, so (b) costs few extra steps; its floor atol_asymmetry (1e-16) sits above the
// rounding noise of the asymmetric parts (~1e-17 h |f|, the flow's entries being summed in
// different orders). Without symmetry classes only (a) applies.
// ---------------------------------------------------------------------------------------------

namespace dp {
// (the stage times c_i = 1/5, 3/10, 4/5, 8/9, 1, 1 are not needed: the ODE is autonomous)
// Nodes c_i of the stages (Dormand & Prince 1980): stage i is evaluated at t + c_i h.
constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;
constexpr double a21 = 1.0 / 5;
constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                 a54 = -212.0 / 729;
constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176,
                 a65 = -5103.0 / 18656;
// 5th-order weights (= the last stage row, FSAL)
constexpr double b1 = 35.0 / 384, b3 = 500.0 / 1113, b4 = 125.0 / 192, b5 = -2187.0 / 6784,
                 b6 = 11.0 / 84;
// b - b* (5th minus embedded 4th order weights)
constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200,
                 e6 = 22.0 / 525, e7 = -1.0 / 40;
} // namespace dp

OdeIntegrator::OdeIntegrator(Rhs rhs, OdeParams p) : OdeIntegrator(std::move(rhs), p, {}) {}

OdeIntegrator::OdeIntegrator(Rhs rhs, OdeParams p, std::vector<int> classes)
    : OdeIntegrator(TimeRhs([f = std::move(rhs)](double, const Eigen::VectorXd& y,
                                                 Eigen::VectorXd& dy) { return f(y, dy); }),
                    p, std::move(classes)) {}

OdeIntegrator::OdeIntegrator(TimeRhs rhs, OdeParams p, std::vector<int> classes)
    : rhs_(std::move(rhs)), p_(p), classes_(std::move(classes)), h_(p.h_initial) {
    if (!(p_.rtol > 0.0) || !(p_.atol > 0.0) || !(p_.atol_asymmetry > 0.0) || !(p_.h_max > 0.0) ||
        !(p_.h_initial > 0.0) || !(p_.rk4_step > 0.0) || p_.max_steps < 1)
        throw std::invalid_argument("plateau OdeIntegrator: OdeParams need rtol, atol, "
                                    "atol_asymmetry, h_max, h_initial, rk4_step > 0 and "
                                    "max_steps >= 1");
    if (p_.method == OdeMethod::dormand_prince && p_.rtol < min_rtol)
        throw std::invalid_argument("plateau OdeIntegrator: rtol below min_rtol (100 x the "
                                    "machine epsilon) cannot be met in double precision");
    int n_classes = 0;
    for (const int c : classes_)
        n_classes = std::max(n_classes, c + 1);
    class_size_.assign(static_cast<std::size_t>(n_classes), 0);
    for (const int c : classes_)
        ++class_size_[static_cast<std::size_t>(c)];
}

/// Advances (y, t) to t_end. On failure (y, t) is the last accepted state.
OdeOutcome OdeIntegrator::advance(Eigen::VectorXd& y, double& t, double t_end, const Guard& guard) {
    if (!classes_.empty() && classes_.size() != static_cast<std::size_t>(y.size()))
        throw std::invalid_argument("plateau OdeIntegrator: one symmetry class per entry needed");
    if (!(t_end > t))
        return OdeOutcome::ok;
    return p_.method == OdeMethod::rk4 ? advance_rk4(y, t, t_end, guard)
                                       : advance_dp(y, t, t_end, guard);
}

OdeOutcome OdeIntegrator::advance_rk4(Eigen::VectorXd& y, double& t, double t_end,
                                      const Guard& guard) {
    // Equal steps of at most rk4_step that land exactly on t_end.
    const double span = t_end - t;
    const double n_steps = std::ceil(span / p_.rk4_step * (1.0 - 1e-12));
    if (n_steps > static_cast<double>(p_.max_steps - accepted_))
        return OdeOutcome::failed; // the integrator's whole budget of steps, see OdeParams
    const auto n = std::max<std::int64_t>(1, static_cast<std::int64_t>(n_steps));
    const double t0 = t;
    const double h = span / static_cast<double>(n);
    for (std::int64_t i = 0; i < n; ++i) {
        // Classical RK4.
        const double ti = t0 + static_cast<double>(i) * h;
        if (!rhs_(ti, y, k1_))
            return OdeOutcome::failed;
        tmp_ = y + 0.5 * h * k1_;
        if (!rhs_(ti + 0.5 * h, tmp_, k2_))
            return OdeOutcome::failed;
        tmp_ = y + 0.5 * h * k2_;
        if (!rhs_(ti + 0.5 * h, tmp_, k3_))
            return OdeOutcome::failed;
        tmp_ = y + h * k3_;
        if (!rhs_(ti + h, tmp_, k4_))
            return OdeOutcome::failed;
        y_new_ = y + (h / 6.0) * (k1_ + 2.0 * k2_ + 2.0 * k3_ + k4_);
        if (!y_new_.allFinite() || !guard(y_new_))
            return OdeOutcome::stopped;
        y.swap(y_new_);
        t = i + 1 == n ? t_end : t0 + static_cast<double>(i + 1) * h;
        ++accepted_;
        fsal_valid_ = false;
    }
    return OdeOutcome::ok;
}

double OdeIntegrator::error_norm(const Eigen::VectorXd& y, const Eigen::VectorXd& y_new,
                                 const Eigen::VectorXd& err) {
    const Eigen::Index n = y.size();
    double sum = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) {
        const double sc = p_.atol + p_.rtol * std::max(std::abs(y(i)), std::abs(y_new(i)));
        const double r = err(i) / sc;
        sum += r * r;
    }
    const double norm_a = std::sqrt(sum / static_cast<double>(n));
    if (classes_.empty()) // every entry its own class: no asymmetries
        return norm_a;

    // Class means of y, y_new and err.
    const std::size_t nc = class_size_.size();
    mean_y_.assign(nc, 0.0);
    mean_y_new_.assign(nc, 0.0);
    mean_err_.assign(nc, 0.0);
    for (Eigen::Index i = 0; i < n; ++i) {
        const auto c = static_cast<std::size_t>(classes_[static_cast<std::size_t>(i)]);
        mean_y_[c] += y(i);
        mean_y_new_[c] += y_new(i);
        mean_err_[c] += err(i);
    }
    for (std::size_t c = 0; c < nc; ++c) {
        const double size = class_size_[c] > 0 ? static_cast<double>(class_size_[c]) : 1.0;
        mean_y_[c] /= size;
        mean_y_new_[c] /= size;
        mean_err_[c] /= size;
    }
    double sum_b = 0.0;
    int count_b = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        const auto c = static_cast<std::size_t>(classes_[static_cast<std::size_t>(i)]);
        if (class_size_[c] < 2)
            continue;
        const double d = std::abs(y(i) - mean_y_[c]);
        const double d_new = std::abs(y_new(i) - mean_y_new_[c]);
        const double sc = p_.atol_asymmetry + p_.rtol * std::max(d, d_new);
        const double r = (err(i) - mean_err_[c]) / sc;
        sum_b += r * r;
        ++count_b;
    }
    const double norm_b = count_b > 0 ? std::sqrt(sum_b / count_b) : 0.0;
    return std::max(norm_a, norm_b);
}

OdeOutcome OdeIntegrator::advance_dp(Eigen::VectorXd& y, double& t, double t_end,
                                     const Guard& guard) {
    using namespace dp;
    bool last_rejected = false;
    if (!fsal_valid_) {
        if (!rhs_(t, y, k1_))
            return OdeOutcome::failed;
        fsal_valid_ = true;
    }
    while (t < t_end) {
        // The budget counts every step since construction, accepted or rejected: a run whose
        // flow needs ever smaller steps (eta or the noise far too large) fails in bounded time.
        if (accepted_ + rejected_ >= p_.max_steps)
            return OdeOutcome::failed;
        const double h_min =
            64.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(t));
        double h = std::min(h_, p_.h_max);
        bool last = false;
        if (t + h >= t_end || t + 1.0001 * h >= t_end) { // land exactly on t_end
            h = t_end - t;
            last = true;
        }
        bool ok = true;
        tmp_ = y + h * a21 * k1_;
        ok = ok && rhs_(t + c2 * h, tmp_, k2_);
        if (ok) {
            tmp_ = y + h * (a31 * k1_ + a32 * k2_);
            ok = rhs_(t + c3 * h, tmp_, k3_);
        }
        if (ok) {
            tmp_ = y + h * (a41 * k1_ + a42 * k2_ + a43 * k3_);
            ok = rhs_(t + c4 * h, tmp_, k4_);
        }
        if (ok) {
            tmp_ = y + h * (a51 * k1_ + a52 * k2_ + a53 * k3_ + a54 * k4_);
            ok = rhs_(t + c5 * h, tmp_, k5_);
        }
        if (ok) {
            tmp_ = y + h * (a61 * k1_ + a62 * k2_ + a63 * k3_ + a64 * k4_ + a65 * k5_);
            ok = rhs_(t + h, tmp_, k6_);
        }
        if (ok) {
            y_new_ = y + h * (b1 * k1_ + b3 * k3_ + b4 * k4_ + b5 * k5_ + b6 * k6_);
            ok = rhs_(t + h, y_new_, k7_); // FSAL: k1 of the next step
        }
        double err = std::numeric_limits<double>::infinity();
        if (ok) {
            err_ = h * (e1 * k1_ + e3 * k3_ + e4 * k4_ + e5 * k5_ + e6 * k6_ + e7 * k7_);
            err = error_norm(y, y_new_, err_);
            if (!std::isfinite(err))
                err = std::numeric_limits<double>::infinity();
        }
        if (err <= 1.0) {
            if (!guard(y_new_))
                return OdeOutcome::stopped;
            y.swap(y_new_);
            k1_.swap(k7_); // FSAL
            t = last ? t_end : t + h;
            ++accepted_;
            double factor = err > 0.0 ? 0.9 * std::pow(err, -0.2) : 5.0;
            factor = std::clamp(factor, 0.2, last_rejected ? 1.0 : 5.0);
            // a step shortened to land on t_end does not shrink the next proposal
            if (!last || h * factor > h_)
                h_ = h * factor;
            last_rejected = false;
        } else {
            ++rejected_;
            const double factor =
                std::isfinite(err) ? std::clamp(0.9 * std::pow(err, -0.2), 0.1, 0.9) : 0.25;
            h_ = h * factor;
            last_rejected = true;
            if (h_ < h_min)
                return OdeOutcome::failed;
        }
    }
    return OdeOutcome::ok;
}

} // namespace plateau
