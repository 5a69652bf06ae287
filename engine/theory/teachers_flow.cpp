// The ODEs of several teachers, docs/theory.md §17b; see teachers_flow.hpp.
#include "engine/theory/teachers_flow.hpp"

#include "engine/theory/joint_rule.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace plateau {

Target shifted_target(const Target& target, int offset) {
    if (target.is_committee())
        return target;
    // Eq. (17b.3): the same monomials with y_n -> y_(n + offset), written out and parsed again
    // (17 significant digits: every coefficient read back exactly; a power above max_power as a
    // product of powers).
    std::string text;
    for (const PolynomialTarget::Monomial& monomial : target.polynomial->monomials()) {
        std::array<char, 32> number{};
        std::snprintf(number.data(), number.size(), "%.17g", monomial.coefficient);
        text += (text.empty() ? "(" : " + (") + std::string(number.data()) + ")";
        for (const PolynomialTarget::Factor& f : monomial.factors)
            for (int left = f.power; left > 0; left -= PolynomialTarget::max_power)
                text += "*y" + std::to_string(f.field + 1 + offset) + "^" +
                        std::to_string(std::min(left, PolynomialTarget::max_power));
    }
    return parse_target(text.empty() ? "0" : text);
}

RunParams widened_teacher_params(const RunParams& p) {
    RunParams wide = p;
    const int M = p.model.teacher.hidden();
    wide.model.teacher.widths = {p.model.teachers * M};
    wide.model.teachers = 1;
    return wide;
}

TeachersFlow::TeachersFlow(const RunParams& p, const OrderParameters& init,
                           const Eigen::MatrixXd& heads)
    : K_(p.model.student.hidden()), M_(p.model.teacher.hidden()), n_(p.model.teachers),
      heads_(p.model.heads == Heads::per_task ? p.model.teachers : 1), learn_v_(p.model.learn_v),
      // Symmetry classes (engine/theory/ode_integrator.hpp): Q_jj, Q_jk, R of each teacher's
      // block, each head.
      packing_(K_, M_, learn_v_, n_, heads_) {
    settings_ = flow_settings(widened_teacher_params(p));
    const Eigen::Index nM = static_cast<Eigen::Index>(n_) * M_;
    if (init.Q.rows() != K_ || init.Q.cols() != K_ || init.R.rows() != K_ || init.R.cols() != nM ||
        init.T.rows() != nM || init.T.cols() != nM || init.v_star.size() != nM ||
        heads.rows() != K_ || heads.cols() != heads_)
        throw std::invalid_argument(
            "plateau theory: several teachers need Q K x K, R K x nM, T nM x nM, v_star nM and "
            "heads K x H with K = " +
            std::to_string(K_) + ", nM = " + std::to_string(nM) +
            ", H = " + std::to_string(heads_) + "; got R " + std::to_string(init.R.rows()) + "x" +
            std::to_string(init.R.cols()) + ", T " + std::to_string(init.T.rows()) + "x" +
            std::to_string(init.T.cols()) + ", heads " + std::to_string(heads.rows()) + "x" +
            std::to_string(heads.cols()));
    T_ = init.T;
    v_star_ = init.v_star;
    fixed_heads_ = heads;
    // Eq. (17b.1): task t's label is the committee of all nM units with v* outside block t set
    // to 0 (g*(y_n) then enters with weight 0, for any g* and h*).
    for (int t = 0; t < n_; ++t) {
        Eigen::VectorXd masked = Eigen::VectorXd::Zero(nM);
        masked.segment(static_cast<Eigen::Index>(t) * M_, M_) =
            v_star_.segment(static_cast<Eigen::Index>(t) * M_, M_);
        masked_.push_back(std::move(masked));
        targets_.push_back(shifted_target(p.model.target, t * M_)); // Eq. (17b.3)
    }
    settings_.target = targets_.front();
}

void TeachersFlow::set_task(int t) {
    if (t < 0 || t >= n_)
        throw std::invalid_argument("plateau theory: task " + std::to_string(t) + " outside 0.." +
                                    std::to_string(n_ - 1));
    task_ = t;
    settings_.target = targets_[static_cast<std::size_t>(t)];
}

void TeachersFlow::unpack(const Eigen::VectorXd& y, Eigen::MatrixXd& Q, Eigen::MatrixXd& R,
                          Eigen::MatrixXd& heads) const {
    if (!learn_v_)
        heads = fixed_heads_;
    packing_.unpack(y, Q, R, heads);
}

bool TeachersFlow::operator()(double t, const Eigen::VectorXd& y, Eigen::VectorXd& dy) {
    ++evaluations_;
    settings_.rate_factors = settings_.schedules.factors(t); // docs/theory.md §6b
    unpack(y, Q_, R_, V_);
    if (!Q_.allFinite() || !R_.allFinite() || !V_.allFinite())
        return false;
    // Eq. (17b.1): the one-teacher flow over all K + nM fields, v* masked to the active block,
    // v the active head; the other heads do not move.
    const int h = head_of(task_);
    v_ = V_.col(h);
    compute_flow(settings_, Q_, R_, T_, v_, masked_[static_cast<std::size_t>(task_)], dQ_, dR_,
                 dv_);
    dV_ = Eigen::MatrixXd::Zero(K_, heads_);
    dV_.col(h) = dv_;
    pack(dQ_, dR_, dV_, dy);
    return dy.allFinite();
}

OrderParameters TeachersFlow::order_parameters(const Eigen::VectorXd& y) const {
    OrderParameters op;
    Eigen::MatrixXd V;
    unpack(y, op.Q, op.R, V);
    op.v = V.col(head_of(task_));
    op.T = T_;
    op.v_star = v_star_;
    return op;
}

Eigen::MatrixXd TeachersFlow::heads(const Eigen::VectorXd& y) const {
    Eigen::MatrixXd Q, R, V;
    unpack(y, Q, R, V);
    return V;
}

Eigen::VectorXd TeachersFlow::task_errors(const Eigen::VectorXd& y, Eigen::VectorXd* errors) const {
    Eigen::MatrixXd Q, R, V;
    unpack(y, Q, R, V);
    Eigen::VectorXd eg(n_);
    if (errors != nullptr)
        errors->setZero(n_);
    FlowSettings s = settings_;
    for (int t = 0; t < n_; ++t) {
        // Eq. (17b.2): eps_g of task t, the student with head t against teacher block t.
        const Eigen::VectorXd v = V.col(head_of(t));
        const Eigen::VectorXd& v_star = masked_[static_cast<std::size_t>(t)];
        s.target = targets_[static_cast<std::size_t>(t)];
        if (s.method == FlowMethod::joint) {
            // The readout factors in v, v* (docs/theory.md §14; 1 by default).
            const JointEstimate e =
                joint_estimate(s, Q, R, T_, s.readout * v, s.readout_teacher * v_star);
            eg(t) = e.eg;
            if (errors != nullptr)
                (*errors)(t) = e.eg_error;
        } else {
            eg(t) = flow_generalization_error(s, Q, R, T_, v, v_star);
        }
    }
    return eg;
}

} // namespace plateau
