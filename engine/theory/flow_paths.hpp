// The methods behind compute_flow and flow_generalization_error (engine/theory/flow.hpp), one per
// FlowMethod. Internal to the engine: callers use compute_flow.
#pragma once
#include "engine/theory/flow.hpp"

namespace plateau {

/// FlowMethod::integrals (engine/theory/integral_flow.cpp): docs/theory.md §3 from I2, I3, I4, J2.
void compute_integral_flow(const FlowSettings& s, const Eigen::MatrixXd& Q,
                           const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                           const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                           Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR, Eigen::VectorXd& dv);

/// The same flow by the generic loop over the Activation overloads of I2, I3, I4, J2 (one call
/// per term); compute_integral_flow uses it for g != erf. For tests and benchmarks of the erf
/// sums (models/erf_sums.hpp).
void compute_integral_flow_reference(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                     const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                     const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                                     Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR, Eigen::VectorXd& dv);

/// FlowMethod::joint (engine/theory/joint_flow.cpp): docs/theory.md §10, every average over all K+M
/// fields by one fixed deterministic rule.
void compute_joint_flow(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                        const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                        const Eigen::VectorXd& v_star, Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR,
                        Eigen::VectorXd& dv);

/// eps_g by the joint rule (docs/theory.md §10).
[[nodiscard]] double joint_generalization_error(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                                const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                                const Eigen::VectorXd& v,
                                                const Eigen::VectorXd& v_star);

} // namespace plateau
