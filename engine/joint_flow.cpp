// FlowMethod::joint: the flow and eps_g for any h, h*, g, g*, docs/theory.md §10. Not built yet:
// require_theory_support refuses every model that would reach it.
#include "engine/flow_paths.hpp"

#include <stdexcept>

namespace plateau {

void compute_joint_flow(const FlowSettings& /*s*/, const Eigen::MatrixXd& /*Q*/,
                        const Eigen::MatrixXd& /*R*/, const Eigen::MatrixXd& /*T*/,
                        const Eigen::VectorXd& /*v*/, const Eigen::VectorXd& /*v_star*/,
                        Eigen::MatrixXd& /*dQ*/, Eigen::MatrixXd& /*dR*/, Eigen::VectorXd& /*dv*/) {
    throw std::logic_error("plateau theory: the joint flow (docs/theory.md §10) is not built");
}

double joint_generalization_error(const FlowSettings& /*s*/, const Eigen::MatrixXd& /*Q*/,
                                  const Eigen::MatrixXd& /*R*/, const Eigen::MatrixXd& /*T*/,
                                  const Eigen::VectorXd& /*v*/, const Eigen::VectorXd& /*v_star*/) {
    throw std::logic_error("plateau theory: the joint flow (docs/theory.md §10) is not built");
}

} // namespace plateau
