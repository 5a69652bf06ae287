// The N -> infinity theory: the deterministic ODEs of the order parameters (Q, R, v) in alpha
// (docs/theory.md §3; Saad & Solla, Phys. Rev. E 52, 4225 (1995); Riegler & Biehl,
// J. Phys. A 28, L507 (1995) for the learned second layer) as a `Dynamics` backend, so that
// `record_run` gives a RunResult exactly like a simulation, and symmetric initial conditions.
// The parts: the right-hand side in engine/theory/flow.hpp and the integrator in
// engine/theory/ode_integrator.hpp (both included here); the plateau fixed point and its escape
// rate are in engine/theory/fixed_point.hpp and engine/theory/escape.hpp.
//
// Scope: every network with one hidden layer in student and teacher (theory_supports()):
// flow_method() picks the Gaussian integrals (h = h* = identity and g = g*, docs/theory.md §9)
// or the joint rule over all K+M fields (§10). Label noise s^2, a learned second layer (eta_v)
// and K != M are included.
//
// Conventions (docs/theory.md §1): fields x_j = w^(j).xi, y_n = B_n.xi are O(1); Q = W W^T (K x K),
// R = W B^T (K x M), T = B B^T (M x M); alpha = steps / N; w <- w - (eta/N) grad_w e.
#pragma once

#include "engine/core/order_parameters.hpp"
#include "engine/core/run_params.hpp"
#include "engine/run/run.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/ode_integrator.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <mutex>

namespace plateau {

/// The ODEs as a run backend. advance_to(alpha) integrates to exactly alpha (a record time) and
/// returns false, leaving the state at the last good point, if the order parameters become
/// non-finite, a Q_jj exceeds params.observer.divergence_q, the adaptive step underflows, or
/// max_steps is exceeded (divergence for too large eta). observe() returns eps_g of the flow's
/// method: with the integrals, eg_stderr = 0; with the joint rule, the rule's standard error as
/// eg_stderr and its relative error of the flow as the extra `flow_error` (docs/theory.md §10).
/// Progress of the theory in alpha: counted in units of 1 / alpha_progress_scale (milli-alpha).
inline constexpr double alpha_progress_scale = 1000.0;

class TheoryDynamics final : public Dynamics {
public:
    /// Throws ConfigError if !theory_supports(params.model) (a deeper network),
    /// std::invalid_argument for sizes of init that do not match (K, M) of params.model.
    /// `alpha_done` (optional, outliving the dynamics): the integrated alpha, in units of
    /// 1 / alpha_progress_scale, is added to it as the integrator's steps are accepted and as
    /// each advance_to ends (a progress display that moves inside a long record interval).
    TheoryDynamics(const RunParams& params, const OrderParameters& init, OdeParams ode = {},
                   StepCounter* alpha_done = nullptr);
    ~TheoryDynamics() override;

    [[nodiscard]] bool advance_to(double alpha) override;
    [[nodiscard]] Observables observe() override;

    [[nodiscard]] double alpha() const noexcept;
    [[nodiscard]] OrderParameters order_parameters() const;
    /// The packed right-hand side at the current state: one evaluation of the run's own flow
    /// (any input model, several teachers), counted in statistics(); `plateau ode --dry-run`
    /// times it.
    [[nodiscard]] Eigen::VectorXd derivative();

    struct Statistics {
        std::int64_t evaluations = 0; ///< flow evaluations
        std::int64_t accepted = 0;    ///< accepted steps
        std::int64_t rejected = 0;    ///< rejected steps (Dormand-Prince)
    };
    [[nodiscard]] Statistics statistics() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Convenience: record_run(TheoryDynamics(params, init, ode), record_alphas(params.schedule),
/// divergence_rule(params), outcome_model(params.model)).
[[nodiscard]] RunResult integrate_theory(const RunParams& params, const OrderParameters& init,
                                         const OdeParams& ode = {},
                                         StepCounter* alpha_done = nullptr);

/// A symmetric start with a controlled asymmetry, for K = model.student.hidden() and
/// M = model.teacher.hidden():
///   Q = q0 I_K (off-diagonal 0),
///   R_jn = r0 + asymmetry * [n == j mod M]  (student j is favoured towards teacher j mod M),
///   T = I_M (the teacher norm: orthonormal teachers, and the mean of Gaussian ones),
///   v = v0 (all K entries), v_star = model.v_star (all M entries).
/// Throws std::invalid_argument if the field covariance [[Q, R], [R^T, T]] is not positive
/// semi-definite.
[[nodiscard]] OrderParameters symmetric_initial_conditions(const ModelParams& model, double q0,
                                                           double r0, double asymmetry);

/// The largest estimated errors of the joint rule (docs/theory.md §10) over every record of the
/// runs added: eps_g (eg_stderr, absolute and relative) and the flow (the extra flow_error).
/// Runs of other methods are not counted. Thread-safe: runs may be added from any worker.
class JointRuleErrors {
public:
    struct Summary {
        std::int64_t runs = 0; ///< runs by the joint rule
        int points = 0;        ///< the rule's joint-points
        double eg = 0.0, eg_relative = 0.0, flow_relative = 0.0;
    };
    void add(const RunParams& params, const RunResult& result);
    [[nodiscard]] Summary summary() const;

private:
    mutable std::mutex mutex_;
    Summary summary_;
};

} // namespace plateau
