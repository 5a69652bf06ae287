// The N -> infinity ODEs of on-line SGD on hidden-manifold inputs (docs/theory.md §16b; Goldt,
// Mezard, Krzakala, Zdeborova, Phys. Rev. X 10, 041044 (2020), derived here from the engine's
// own update). Under Gaussian equivalence the students' fields lambda = W x and the teacher's
// latent fields nu = B c are jointly Gaussian with covariance [[Q, R], [R^T, T]], so one step's
// averages are those of Gaussian inputs (engine/theory/flow_paths.hpp, the closed forms); but Q
// and R do not close by themselves: the flow is that of the mode groups of ManifoldModes
// (engine/core/manifold_modes.hpp), the students' and teacher's projections on the eigenvectors
// of the inputs' covariance, with Q = sum_g (n_g/N) kappa_g q_g and R = sum_g (n_g/N) r_g.
#pragma once

#include "engine/core/order_parameters.hpp"
#include "engine/core/run_params.hpp"
#include "engine/theory/flow.hpp"

#include <Eigen/Core>

#include <cstdint>

namespace plateau {

/// The largest number of input modes (min(D, N)) the manifold theory takes (docs/theory.md
/// §16b, "Cost"): resolving a run's start costs O(min(D, N)^3) (an eigendecomposition: a run of
/// `plateau ode` at N = 2000 took 1.6 s CPU with D = 1000, 12.5 s with D = 2000), and a flow
/// evaluation O(modes K (K + M)).
inline constexpr std::int64_t max_manifold_modes = 4096;

/// Throws ConfigError (one line: key, value, what is allowed) unless the manifold theory covers
/// the model: closed-form averages (h = h* = identity, g = g* with closed forms: erf, relu,
/// linear), the committee target, no sphere, min(D, N) <= max_manifold_modes. No-op for other
/// inputs.
void require_manifold_theory_support(const ModelParams& m);

/// The settings of p (inputs = hidden-manifold): the Gaussian flow's settings of the fields
/// (gaussian_field_flow_settings). Throws ConfigError (require_theory_support,
/// require_theory_regime, require_manifold_theory_support).
[[nodiscard]] FlowSettings manifold_flow_settings(const RunParams& p);

/// The flow of the mode groups at one point (docs/theory.md §16b, Eqs. (16b.7)-(16b.9)): dq, dr
/// in the layout of ManifoldModes (t constant: not returned), dv (zero unless learned), and the
/// flow of the fields' covariance dQ = sum_g (n_g/N) kappa_g dq_g, dR = sum_g (n_g/N) dr_g.
struct ManifoldDerivatives {
    Eigen::MatrixXd dq, dr; ///< K*K x G, K*M x G
    Eigen::VectorXd dv;
    Eigen::MatrixXd dQ, dR;
};

/// The flow at (modes, T, v, v*), weight decay and the rate schedule included.
void compute_manifold_flow(const FlowSettings& s, const ManifoldModes& modes,
                           const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                           const Eigen::VectorXd& v_star, ManifoldDerivatives& d);

/// eps_g at the point: that of Gaussian fields with covariance (Q, R, T) (Eq. (16b.10)).
[[nodiscard]] double manifold_flow_generalization_error(const FlowSettings& s,
                                                        const ManifoldModes& modes,
                                                        const Eigen::MatrixXd& T,
                                                        const Eigen::VectorXd& v,
                                                        const Eigen::VectorXd& v_star);

/// The flow as derivatives in an OrderParameters: dQ, dR, dv, and dq, dr in manifold (its
/// kappa and share those of op, t zero); dT, dv* zero.
[[nodiscard]] OrderParameters manifold_flow(const RunParams& params, const OrderParameters& op);

/// Throws std::invalid_argument unless op.manifold has groups of sizes K x K, K x M, M x M and
/// its Q, R agree with the groups' (Eq. (16b.6)) to 1e-8 of their scale.
void check_manifold_modes(const ModelParams& m, const OrderParameters& op);

/// The packed state y = (per group: q_jk for j <= k, r_jn row by row; then v_j if learned) and
/// its flow for the integrator; T, t_g, kappa, share, v* (and v when fixed) are constants.
class ManifoldFlow {
public:
    ManifoldFlow(const RunParams& p, const OrderParameters& init);

    [[nodiscard]] const FlowSettings& settings() const noexcept { return settings_; }
    void pack(const OrderParameters& op, Eigen::VectorXd& y) const;
    [[nodiscard]] OrderParameters order_parameters(const Eigen::VectorXd& y) const;
    /// The largest Q_jj at y (the divergence guard).
    [[nodiscard]] double max_field_variance(const Eigen::VectorXd& y) const;

    /// dy = f(t, y) with the rates at alpha = t. False if not finite.
    bool operator()(double t, const Eigen::VectorXd& y, Eigen::VectorXd& dy);

    [[nodiscard]] std::int64_t evaluations() const noexcept { return evaluations_; }

private:
    void pack(const Eigen::MatrixXd& q_groups, const Eigen::MatrixXd& r_groups,
              const Eigen::VectorXd& v, Eigen::VectorXd& y) const;
    void unpack(const Eigen::VectorXd& y, ManifoldModes& modes, Eigen::VectorXd& v) const;

    FlowSettings settings_;
    Eigen::Index K_, M_, G_;
    Eigen::Index size_ = 0;
    OrderParameters fixed_; ///< T, v, v*, and the groups' kappa, share, t
    ManifoldModes modes_;   ///< storage for unpack
    Eigen::VectorXd v_;
    ManifoldDerivatives d_;
    std::int64_t evaluations_ = 0;
};

} // namespace plateau
