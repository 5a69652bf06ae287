#include "models/hidden_manifold.hpp"

#include <cmath>
#include <numbers>

namespace plateau {

namespace {
/// 1/sqrt(2 pi): <max(0, u)> for u ~ N(0, 1).
constexpr double inv_sqrt_2pi = 0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2;
} // namespace

double FeatureEvaluator::operator()(double u) const noexcept {
    // docs/theory.md Eq. (16.1): the centred maps.
    switch (map) {
    case FeatureMap::sign:
        return u > 0.0 ? 1.0 : (u < 0.0 ? -1.0 : 0.0);
    case FeatureMap::erf:
        return std::erf(u * std::numbers::sqrt2 / 2.0);
    case FeatureMap::relu:
        return (u > 0.0 ? u : 0.0) - inv_sqrt_2pi;
    case FeatureMap::linear:
        return u;
    }
    return 0.0;
}

FeatureConstants FeatureEvaluator::constants() const noexcept {
    // docs/theory.md Eq. (16.2), u ~ N(0, 1):
    switch (map) {
    case FeatureMap::sign: // <|u|> = sqrt(2/pi), sign^2 = 1
        return {0.0, std::numbers::sqrt2 * std::numbers::inv_sqrtpi, 1.0};
    case FeatureMap::erf: // <u erf(u/sqrt2)> = <g'(u)> = 1/sqrt(pi); <g^2> = (2/pi) asin(1/2) = 1/3
        return {0.0, std::numbers::inv_sqrtpi, 1.0 / 3.0};
    case FeatureMap::relu: // <relu> = 1/sqrt(2 pi); <u relu> = 1/2; <relu^2> - <relu>^2
        return {inv_sqrt_2pi, 0.5, 0.5 - inv_sqrt_2pi * inv_sqrt_2pi};
    case FeatureMap::linear:
        return {0.0, 1.0, 1.0};
    }
    return {};
}

void ManifoldFrame::examples(const RowMatrix& C, RowMatrix& X, RowMatrix& Nu) const {
    // Eq. (16.1): x = f(F^T c / sqrt D) componentwise, nu = B c; one GEMM each for all rows.
    const double scale = 1.0 / std::sqrt(static_cast<double>(latent()));
    X.noalias() = C * features;
    const FeatureEvaluator f{map};
    for (Eigen::Index i = 0; i < X.size(); ++i)
        X.data()[i] = f(scale * X.data()[i]);
    Nu.noalias() = C * teacher.transpose();
}

ManifoldOverlaps manifold_overlaps(const ManifoldFrame& frame,
                                   const Eigen::Ref<const RowMatrix>& W) {
    // docs/theory.md Eq. (16.4): the Gaussian-equivalent covariances of (lambda, nu).
    const FeatureConstants a = FeatureEvaluator{frame.map}.constants();
    const double scale = 1.0 / std::sqrt(static_cast<double>(frame.latent()));
    const Eigen::MatrixXd S = scale * (W * frame.features.transpose()); // K x D
    ManifoldOverlaps o;
    o.Q = a.a1 * a.a1 * (S * S.transpose()) + a.a_star_sq() * (W * W.transpose());
    o.R = a.a1 * (S * frame.teacher.transpose());
    o.T = frame.teacher * frame.teacher.transpose();
    return o;
}

std::int64_t latent_dimension(const HiddenManifold& h, std::int64_t N) noexcept {
    if (h.latent_dim)
        return *h.latent_dim;
    if (h.latent_ratio)
        return std::llround(*h.latent_ratio * static_cast<double>(N));
    return 0;
}

} // namespace plateau
