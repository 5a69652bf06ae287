// The hidden manifold model (docs/theory.md §16; Goldt, Mézard, Krzakala & Zdeborová, PRX 10,
// 041044 (2020)): a latent vector c ~ N(0, I_D), a fixed feature matrix F (D x N, i.i.d. N(0, 1)
// entries), inputs x = f(F^T c / sqrt D) componentwise, labels from the teacher acting on c.
// Here: the parameters (D, or delta = D/N, and the feature map f) and the feature maps with
// their Gaussian-equivalence constants, pure functions. The generator is in
// engine/simulation/manifold_source.hpp.
#pragma once

#include "models/network.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <optional>

namespace plateau {

/// The feature map f of x = f(F^T c / sqrt D) (the `feature-map` key). Every map is centred,
/// <f(u)> = 0 for u ~ N(0, 1), as in the PRX paper: relu is max(0, u) - 1/sqrt(2 pi).
/// Its names are in engine/core/run_params.hpp (enum_table).
enum class FeatureMap {
    sign,   ///< f(u) = sign(u)
    erf,    ///< f(u) = erf(u / sqrt 2), the engine's erf activation
    relu,   ///< f(u) = max(0, u) - 1/sqrt(2 pi)
    linear, ///< f(u) = u: x Gaussian with covariance F^T F / D
};

/// The Gaussian-equivalence constants of a feature map f, u ~ N(0, 1) (docs/theory.md Eq. (16.2)):
///   a0 = <f(u)> of the map before centring (0 but for relu: 1/sqrt(2 pi)),
///   a1 = <u f(u)>, a2 = <f(u)^2> of the centred map, a*^2 = a2 - a1^2.
/// The inputs' covariance is <x_i x_j> = a1^2 (F^T F / D)_ij + a*^2 delta_ij + O(1/D) off the
/// diagonal (the centred map has mean 0): Eq. (16.3).
struct FeatureConstants {
    double a0 = 0.0;
    double a1 = 0.0;
    double a2 = 0.0;
    [[nodiscard]] constexpr double a_star_sq() const noexcept { return a2 - a1 * a1; }
};

/// The one evaluator of each feature map: its (centred) value and its constants.
struct FeatureEvaluator {
    FeatureMap map = FeatureMap::sign;
    /// f(u), centred (docs/theory.md Eq. (16.1)).
    [[nodiscard]] double operator()(double u) const noexcept;
    /// a0, a1, a2 in closed form (Eq. (16.2)).
    [[nodiscard]] FeatureConstants constants() const noexcept;
};

/// The hidden-manifold parameters of a run (keys `latent-dim`, `latent-ratio`, `feature-map`).
/// With inputs = hidden-manifold exactly one of latent_dim and latent_ratio is set.
struct HiddenManifold {
    std::optional<std::int64_t> latent_dim{}; ///< D
    std::optional<double> latent_ratio{};     ///< delta: D = round(delta N)
    FeatureMap feature_map = FeatureMap::sign;

    friend bool operator==(const HiddenManifold&, const HiddenManifold&) = default;
};

/// D of a hidden manifold over N inputs: latent_dim, or round(latent_ratio N); 0 if neither is
/// set.
[[nodiscard]] std::int64_t latent_dimension(const HiddenManifold& h, std::int64_t N) noexcept;

/// The fixed random part of one run's hidden manifold (docs/theory.md §16), drawn once per run
/// (engine/simulation/state.hpp, make_initial_state): the feature matrix F and the teacher's
/// first-layer rows b_n, which live in the latent space R^D.
struct ManifoldFrame {
    RowMatrix features; ///< F, D x N, i.i.d. N(0, 1)
    RowMatrix teacher;  ///< B, M x D: orthonormal rows, or entries N(0, 1/D) (as the Gaussian
                        ///< inputs' teacher in R^N, with D for N)
    FeatureMap map = FeatureMap::sign;

    [[nodiscard]] Eigen::Index latent() const noexcept { return features.rows(); } ///< D
    [[nodiscard]] Eigen::Index inputs() const noexcept { return features.cols(); } ///< N

    /// The examples of the latent vectors C (rows c^mu, B x D): X = f(C F / sqrt D) (B x N, Eq.
    /// (16.1)) and the teacher's fields Nu = C B^T (B x M, nu_n = b_n . c, Eq. (16.1)).
    void examples(const RowMatrix& C, RowMatrix& X, RowMatrix& Nu) const;
};

/// The order parameters of student rows W (K x N) on the hidden manifold, by the Gaussian
/// equivalence (docs/theory.md Eq. (16.4)): with S = W F^T / sqrt D (K x D),
///   Q = a1^2 S S^T + a*^2 W W^T   (the covariance of the fields lambda_j = w_j . x),
///   R = a1 S B^T                  (the covariance <lambda_j nu_n>),
///   T = B B^T                     (the covariance <nu_n nu_m>).
struct ManifoldOverlaps {
    Eigen::MatrixXd Q; ///< K x K
    Eigen::MatrixXd R; ///< K x M
    Eigen::MatrixXd T; ///< M x M
};
[[nodiscard]] ManifoldOverlaps manifold_overlaps(const ManifoldFrame& frame,
                                                 const Eigen::Ref<const RowMatrix>& W);

} // namespace plateau
