// The linear-noise approximation of docs/theory.md §11.2c; see fluctuations.hpp.
#include "engine/theory/fluctuations.hpp"

#include "engine/core/errors.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/numerical_jacobian.hpp"
#include "engine/theory/tensor_rule.hpp"
#include "models/network.hpp"
#include "models/quadrature.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace plateau {

void require_fluctuation_support(const RunParams& p) {
    (void)flow_settings(p); // the mean flow's own refusals first (deeper nets, training sets)
    const ModelParams& m = p.model;
    if (m.inputs != InputKind::gaussian)
        throw ConfigError(
            "inputs", std::string(name(m.inputs)),
            "gaussian for the fluctuations of the order parameters (docs/theory.md section 11.2c)");
    if (m.teachers != 1)
        throw ConfigError(
            "teachers", std::to_string(m.teachers),
            "1 for the fluctuations of the order parameters (docs/theory.md section 11.2c)");
    if (m.constraint != Constraint::none)
        throw ConfigError(
            "constraint", std::string(name(m.constraint)),
            "none for the fluctuations of the order parameters (docs/theory.md section 11.2c)");
    if (p.training.momentum != 0.0)
        throw ConfigError("momentum", number_text(p.training.momentum),
                          "0 for the fluctuations of the order parameters (the velocities are "
                          "order parameters of their "
                          "own; docs/theory.md section 11.2c)");
}

namespace {

/// Index of Q_jk (j <= k) in the packing of engine/theory/flow.hpp.
Eigen::Index q_index(Eigen::Index K, Eigen::Index j, Eigen::Index k) {
    if (j > k)
        std::swap(j, k);
    return j * K - j * (j - 1) / 2 + (k - j);
}

/// A square root S of the PSD matrix G (S S^T = G), by its eigendecomposition: a rank-deficient
/// G (a symmetric start, Q_jk = Q_jj) is fine. Not node_averages' symmetric_sqrt: with the
/// tensor Gauss-Hermite rule the eigenvector-aligned factor is the more accurate one here (<g>
/// against the erf flow at 12 nodes: 8e-7 against 9e-6 with the symmetric root).
Eigen::MatrixXd psd_sqrt(const Eigen::MatrixXd& G) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(G);
    return es.eigenvectors() * es.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
}

int nodes_per_field(int fields, double budget) {
    const int n = static_cast<int>(std::floor(std::pow(budget, 1.0 / fields) + 1e-9));
    return std::clamp(n, 4, 12);
}

} // namespace

Eigen::MatrixXd initial_covariance(const RunParams& p, const OrderParameters& op) {
    const int K = p.model.student.hidden();
    const int M = p.model.teacher.hidden();
    const Packing packing(K, M, p.model.learn_v);
    const double q0 = p.model.q0;
    Eigen::MatrixXd S = Eigen::MatrixXd::Zero(packing.size(), packing.size());
    // Eq. (11.13): Wishart for Q, the teacher's Gram T for R, no Q-R covariance.
    for (int j = 0; j < K; ++j)
        for (int k = j; k < K; ++k)
            for (int l = 0; l < K; ++l)
                for (int m = l; m < K; ++m) {
                    const double c =
                        q0 * q0 * ((j == l && k == m ? 1.0 : 0.0) + (j == m && k == l ? 1.0 : 0.0));
                    S(q_index(K, j, k), q_index(K, l, m)) = c;
                }
    const Eigen::Index r0 = q_index(K, K - 1, K - 1) + 1;
    for (Eigen::Index j = 0; j < K; ++j)
        for (Eigen::Index n = 0; n < M; ++n)
            for (Eigen::Index m = 0; m < M; ++m)
                S(r0 + j * M + n, r0 + j * M + m) = q0 * op.T(n, m);
    return S;
}

namespace {

/// <g> and Cov(g) at any state: the rules and the step rule made once per trajectory.
class MomentEvaluator {
public:
    MomentEvaluator(const RunParams& p, FluctuationSettings settings)
        : p_(p), rule_(p), K_(p.model.student.hidden()), M_(p.model.teacher.hidden()),
          dim_(Packing(K_, M_, p.model.learn_v).size()),
          fields_(K_ + M_, nodes_per_field(K_ + M_, settings.node_budget)),
          // zeta ~ N(0, s^2): the increment is a polynomial of degree <= 2 in zeta, its square
          // of degree 4, so the 3-node rule is exact (one node without noise).
          zeta_(quadrature::make_gauss_hermite(p.model.noise > 0 ? 3 : 1)),
          noise_sd_(std::sqrt(p.model.noise)), batch_(static_cast<double>(p.training.batch.size)),
          u_(K_ + M_), grad_fields_(K_), grad_v_(K_), g_(dim_) {}

    [[nodiscard]] StepMoments operator()(const OrderParameters& op, double alpha) {
        const auto K = static_cast<std::size_t>(K_);
        const auto M = static_cast<std::size_t>(M_);
        // The fields u = (x, y) ~ N(0, G), G = [[Q, R], [R^T, T]] (docs/theory.md §7), u = S z.
        Eigen::MatrixXd G(K_ + M_, K_ + M_);
        G << op.Q, op.R, op.R.transpose(), op.T;
        const Eigen::MatrixXd S = psd_sqrt(G);
        // The rates at alpha (§6b): d_j = -(eta s) de/dx_j, dv_j = -(eta_v s_v) de/dv_j.
        const RateFactors f = rule_.schedules.factors(alpha);
        const double eta = p_.training.eta * f.w;
        const double eta_v = p_.training.eta_v * f.v;
        const bool learn_v = p_.model.learn_v;
        Eigen::VectorXd sum = Eigen::VectorXd::Zero(dim_);
        Eigen::MatrixXd sum2 = Eigen::MatrixXd::Zero(dim_, dim_);
        const std::span<const double> v{op.v.data(), K};
        const std::span<const double> v_star{op.v_star.data(), M};
        const std::span<const double> x{u_.data(), K};
        const std::span<const double> y{u_.data() + K_, M};
        for (Eigen::Index node = 0; node < fields_.points(); ++node) {
            u_.noalias() = S * fields_.nodes().col(node);
            const double tau0 = rule_.target.value(rule_.teacher, y, v_star);
            const ForwardPass pass = forward(rule_.student, x, v);
            for (std::size_t a = 0; a < zeta_.x.size(); ++a) {
                const double w = fields_.weights()(node) * zeta_.w[a];
                backward(rule_.student, x, v, pass, tau0 + noise_sd_ * zeta_.x[a],
                         {grad_fields_.data(), K},
                         learn_v ? std::span<double>{grad_v_.data(), K} : std::span<double>{},
                         rule_.loss);
                // N times one step's change at leading order (|xi|^2/N = 1), Eq. (G3) of §7:
                // Q_jk += d_j x_k + x_j d_k + d_j d_k, R_jn += d_j y_n, v_j += -eta_v de/dv_j
                // (Eq. (11.11)); an update of B examples is their mean with d_j d_k / B (the
                // square of the mean's own example terms), so its covariance is Cov(g)/B.
                Eigen::Index i = 0;
                for (int j = 0; j < K_; ++j)
                    for (int k = j; k < K_; ++k) {
                        const double dj = -eta * grad_fields_(j);
                        const double dk = -eta * grad_fields_(k);
                        g_(i++) = dj * u_(k) + u_(j) * dk + dj * dk / batch_;
                    }
                for (int j = 0; j < K_; ++j)
                    for (int n = 0; n < M_; ++n)
                        g_(i++) = -eta * grad_fields_(j) * u_(K_ + n);
                if (learn_v)
                    for (int j = 0; j < K_; ++j)
                        g_(i++) = -eta_v * grad_v_(j);
                sum += w * g_;
                sum2.noalias() += w * g_ * g_.transpose();
            }
        }
        return {sum, (sum2 - sum * sum.transpose()) / batch_};
    }

private:
    const RunParams& p_;
    StepRule rule_;
    int K_, M_;
    Eigen::Index dim_;
    TensorRule fields_;
    quadrature::Rule1d zeta_;
    double noise_sd_;
    double batch_;
    Eigen::VectorXd u_, grad_fields_, grad_v_, g_;
};

} // namespace

StepMoments step_moments(const RunParams& p, const OrderParameters& op, double alpha,
                         FluctuationSettings settings) {
    require_fluctuation_support(p);
    return MomentEvaluator(p, settings)(op, alpha);
}

CovariancePath integrate_covariance(const RunParams& p, const OrderParameters& init,
                                    const Eigen::MatrixXd& sigma0, std::span<const double> alphas,
                                    FluctuationSettings settings) {
    require_fluctuation_support(p);
    if (!(settings.step > 0.0))
        throw std::invalid_argument("integrate_covariance: the step must be > 0");
    PackedFlow flow(p, init);
    MomentEvaluator moments(p, settings);
    const Packing& packing = flow.packing();
    const Eigen::Index dim = packing.size();
    if (sigma0.rows() != dim || sigma0.cols() != dim)
        throw std::invalid_argument("integrate_covariance: sigma0 must be " + std::to_string(dim) +
                                    " x " + std::to_string(dim));

    // The mean flow at time t, and J = df/dx by central differences (step 1e-5 max(1, |x_i|)).
    const auto drift = [&](double t, const Eigen::VectorXd& x, Eigen::VectorXd& out) {
        return flow(t, x, out);
    };
    const auto jacobian = [&](double t, const Eigen::VectorXd& x, Eigen::MatrixXd& J) {
        const auto f = [&](const Eigen::VectorXd& y, Eigen::VectorXd& out) {
            return drift(t, y, out);
        };
        return numerical_jacobian(f, x, jacobian_steps(x, 1e-5), J);
    };
    // d(x, Sigma)/dt: the flow and Eq. (11.12).
    Eigen::MatrixXd J;
    const auto rhs = [&](double t, const Eigen::VectorXd& x, const Eigen::MatrixXd& Sigma,
                         Eigen::VectorXd& dx, Eigen::MatrixXd& dSigma) {
        if (!drift(t, x, dx) || !jacobian(t, x, J))
            return false;
        const StepMoments c = moments(flow.order_parameters(x), t);
        dSigma = J * Sigma + Sigma * J.transpose() + c.covariance;
        return dx.allFinite() && dSigma.allFinite();
    };

    CovariancePath out;
    Eigen::VectorXd x;
    packing.pack(init.Q, init.R, init.v, x);
    Eigen::MatrixXd Sigma = sigma0;
    double t = 0.0;
    Eigen::VectorXd k1, k2, k3, k4;
    Eigen::MatrixXd s1, s2, s3, s4;
    for (const double target : alphas) {
        if (target < t)
            throw std::invalid_argument("integrate_covariance: alphas must increase from 0");
        while (t < target) { // classical RK4, the last step shortened onto the record
            const double h = std::min(settings.step, target - t);
            const bool ok = rhs(t, x, Sigma, k1, s1) &&
                            rhs(t + h / 2, x + h / 2 * k1, Sigma + h / 2 * s1, k2, s2) &&
                            rhs(t + h / 2, x + h / 2 * k2, Sigma + h / 2 * s2, k3, s3) &&
                            rhs(t + h, x + h * k3, Sigma + h * s3, k4, s4);
            if (!ok)
                return out;
            x += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
            Sigma += h / 6 * (s1 + 2 * s2 + 2 * s3 + s4);
            t = h == target - t ? target : t + h;
        }
        out.alphas.push_back(target);
        out.mean.push_back(x);
        out.covariance.push_back(0.5 * (Sigma + Sigma.transpose()));
    }
    return out;
}

} // namespace plateau
