// The order parameters of hidden-manifold inputs resolved by the eigenmodes of the inputs'
// Gaussian-equivalent covariance (docs/theory.md §16b, Eqs. (16b.4)-(16b.6)). With
// x = f(F^T c / sqrt(D)) (F: D x N, c ~ N(0, I_D)) the covariance of x is, under Gaussian
// equivalence, Omega = a1^2 F^T F / D + a*^2 I_N. Its eigenvectors psi_tau (those of F^T F / N,
// eigenvalue rho_tau) have the eigenvalues kappa_tau = a1^2 rho_tau / delta + a*^2 (delta = D/N);
// the rest of R^N (the complement of F's rows, when N > D) has kappa = a*^2. The theory carries,
// per group g of modes with one kappa (one mode each, and the complement as one group), the
// students' and the teacher's projections on them, scaled to O(1):
//   q_g = (N / n_g) sum_{tau in g} w^tau w^tau^T            (K x K)
//   r_g = (N / n_g) sum_{tau in g} w^tau theta^tau^T        (K x M)
//   t_g = (N / n_g) sum_{tau in g} theta^tau theta^tau^T    (M x M, constant)
// with w_j^tau = psi_tau . w_j and theta_n^tau = Cov(nu_n, psi_tau . x) = a1 (F psi_tau).b_n /
// sqrt(D) (nu_n = b_n . c, the teacher's field in the latent space). Then (Eq. (16b.6))
//   Q = sum_g (n_g/N) kappa_g q_g,   R = sum_g (n_g/N) r_g,   W W^T = sum_g (n_g/N) q_g.
// Pure linear algebra: the simulation side resolves a run's start from its weights, the theory
// integrates the groups (engine/theory/manifold_flow.hpp).
#pragma once

#include <Eigen/Core>

namespace plateau {

/// The mode groups of one hidden-manifold run (docs/theory.md §16b). Empty for other inputs.
struct ManifoldModes {
    Eigen::VectorXd kappa; ///< G: the eigenvalue of Omega of each group
    Eigen::VectorXd share; ///< G: n_g / N, the group's share of the N input directions
    Eigen::MatrixXd q;     ///< K*K x G: q_g column-major
    Eigen::MatrixXd r;     ///< K*M x G: r_g column-major
    Eigen::MatrixXd t;     ///< M*M x G: t_g column-major (constant in time)

    [[nodiscard]] Eigen::Index groups() const noexcept { return kappa.size(); }
    [[nodiscard]] bool empty() const noexcept { return kappa.size() == 0; }
    /// Q = sum_g share_g kappa_g q_g (K x K), Eq. (16b.6).
    [[nodiscard]] Eigen::MatrixXd field_covariance(Eigen::Index K) const;
    /// R = sum_g share_g r_g (K x M), Eq. (16b.6).
    [[nodiscard]] Eigen::MatrixXd teacher_overlaps(Eigen::Index K, Eigen::Index M) const;
    /// W W^T = sum_g share_g q_g (K x K): the plain overlaps of the students' weights.
    [[nodiscard]] Eigen::MatrixXd weight_overlaps(Eigen::Index K) const;
};

/// The modes of a run from its weights (docs/theory.md §16b, Eq. (16b.5)): W the students'
/// first layer (K x N), B the teachers' latent vectors with nu_n = B_n . c (M x D), F the
/// feature matrix (D x N), a1 = <u f(u)> and astar2 = a*^2 = <f^2> - a1^2 of the (centred)
/// feature map. One group per mode of F^T F / N with rho > 0 (min(D, N) of them: the eigenvectors
/// of the smaller of F F^T / N and F^T F / N), and, when N > D, the complement as one more group
/// (kappa = a*^2, r = t = 0). Cost O(min(D, N)^3 + (K + M) D N). Throws std::invalid_argument for
/// sizes that do not match.
[[nodiscard]] ManifoldModes resolve_manifold_modes(const Eigen::MatrixXd& W,
                                                   const Eigen::MatrixXd& B,
                                                   const Eigen::MatrixXd& F, double a1,
                                                   double astar2);

} // namespace plateau
