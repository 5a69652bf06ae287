// FlowMethod::joint: the flow and eps_g for any h, h*, g, g*, docs/theory.md §10, by the fixed
// rule of engine/theory/joint_rule.hpp.
#include "engine/theory/flow_paths.hpp"
#include "engine/theory/joint_rule.hpp"

namespace plateau {

void compute_joint_flow(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                        const Eigen::MatrixXd& T, const Eigen::VectorXd& v,
                        const Eigen::VectorXd& v_star, Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR,
                        Eigen::VectorXd& dv) {
    JointEstimate e = joint_estimate(s, Q, R, T, v, v_star);
    dQ = std::move(e.dQ);
    dR = std::move(e.dR);
    dv = std::move(e.dv);
    add_weight_decay(s, Q, R, v, dQ, dR, dv); // exact, docs/theory.md §6
}

double joint_generalization_error(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                  const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                  const Eigen::VectorXd& v, const Eigen::VectorXd& v_star) {
    return joint_estimate(s, Q, R, T, v, v_star).eg;
}

} // namespace plateau
