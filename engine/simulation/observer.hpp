// Observer role: reads a run's state (never changes it) and computes the order parameters
//     Q_jk = w^(j).w^(k),  R_jn = w^(j).B_n,  T_nm = B_n.B_m
// and the generalization error eps_g = <(sigma - tau)^2>/2 over a fresh example without label
// noise (docs/theory.md §1), a function of (Q, R, T, v, v*) alone.
#pragma once

#include "engine/core/order_parameters.hpp"
#include "engine/core/random.hpp"
#include "engine/core/run_params.hpp"
#include "engine/simulation/mixture_source.hpp"
#include "engine/simulation/state.hpp"

#include <Eigen/Core>
#include <optional>

namespace plateau {

/// The order parameters of a state, from its weights: Q = W W^T, R = W B^T, T = B B^T, v, v*.
/// order_parameters_of(make_initial_state(model, seed, run)) is the exact starting point of
/// simulation run (seed, run).
[[nodiscard]] OrderParameters order_parameters_of(const RunState& state);

enum class EgMethod {
    closed_form, ///< exact, squared loss and Gaussian inputs: docs/theory.md section 2/3b (h = h*
                 ///< = identity, g = g* in {erf, relu, linear}) or a polynomial g with a
                 ///< polynomial target or g* (section 13)
    monte_carlo, ///< average over the (K+M) Gaussian fields with covariance [[Q,R],[R^T,T]]
};

/// The method used for a model: the closed form where docs/theory.md has one, Monte Carlo
/// otherwise.
[[nodiscard]] EgMethod eg_method(const ModelParams& m) noexcept;

/// Generalization error from order parameters (Gaussian inputs): exact where a closed form
/// exists, otherwise a Monte-Carlo average of the loss e(sigma, tau) over `samples` draws of the
/// fields (x, y) ~ N(0, [[Q,R],[R^T,T]]) taken from `rng`. Returns {eg, standard error}.
struct EgEstimate {
    double eg = 0.0;
    double standard_error = 0.0;
};
[[nodiscard]] EgEstimate generalization_error(const ModelParams& m, const Eigen::MatrixXd& Q,
                                              const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                              const Eigen::VectorXd& v,
                                              const Eigen::VectorXd& v_star, int samples,
                                              NormalStream& rng);

/// The Monte-Carlo estimate alone, whatever the model (used where no closed form exists, and
/// by the tests that check the closed forms against it).
[[nodiscard]] EgEstimate
monte_carlo_generalization_error(const ModelParams& m, const Eigen::MatrixXd& Q,
                                 const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                                 const Eigen::VectorXd& v, const Eigen::VectorXd& v_star,
                                 int samples, NormalStream& rng);

/// eps_g of deeper networks (docs/theory.md §12): a Monte-Carlo average of (sigma - tau)^2/2
/// over `samples` draws of the first-layer fields (x, y) ~ N(0, [[Q,R],[R^T,T]]), each sent
/// down the layers above (op.layers, op.layers_star, op.v, op.v_star).
[[nodiscard]] EgEstimate deep_generalization_error(const ModelParams& m, const OrderParameters& op,
                                                   int samples, NormalStream& rng);

/// The weights above the first layer, flattened in the order of the file variables
/// `student_layers` / `teacher_layers` (analysis/SCHEMA.md): W_2 row-major, ..., W_L, then v.
[[nodiscard]] Eigen::VectorXd flatten_layers(const LayerWeights& layers, const Eigen::VectorXd& v);

/// The training error eps_t = (1/P) sum_mu e^mu = E/P (Eq. (2), or `loss`, over the P examples of a
/// training set), exact: row mu of X is xi^mu, labels(mu) its target tau^mu (label noise
/// included), W the student rows (K x N), `layers` the weights above the first layer of a deeper
/// student (empty for two layers), v the output weights.
[[nodiscard]] double training_error(const NetworkSpec& student,
                                    const Eigen::Ref<const RowMatrix>& W,
                                    const LayerWeights& layers, const Eigen::VectorXd& v,
                                    const RowMatrix& X, const Eigen::VectorXd& labels, Loss loss);

class Observer {
public:
    /// Monte-Carlo draws (if any) come from stream purpose "observer" of (seed, run).
    Observer(const RunParams& params, std::uint64_t seed, std::uint64_t run);

    [[nodiscard]] Observables observe(const RunState& state);
    /// The same from order parameters (a backend without weights,
    /// engine/simulation/gram_dynamics.hpp): observe(state) is observe(order_parameters_of(state)).
    /// Gaussian inputs only (a mixture needs the weights' overlaps with the means).
    [[nodiscard]] Observables observe(OrderParameters op);
    /// The same with mixture inputs, from order parameters and the students' overlaps with the
    /// means, M_jc = w_j . mu_c (K x C): the Gram chain's (docs/theory.md §15d).
    [[nodiscard]] Observables observe(OrderParameters op, const Eigen::MatrixXd& mean_overlaps);

private:
    /// Mixture inputs (docs/theory.md §15): eps_g and the classification error by Monte Carlo
    /// over the fields given each cluster, N(M_c, Delta Q) (Eq. (15.2)).
    [[nodiscard]] Observables observe_mixture(OrderParameters op, const Eigen::MatrixXd& means);

    /// Several teachers (docs/theory.md §17): eps_g on every teacher (head t for teacher t),
    /// the current task's as eg; R the current task's block, T teacher 1's.
    [[nodiscard]] Observables observe_teachers(OrderParameters op);

    ModelParams model_;
    int samples_;
    NormalStream rng_;
    std::optional<MixtureSampler> mixture_; ///< with inputs = mixture
    std::optional<BayesError> bayes_;       ///< its Bayes error, at the first record
};

} // namespace plateau
