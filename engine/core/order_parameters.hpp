// The macroscopic state of a run and what one record measures: the order parameters
//     Q_jk = w^(j).w^(k),  R_jn = w^(j).B_n,  T_nm = B_n.B_m
// (docs/theory.md §1), with v, v* and, for deeper networks, the weights above the first layer;
// and the Observables a record holds. The bottom layer: the observer (simulation/), the theory
// (theory/) and the file's variable table (io/) all speak in these types.
#pragma once

#include "engine/core/manifold_modes.hpp"
#include "models/deep_network.hpp"

#include <Eigen/Core>

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace plateau {

/// The macroscopic state: everything eps_g and the ODEs depend on. T and v_star are constant
/// in time. (The theory's flow() returns the derivatives d/dalpha in the same struct.)
struct OrderParameters {
    Eigen::MatrixXd Q;      ///< K x K, Q_jk = w^(j).w^(k)
    Eigen::MatrixXd R;      ///< K x M, R_jn = w^(j).B_n
    Eigen::MatrixXd T;      ///< M x M, T_nm = B_n.B_m
    Eigen::VectorXd v;      ///< K, student second layer (K_L output weights if deeper)
    Eigen::VectorXd v_star; ///< M, teacher second layer (M_L output weights if deeper)
    /// Deeper networks (docs/theory.md §12): the weights above the first layer, which with the
    /// first layer's Q, R, T determine eps_g. Empty with one hidden layer.
    LayerWeights layers;
    LayerWeights layers_star;
    /// Mixture inputs (docs/theory.md §15, §15c): the students' overlaps with the means,
    /// M_jc = w^(j).mu_c (K x C), an order parameter of the mixture theory. Empty otherwise.
    Eigen::MatrixXd mean_overlaps{};
    /// Hidden-manifold inputs (docs/theory.md §16b): the order parameters resolved by the
    /// eigenmodes of the inputs' covariance, the state of the manifold theory. Empty otherwise.
    ManifoldModes manifold{};
    /// Several teachers (docs/theory.md §17): R is K x (teachers M) and T (teachers M)^2 over
    /// every teacher's units (block t: columns t M .. t M + M - 1), v_star their second layers
    /// end to end; `task` is the current task (0-based), and with heads = per-task `heads` holds
    /// every task's head (K x teachers; column `task` is v, the head that learns). Empty `heads`:
    /// one shared v.
    int task = 0;
    Eigen::MatrixXd heads{};
};

/// The names of the extra observables (the keys of Observables::extras), each the name of its
/// variable in a campaign file. Producers and the file's variable table (engine/io/variables.cpp)
/// use these constants, never a spelled-out name; the writer refuses a key that is not a variable
/// of its file's kind (CampaignWriter::write).
/// The probability levels of extra_name::escape_predicted_law (schema 1.13): j/100 for j = 1 .. 99,
/// so that 0.1, 0.5 and 0.9 (escape_predicted_q10, _q50, _q90) are levels 9, 49 and 89 exactly.
inline constexpr std::size_t escape_law_levels = 99;
inline constexpr std::array<double, escape_law_levels> escape_law_level_values = [] {
    std::array<double, escape_law_levels> q{};
    for (std::size_t j = 0; j < q.size(); ++j)
        q[j] = static_cast<double>(j + 1) / static_cast<double>(escape_law_levels + 1);
    return q;
}();

namespace extra_name {
/// Training error on the training set (docs/theory.md §6): Trainer::measure, with a training set.
inline constexpr std::string_view eps_train = "eps_train";
/// Examples seen (docs/theory.md §6): Trainer::measure.
inline constexpr std::string_view examples = "examples";
/// Estimated relative error of the joint rule's flow (docs/theory.md §10): TheoryDynamics.
inline constexpr std::string_view flow_error = "flow_error";
/// Escape rate at the symmetric fixed point (docs/theory.md §11): `plateau ode`.
inline constexpr std::string_view escape_rate = "escape_rate";
/// Largest stable learning rate of the specialized fixed point (docs/theory.md §11): `plateau ode`.
inline constexpr std::string_view eta_max = "eta_max";
/// eps_g at the symmetric fixed point, the plateau's height (docs/theory.md §11): `plateau ode`.
inline constexpr std::string_view plateau_eg = "plateau_eg";
/// Predicted mean escape time at the run's N (docs/theory.md §11): `plateau ode`.
inline constexpr std::string_view escape_predicted = "escape_predicted";
/// The predicted law of the escape time at the run's N (docs/theory.md §11.2b), schema 1.9: its
/// standard deviation and its 10, 50 and 90 % quantiles.
inline constexpr std::string_view escape_predicted_sd = "escape_predicted_sd";
inline constexpr std::string_view escape_predicted_q10 = "escape_predicted_q10";
inline constexpr std::string_view escape_predicted_q50 = "escape_predicted_q50";
inline constexpr std::string_view escape_predicted_q90 = "escape_predicted_q90";
/// The whole predicted law (docs/theory.md §11.2b), schema 1.13: its quantiles at the levels
/// escape_law_level_values = 0.01, 0.02, ..., 0.99 (dimension
/// escape_level), escape_law_levels values per run.
inline constexpr std::string_view escape_predicted_law = "escape_predicted_law";
/// The order parameters' standard deviations at the run's N along its trajectory, the
/// linear-noise approximation of docs/theory.md §11.2c (`plateau ode --fluctuations`), schema
/// 1.10: sqrt(Sigma_ii / N) of Q (K x K), R (K x M) and v (K; 0 for a fixed second layer).
inline constexpr std::string_view Q_sd = "Q_sd";
inline constexpr std::string_view R_sd = "R_sd";
inline constexpr std::string_view v_sd = "v_sd";
/// The weights above the first layer, student and teacher (docs/theory.md §12): the observer.
inline constexpr std::string_view student_layers = "student_layers";
inline constexpr std::string_view teacher_layers = "teacher_layers";
/// The classification error P(sign sigma != y) on fresh inputs (docs/theory.md §15): the
/// observer, with mixture inputs.
inline constexpr std::string_view class_error = "class_error";
/// The students' overlaps with the mixture's means, M_jc = w_j . mu_c (docs/theory.md §15),
/// K x C row-major: the observer, with mixture inputs.
inline constexpr std::string_view mean_overlaps = "mean_overlaps";
/// The mixture's Bayes error and its Monte-Carlo standard error (docs/theory.md §15b): the
/// observer, one value per run from its grid point.
inline constexpr std::string_view bayes_error = "bayes_error";
inline constexpr std::string_view bayes_error_stderr = "bayes_error_stderr";
/// Several teachers (docs/theory.md §17), schema 1.8 (NaN with one teacher). Per record:
/// eps_g of the student on every teacher t (head t with heads = per-task), `teachers` values;
/// the current task (0-based; `current_task`, the dimension `task` being the teachers), 1 value; R
/// with every teacher unit, K x (teachers M) row-major. Per run: T over every teacher unit,
/// (teachers M)^2; the alpha of each switch made (into task t = 1, 2, ... at entry t - 1; NaN
/// padded to `teachers` entries). In the file R (K x M) holds the overlaps with the current task's
/// teacher and T (M x M) teacher 1's block, so that eg, Q, R, T describe the task being learned.
inline constexpr std::string_view eg_tasks = "eg_tasks";
inline constexpr std::string_view current_task = "current_task";
inline constexpr std::string_view R_teachers = "R_teachers";
inline constexpr std::string_view T_teachers = "T_teachers";
inline constexpr std::string_view switch_alpha = "switch_alpha";
/// Saved weights (`save-weights`, analysis/SCHEMA.md "Saved weights"), schema 1.11, per run, in
/// the extras of the run's first record: the alpha they were taken at, the student's first
/// layer W (K x N row-major, w_j as row j, so Q = W W^T) and readout v (K), the teacher's B
/// (M x N) and v* (M).
inline constexpr std::string_view weights_alpha = "weights_alpha";
inline constexpr std::string_view weights_W = "weights_W";
inline constexpr std::string_view weights_v = "weights_v";
inline constexpr std::string_view weights_B = "weights_B";
inline constexpr std::string_view weights_v_star = "weights_v_star";
/// Saved weights at every record (`save-weights = records`), schema 1.12, in the extras of every
/// record: the student's W (K x N row-major) and v (K) at that record's time. The teacher does not
/// move: its B and v* are weights_B and weights_v_star.
inline constexpr std::string_view record_weights_W = "record_weights_W";
inline constexpr std::string_view record_weights_v = "record_weights_v";
inline constexpr std::array all{eps_train,
                                examples,
                                flow_error,
                                escape_rate,
                                eta_max,
                                plateau_eg,
                                escape_predicted,
                                escape_predicted_sd,
                                escape_predicted_q10,
                                escape_predicted_q50,
                                escape_predicted_q90,
                                escape_predicted_law,
                                Q_sd,
                                R_sd,
                                v_sd,
                                student_layers,
                                teacher_layers,
                                class_error,
                                mean_overlaps,
                                bayes_error,
                                bayes_error_stderr,
                                eg_tasks,
                                current_task,
                                R_teachers,
                                T_teachers,
                                switch_alpha,
                                weights_alpha,
                                weights_W,
                                weights_v,
                                weights_B,
                                weights_v_star,
                                record_weights_W,
                                record_weights_v};
} // namespace extra_name

struct Observables {
    Eigen::MatrixXd Q; ///< K x K
    Eigen::MatrixXd R; ///< K x M
    Eigen::MatrixXd T; ///< M x M
    Eigen::VectorXd v; ///< K
    double eg = 0.0;
    /// Standard error of eg: 0 for a closed form, the Monte-Carlo standard error otherwise.
    double eg_stderr = 0.0;
    /// Named extra observables, keyed by a name of `extra_name::` (a variable of
    /// engine/io/variables.cpp with field `extra`), row-major over that variable's dimensions
    /// after run and alpha. An extra a run never produced is absent here and NaN in the file.
    std::map<std::string, Eigen::VectorXd, std::less<>> extras{};
};

} // namespace plateau
