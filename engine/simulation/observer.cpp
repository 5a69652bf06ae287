#include "engine/simulation/observer.hpp"

#include "engine/simulation/manifold_source.hpp"
#include "models/gaussian_integrals.hpp"
#include "models/loss.hpp"
#include "models/polynomial_averages.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

namespace plateau {

namespace {

/// Whether eps_g is an exact polynomial in (Q, R, T) by Isserlis' theorem (docs/theory.md §13,
/// Eq. (13.4)): a polynomial g with h = identity learning a polynomial target, or a committee
/// with a polynomial g* and h* = identity.
bool polynomial_eg(const ModelParams& m) noexcept {
    if (m.student.h.kind != ActivationKind::linear || !as_polynomial(m.student.g))
        return false;
    if (!m.target.is_committee())
        return true;
    return m.teacher.h.kind == ActivationKind::linear && as_polynomial(m.teacher.g).has_value();
}

} // namespace

EgMethod eg_method(const ModelParams& m) noexcept {
    if (is_deep(m)) // docs/theory.md §12: Monte Carlo over the first layer's fields
        return EgMethod::monte_carlo;
    if (m.loss.kind() != LossKind::squared || m.inputs != InputKind::gaussian) // §15
        return EgMethod::monte_carlo;
    if (m.target.is_committee() && integrals::has_closed_form(m.student.g.kind, m.student.h.kind,
                                                              m.teacher.g.kind, m.teacher.h.kind))
        return EgMethod::closed_form;
    return polynomial_eg(m) ? EgMethod::closed_form : EgMethod::monte_carlo;
}

EgEstimate generalization_error(const ModelParams& m, const Eigen::MatrixXd& Q,
                                const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                                int samples, NormalStream& rng) {
    if (eg_method(m) == EgMethod::closed_form) {
        // The closed forms take the readout factors in v and v* (docs/theory.md §14).
        const bool scaled =
            m.student.readout != ReadoutScale::one || m.teacher.readout != ReadoutScale::one;
        if (m.target.is_committee() &&
            integrals::has_closed_form(m.student.g.kind, m.student.h.kind, m.teacher.g.kind,
                                       m.teacher.h.kind)) {
            if (scaled)
                return {integrals::generalization_error(m.student.g.kind, Q, R, T,
                                                        m.student.readout_factor() * v,
                                                        m.teacher.readout_factor() * v_star),
                        0.0};
            return {integrals::generalization_error(m.student.g.kind, Q, R, T, v, v_star), 0.0};
        }
        // A polynomial g (and target or g*): exact by Isserlis' theorem (Eq. (13.4)).
        const auto K = static_cast<int>(Q.rows());
        const std::vector<polynomial_averages::Term> tau =
            m.target.is_committee()
                ? polynomial_averages::committee_terms(*as_polynomial(m.teacher.g),
                                                       m.teacher.readout_factor() * v_star, K)
                : m.target.polynomial->terms(K);
        return {polynomial_averages::generalization_error(*as_polynomial(m.student.g), tau,
                                                          integrals::field_covariance(Q, R, T),
                                                          m.student.readout_factor() * v),
                0.0};
    }
    return monte_carlo_generalization_error(m, Q, R, T, v, v_star, samples, rng);
}

namespace {

/// The one Monte-Carlo loop of eps_g = <(sigma - tau)^2>/2 (docs/theory.md §1): `samples` draws
/// of the first-layer fields u = (x, y) ~ N(0, C), C = [[Q, R], [R^T, T]], as u = L z with
/// C = L L^T from the eigen-decomposition (a singular C, a student vector equal to a teacher
/// vector say, is handled; negative eigenvalues from rounding clamped to zero); `outputs(u)`
/// returns (sigma, tau) for one draw. Returns the mean and its standard error.
template <class Outputs>
EgEstimate monte_carlo_eg(const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                          const Eigen::MatrixXd& T, int samples, NormalStream& rng, Loss loss,
                          Outputs&& outputs) {
    const Eigen::MatrixXd C = integrals::field_covariance(Q, R, T);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(C);
    const Eigen::MatrixXd L =
        eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
    Eigen::VectorXd z(C.rows());
    Eigen::VectorXd u(C.rows());
    double sum = 0.0;
    double sum_sq = 0.0;
    for (int i = 0; i < samples; ++i) {
        rng.fill({z.data(), static_cast<std::size_t>(z.size())});
        u.noalias() = L * z;
        const auto [sigma, tau] = outputs(u);
        const double e = loss.value(sigma, tau); // Eq. (2) or (15.3)
        sum += e;
        sum_sq += e * e;
    }
    const double n = static_cast<double>(samples);
    const double mean = sum / n;
    const double var = std::max(0.0, (sum_sq - n * mean * mean) / (n - 1.0));
    return {mean, std::sqrt(var / n)};
}

} // namespace

EgEstimate monte_carlo_generalization_error(const ModelParams& m, const Eigen::MatrixXd& Q,
                                            const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                            const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                                            int samples, NormalStream& rng) {
    const auto K = static_cast<std::size_t>(Q.rows());
    const auto M = static_cast<std::size_t>(T.rows());
    return monte_carlo_eg(Q, R, T, samples, rng, m.loss, [&](const Eigen::VectorXd& u) {
        return std::pair{forward(m.student, {u.data(), K}, {v.data(), K}).output,
                         m.target.value(m.teacher, {u.data() + K, M}, {v_star.data(), M})};
    });
}

EgEstimate deep_generalization_error(const ModelParams& m, const OrderParameters& op, int samples,
                                     NormalStream& rng) {
    // The fields of the first layer are all the input contributes (docs/theory.md §12), the
    // rest is the forward pass through the layers above.
    const auto K = static_cast<std::size_t>(op.Q.rows());
    const auto M = static_cast<std::size_t>(op.T.rows());
    DeepWorkspace student(m.student);
    DeepWorkspace teacher(m.teacher);
    const std::span<const double> v{op.v.data(), static_cast<std::size_t>(op.v.size())};
    const std::span<const double> v_star{op.v_star.data(),
                                         static_cast<std::size_t>(op.v_star.size())};
    return monte_carlo_eg(op.Q, op.R, op.T, samples, rng, m.loss, [&](const Eigen::VectorXd& u) {
        return std::pair{
            deep_forward(m.student, {u.data(), K}, op.layers, v, student).output,
            m.target.deep_value(m.teacher, {u.data() + K, M}, op.layers_star, v_star, teacher)};
    });
}

Eigen::VectorXd flatten_layers(const LayerWeights& layers, const Eigen::VectorXd& v) {
    Eigen::Index n = v.size();
    for (const auto& W : layers)
        n += W.size();
    Eigen::VectorXd out(n);
    Eigen::Index i = 0;
    for (const auto& W : layers)
        for (Eigen::Index j = 0; j < W.rows(); ++j)
            for (Eigen::Index k = 0; k < W.cols(); ++k)
                out[i++] = W(j, k);
    out.tail(v.size()) = v;
    return out;
}

double training_error(const NetworkSpec& student, const Eigen::Ref<const RowMatrix>& W,
                      const LayerWeights& layers, const Eigen::VectorXd& v, const RowMatrix& X,
                      const Eigen::VectorXd& labels, Loss loss) {
    // The fields of every example at once (one GEMM), then e^mu = (sigma^mu - tau^mu)^2 / 2,
    // Eqs. (1)-(2) (down a deeper student: Eq. (12.1) of docs/theory.md §12), averaged over the
    // set.
    const RowMatrix fields = X * W.transpose();
    const auto K = static_cast<std::size_t>(W.rows());
    const std::span<const double> out{v.data(), static_cast<std::size_t>(v.size())};
    const bool deep = student.widths.size() > 1;
    DeepWorkspace pass(student);
    double sum = 0.0;
    for (Eigen::Index mu = 0; mu < X.rows(); ++mu) {
        const std::span<const double> x{fields.row(mu).data(), K};
        const double sigma = deep ? deep_forward(student, x, layers, out, pass).output
                                  : forward(student, x, out).output;
        sum += loss.value(sigma, labels(mu)); // Eq. (2) or (15.3)
    }
    return sum / static_cast<double>(X.rows());
}

Observer::Observer(const RunParams& params, std::uint64_t seed, std::uint64_t run)
    : model_(params.model), samples_(params.observer.eg_samples),
      rng_(StreamKey{seed, run, StreamPurpose::observer}) {
    if (model_.inputs == InputKind::mixture)
        mixture_.emplace(model_.mixture);
}

OrderParameters order_parameters_of(const RunState& s) {
    OrderParameters op;
    // One Gram matrix of the stacked (K+M) x N block gives Q, R and T at once.
    const Eigen::MatrixXd G = s.weights * s.weights.transpose();
    op.Q = G.topLeftCorner(s.K, s.K);
    op.R = G.topRightCorner(s.K, s.M);
    op.T = G.bottomRightCorner(s.M, s.M);
    op.v = s.v;
    op.v_star = s.v_star;
    op.layers = s.layers;
    op.layers_star = s.layers_star;
    op.task = s.task;
    if (s.heads.size() > 0) { // per-task heads (docs/theory.md §17): every head, v included
        op.heads = s.heads;
        op.heads.col(s.task) = s.v;
    }
    return op;
}

Observables Observer::observe(const RunState& s) {
    if (s.manifold) {
        // Hidden-manifold inputs (docs/theory.md §16): Q, R, T by the Gaussian equivalence
        // (Eq. (16.4)); eps_g by Monte Carlo on fresh examples of the manifold.
        OrderParameters op = manifold_order_parameters(s);
        const EgEstimate e = manifold_generalization_error(model_, s, samples_, rng_);
        return {std::move(op.Q), std::move(op.R), std::move(op.T), std::move(op.v), e.eg,
                e.standard_error};
    }
    if (mixture_)
        return observe_mixture(order_parameters_of(s), mixture_->mean_overlaps(s.student()));
    return observe(order_parameters_of(s));
}

Observables Observer::observe_mixture(OrderParameters op, const Eigen::MatrixXd& means) {
    // Given cluster c the student's fields are x = M_c + sqrt(Delta) L z with L L^T = Q and
    // z ~ N(0, I_K) (Eq. (15.2)); every draw z serves every cluster, weighted by p_c:
    // eps_g = sum_c p_c <e(sigma(x), y_c)> and the classification error
    // sum_c p_c P(sign sigma(x) != y_c) (Eq. (15.9)).
    const Mixture& m = mixture_->mixture();
    const auto K = static_cast<std::size_t>(op.Q.rows());
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(op.Q);
    const Eigen::MatrixXd L = std::sqrt(m.variance) * eig.eigenvectors() *
                              eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
    Eigen::VectorXd z(op.Q.rows());
    Eigen::VectorXd noise(op.Q.rows());
    Eigen::VectorXd x(op.Q.rows());
    const std::span<const double> v{op.v.data(), K};
    double sum = 0.0;
    double sum_sq = 0.0;
    double wrong = 0.0;
    for (int i = 0; i < samples_; ++i) {
        rng_.fill({z.data(), K});
        noise.noalias() = L * z;
        double e = 0.0;
        for (std::size_t c = 0; c < m.clusters(); ++c) {
            x = means.col(static_cast<Eigen::Index>(c)) + noise;
            const double sigma = forward(model_.student, {x.data(), K}, v).output;
            e += m.weights[c] * model_.loss.value(sigma, m.labels[c]);
            // sign(sigma) != y_c; a tie sigma = 0 (v = 0, say) is a coin toss: half an error.
            const double margin = m.labels[c] * sigma;
            wrong += m.weights[c] * (margin > 0.0 ? 0.0 : margin < 0.0 ? 1.0 : 0.5);
        }
        sum += e;
        sum_sq += e * e;
    }
    const auto n = static_cast<double>(samples_);
    const double mean = sum / n;
    const double var = std::max(0.0, (sum_sq - n * mean * mean) / (n - 1.0));
    Observables o{std::move(op.Q),   std::move(op.R), std::move(op.T), std::move(op.v), mean,
                  std::sqrt(var / n)};
    o.extras.emplace(extra_name::class_error, Eigen::VectorXd::Constant(1, wrong / n));
    // M_jc, K x C row-major (the file's (student, cluster) axes).
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = means;
    o.extras.emplace(extra_name::mean_overlaps,
                     Eigen::Map<const Eigen::VectorXd>(rows.data(), rows.size()));
    if (!bayes_) // once per run: a per-run variable, written from the first record
        bayes_ = bayes_error(m);
    o.extras.emplace(extra_name::bayes_error, Eigen::VectorXd::Constant(1, bayes_->value));
    o.extras.emplace(extra_name::bayes_error_stderr,
                     Eigen::VectorXd::Constant(1, bayes_->standard_error));
    return o;
}

Observables Observer::observe(OrderParameters op, const Eigen::MatrixXd& mean_overlaps) {
    if (!mixture_)
        throw std::logic_error("Observer::observe(OrderParameters, mean overlaps): Gaussian "
                               "inputs have no means");
    return observe_mixture(std::move(op), mean_overlaps);
}

Observables Observer::observe(OrderParameters op) {
    if (model_.inputs == InputKind::hidden_manifold)
        throw std::logic_error("Observer::observe(OrderParameters): hidden-manifold inputs need "
                               "the weights and the manifold");
    if (mixture_)
        throw std::logic_error("Observer::observe(OrderParameters): mixture inputs need the "
                               "students' overlaps with the means");
    if (is_deep(model_)) {
        // Deeper networks (§12): eps_g by Monte Carlo over the first-layer fields; `v` (a K-vector
        // of the two-layer net) is NaN, the weights above the first layer go to the extras.
        const EgEstimate e = deep_generalization_error(model_, op, samples_, rng_);
        Observables o{std::move(op.Q),
                      std::move(op.R),
                      std::move(op.T),
                      Eigen::VectorXd::Constant(model_.student.hidden(),
                                                std::numeric_limits<double>::quiet_NaN()),
                      e.eg,
                      e.standard_error,
                      {}};
        o.extras.emplace(extra_name::student_layers, flatten_layers(op.layers, op.v));
        o.extras.emplace(extra_name::teacher_layers, flatten_layers(op.layers_star, op.v_star));
        return o;
    }
    if (model_.teachers > 1)
        return observe_teachers(std::move(op));
    const EgEstimate e =
        generalization_error(model_, op.Q, op.R, op.T, op.v, op.v_star, samples_, rng_);
    return {std::move(op.Q), std::move(op.R), std::move(op.T), std::move(op.v), e.eg,
            e.standard_error};
}

Observables Observer::observe_teachers(OrderParameters op) {
    // docs/theory.md §17: eps_g on every teacher t is the one-teacher eps_g of (Q, R^t, T^tt,
    // head t, v*^t), R^t and T^tt teacher t's blocks; eg is the current task's.
    const int n = model_.teachers;
    const auto M = static_cast<Eigen::Index>(model_.teacher.hidden());
    Eigen::VectorXd eg(n);
    double eg_stderr = 0.0;
    for (int t = 0; t < n; ++t) {
        const Eigen::Index at = t * M;
        const Eigen::VectorXd head = op.heads.size() > 0 ? Eigen::VectorXd(op.heads.col(t)) : op.v;
        const EgEstimate e =
            generalization_error(model_, op.Q, op.R.middleCols(at, M), op.T.block(at, at, M, M),
                                 head, op.v_star.segment(at, M), samples_, rng_);
        eg[t] = e.eg;
        if (t == op.task)
            eg_stderr = e.standard_error;
    }
    const Eigen::Index task = op.task;
    Observables o{op.Q,     op.R.middleCols(task * M, M), op.T.topLeftCorner(M, M), op.v, eg[task],
                  eg_stderr};
    o.extras.emplace(extra_name::eg_tasks, eg);
    o.extras.emplace(extra_name::current_task,
                     Eigen::VectorXd::Constant(1, static_cast<double>(task)));
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> R = op.R;
    o.extras.emplace(extra_name::R_teachers, Eigen::Map<const Eigen::VectorXd>(R.data(), R.size()));
    o.extras.emplace(extra_name::T_teachers,
                     Eigen::Map<const Eigen::VectorXd>(op.T.data(), op.T.size())); // symmetric
    return o;
}

} // namespace plateau
