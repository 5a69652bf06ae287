// The ODEs of several teachers (docs/theory.md §17b): n teachers of M units each are one teacher
// of nM units whose output weights are masked to the active task's block (§17), so the flow of
// (Q, R, v) while task t gives the labels is the one-teacher flow of engine/theory/flow.hpp over
// all K + nM fields with v* masked to block t and v the head of task t (Eq. (17b.1)); R with every
// teacher evolves (K x nM), T (nM x nM) is constant. The task changes at the switch points of the
// run (TheoryDynamics stops the integrator exactly there). A polynomial target of block t's fields
// is the same polynomial of the fields renamed (Eq. (17b.3)).
#pragma once

#include "engine/core/order_parameters.hpp"
#include "engine/core/run_params.hpp"
#include "engine/theory/flow.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <vector>

namespace plateau {

/// A polynomial target of teacher block t's fields (docs/theory.md §17b, Eq. (17b.3)): the same
/// polynomial with every field y_n renamed y_(n + offset), offset = t M; the committee as it is.
[[nodiscard]] Target shifted_target(const Target& target, int offset);

/// The run's parameters with its n teachers of M units as one teacher of nM units (teachers = 1,
/// M -> nM): the model whose flow_settings the flow of several teachers takes.
[[nodiscard]] RunParams widened_teacher_params(const RunParams& p);

/// The packed state y = (Q_jk for j <= k row by row, R_jn row by row over all nM teacher units,
/// the heads' entries head by head if v is learned) and its flow for the active task.
class TeachersFlow {
public:
    /// init: Q K x K, R K x nM, T nM x nM, v_star nM, v K; `heads` K x H (H = 1 shared, n per
    /// task), column h the output weights of head h. Throws std::invalid_argument for sizes that
    /// do not match, ConfigError as flow_settings of the widened model.
    TeachersFlow(const RunParams& p, const OrderParameters& init, const Eigen::MatrixXd& heads);

    [[nodiscard]] const FlowSettings& settings() const noexcept { return settings_; }
    [[nodiscard]] int teachers() const noexcept { return n_; }
    [[nodiscard]] const std::vector<int>& classes() const noexcept { return packing_.classes(); }

    /// The task that gives the labels (0-based), and the head it uses and trains.
    [[nodiscard]] int task() const noexcept { return task_; }
    [[nodiscard]] int head_of(int task) const noexcept { return heads_ == 1 ? 0 : task; }
    /// From now on task t gives the labels (0 <= t < teachers()). The flow is discontinuous at a
    /// switch: the caller restarts its integrator (OdeIntegrator::restart).
    void set_task(int t);

    void pack(const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R, const Eigen::MatrixXd& heads,
              Eigen::VectorXd& y) const {
        packing_.pack(Q, R, heads, y);
    }
    /// Q, R (K x nM) and the heads; the fixed heads when v does not learn.
    void unpack(const Eigen::VectorXd& y, Eigen::MatrixXd& Q, Eigen::MatrixXd& R,
                Eigen::MatrixXd& heads) const;
    [[nodiscard]] Eigen::Index size() const noexcept { return packing_.size(); }

    /// dy = f(t, y) of the active task (Eq. (17b.1)); false if not finite.
    bool operator()(double t, const Eigen::VectorXd& y, Eigen::VectorXd& dy);

    /// The order parameters at y: Q, R (K x nM), T, v_star (nM, every block) and v = the active
    /// task's head.
    [[nodiscard]] OrderParameters order_parameters(const Eigen::VectorXd& y) const;
    /// Every head at y, K x H.
    [[nodiscard]] Eigen::MatrixXd heads(const Eigen::VectorXd& y) const;

    /// v* masked to task t's block (Eq. (17b.1)): v*_n for the teacher units n of block t, 0
    /// elsewhere.
    [[nodiscard]] const Eigen::VectorXd& masked_v_star(int task) const {
        return masked_[static_cast<std::size_t>(task)];
    }

    /// eps_g of the student on every task t at y, with head t's output weights (Eq. (17b.2));
    /// `errors` (if not null) gets the joint rule's standard error of each (0 for the others).
    [[nodiscard]] Eigen::VectorXd task_errors(const Eigen::VectorXd& y,
                                              Eigen::VectorXd* errors = nullptr) const;

    [[nodiscard]] std::int64_t evaluations() const noexcept { return evaluations_; }

private:
    FlowSettings settings_;
    int K_, M_, n_, heads_;
    bool learn_v_;
    Eigen::MatrixXd T_;
    Eigen::VectorXd v_star_;
    std::vector<Eigen::VectorXd> masked_;
    std::vector<Target> targets_; ///< each task's target over the nM fields (Eq. (17b.3))
    Eigen::MatrixXd fixed_heads_; ///< the heads when v does not learn
    Packing packing_;             ///< the layout of y: Q, R over all nM units, the heads
    int task_ = 0;
    Eigen::MatrixXd Q_, R_, V_, dQ_, dR_, dV_;
    Eigen::VectorXd v_, dv_;
    std::int64_t evaluations_ = 0;
};

} // namespace plateau
