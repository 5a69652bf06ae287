// The N -> infinity ODEs of on-line SGD on Gaussian-mixture inputs (docs/theory.md §15c;
// Refinetti, Goldt, Krzakala, Zdeborova, ICML 2021): the order parameters are Q (K x K), the
// students' overlaps with the means M_jc = w_j . mu_c (K x C, the file variable `mean_overlaps`)
// and v. Given cluster c the fields are x = M_c + sqrt(Delta) S z, S = Q^(1/2), z ~ N(0, I_K)
// (Eq. (15.2)); every average of the flow is a K-dimensional Gaussian integral per cluster,
// taken by the joint rule's fixed quasi-random point set (engine/theory/joint_rule.hpp, §10) in
// K dimensions, for any g, h and either loss (squared, logistic), with the rule's error
// estimated over its 16 shifts. The teacher labels nothing: R, T and v* stay constant.
#pragma once

#include "engine/core/order_parameters.hpp"
#include "engine/core/run_params.hpp"
#include "engine/theory/flow.hpp"
#include "models/quadrature.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <vector>

namespace plateau {

class JointRule; // engine/theory/joint_rule.hpp

/// The largest K the mixture theory takes (docs/theory.md §15c): the joint rule's accuracy at
/// the default joint-points falls to a few per cent of the flow beyond ~16 dimensions (§10).
inline constexpr int max_mixture_theory_units = 16;

/// Throws ConfigError (one line: key, value, what is allowed) unless the mixture theory covers
/// the run: inputs = mixture with K <= max_mixture_theory_units, and no label noise with the
/// logistic loss (its error signal is not linear in the noise). No-op for Gaussian inputs.
void require_mixture_theory_support(const ModelParams& m);

/// What the mixture flow depends on besides (Q, M, v).
struct MixtureFlowSettings {
    Activation g{ActivationKind::erf};
    Activation h{ActivationKind::linear};
    Loss loss{};
    double eta = 0.0;
    double eta_v = 0.0;
    double noise = 0.0; ///< s^2 (squared loss only)
    bool learn_v = false;
    double batch = 1.0;
    double weight_decay = 0.0;
    double readout = 1.0; ///< c of readout-scale (docs/theory.md §14): sigma = h(c sum v g)
    bool sphere = false;
    /// The schedules (docs/theory.md §6b, rate_schedules) and their values at the flow's time.
    LayerSchedules schedules{};
    RateFactors rate_factors{};
    Eta2Terms eta2 = Eta2Terms::keep;
    // The mixture: C x D means (unit rows), labels, weights, Delta; Gamma = means means^T.
    Eigen::MatrixXd means;
    Eigen::MatrixXd gamma;
    Eigen::VectorXd labels;
    Eigen::VectorXd weights;
    double variance = 0.1;
    /// The joint rule in K dimensions (joint-points points): the flow's nodes for a smooth g,
    /// class_error's always.
    std::shared_ptr<const JointRule> rule;
    /// A kinked g (relu): the directions of the radial rule (docs/theory.md §15c, "Averages")
    /// and its Gauss-Legendre rule on [0, 1]; null for a smooth g.
    std::shared_ptr<const JointRule> directions;
    Eigen::MatrixXd unit_directions; ///< its points normalised (K x points)
    quadrature::Rule1d legendre;
};

/// The settings of p (inputs = mixture); throws ConfigError (require_theory_support,
/// require_mixture_theory_support, require_theory_regime).
[[nodiscard]] MixtureFlowSettings mixture_flow_settings(const RunParams& p);

/// The flow and the observables at one point (Q, M, v), each the mean over the rule's shifts
/// with its standard error (docs/theory.md §15c, Eqs. (15.10)-(15.14)).
struct MixtureEstimate {
    Eigen::MatrixXd dQ, dM; ///< K x K, K x C
    Eigen::VectorXd dv;     ///< K (zero unless learned)
    double eg = 0.0;        ///< Eq. (15.9): sum_c p_c <e(sigma, y_c)>
    double class_error = 0.0;
    Eigen::MatrixXd dQ_error, dM_error;
    Eigen::VectorXd dv_error;
    double eg_error = 0.0;
    double class_error_error = 0.0;
    /// |standard errors| / |flow| over the independent entries (NaN for a zero flow).
    [[nodiscard]] double relative_flow_error() const;
};

/// Storage that mixture_estimate reuses from call to call (the node sets and per-node values:
/// megabytes, which an allocation per call would page in again each time).
struct MixtureWorkspace {
    Eigen::MatrixXd zeta, X, Cn, Dn, Gx;
    Eigen::VectorXd weight, nu, value, miss;
    std::vector<Eigen::Index> begin;
    std::vector<double> cuts;
};

/// Evaluates the rules of s at (Q, M, v): the flow with weight decay and the sphere's
/// projection (both exact), eps_g and (unless with_class_error is false: NaN) class_error.
/// `workspace` (optional) is storage only: the result does not depend on it.
[[nodiscard]] MixtureEstimate mixture_estimate(const MixtureFlowSettings& s,
                                               const Eigen::MatrixXd& Q, const Eigen::MatrixXd& M,
                                               const Eigen::VectorXd& v,
                                               bool with_class_error = true,
                                               MixtureWorkspace* workspace = nullptr);

/// The flow as derivatives in an OrderParameters (dR, dT, dv* zero; dM in mean_overlaps).
[[nodiscard]] OrderParameters mixture_flow(const RunParams& params, const OrderParameters& op);

/// The packed state y = (Q_jk for j <= k, M_jc row by row, v_j if learned) and its flow for the
/// integrator; R, T, v* (and v when fixed) are constants of the run.
class MixtureFlow {
public:
    MixtureFlow(const RunParams& p, const OrderParameters& init);

    [[nodiscard]] const MixtureFlowSettings& settings() const noexcept { return settings_; }
    void pack(const OrderParameters& op, Eigen::VectorXd& y) const;
    [[nodiscard]] OrderParameters order_parameters(const Eigen::VectorXd& y) const;

    /// dy = f(t, y) with the rates at alpha = t. False if not finite.
    bool operator()(double t, const Eigen::VectorXd& y, Eigen::VectorXd& dy);

    [[nodiscard]] std::int64_t evaluations() const noexcept { return evaluations_; }

private:
    void unpack(const Eigen::VectorXd& y, Eigen::MatrixXd& Q, Eigen::MatrixXd& M,
                Eigen::VectorXd& v) const;

    MixtureFlowSettings settings_;
    Eigen::Index K_, C_;
    Eigen::Index size_ = 0; ///< entries of y
    OrderParameters fixed_; ///< R, T, v, v* of the start
    MixtureWorkspace workspace_;
    std::int64_t evaluations_ = 0;
};

} // namespace plateau
