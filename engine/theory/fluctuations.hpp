// The order parameters' fluctuations at order 1/N along a trajectory: the linear-noise (van
// Kampen) approximation of the order parameters' Markov chain (docs/theory.md §11.2c).
//
// One on-line step moves the packed order parameters x = (Q, R, v) (Packing of
// engine/theory/flow.hpp) by (1/N) g(u, zeta) with g the per-example increment of §7's Gram
// update at leading order (u the K + M fields, zeta the label noise), so that per unit of alpha
// the mean moves by f = <g> (the flow, §3) and the covariance gains C/N with C = Cov(g). With
// Sigma = N Cov(x) and J = df/dx on the mean trajectory,
//     d Sigma/d alpha = J Sigma + Sigma J^T + C                              (11.12)
// from Sigma(0): the initial order parameters' law (initial_covariance) or 0 for a fixed start.
// Gaussian inputs, one hidden layer, one teacher, any activations, label noise, batches, weight
// decay and schedules; momentum, the sphere, training sets and the other inputs are refused.
#pragma once

#include "engine/core/order_parameters.hpp"
#include "engine/core/run_params.hpp"

#include <Eigen/Core>

#include <span>
#include <vector>

namespace plateau {

/// The knobs of the approximation (defaults: the production values of docs/theory.md §11.2c).
struct FluctuationSettings {
    /// Gauss-Hermite nodes per field for C: the largest n with n^(K+M) <= node_budget, at least
    /// 4 and at most 12. The default gives n = 10 for K = M = 2, where for erf C is within ~1e-3
    /// and <g> within ~4e-5 (relative to their largest entries) of the converged rule (§11.2c).
    double node_budget = 1e4;
    double step = 0.1; ///< the RK4 step in alpha (J and C at every stage)
};

/// Sigma along the mean trajectory at the requested alphas.
struct CovariancePath {
    std::vector<double> alphas;
    std::vector<Eigen::VectorXd> mean;       ///< packed (Q, R, v), the ODE's solution
    std::vector<Eigen::MatrixXd> covariance; ///< Sigma = N Cov of the packed order parameters
};

/// Throws ConfigError naming the first key whose model the approximation does not cover (and
/// everything flow_settings refuses).
void require_fluctuation_support(const RunParams& p);

/// N Cov of the packed order parameters at alpha = 0 over the student's initial draw (rows
/// N(0, q0/N) each, independent of the fixed teacher; docs/theory.md §7): Cov(Q_jk, Q_lm) =
/// q0^2 (d_jl d_km + d_jm d_kl), Cov(R_jn, R_km) = q0 d_jk T_nm, Cov(Q, R) = 0, v fixed (11.13).
[[nodiscard]] Eigen::MatrixXd initial_covariance(const RunParams& p, const OrderParameters& op);

/// <g> and C = Cov(g) of one update's increment (Eq. (11.11); of B examples: their mean, C/B) at
/// op and alpha (the rates there), by the tensor Gauss-Hermite rule over the fields and exactly
/// in zeta. `mean` omits weight decay (a deterministic shift that C does not see).
struct StepMoments {
    Eigen::VectorXd mean;
    Eigen::MatrixXd covariance;
};
[[nodiscard]] StepMoments step_moments(const RunParams& p, const OrderParameters& op, double alpha,
                                       FluctuationSettings settings = {});

/// Integrates the mean flow and Eq. (11.12) from (init, sigma0) to every alpha of `alphas`
/// (increasing, >= 0). A run that leaves the finite range stops: the path ends there.
[[nodiscard]] CovariancePath integrate_covariance(const RunParams& p, const OrderParameters& init,
                                                  const Eigen::MatrixXd& sigma0,
                                                  std::span<const double> alphas,
                                                  FluctuationSettings settings = {});

} // namespace plateau
