// The N -> infinity ODEs as a run backend; see theory.hpp and docs/theory.md §3.
#include "engine/theory/theory.hpp"

#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/theory/joint_rule.hpp"
#include "engine/theory/manifold_flow.hpp"
#include "engine/theory/mixture_flow.hpp"
#include "engine/theory/teachers_flow.hpp"
#include "models/gaussian_integrals.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

namespace plateau {

// ---------------------------------------------------------------------------------------------
// TheoryDynamics
// ---------------------------------------------------------------------------------------------

namespace {

/// The heads of a start (docs/theory.md §17b), K x H: the start's heads (per-task heads of a
/// sampled start), else every head the start's v (the simulation starts every head at v0, §17).
Eigen::MatrixXd initial_heads(const RunParams& p, const OrderParameters& init) {
    const Eigen::Index H = p.model.heads == Heads::per_task ? p.model.teachers : 1;
    if (H > 1 && init.heads.cols() == H)
        return init.heads;
    return init.v.replicate(1, H);
}

/// The integrator's symmetry classes (engine/theory/ode_integrator.hpp): none for the flows of
/// mixture and hidden-manifold inputs (`unclassed`).
std::vector<int> integrator_classes(bool unclassed, const std::optional<TeachersFlow>& teachers,
                                    const std::optional<PackedFlow>& rhs) {
    if (unclassed)
        return {};
    return teachers ? teachers->classes() : rhs->packing().classes();
}

} // namespace

struct TheoryDynamics::Impl {
    Impl(const RunParams& p, const OrderParameters& init, const OdeParams& ode)
        : params(p),
          // Mixture inputs (docs/theory.md §15c) have their own order parameters (Q, M, v).
          mixture(p.model.inputs == InputKind::mixture
                      ? std::optional<MixtureFlow>(std::in_place, p, init)
                      : std::nullopt),
          // Hidden-manifold inputs (docs/theory.md §16b): the flow of the input modes' groups.
          manifold(p.model.inputs == InputKind::hidden_manifold
                       ? std::optional<ManifoldFlow>(std::in_place, p, init)
                       : std::nullopt),
          // Several teachers (docs/theory.md §17b): R with every teacher, one v per head.
          teachers(!mixture && !manifold && p.model.teachers > 1
                       ? std::optional<TeachersFlow>(std::in_place, p, init, initial_heads(p, init))
                       : std::nullopt),
          rhs(mixture || manifold || teachers ? std::nullopt
                                              : std::optional<PackedFlow>(std::in_place, p, init)),
          // The flow at each stage's own alpha: the rates of a schedule (docs/theory.md §6b).
          integrator(
              OdeIntegrator::TimeRhs([this](double t, const Eigen::VectorXd& x,
                                            Eigen::VectorXd& dx) { return derivative(t, x, dx); }),
              ode, integrator_classes(mixture || manifold, teachers, rhs)) {
        if (mixture) {
            mixture->pack(init, y);
        } else if (manifold) {
            manifold->pack(init, y);
        } else if (teachers) {
            teachers->pack(init.Q, init.R, initial_heads(p, init), y);
            task_start.assign(static_cast<std::size_t>(teachers->teachers()),
                              std::numeric_limits<double>::quiet_NaN());
            task_start.front() = 0.0;
        } else {
            rhs->packing().pack(init.Q, init.R, init.v, y);
        }
    }

    /// The right-hand side of the run's model (the flow at alpha = t of the packed state x).
    bool derivative(double t, const Eigen::VectorXd& x, Eigen::VectorXd& dx) {
        if (mixture)
            return (*mixture)(t, x, dx);
        if (manifold)
            return (*manifold)(t, x, dx);
        return teachers ? (*teachers)(t, x, dx) : (*rhs)(t, x, dx);
    }

    /// The task at alpha (docs/theory.md §17, §17b), as the simulation's step takes it: the
    /// fixed schedule's points <= alpha (task_at) plus the threshold switches made, at most
    /// teachers - 1. When it changes, the integrator restarts, so that no step carries the old
    /// flow past the switch, and the task's start is kept.
    void update_task() {
        const int t = task_at(params, alpha, threshold_switches);
        if (t == teachers->task())
            return;
        teachers->set_task(t);
        integrator.restart();
        task_start[static_cast<std::size_t>(t)] = alpha;
    }

    /// A record of several teachers (docs/theory.md §17b), laid out as the simulation's observer
    /// lays it out (docs/theory.md §17): eg of the active task and every task's eps_g
    /// (Eq. (17b.2)), R the active task's block, T teacher 1's, R and T over all nM units as
    /// extras, the tasks' starts; then switch-eg-below acts on this record, as in the simulation.
    Observables observe_teachers(Observables o) {
        const TeachersFlow& f = *teachers;
        const int task = f.task();
        const auto M = static_cast<Eigen::Index>(params.model.teacher.hidden());
        Eigen::VectorXd errors;
        const Eigen::VectorXd eg = f.task_errors(y, &errors);
        o.eg = eg(task);
        o.eg_stderr = errors(task);
        const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> R = o.R;
        o.extras.insert_or_assign(std::string(extra_name::R_teachers),
                                  Eigen::Map<const Eigen::VectorXd>(R.data(), R.size()));
        o.extras.insert_or_assign(std::string(extra_name::T_teachers),
                                  Eigen::Map<const Eigen::VectorXd>(o.T.data(), o.T.size()));
        o.R = R.middleCols(task * M, M);
        o.T = Eigen::MatrixXd(o.T.topLeftCorner(M, M));
        o.extras.insert_or_assign(std::string(extra_name::eg_tasks), eg);
        o.extras.insert_or_assign(std::string(extra_name::current_task),
                                  Eigen::VectorXd::Constant(1, static_cast<double>(task)));
        o.extras.insert_or_assign(
            std::string(extra_name::switch_alpha),
            Eigen::Map<const Eigen::VectorXd>(task_start.data(),
                                              static_cast<Eigen::Index>(task_start.size())));
        // switch-eg-below (docs/theory.md §17, §17b): the next task from this record on.
        if (switches_below(params, o.eg, task)) {
            ++threshold_switches;
            update_task();
        }
        return o;
    }

    RunParams params;
    std::optional<MixtureFlow> mixture;
    std::optional<ManifoldFlow> manifold;
    std::optional<TeachersFlow> teachers;
    std::optional<PackedFlow> rhs;
    OdeIntegrator integrator;
    std::size_t next_switch = 0; ///< the first entry of switch_at not acted on yet
    int threshold_switches = 0;  ///< switches made by switch-eg-below so far
    /// The alpha at which each task began (entry 0 is 0), NaN for a task not reached yet, as the
    /// simulation's RunState::task_start (docs/theory.md §17b).
    std::vector<double> task_start;
    Eigen::VectorXd y;
    double alpha = 0.0;
    StepCounter* alpha_done = nullptr;
    std::int64_t reported = 0; ///< what alpha_done got from this run
};

TheoryDynamics::TheoryDynamics(const RunParams& params, const OrderParameters& init, OdeParams ode,
                               StepCounter* alpha_done) {
    require_theory_support(params.model);
    check_order_parameter_sizes(params.model, init);
    impl_ = std::make_unique<Impl>(params, init, ode);
    impl_->alpha_done = alpha_done;
}

TheoryDynamics::~TheoryDynamics() = default;

bool TheoryDynamics::advance_to(double alpha) {
    Impl& m = *impl_;
    if (!(alpha > m.alpha))
        return true;
    const double divergence_q = m.params.observer.divergence_q;
    const auto K = static_cast<Eigen::Index>(m.params.model.student.hidden());
    // Progress moves with every accepted step, not only at the record times: a record interval
    // can take minutes where the step size collapses (m.alpha is the integrator's time `t`).
    const auto report = [&m] {
        if (m.alpha_done == nullptr)
            return;
        const auto now = static_cast<std::int64_t>(std::llround(m.alpha * alpha_progress_scale));
        m.alpha_done->fetch_add(now - m.reported, std::memory_order_relaxed);
        m.reported = now;
    };
    const auto healthy = [&](const Eigen::VectorXd& y) {
        report(); // the step's start: the guard runs before the integrator moves `t`
        if (!y.allFinite())
            return false;
        if (m.manifold) // Q_jj = sum_g share_g kappa_g q_g,jj (docs/theory.md Eq. (16b.6))
            return !(m.manifold->max_field_variance(y) > divergence_q);
        // Q_jj are the entries 0, K, K + (K-1), ... of the packed upper triangle.
        Eigen::Index i = 0;
        for (Eigen::Index j = 0; j < K; ++j) {
            if (y(i) > divergence_q)
                return false;
            i += K - j;
        }
        return true;
    };
    if (m.teachers) {
        // The fixed schedule (docs/theory.md §17b): the integrator stops exactly at each switch
        // point a before alpha (no step straddles it), and the next task starts there. As in the
        // simulation, whose first step with alpha >= a switches, a switch point at a record time
        // acts after that record.
        const std::vector<double>& at = m.params.model.switch_at;
        while (m.next_switch < at.size() && at[m.next_switch] < alpha) {
            const double a = at[m.next_switch];
            if (m.integrator.advance(m.y, m.alpha, a, healthy) != OdeOutcome::ok) {
                report();
                return false;
            }
            m.alpha = std::max(m.alpha, a); // exactly a: advance lands on it
            ++m.next_switch;
            m.update_task();
        }
    }
    const bool ok = m.integrator.advance(m.y, m.alpha, alpha, healthy) == OdeOutcome::ok;
    report();
    return ok;
}

Observables TheoryDynamics::observe() {
    const OrderParameters op = order_parameters();
    Observables o;
    o.Q = op.Q;
    o.R = op.R;
    o.T = op.T;
    o.v = op.v;
    if (impl_->mixture) {
        // Mixture inputs (docs/theory.md §15c): eps_g and class_error of Eq. (15.9) by the same
        // rule as the flow, with their errors; M_jc as the simulation's observer records it.
        const MixtureEstimate e =
            mixture_estimate(impl_->mixture->settings(), op.Q, op.mean_overlaps, op.v);
        o.eg = e.eg;
        o.eg_stderr = e.eg_error;
        o.extras.insert_or_assign(std::string(extra_name::flow_error),
                                  Eigen::VectorXd::Constant(1, e.relative_flow_error()));
        o.extras.insert_or_assign(std::string(extra_name::class_error),
                                  Eigen::VectorXd::Constant(1, e.class_error));
        const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows =
            op.mean_overlaps; // K x C row-major (the file's (student, cluster) axes)
        o.extras.insert_or_assign(std::string(extra_name::mean_overlaps),
                                  Eigen::Map<const Eigen::VectorXd>(rows.data(), rows.size()));
        return o;
    }
    if (impl_->manifold) {
        // Hidden-manifold inputs (docs/theory.md §16b): eps_g of the Gaussian-equivalent fields
        // at (Q, R, T), Eq. (16b.10), a closed form.
        o.eg = manifold_flow_generalization_error(impl_->manifold->settings(), op.manifold, op.T,
                                                  op.v, op.v_star);
        o.eg_stderr = 0.0;
        return o;
    }
    if (impl_->teachers)
        return impl_->observe_teachers(std::move(o));
    const FlowSettings& s = impl_->rhs->settings();
    if (s.method == FlowMethod::joint) {
        // The joint rule's estimates and their errors (docs/theory.md §10): eg_stderr is the
        // rule's standard error of eps_g, flow_error its relative error of the flow.
        // The readout factors in v, v* (docs/theory.md §14; 1 by default).
        const JointEstimate e =
            joint_estimate(s, op.Q, op.R, op.T, s.readout * op.v, s.readout_teacher * op.v_star);
        o.eg = e.eg;
        o.eg_stderr = e.eg_error;
        o.extras.insert_or_assign(std::string(extra_name::flow_error),
                                  Eigen::VectorXd::Constant(1, e.relative_flow_error()));
    } else {
        o.eg = flow_generalization_error(s, op.Q, op.R, op.T, op.v, op.v_star);
        o.eg_stderr = 0.0;
    }
    return o;
}

double TheoryDynamics::alpha() const noexcept {
    return impl_->alpha;
}

OrderParameters TheoryDynamics::order_parameters() const {
    if (impl_->mixture)
        return impl_->mixture->order_parameters(impl_->y);
    if (impl_->manifold)
        return impl_->manifold->order_parameters(impl_->y);
    return impl_->teachers ? impl_->teachers->order_parameters(impl_->y)
                           : impl_->rhs->order_parameters(impl_->y);
}

Eigen::VectorXd TheoryDynamics::derivative() {
    Eigen::VectorXd dx(impl_->y.size());
    (void)impl_->derivative(impl_->alpha, impl_->y, dx);
    return dx;
}

TheoryDynamics::Statistics TheoryDynamics::statistics() const noexcept {
    const std::int64_t evaluations = impl_->mixture    ? impl_->mixture->evaluations()
                                     : impl_->manifold ? impl_->manifold->evaluations()
                                     : impl_->teachers ? impl_->teachers->evaluations()
                                                       : impl_->rhs->evaluations();
    return {evaluations, impl_->integrator.accepted(), impl_->integrator.rejected()};
}

RunResult integrate_theory(const RunParams& params, const OrderParameters& init,
                           const OdeParams& ode, StepCounter* alpha_done) {
    TheoryDynamics dynamics(params, init, ode, alpha_done);
    return record_run(dynamics, record_alphas(params.schedule), divergence_rule(params),
                      outcome_model(params.model));
}

// ---------------------------------------------------------------------------------------------
// Symmetric starts.
// ---------------------------------------------------------------------------------------------

OrderParameters symmetric_initial_conditions(const ModelParams& model, double q0, double r0,
                                             double asymmetry) {
    const int K = model.student.hidden(), M = model.teacher.hidden();
    if (K < 1 || M < 1)
        throw std::invalid_argument("plateau theory: need K >= 1 and M >= 1");
    OrderParameters op;
    op.Q = q0 * Eigen::MatrixXd::Identity(K, K);
    op.R = Eigen::MatrixXd::Constant(K, M, r0);
    for (int j = 0; j < K; ++j)
        op.R(j, j % M) += asymmetry; // student j favoured towards teacher j mod M
    op.T = Eigen::MatrixXd::Identity(M, M);
    op.v = Eigen::VectorXd::Constant(K, model.v0);
    op.v_star = Eigen::VectorXd::Constant(M, model.v_star);
    const Eigen::MatrixXd C = integrals::field_covariance(op.Q, op.R, op.T);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(C, Eigen::EigenvaluesOnly);
    if (!C.allFinite() || eig.eigenvalues().minCoeff() < -1e-12 * std::max(1.0, std::abs(q0)))
        throw std::invalid_argument(
            "plateau theory: symmetric_initial_conditions(q0 = " + number_text(q0) +
            ", r0 = " + number_text(r0) + ", asymmetry = " + number_text(asymmetry) +
            ") is not a valid covariance: need Q - R R^T positive semi-definite");
    return op;
}

void JointRuleErrors::add(const RunParams& params, const RunResult& result) {
    if (flow_method(params.model) != FlowMethod::joint)
        return;
    const std::scoped_lock lock(mutex_);
    ++summary_.runs;
    summary_.points = params.observer.joint_points;
    for (const Observables& o : result.records) {
        summary_.eg = std::max(summary_.eg, o.eg_stderr);
        if (o.eg > 0.0)
            summary_.eg_relative = std::max(summary_.eg_relative, o.eg_stderr / o.eg);
        const auto it = o.extras.find(extra_name::flow_error);
        if (it != o.extras.end() && it->second.size() == 1 && std::isfinite(it->second(0)))
            summary_.flow_relative = std::max(summary_.flow_relative, it->second(0));
    }
}

JointRuleErrors::Summary JointRuleErrors::summary() const {
    const std::scoped_lock lock(mutex_);
    return summary_;
}

} // namespace plateau
