// The fixed deterministic rule behind FlowMethod::joint (docs/theory.md §10): averages over the
// K+M Gaussian fields u ~ N(0, C), C = [[Q, R], [R^T, T]], by randomly shifted copies of the
// Halton point set (Cranley-Patterson rotations) mapped through the inverse normal CDF, with a
// fixed set of shifts. The shifts are constants of the rule (drawn once from a fixed seed by a
// local generator), so the rule, and with it the flow, is the same deterministic smooth function of
// (Q, R, v) at every call; the spread over the shifts estimates its error.
#pragma once

#include "engine/theory/flow.hpp"

#include <Eigen/Core>

#include <memory>

namespace plateau {

/// The rule: `shifts` copies of `per_shift` points z in R^P (standard normal after the map).
class JointRule {
public:
    /// Randomly shifted copies of the Halton sequence; shifts() copies of points / shifts()
    /// points each (points >= 2 shifts()). Throws std::invalid_argument otherwise.
    JointRule(int dimension, int points);

    static constexpr int shift_count = 16;

    [[nodiscard]] int dimension() const noexcept { return dimension_; }
    [[nodiscard]] int shifts() const noexcept { return shift_count; }
    [[nodiscard]] int per_shift() const noexcept { return per_shift_; }
    [[nodiscard]] int points() const noexcept { return shift_count * per_shift_; }
    /// P x points() standard normal coordinates; copy r is the columns [r per_shift, (r+1)
    /// per_shift).
    [[nodiscard]] const Eigen::MatrixXd& nodes() const noexcept { return z_; }

private:
    int dimension_;
    int per_shift_;
    Eigen::MatrixXd z_;
};

/// The rule for (K + M) fields and `points` points (the key joint-points).
[[nodiscard]] std::shared_ptr<const JointRule> make_joint_rule(int dimension, int points);

/// The averages of the joint rule at one point (Q, R, T, v, v*): the flow of docs/theory.md §10
/// (without weight decay, which is exact and added by compute_joint_flow) and eps_g, each the
/// mean over the rule's shifts, with its standard error over the shifts.
struct JointEstimate {
    Eigen::MatrixXd dQ, dR; ///< K x K, K x M
    Eigen::VectorXd dv;     ///< K (zero unless s.learn_v)
    double eg = 0.0;
    Eigen::MatrixXd dQ_error, dR_error; ///< standard errors over the shifts
    Eigen::VectorXd dv_error;
    double eg_error = 0.0;

    /// |standard errors| / |flow| over the independent entries (Q's upper triangle, R, v):
    /// the rule's relative error of the flow (NaN for a zero flow).
    [[nodiscard]] double relative_flow_error() const;
};

/// Evaluates the rule of s (or, if s has none for K + M fields, one of the default size
/// ObserverParams{}.joint_points).
[[nodiscard]] JointEstimate joint_estimate(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                           const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                           const Eigen::VectorXd& v, const Eigen::VectorXd& v_star);

/// The inverse of the standard normal CDF (Acklam's rational approximation refined by one Halley
/// step: relative error ~1e-15).
[[nodiscard]] double inverse_normal_cdf(double p) noexcept;

} // namespace plateau
