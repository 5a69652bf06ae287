// The mode groups of hidden-manifold inputs (docs/theory.md §16b); see manifold_modes.hpp.
#include "engine/core/manifold_modes.hpp"

#include "engine/core/linear_algebra.hpp"

#include <Eigen/Eigenvalues>

#include <cmath>
#include <stdexcept>
#include <string>

namespace plateau {

namespace {

/// sum_g share_g weight_g X_g, each column of X a (rows x cols) block column-major.
Eigen::MatrixXd weighted_sum(const Eigen::MatrixXd& X, const Eigen::VectorXd& weight,
                             Eigen::Index rows, Eigen::Index cols) {
    const Eigen::VectorXd s = X * weight;
    return Eigen::Map<const Eigen::MatrixXd>(s.data(), rows, cols);
}

} // namespace

Eigen::MatrixXd ManifoldModes::field_covariance(Eigen::Index K) const {
    return weighted_sum(q, share.cwiseProduct(kappa), K, K); // Eq. (16b.6)
}

Eigen::MatrixXd ManifoldModes::teacher_overlaps(Eigen::Index K, Eigen::Index M) const {
    return weighted_sum(r, share, K, M); // Eq. (16b.6)
}

Eigen::MatrixXd ManifoldModes::weight_overlaps(Eigen::Index K) const {
    return weighted_sum(q, share, K, K);
}

ManifoldModes resolve_manifold_modes(const Eigen::MatrixXd& W, const Eigen::MatrixXd& B,
                                     const Eigen::MatrixXd& F, double a1, double astar2) {
    const Eigen::Index K = W.rows(), N = W.cols(), M = B.rows(), D = F.rows();
    if (F.cols() != N || B.cols() != D || K < 1 || M < 1 || D < 1)
        throw std::invalid_argument(
            "resolve_manifold_modes: need W K x N, B M x D, F D x N; got W " + std::to_string(K) +
            "x" + std::to_string(N) + ", B " + std::to_string(M) + "x" + std::to_string(B.cols()) +
            ", F " + std::to_string(D) + "x" + std::to_string(F.cols()));
    fix_eigen_blocking();
    const double Nd = static_cast<double>(N), Dd = static_cast<double>(D);
    const double delta = Dd / Nd;
    // The eigenvectors of the smaller Gram matrix (Eq. (16b.4)): per mode tau with rho > 0 the
    // students' projections w^tau = psi_tau . w (K) and the teachers' theta^tau =
    // a1 (F psi_tau) . b / sqrt(D) (M), with psi_tau the unit eigenvector of F^T F / N.
    Eigen::VectorXd rho;
    Eigen::MatrixXd w_modes, theta_modes; // K x modes, M x modes
    if (D <= N) {
        const Eigen::MatrixXd A = (F * F.transpose()) / Nd; // D x D, eigenvectors phi
        const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(A);
        rho = eig.eigenvalues();
        const Eigen::MatrixXd& phi = eig.eigenvectors();
        // psi = F^T phi / sqrt(N rho): w^tau = (W F^T phi)_tau / sqrt(N rho), and
        // F psi = sqrt(N rho) phi, so theta^tau = a1 sqrt(N rho / D) B phi_tau.
        w_modes = (W * F.transpose()) * phi;
        theta_modes = B * phi;
        for (Eigen::Index tau = 0; tau < D; ++tau) {
            const double nr = Nd * std::max(rho(tau), 0.0);
            w_modes.col(tau) *= nr > 0.0 ? 1.0 / std::sqrt(nr) : 0.0;
            theta_modes.col(tau) *= a1 * std::sqrt(nr / Dd);
        }
    } else {
        const Eigen::MatrixXd A = (F.transpose() * F) / Nd; // N x N, eigenvectors psi
        const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(A);
        rho = eig.eigenvalues();
        const Eigen::MatrixXd& psi = eig.eigenvectors();
        w_modes = W * psi;
        theta_modes = ((a1 / std::sqrt(Dd)) * (B * F)) * psi;
    }
    // Modes with rho = 0 (rounding) have no student direction: left out, and counted in the
    // complement when D <= N.
    const double cut = 1e-10 * std::max(rho.maxCoeff(), 0.0);
    Eigen::Index kept = 0;
    for (Eigen::Index tau = 0; tau < rho.size(); ++tau)
        kept += rho(tau) > cut ? 1 : 0;
    const Eigen::Index complement = N - kept; // > 0 only when N > kept
    const Eigen::Index G = kept + (complement > 0 ? 1 : 0);
    ManifoldModes m;
    m.kappa.resize(G);
    m.share.resize(G);
    m.q.resize(K * K, G);
    m.r.resize(K * M, G);
    m.t.resize(M * M, G);
    Eigen::MatrixXd in_modes = Eigen::MatrixXd::Zero(K, K); // sum_tau w^tau w^tau^T
    Eigen::Index g = 0;
    for (Eigen::Index tau = 0; tau < rho.size(); ++tau) {
        if (!(rho(tau) > cut))
            continue;
        const Eigen::VectorXd w = w_modes.col(tau);
        const Eigen::VectorXd th = theta_modes.col(tau);
        m.kappa(g) = a1 * a1 * rho(tau) / delta + astar2; // Eq. (16b.4)
        m.share(g) = 1.0 / Nd;
        const Eigen::MatrixXd qg = Nd * (w * w.transpose());
        const Eigen::MatrixXd rg = Nd * (w * th.transpose());
        const Eigen::MatrixXd tg = Nd * (th * th.transpose());
        m.q.col(g) = Eigen::Map<const Eigen::VectorXd>(qg.data(), K * K);
        m.r.col(g) = Eigen::Map<const Eigen::VectorXd>(rg.data(), K * M);
        m.t.col(g) = Eigen::Map<const Eigen::VectorXd>(tg.data(), M * M);
        in_modes += w * w.transpose();
        ++g;
    }
    if (complement > 0) {
        // The complement of F's rows: kappa = a*^2, no teacher overlap (Eq. (16b.5)).
        const double c = static_cast<double>(complement);
        Eigen::MatrixXd qg = (W * W.transpose() - in_modes) * (Nd / c);
        qg = 0.5 * (qg + qg.transpose()).eval();
        m.kappa(g) = astar2;
        m.share(g) = c / Nd;
        m.q.col(g) = Eigen::Map<const Eigen::VectorXd>(qg.data(), K * K);
        m.r.col(g).setZero();
        m.t.col(g).setZero();
    }
    return m;
}

} // namespace plateau
