// The right-hand side of the N -> infinity ODEs of the order parameters (Q, R, v) in alpha,
// docs/theory.md §3 (Saad & Solla, Phys. Rev. E 52, 4225 (1995); Riegler & Biehl, J. Phys. A 28,
// L507 (1995) for the learned second layer), from the Gaussian integrals of
// models/gaussian_integrals.hpp; and the same flow on a packed vector of the independent entries,
// for an integrator (engine/theory/ode_integrator.hpp) and for linearizations
// (engine/theory/fixed_point.hpp).
//
// Scope: every two-layer model. h = h* = identity with the same hidden activation g = g* in
// student and teacher (kind and gamma): closed forms for erf, relu, linear, quadrature for tanh
// and sigmoid (FlowMethod::integrals, docs/theory.md §9); any other h, h*, g, g* by the joint
// rule (FlowMethod::joint, §10). Label noise s^2, a learned second layer (eta_v) and K != M are
// included. Deeper networks are refused (§12).
#pragma once

#include "engine/core/order_parameters.hpp"
#include "engine/core/run_params.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace plateau {

class JointRule;  // engine/theory/joint_rule.hpp
class TensorRule; // engine/theory/tensor_rule.hpp

/// True when the ODEs cover the model: every network with one hidden layer (student and
/// teacher), by FlowMethod::integrals or FlowMethod::joint.
[[nodiscard]] bool theory_supports(const ModelParams& model) noexcept;

/// Throws ConfigError (key "K" or "M", the widths) when !theory_supports(model): a deeper
/// network.
void require_theory_support(const ModelParams& model);

/// The right-hand side of the ODEs, docs/theory.md §3:
///   dR_jn/dalpha = eta <delta_j y_n>
///   dQ_jk/dalpha = eta (<delta_j x_k> + <delta_k x_j>) + eta^2 <delta_j delta_k>
///                  (the eta^2 term includes the label-noise term s^2 v_j v_k J2(j,k))
///   dv_j/dalpha  = eta_v <(tau - sigma) g(x_j)>   (only if model.learn_v, else 0)
/// with a batch of B fresh examples per update the eta^2 term is divided by B, and weight decay
/// lambda adds -2 eta lambda Q_jk, -eta lambda R_jn, -eta_v lambda v_j (docs/theory.md §6).
/// Returns the derivatives in an OrderParameters (dT = 0, dv_star = 0). Uses params.model
/// (g, noise, learn_v) and params.training (eta, eta_v). Throws ConfigError for an unsupported
/// model and std::invalid_argument for inconsistent sizes.
[[nodiscard]] OrderParameters flow(const RunParams& params, const OrderParameters& op);

/// Throws std::invalid_argument unless op has Q K x K, R K x M, T M x M, v K and v_star M entries
/// for K = m.student.hidden(), M = m.teacher.hidden().
void check_order_parameter_sizes(const ModelParams& m, const OrderParameters& op);

/// How the averages of the flow are evaluated.
enum class FlowMethod {
    /// h = h* = identity, g = g*: the flow is a sum of the 2-4 dimensional averages I2, I3, I4,
    /// J2 of models/gaussian_integrals.hpp (closed forms for erf, relu, linear; quadrature for
    /// the other g, docs/theory.md §9), engine/theory/integral_flow.cpp; and a polynomial target
    /// with a polynomial g and h = identity, exact by Isserlis' theorem (§13)
    integrals,
    /// any other h, h*, g, g*: every average over all K+M fields jointly by a fixed
    /// deterministic rule (docs/theory.md §10), engine/theory/joint_flow.cpp
    joint,
    /// h = h* = identity with g = g* in {tanh, sigmoid} and K + M <= 4, or with polynomial
    /// g != g*; h = h* in {tanh, sigmoid} with g = g* in {erf, tanh, sigmoid}, K + M <= 4: every
    /// average over all K+M fields by a tensor rule symmetric in each standard
    /// normal, with e = tau - sigma at each node (docs/theory.md §9 "Smoothness", §8),
    /// engine/theory/tensor_rule.cpp
    tensor,
};

/// The largest number of nodes a tensor Gauss-Hermite rule may have (polynomial g != g*); more
/// fields or higher degrees take the joint rule.
inline constexpr double max_tensor_nodes = 262144.0;

/// The method for a model (docs/theory.md §8): h = h* = identity with g = g* (kind and gamma):
/// tensor for tanh and sigmoid when K + M <= 4, else integrals; identity outputs with polynomial
/// g != g*: tensor (Gauss-Hermite, exact) up to max_tensor_nodes nodes; outputs h = h* in {tanh,
/// sigmoid} with g = g* in {erf, tanh, sigmoid} and K + M <= 4: tensor (trapezoid); everything
/// else joint.
/// The method for a model: integrals when h = h* = identity and g = g* (kind and gamma), or for
/// a polynomial target when h = identity and g is a polynomial (docs/theory.md §13).
[[nodiscard]] FlowMethod flow_method(const ModelParams& model) noexcept;

/// What the flow depends on besides the order parameters.
struct FlowSettings {
    Activation g{ActivationKind::erf};            ///< student hidden activation g
    Activation g_teacher{ActivationKind::erf};    ///< teacher hidden activation g*
    Activation h{ActivationKind::linear};         ///< student output h
    Activation h_teacher{ActivationKind::linear}; ///< teacher output h*
    FlowMethod method = FlowMethod::integrals;
    double eta = 0.0;
    double eta_v = 0.0;
    double noise = 0.0; ///< s^2
    bool learn_v = false;
    double batch = 1.0;        ///< B: the eta^2 terms are divided by B (docs/theory.md §6)
    double weight_decay = 0.0; ///< lambda (docs/theory.md §6)
    /// The readout factors c, c* (readout-scale, docs/theory.md §14): the averages take c v and
    /// c* v*, and dv_j gets a factor c. Both exactly 1 by default.
    double readout = 1.0;
    double readout_teacher = 1.0;
    bool sphere = false; ///< constraint = sphere: the projected flow (add_sphere_projection)
    /// The learning-rate schedules (docs/theory.md §6b, rate_schedules) and their values s(alpha)
    /// at the time the flow is evaluated: assemble_flow and add_weight_decay use eta s_w, eta_v
    /// s_v. PackedFlow sets them from the time it is given; 1 for constant schedules.
    LayerSchedules schedules{};
    RateFactors rate_factors{};
    /// eta s_w(alpha) and eta_v s_v(alpha), the rates at the flow's time (docs/theory.md §6b):
    /// exactly eta and eta_v for constant schedules (s = 1).
    [[nodiscard]] double eta_now() const noexcept { return eta * rate_factors.w; }
    [[nodiscard]] double eta_v_now() const noexcept { return eta_v * rate_factors.v; }
    /// The fixed rule of FlowMethod::joint (docs/theory.md §10), made by flow_settings for
    /// joint-points points; null for FlowMethod::integrals (the joint path then makes its own).
    std::shared_ptr<const JointRule> joint_rule;
    /// The fixed rule of FlowMethod::tensor (docs/theory.md §9), made by flow_settings; null
    /// for the other methods.
    std::shared_ptr<const TensorRule> tensor_rule;
    /// The label tau: the teacher's committee (g_teacher, h_teacher, v*) or a polynomial of the
    /// teacher's fields (docs/theory.md §13); teacher_output evaluates it.
    Target target{};
    /// Which eta^2 terms the flow keeps (docs/theory.md §3, "Small-eta limit"): with noise_only
    /// every method returns FlowAverages::cc = s^2 <d_j d_k>.
    Eta2Terms eta2 = Eta2Terms::keep;
};

/// tau without label noise at the teacher fields y (M entries), the one place where the flow's
/// methods compute it (docs/theory.md §10, §13): the committee h*(sum_n v*_n g*(y_n)) (Eq. (1))
/// or the polynomial target of s (Eq. (13.1)).
[[nodiscard]] double teacher_output(const FlowSettings& s, std::span<const double> y,
                                    const Eigen::VectorXd& v_star) noexcept;

/// The committee's tau = h*(sum_n v*_n g*(y_n)), Eq. (1), at the teacher fields y[0..M-1]: at one
/// node (Real = double, teacher_output) or at four (Real = vmath::Vec, the vector forms of the
/// activations: engine/theory/node_averages.cpp).
template <class Real, class Fields>
[[nodiscard, gnu::always_inline]] inline Real
committee_output(const FlowSettings& s, const Fields& y, std::size_t M,
                 const Eigen::VectorXd& v_star) noexcept {
    Real b{}; // 0.0 in every lane
    for (std::size_t m = 0; m < M; ++m)
        b += v_star(static_cast<Eigen::Index>(m)) * s.g_teacher.value(y[m]);
    return s.h_teacher.value(b);
}

/// Throws ConfigError (key "train-set", "alpha-train" or "batch") when the run learns from a
/// finite training set: the ODEs have no closed form for it (docs/theory.md §6).
void require_theory_regime(const RunParams& p);

/// The settings of params; throws ConfigError (require_theory_support, require_theory_regime)
/// for an unsupported model or a finite training set.
[[nodiscard]] FlowSettings flow_settings(const RunParams& p);

/// The settings of the flow of K+M jointly Gaussian fields, whatever the inputs that make them
/// (the Gaussian-equivalent fields of hidden-manifold inputs, docs/theory.md §16b, take it):
/// flow_settings without its refusal of inputs other than gaussian.
[[nodiscard]] FlowSettings gaussian_field_flow_settings(const RunParams& p);

/// The flow without checks or allocation of the result: fills dQ (K x K, symmetric), dR (K x M),
/// dv (K) with the derivatives d/dalpha of docs/theory.md §3.
void compute_flow(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                  const Eigen::MatrixXd& T, const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                  Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR, Eigen::VectorXd& dv);

/// The Gaussian averages that one on-line step contributes to the flow (docs/theory.md §3,
/// §10), whatever method evaluates them (integrals, quadrature, the joint rule). With
/// e = tau - sigma, d_j = h'(a) v_j g'(x_j) and the field error c_j = e d_j of student j:
struct FlowAverages {
    Eigen::MatrixXd cu; ///< K x (K+M): <c_j u_b>, the fields u = (x_1..x_K, y_1..y_M)
    /// K x K: <(e^2 + s^2) d_j d_k> = <c_j c_k> + s^2 <d_j d_k>, the eta^2 term's average (label
    /// noise included); zero when the eta^2 term vanishes (needs_second_order(s) is false).
    Eigen::MatrixXd cc;
    Eigen::VectorXd eg; ///< K: <e h'(a) g(x_j)>, the second layer's average; zero unless learn_v
};

/// True when the eta^2/B term of dQ is not zero, so that FlowAverages::cc is needed.
[[nodiscard]] bool needs_second_order(const FlowSettings& s) noexcept;

/// The one place where the step sizes and the training regime enter the flow (docs/theory.md
/// §3, §6), from a method's averages:
///   dR_jn = eta <c_j y_n>,  dQ_jk = eta (<c_j x_k> + <c_k x_j>) + (eta^2/B) cc_jk,
///   dv_j  = eta_v <e h'(a) g(x_j)>  (0 for a fixed second layer).
void assemble_flow(const FlowSettings& s, const FlowAverages& a, Eigen::MatrixXd& dQ,
                   Eigen::MatrixXd& dR, Eigen::VectorXd& dv);

/// Weight decay lambda (docs/theory.md §6): dQ_jk -= 2 eta lambda Q_jk, dR_jn -= eta lambda
/// R_jn and, for a learned second layer, dv_j -= eta_v lambda v_j. Exact, whatever the method.
void add_weight_decay(const FlowSettings& s, const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                      const Eigen::VectorXd& v, Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR,
                      Eigen::VectorXd& dv);

/// The projected flow of constraint = sphere (docs/theory.md §14, Eq. (14.2)): the unconstrained
/// step followed by the rescaling of every row, to first order in 1/N,
///   dQ_jk -= (Q_jk/2) (dQ_jj/Q_jj + dQ_kk/Q_kk),  dR_jn -= (R_jn/2) dQ_jj/Q_jj,
/// so dQ_jj = 0. No change unless s.sphere. Applied after assemble_flow and add_weight_decay.
void add_sphere_projection(const FlowSettings& s, const Eigen::MatrixXd& Q,
                           const Eigen::MatrixXd& R, Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR);

/// eps_g of docs/theory.md §2 at (Q, R, T, v, v*) by the method of s: the closed form or
/// quadrature of I2 (h = identity), or the joint rule (docs/theory.md §10).
[[nodiscard]] double flow_generalization_error(const FlowSettings& s, const Eigen::MatrixXd& Q,
                                               const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                               const Eigen::VectorXd& v,
                                               const Eigen::VectorXd& v_star);

// ---------------------------------------------------------------------------------------------
// Packing: the independent, time-dependent entries as one vector
//   y = ( Q_jk for j <= k (row by row), R_jn (row by row), v_j if learned ).
// Each entry also gets a symmetry class: 0 = Q_jj, 1 = Q_jk (j < k), 2 = R_jn, 3 = v_j. The
// classes are the orbits of the entries under permutations of the student units and,
// independently, of the teacher units; at a symmetric point (the plateau) all entries of a class
// are equal, and their deviations from the class mean are the asymmetries.
// Several teachers (docs/theory.md §17b): R is K x nM, its columns in n blocks of M, one class
// per block (2 + t); v is K x H, the output weights of H heads, head by head, one class per head
// (2 + n + h). One teacher and one head is the layout above.
// ---------------------------------------------------------------------------------------------

class Packing {
public:
    Packing(int K, int M, bool learn_v, int teachers = 1, int heads = 1)
        : K_(K), units_(M * teachers), heads_(heads), learn_v_(learn_v) {
        for (int j = 0; j < K; ++j)
            for (int k = j; k < K; ++k)
                classes_.push_back(j == k ? 0 : 1);
        for (int j = 0; j < K; ++j)
            for (int u = 0; u < units_; ++u)
                classes_.push_back(2 + u / M);
        if (learn_v)
            for (int h = 0; h < heads; ++h)
                for (int j = 0; j < K; ++j)
                    classes_.push_back(2 + teachers + h);
    }

    [[nodiscard]] Eigen::Index size() const noexcept {
        return static_cast<Eigen::Index>(classes_.size());
    }
    [[nodiscard]] const std::vector<int>& classes() const noexcept { return classes_; }

    /// v: K entries per head (a vector of K for one head, a K x H matrix otherwise).
    void pack(const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
              const Eigen::Ref<const Eigen::MatrixXd>& v, Eigen::VectorXd& y) const {
        y.resize(size());
        Eigen::Index i = 0;
        for (int j = 0; j < K_; ++j)
            for (int k = j; k < K_; ++k)
                y(i++) = Q(j, k);
        for (int j = 0; j < K_; ++j)
            for (int u = 0; u < units_; ++u)
                y(i++) = R(j, u);
        if (learn_v_)
            for (int h = 0; h < heads_; ++h) // head by head
                for (int j = 0; j < K_; ++j)
                    y(i++) = v(j, h);
    }

    /// Q, R and (if learned) v from y; v is left alone for a fixed second layer.
    void unpack(const Eigen::VectorXd& y, Eigen::MatrixXd& Q, Eigen::MatrixXd& R,
                Eigen::VectorXd& v) const {
        if (learn_v_)
            v.resize(static_cast<Eigen::Index>(K_) * heads_);
        unpack(y, Q, R, learn_v_ ? v.data() : nullptr);
    }
    void unpack(const Eigen::VectorXd& y, Eigen::MatrixXd& Q, Eigen::MatrixXd& R,
                Eigen::MatrixXd& v) const {
        if (learn_v_)
            v.resize(K_, heads_);
        unpack(y, Q, R, learn_v_ ? v.data() : nullptr);
    }

private:
    void unpack(const Eigen::VectorXd& y, Eigen::MatrixXd& Q, Eigen::MatrixXd& R, double* v) const {
        Q.resize(K_, K_);
        R.resize(K_, units_);
        Eigen::Index i = 0;
        for (int j = 0; j < K_; ++j)
            for (int k = j; k < K_; ++k) {
                Q(j, k) = Q(k, j) = y(i);
                ++i;
            }
        for (int j = 0; j < K_; ++j)
            for (int u = 0; u < units_; ++u)
                R(j, u) = y(i++);
        if (v != nullptr)
            for (int e = 0; e < K_ * heads_; ++e)
                v[e] = y(i++);
    }

    int K_, units_, heads_;
    bool learn_v_;
    std::vector<int> classes_;
};

/// The flow on packed vectors: T and v_star fixed (and v when it is not learned).
class PackedFlow {
public:
    PackedFlow(const RunParams& p, const OrderParameters& fixed)
        : settings_(flow_settings(p)),
          packing_(p.model.student.hidden(), p.model.teacher.hidden(), p.model.learn_v),
          T_(fixed.T), v_star_(fixed.v_star), v_(fixed.v) {}

    [[nodiscard]] const Packing& packing() const noexcept { return packing_; }
    [[nodiscard]] const FlowSettings& settings() const noexcept { return settings_; }

    /// dy = f(t, y) with the learning rates at alpha = t (a schedule, docs/theory.md §6b).
    bool operator()(double t, const Eigen::VectorXd& y, Eigen::VectorXd& dy) {
        settings_.rate_factors = settings_.schedules.factors(t);
        return (*this)(y, dy);
    }

    /// dy = f(y) at the rates last set (the constant rates unless a time was given). Returns
    /// false if the result is not finite.
    bool operator()(const Eigen::VectorXd& y, Eigen::VectorXd& dy) {
        ++evaluations_;
        packing_.unpack(y, Q_, R_, v_);
        if (!Q_.allFinite() || !R_.allFinite() || !v_.allFinite())
            return false;
        compute_flow(settings_, Q_, R_, T_, v_, v_star_, dQ_, dR_, dv_);
        packing_.pack(dQ_, dR_, dv_, dy);
        return dy.allFinite();
    }

    [[nodiscard]] OrderParameters order_parameters(const Eigen::VectorXd& y) const {
        OrderParameters op;
        op.v = v_;
        packing_.unpack(y, op.Q, op.R, op.v);
        op.T = T_;
        op.v_star = v_star_;
        return op;
    }

    [[nodiscard]] std::int64_t evaluations() const noexcept { return evaluations_; }

private:
    FlowSettings settings_;
    Packing packing_;
    Eigen::MatrixXd T_;
    Eigen::VectorXd v_star_;
    Eigen::VectorXd v_;
    Eigen::MatrixXd Q_, R_, dQ_, dR_;
    Eigen::VectorXd dv_;
    std::int64_t evaluations_ = 0;
};

} // namespace plateau
