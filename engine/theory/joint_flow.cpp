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
    // Weight decay, exact (docs/theory.md §6): -2 eta lambda Q_jk, -eta lambda R_jn and, for a
    // learned second layer, -eta_v lambda v_j.
    if (s.weight_decay != 0.0) {
        dQ -= (2.0 * s.eta * s.weight_decay) * Q;
        dR -= (s.eta * s.weight_decay) * R;
        if (s.learn_v)
            dv -= (s.eta_v * s.weight_decay) * v;
    }
}

double joint_generalization_error(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                  const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                  const Eigen::VectorXd& v, const Eigen::VectorXd& v_star) {
    return joint_estimate(s, Q, R, T, v, v_star).eg;
}

} // namespace plateau
