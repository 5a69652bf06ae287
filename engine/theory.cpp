// The N -> infinity ODEs; see theory.hpp and docs/theory.md §3.
#include "engine/theory.hpp"

#include "engine/errors.hpp"
#include "engine/schedule.hpp"
#include "models/gaussian_integrals.hpp"

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <functional>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace plateau {

// ---------------------------------------------------------------------------------------------
// Which models the theory covers.
// ---------------------------------------------------------------------------------------------

bool theory_supports(const ModelParams& m) noexcept {
    return m.student.h.kind == ActivationKind::linear &&
           m.teacher.h.kind == ActivationKind::linear && m.student.g.kind == m.teacher.g.kind &&
           integrals::has_closed_form(m.student.g.kind);
}

void require_theory_support(const ModelParams& m) {
    static const std::string covered =
        "the ODE theory covers only h = h* = identity with g = g* in {erf, relu, linear} "
        "(output-activation = teacher-output-activation = identity, activation = "
        "teacher-activation = erf, relu or linear)";
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

namespace {

void check_sizes(const ModelParams& m, const OrderParameters& op) {
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

struct FlowSettings {
    ActivationKind g = ActivationKind::erf;
    double eta = 0.0;
    double eta_v = 0.0;
    double noise = 0.0; ///< s^2
    bool learn_v = false;
};

FlowSettings flow_settings(const RunParams& p) {
    require_theory_support(p.model);
    return {p.model.student.g.kind, p.training.eta, p.training.eta_v, p.model.noise,
            p.model.learn_v};
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

    // dQ_jk/dalpha = eta (<delta_j x_k> + <delta_k x_j>) + eta^2 <delta_j delta_k>, with
    // <delta_j delta_k> = v_j v_k [ sum_{u,u'} c_u c_u' I4(j, k, u, u') + s^2 J2(j, k) ]
    // (docs/theory.md §3; Saad & Solla 1995; the s^2 term: label noise zeta ~ N(0, s^2) enters
    // (tau - sigma)^2 as <zeta^2> = s^2 times <g'(x_j) g'(x_k)>).
    // dQ is symmetric: only j <= k is computed. I4(j,k,u,u') is symmetric in u <-> u': the double
    // sum is sum_u c_u^2 I4(j,k,u,u) + 2 sum_{u<u'} c_u c_u' I4(j,k,u,u').
    dQ.resize(K, K);
    const double eta2 = s.eta * s.eta;
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
}

// ---------------------------------------------------------------------------------------------
// Packing: the independent, time-dependent entries as one vector
//   y = ( Q_jk for j <= k (row by row), R_jn (row by row), v_j if learned ).
// Each entry also gets a symmetry class: 0 = Q_jj, 1 = Q_jk (j < k), 2 = R_jn, 3 = v_j. The
// classes are the orbits of the entries under permutations of the student units and,
// independently, of the teacher units; at a symmetric point (the plateau) all entries of a class
// are equal, and their deviations from the class mean are the asymmetries.
// ---------------------------------------------------------------------------------------------

class Packing {
public:
    Packing(int K, int M, bool learn_v) : K_(K), M_(M), learn_v_(learn_v) {
        for (int j = 0; j < K; ++j)
            for (int k = j; k < K; ++k)
                classes_.push_back(j == k ? 0 : 1);
        for (int i = 0; i < K * M; ++i)
            classes_.push_back(2);
        if (learn_v)
            for (int j = 0; j < K; ++j)
                classes_.push_back(3);
    }

    [[nodiscard]] Eigen::Index size() const noexcept {
        return static_cast<Eigen::Index>(classes_.size());
    }
    [[nodiscard]] const std::vector<int>& classes() const noexcept { return classes_; }

    void pack(const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R, const Eigen::VectorXd& v,
              Eigen::VectorXd& y) const {
        y.resize(size());
        Eigen::Index i = 0;
        for (int j = 0; j < K_; ++j)
            for (int k = j; k < K_; ++k)
                y(i++) = Q(j, k);
        for (int j = 0; j < K_; ++j)
            for (int n = 0; n < M_; ++n)
                y(i++) = R(j, n);
        if (learn_v_)
            for (int j = 0; j < K_; ++j)
                y(i++) = v(j);
    }

    /// Q, R and (if learned) v from y; v is left alone for a fixed second layer.
    void unpack(const Eigen::VectorXd& y, Eigen::MatrixXd& Q, Eigen::MatrixXd& R,
                Eigen::VectorXd& v) const {
        Q.resize(K_, K_);
        R.resize(K_, M_);
        Eigen::Index i = 0;
        for (int j = 0; j < K_; ++j)
            for (int k = j; k < K_; ++k) {
                Q(j, k) = Q(k, j) = y(i);
                ++i;
            }
        for (int j = 0; j < K_; ++j)
            for (int n = 0; n < M_; ++n)
                R(j, n) = y(i++);
        if (learn_v_)
            for (int j = 0; j < K_; ++j)
                v(j) = y(i++);
    }

private:
    int K_, M_;
    bool learn_v_;
    std::vector<int> classes_;
};

/// The flow on packed vectors: T and v_star fixed (and v when it is not learned).
class PackedFlow {
public:
    PackedFlow(const RunParams& p, const OrderParameters& fixed)
        : settings_(flow_settings(p)),
          packing_(p.model.student.hidden(), p.model.teacher.hidden(), p.model.learn_v),
          T_(fixed.T), v_star_(fixed.v_star), v_(fixed.v) {}

    [[nodiscard]] const Packing& packing() const noexcept { return packing_; }

    /// dy = f(y). Returns false if the result is not finite.
    bool operator()(const Eigen::VectorXd& y, Eigen::VectorXd& dy) {
        ++evaluations_;
        packing_.unpack(y, Q_, R_, v_);
        if (!Q_.allFinite() || !R_.allFinite() || !v_.allFinite())
            return false;
        compute_flow(settings_, Q_, R_, T_, v_, v_star_, dQ_, dR_, dv_);
        packing_.pack(dQ_, dR_, dv_, dy);
        return dy.allFinite();
    }

    [[nodiscard]] OrderParameters order_parameters(const Eigen::VectorXd& y) const {
        OrderParameters op;
        op.v = v_;
        packing_.unpack(y, op.Q, op.R, op.v);
        op.T = T_;
        op.v_star = v_star_;
        return op;
    }

    [[nodiscard]] std::int64_t evaluations() const noexcept { return evaluations_; }

private:
    FlowSettings settings_;
    Packing packing_;
    Eigen::MatrixXd T_;
    Eigen::VectorXd v_star_;
    Eigen::VectorXd v_;
    Eigen::MatrixXd Q_, R_, dQ_, dR_;
    Eigen::VectorXd dv_;
    std::int64_t evaluations_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Integrators.
//
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
// different orders).
// ---------------------------------------------------------------------------------------------

namespace dp {
// (the stage times c_i = 1/5, 3/10, 4/5, 8/9, 1, 1 are not needed: the flow is autonomous)
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

enum class Outcome {
    ok,      ///< reached the target time
    failed,  ///< non-finite flow with a step underflow, or too many steps
    stopped, ///< the guard rejected an accepted state (divergence)
};

class Integrator {
public:
    using Rhs = std::function<bool(const Eigen::VectorXd&, Eigen::VectorXd&)>;
    using Guard = std::function<bool(const Eigen::VectorXd&)>;

    Integrator(Rhs rhs, OdeParams p, std::vector<int> classes)
        : rhs_(std::move(rhs)), p_(p), classes_(std::move(classes)), h_(p.h_initial) {
        if (!(p_.rtol > 0.0) || !(p_.atol > 0.0) || !(p_.atol_asymmetry > 0.0) ||
            !(p_.h_max > 0.0) || !(p_.h_initial > 0.0) || !(p_.rk4_step > 0.0) || p_.max_steps < 1)
            throw std::invalid_argument("plateau theory: OdeParams need rtol, atol, "
                                        "atol_asymmetry, h_max, h_initial, rk4_step > 0 and "
                                        "max_steps >= 1");
        int n_classes = 0;
        for (const int c : classes_)
            n_classes = std::max(n_classes, c + 1);
        class_size_.assign(static_cast<std::size_t>(n_classes), 0);
        for (const int c : classes_)
            ++class_size_[static_cast<std::size_t>(c)];
    }

    /// Advances (y, t) to t_end. On failure (y, t) is the last accepted state.
    Outcome advance(Eigen::VectorXd& y, double& t, double t_end, const Guard& guard) {
        if (!(t_end > t))
            return Outcome::ok;
        return p_.method == OdeMethod::rk4 ? advance_rk4(y, t, t_end, guard)
                                           : advance_dp(y, t, t_end, guard);
    }

    [[nodiscard]] std::int64_t accepted() const noexcept { return accepted_; }
    [[nodiscard]] std::int64_t rejected() const noexcept { return rejected_; }

private:
    Outcome advance_rk4(Eigen::VectorXd& y, double& t, double t_end, const Guard& guard) {
        // Equal steps of at most rk4_step that land exactly on t_end.
        const double span = t_end - t;
        const double n_steps = std::ceil(span / p_.rk4_step * (1.0 - 1e-12));
        if (n_steps > static_cast<double>(p_.max_steps))
            return Outcome::failed;
        const auto n = std::max<std::int64_t>(1, static_cast<std::int64_t>(n_steps));
        const double t0 = t;
        const double h = span / static_cast<double>(n);
        for (std::int64_t i = 0; i < n; ++i) {
            // Classical RK4.
            if (!rhs_(y, k1_))
                return Outcome::failed;
            tmp_ = y + 0.5 * h * k1_;
            if (!rhs_(tmp_, k2_))
                return Outcome::failed;
            tmp_ = y + 0.5 * h * k2_;
            if (!rhs_(tmp_, k3_))
                return Outcome::failed;
            tmp_ = y + h * k3_;
            if (!rhs_(tmp_, k4_))
                return Outcome::failed;
            y_new_ = y + (h / 6.0) * (k1_ + 2.0 * k2_ + 2.0 * k3_ + k4_);
            if (!y_new_.allFinite() || !guard(y_new_))
                return Outcome::stopped;
            y.swap(y_new_);
            t = i + 1 == n ? t_end : t0 + static_cast<double>(i + 1) * h;
            ++accepted_;
            fsal_valid_ = false;
        }
        return Outcome::ok;
    }

    double error_norm(const Eigen::VectorXd& y, const Eigen::VectorXd& y_new,
                      const Eigen::VectorXd& err) {
        const Eigen::Index n = y.size();
        double sum = 0.0;
        for (Eigen::Index i = 0; i < n; ++i) {
            const double sc = p_.atol + p_.rtol * std::max(std::abs(y(i)), std::abs(y_new(i)));
            const double r = err(i) / sc;
            sum += r * r;
        }
        const double norm_a = std::sqrt(sum / static_cast<double>(n));

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

    Outcome advance_dp(Eigen::VectorXd& y, double& t, double t_end, const Guard& guard) {
        using namespace dp;
        std::int64_t steps = 0;
        bool last_rejected = false;
        if (!fsal_valid_) {
            if (!rhs_(y, k1_))
                return Outcome::failed;
            fsal_valid_ = true;
        }
        while (t < t_end) {
            if (++steps > p_.max_steps)
                return Outcome::failed;
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
            ok = ok && rhs_(tmp_, k2_);
            if (ok) {
                tmp_ = y + h * (a31 * k1_ + a32 * k2_);
                ok = rhs_(tmp_, k3_);
            }
            if (ok) {
                tmp_ = y + h * (a41 * k1_ + a42 * k2_ + a43 * k3_);
                ok = rhs_(tmp_, k4_);
            }
            if (ok) {
                tmp_ = y + h * (a51 * k1_ + a52 * k2_ + a53 * k3_ + a54 * k4_);
                ok = rhs_(tmp_, k5_);
            }
            if (ok) {
                tmp_ = y + h * (a61 * k1_ + a62 * k2_ + a63 * k3_ + a64 * k4_ + a65 * k5_);
                ok = rhs_(tmp_, k6_);
            }
            if (ok) {
                y_new_ = y + h * (b1 * k1_ + b3 * k3_ + b4 * k4_ + b5 * k5_ + b6 * k6_);
                ok = rhs_(y_new_, k7_);
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
                    return Outcome::stopped;
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
                    return Outcome::failed;
            }
        }
        return Outcome::ok;
    }

    Rhs rhs_;
    OdeParams p_;
    std::vector<int> classes_;
    std::vector<int> class_size_;
    double h_;
    bool fsal_valid_ = false;
    std::int64_t accepted_ = 0;
    std::int64_t rejected_ = 0;
    Eigen::VectorXd k1_, k2_, k3_, k4_, k5_, k6_, k7_, tmp_, y_new_, err_;
    std::vector<double> mean_y_, mean_y_new_, mean_err_;
};

} // namespace

OrderParameters flow(const RunParams& params, const OrderParameters& op) {
    const FlowSettings s = flow_settings(params);
    check_sizes(params.model, op);
    OrderParameters d;
    compute_flow(s, op.Q, op.R, op.T, op.v, op.v_star, d.Q, d.R, d.v);
    d.T = Eigen::MatrixXd::Zero(op.T.rows(), op.T.cols());
    d.v_star = Eigen::VectorXd::Zero(op.v_star.size());
    return d;
}

// ---------------------------------------------------------------------------------------------
// TheoryDynamics
// ---------------------------------------------------------------------------------------------

struct TheoryDynamics::Impl {
    Impl(const RunParams& p, const OrderParameters& init, const OdeParams& ode)
        : params(p), rhs(p, init),
          integrator([this](const Eigen::VectorXd& x, Eigen::VectorXd& dx) { return rhs(x, dx); },
                     ode, rhs.packing().classes()) {
        rhs.packing().pack(init.Q, init.R, init.v, y);
    }

    RunParams params;
    PackedFlow rhs;
    Integrator integrator;
    Eigen::VectorXd y;
    double alpha = 0.0;
};

TheoryDynamics::TheoryDynamics(const RunParams& params, OrderParameters init, OdeParams ode) {
    require_theory_support(params.model);
    check_sizes(params.model, init);
    impl_ = std::make_unique<Impl>(params, init, ode);
}

TheoryDynamics::~TheoryDynamics() = default;

bool TheoryDynamics::advance_to(double alpha) {
    Impl& m = *impl_;
    if (!(alpha > m.alpha))
        return true;
    const double divergence_q = m.params.observer.divergence_q;
    const auto K = static_cast<Eigen::Index>(m.params.model.student.hidden());
    const auto healthy = [&](const Eigen::VectorXd& y) {
        if (!y.allFinite())
            return false;
        // Q_jj are the entries 0, K, K + (K-1), ... of the packed upper triangle.
        Eigen::Index i = 0;
        for (Eigen::Index j = 0; j < K; ++j) {
            if (y(i) > divergence_q)
                return false;
            i += K - j;
        }
        return true;
    };
    return m.integrator.advance(m.y, m.alpha, alpha, healthy) == Outcome::ok;
}

Observables TheoryDynamics::observe() {
    const OrderParameters op = order_parameters();
    Observables o;
    o.Q = op.Q;
    o.R = op.R;
    o.T = op.T;
    o.v = op.v;
    o.eg = integrals::generalization_error(impl_->params.model.student.g.kind, op.Q, op.R, op.T,
                                           op.v, op.v_star);
    o.eg_stderr = 0.0;
    return o;
}

double TheoryDynamics::alpha() const noexcept {
    return impl_->alpha;
}

OrderParameters TheoryDynamics::order_parameters() const {
    return impl_->rhs.order_parameters(impl_->y);
}

TheoryDynamics::Statistics TheoryDynamics::statistics() const noexcept {
    return {impl_->rhs.evaluations(), impl_->integrator.accepted(), impl_->integrator.rejected()};
}

RunResult integrate_theory(const RunParams& params, const OrderParameters& init,
                           const OdeParams& ode) {
    TheoryDynamics dynamics(params, init, ode);
    return record_run(dynamics, record_alphas(params.schedule), params.observer.divergence_q);
}

// ---------------------------------------------------------------------------------------------
// Symmetric starts.
// ---------------------------------------------------------------------------------------------

OrderParameters symmetric_initial_conditions(const ModelParams& model, double q0, double r0,
                                             double asymmetry) {
    const int K = model.student.hidden(), M = model.teacher.hidden();
    if (K < 1 || M < 1)
        throw std::invalid_argument("plateau theory: need K >= 1 and M >= 1");
    OrderParameters op;
    op.Q = q0 * Eigen::MatrixXd::Identity(K, K);
    op.R = Eigen::MatrixXd::Constant(K, M, r0);
    for (int j = 0; j < K; ++j)
        op.R(j, j % M) += asymmetry; // student j favoured towards teacher j mod M
    op.T = Eigen::MatrixXd::Identity(M, M);
    op.v = Eigen::VectorXd::Constant(K, model.v0);
    op.v_star = Eigen::VectorXd::Constant(M, model.v_star);
    const Eigen::MatrixXd C = integrals::field_covariance(op.Q, op.R, op.T);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(C, Eigen::EigenvaluesOnly);
    if (!C.allFinite() || eig.eigenvalues().minCoeff() < -1e-12 * std::max(1.0, std::abs(q0)))
        throw std::invalid_argument(
            "plateau theory: symmetric_initial_conditions(q0 = " + std::to_string(q0) +
            ", r0 = " + std::to_string(r0) + ", asymmetry = " + std::to_string(asymmetry) +
            ") is not a valid covariance: need Q - R R^T positive semi-definite");
    return op;
}

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
                        Eigen::MatrixXd& J) {
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

FixedPoint symmetric_fixed_point(const RunParams& params) {
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

    // One symmetry class per entry: reduced coordinates have no asymmetries.
    std::vector<int> own(static_cast<std::size_t>(reduced.size()));
    for (std::size_t i = 0; i < own.size(); ++i)
        own[i] = static_cast<int>(i);
    OdeParams relax_ode;
    relax_ode.rtol = 1e-10;
    relax_ode.atol = 1e-13;
    relax_ode.h_max = 1e9;
    Integrator relax([&](const Eigen::VectorXd& y, Eigen::VectorXd& dy) { return reduced(y, dy); },
                     relax_ode, own);
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
        if (relax.advance(p, t, t_relaxed, bounded) != Outcome::ok)
            break;
        solution = p;
        newton_ok = newton_system.solve(solution, rate);
    }
    if (!newton_ok && p.allFinite())
        solution = p;

    fp.op = reduced.expand(solution);
    fp.eg = solution.allFinite()
                ? integrals::generalization_error(m.student.g.kind, fp.op.Q, fp.op.R, fp.op.T,
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
    if (finite && numerical_jacobian(full, y, default_steps(y), J)) {
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
