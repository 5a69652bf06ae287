#include "engine/observer.hpp"

#include "models/gaussian_integrals.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <vector>

namespace plateau {

EgMethod eg_method(const ModelParams& m) noexcept {
    return integrals::has_closed_form(m.student.g.kind, m.student.h.kind, m.teacher.g.kind,
                                      m.teacher.h.kind)
               ? EgMethod::closed_form
               : EgMethod::monte_carlo;
}

EgEstimate generalization_error(const ModelParams& m, const Eigen::MatrixXd& Q,
                                const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                                int samples, NormalStream& rng) {
    if (eg_method(m) == EgMethod::closed_form)
        return {integrals::generalization_error(m.student.g.kind, Q, R, T, v, v_star), 0.0};
    return monte_carlo_generalization_error(m, Q, R, T, v, v_star, samples, rng);
}

EgEstimate monte_carlo_generalization_error(const ModelParams& m, const Eigen::MatrixXd& Q,
                                            const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                            const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                                            int samples, NormalStream& rng) {
    // Monte Carlo: u = L z with C = L L^T; L from the eigen-decomposition so that a singular C
    // (a student vector equal to a teacher vector, say) is handled. Negative eigenvalues from
    // rounding are clamped to zero.
    const Eigen::MatrixXd C = integrals::field_covariance(Q, R, T);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(C);
    const Eigen::MatrixXd L =
        eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
    const auto K = static_cast<std::size_t>(Q.rows());
    const auto M = static_cast<std::size_t>(T.rows());
    Eigen::VectorXd z(C.rows());
    Eigen::VectorXd u(C.rows());
    double sum = 0.0;
    double sum_sq = 0.0;
    for (int i = 0; i < samples; ++i) {
        rng.fill({z.data(), static_cast<std::size_t>(z.size())});
        u.noalias() = L * z;
        const double sigma = forward(m.student, {u.data(), K}, {v.data(), K}).output;
        const double tau = forward(m.teacher, {u.data() + K, M}, {v_star.data(), M}).output;
        const double e = 0.5 * (sigma - tau) * (sigma - tau);
        sum += e;
        sum_sq += e * e;
    }
    const double n = static_cast<double>(samples);
    const double mean = sum / n;
    const double var = std::max(0.0, (sum_sq - n * mean * mean) / (n - 1.0));
    return {mean, std::sqrt(var / n)};
}

double training_error(const NetworkSpec& student, const Eigen::Ref<const RowMatrix>& W,
                      const Eigen::VectorXd& v, const RowMatrix& X, const Eigen::VectorXd& labels) {
    // The fields of every example at once (one GEMM), then e^mu = (sigma^mu - tau^mu)^2 / 2,
    // Eqs. (1)-(2), averaged over the set.
    const RowMatrix fields = X * W.transpose();
    const auto K = static_cast<std::size_t>(W.rows());
    double sum = 0.0;
    for (Eigen::Index mu = 0; mu < X.rows(); ++mu) {
        const double sigma = forward(student, {fields.row(mu).data(), K}, {v.data(), K}).output;
        const double diff = sigma - labels(mu);
        sum += 0.5 * diff * diff;
    }
    return sum / static_cast<double>(X.rows());
}

Observer::Observer(const RunParams& params, std::uint64_t seed, std::uint64_t run)
    : model_(params.model), samples_(params.observer.eg_samples),
      rng_(StreamKey{seed, run, StreamPurpose::observer}) {}

OrderParameters order_parameters_of(const RunState& s) {
    OrderParameters op;
    // One Gram matrix of the stacked (K+M) x N block gives Q, R and T at once.
    const Eigen::MatrixXd G = s.weights * s.weights.transpose();
    op.Q = G.topLeftCorner(s.K, s.K);
    op.R = G.topRightCorner(s.K, s.M);
    op.T = G.bottomRightCorner(s.M, s.M);
    op.v = s.v;
    op.v_star = s.v_star;
    return op;
}

Observables Observer::observe(const RunState& s) {
    return observe(order_parameters_of(s));
}

Observables Observer::observe(OrderParameters op) {
    const EgEstimate e =
        generalization_error(model_, op.Q, op.R, op.T, op.v, op.v_star, samples_, rng_);
    return {std::move(op.Q), std::move(op.R), std::move(op.T), std::move(op.v), e.eg,
            e.standard_error};
}

} // namespace plateau
