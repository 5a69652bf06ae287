// The methods behind compute_flow and flow_generalization_error (engine/theory/flow.hpp), one per
// FlowMethod. Internal to the engine: callers use compute_flow. A method computes the Gaussian
// averages (FlowAverages); assemble_flow and add_weight_decay (engine/theory/flow.cpp) are the
// one place where eta, eta_v, B and lambda enter, for every method.
#pragma once
#include "engine/theory/flow.hpp"

namespace plateau {

/// FlowMethod::integrals (engine/theory/integral_flow.cpp): the averages of docs/theory.md §3
/// from I2, I3, I4, J2 (the erf sums of models/erf_sums.hpp for g = erf, the generic loop
/// otherwise).
[[nodiscard]] FlowAverages integral_flow_averages(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                                  const Eigen::MatrixXd& R,
                                                  const Eigen::MatrixXd& T,
                                                  const Eigen::VectorXd& v,
                                                  const Eigen::VectorXd& v_star);

/// FlowMethod::integrals for a polynomial target with a polynomial g and h = identity
/// (docs/theory.md §13, Eqs. (13.4), (13.5)): every average exact by Isserlis' theorem
/// (models/polynomial_averages.hpp). integral_flow_averages calls it for such a target.
[[nodiscard]] FlowAverages polynomial_target_averages(const FlowSettings& s,
                                                      const Eigen::MatrixXd& Q,
                                                      const Eigen::MatrixXd& R,
                                                      const Eigen::MatrixXd& T,
                                                      const Eigen::VectorXd& v);
/// eps_g of Eq. (13.4) for the same models, exact.
[[nodiscard]] double polynomial_target_generalization_error(const FlowSettings& s,
                                                            const Eigen::MatrixXd& Q,
                                                            const Eigen::MatrixXd& R,
                                                            const Eigen::MatrixXd& T,
                                                            const Eigen::VectorXd& v);

/// The same averages by the generic loop over the Activation overloads of I2, I3, I4, J2 (one
/// call per term). For tests and benchmarks of the erf sums (models/erf_sums.hpp).
[[nodiscard]] FlowAverages
integral_flow_averages_reference(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                 const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                 const Eigen::VectorXd& v, const Eigen::VectorXd& v_star);

/// The whole flow (assemble_flow and add_weight_decay) from integral_flow_averages.
void compute_integral_flow(const FlowSettings& s, const Eigen::MatrixXd& Q,
                           const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                           const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                           Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR, Eigen::VectorXd& dv);

/// The whole flow from integral_flow_averages_reference.
void compute_integral_flow_reference(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                     const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                     const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                                     Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR, Eigen::VectorXd& dv);

/// FlowMethod::joint (engine/theory/joint_flow.cpp): docs/theory.md §10, every average over all
/// K+M fields by one fixed deterministic rule; the flow is the mean over the rule's shifts of
/// assemble_flow of each shift's averages, plus add_weight_decay.
void compute_joint_flow(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                        const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                        const Eigen::VectorXd& v_star, Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR,
                        Eigen::VectorXd& dv);

/// eps_g by the joint rule (docs/theory.md §10).
[[nodiscard]] double joint_generalization_error(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                                const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                                const Eigen::VectorXd& v,
                                                const Eigen::VectorXd& v_star);

/// FlowMethod::tensor (engine/theory/tensor_rule.cpp): docs/theory.md §9 "Smoothness", every
/// average over all K+M fields by the tensor rule of s, plus add_weight_decay.
void compute_tensor_flow(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                         const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                         const Eigen::VectorXd& v_star, Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR,
                         Eigen::VectorXd& dv);

/// eps_g by the tensor rule.
[[nodiscard]] double tensor_generalization_error(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                                 const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                                 const Eigen::VectorXd& v,
                                                 const Eigen::VectorXd& v_star);

} // namespace plateau
