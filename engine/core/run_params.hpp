// Plain value structs describing one teacher-student run. The engine takes these; parsing
// configuration files and command lines is the job of experiments/.
#pragma once

#include "engine/core/enum_table.hpp"
#include "engine/core/errors.hpp"
#include "engine/core/rate_schedule.hpp"
#include "models/hidden_manifold.hpp"
#include "models/loss.hpp"
#include "models/mixture.hpp"
#include "models/network.hpp"
#include "models/target.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace plateau {

enum class TeacherInit {
    orthonormal, ///< B_n orthonormal: T = identity exactly
    gaussian,    ///< B_n,i ~ N(0, 1/N): T = identity + O(1/sqrt N)
};

/// The teacher's weights above its first layer, W*_2 ... W*_L of a deeper teacher (the
/// `teacher-upper` key, docs/theory.md §12).
enum class TeacherUpper {
    random, ///< (W*_l)_jk ~ N(0, 1/M_{l-1}): every unit of a layer weighs the layer below its own
            ///< way
    equal,  ///< (W*_l)_jk = 1/sqrt(M_{l-1}): the units of every layer interchangeable, a
            ///< symmetric plateau (docs/theory.md §12)
};

enum class ScheduleKind {
    log,    ///< alpha = 0, then records-1 points log-spaced in [alpha_min, alpha_max]
    linear, ///< records points equally spaced in [0, alpha_max]
};

/// Which index keys the random streams of a run's initial weights (teacher and student).
enum class InitSeed {
    run,    ///< the run index: every run starts from its own weights
    shared, ///< the seed index: seed s starts from the same weights at every grid point with
            ///< the same N, K, M (common initial conditions across a sweep)
};

/// How `alpha-max` sets the length of each run of a sweep.
enum class AlphaMaxScale {
    none,        ///< every run lasts alpha_max
    inverse_eta, ///< a run with learning rate eta lasts alpha_max / eta (time in units of eta
                 ///< alpha, in which the plateau's length depends little on eta)
};

/// The student's second layer with several teachers (the `heads` key, docs/theory.md §17).
enum class Heads {
    shared,   ///< one v for every task
    per_task, ///< one head v^t per task: task t's output uses v^t; only the active head learns
};

/// How a run advances (the `dynamics` key): the weights, or the exact chain of their Gram matrix.
enum class DynamicsKind {
    full, ///< the (K+M) x N weights, trained on-line: O((K+M) N) per step
    gram, ///< the exact Markov chain of G = [[Q, R], [R^T, T]] and v: O((K+M)^3) per step (§7)
};

/// Which eta^2 terms the theory's flow keeps (the `ode-eta2` key, docs/theory.md §3 "Small-eta
/// limit"); plateau ode only.
enum class Eta2Terms {
    keep,       ///< the full flow: (eta^2/B) <(e^2 + s^2) d_j d_k> in dQ_jk
    noise_only, ///< the small-eta limit with label noise: (eta^2/B) s^2 <d_j d_k> alone
};

/// How the batches of a finite training set are drawn (docs/theory.md §6).
enum class Sampling {
    epochs,      ///< shuffle the set, sweep it in batches of B; then shuffle again
    replacement, ///< every batch: B indices drawn uniformly, with replacement
};

/// Which weights every run of `plateau run` writes into the campaign file (the `save-weights`
/// key, analysis/SCHEMA.md "Saved weights"): the student's W and v and the teacher's B and v*.
enum class SaveWeights {
    none,    ///< no weights: the file holds the order parameters only
    initial, ///< the weights each run starts from (alpha = 0)
    final,   ///< the weights each run ends with (alpha_max, or where it diverged)
    /// those of `final`, and the student's W and v at every record time (schema 1.12)
    records,
};

/// A constraint on the student's first-layer rows (the `constraint` key, docs/theory.md §14).
enum class Constraint {
    none,   ///< unconstrained SGD
    sphere, ///< after every update (and at the start) each row rescaled to |w_j|^2 = 1, Q_jj = 1
};

/// What an example is (the `inputs` key, docs/theory.md §1 and §15).
enum class InputKind {
    gaussian, ///< xi ~ N(0, I_N), labelled by the target (the teacher)
    mixture,  ///< xi = mu_c + sqrt(Delta) z, labelled y_c by its cluster c (§15)
    /// x = f(F^T c / sqrt D), c ~ N(0, I_D), labelled by the target on the teacher's latent
    /// fields b_n . c / sqrt D (§16)
    hidden_manifold,
};

// Canonical names, as used in configuration files and output attributes: one table per
// enumeration (engine/core/enum_table.hpp gives name(), parse<E>(), names<E>()).
[[nodiscard]] constexpr auto enum_table(TeacherInit) noexcept {
    return std::to_array<EnumEntry<TeacherInit>>(
        {{TeacherInit::orthonormal, "orthonormal"}, {TeacherInit::gaussian, "gaussian"}});
}
[[nodiscard]] constexpr auto enum_table(TeacherUpper) noexcept {
    return std::to_array<EnumEntry<TeacherUpper>>(
        {{TeacherUpper::random, "random"}, {TeacherUpper::equal, "equal"}});
}
[[nodiscard]] constexpr auto enum_table(ScheduleKind) noexcept {
    return std::to_array<EnumEntry<ScheduleKind>>(
        {{ScheduleKind::log, "log"}, {ScheduleKind::linear, "linear"}});
}
[[nodiscard]] constexpr auto enum_table(InitSeed) noexcept {
    return std::to_array<EnumEntry<InitSeed>>(
        {{InitSeed::run, "run"}, {InitSeed::shared, "shared"}});
}
[[nodiscard]] constexpr auto enum_table(AlphaMaxScale) noexcept {
    return std::to_array<EnumEntry<AlphaMaxScale>>(
        {{AlphaMaxScale::none, "none"}, {AlphaMaxScale::inverse_eta, "inverse-eta"}});
}
[[nodiscard]] constexpr auto enum_table(DynamicsKind) noexcept {
    return std::to_array<EnumEntry<DynamicsKind>>(
        {{DynamicsKind::full, "full"}, {DynamicsKind::gram, "gram"}});
}
[[nodiscard]] constexpr auto enum_table(Constraint) noexcept {
    return std::to_array<EnumEntry<Constraint>>(
        {{Constraint::none, "none"}, {Constraint::sphere, "sphere"}});
}
/// ReadoutScale is defined in models/network.hpp (below the engine); its names here.
[[nodiscard]] constexpr auto enum_table(ReadoutScale) noexcept {
    return std::to_array<EnumEntry<ReadoutScale>>(
        {{ReadoutScale::one, "one"}, {ReadoutScale::inverse_k, "inverse-k"}});
}
[[nodiscard]] constexpr auto enum_table(Eta2Terms) noexcept {
    return std::to_array<EnumEntry<Eta2Terms>>(
        {{Eta2Terms::keep, "keep"}, {Eta2Terms::noise_only, "noise-only"}});
}
[[nodiscard]] constexpr auto enum_table(InputKind) noexcept {
    return std::to_array<EnumEntry<InputKind>>({{InputKind::gaussian, "gaussian"},
                                                {InputKind::mixture, "mixture"},
                                                {InputKind::hidden_manifold, "hidden-manifold"}});
}
/// FeatureMap is defined in models/hidden_manifold.hpp (below the engine); its names here.
[[nodiscard]] constexpr auto enum_table(FeatureMap) noexcept {
    return std::to_array<EnumEntry<FeatureMap>>({{FeatureMap::sign, "sign"},
                                                 {FeatureMap::erf, "erf"},
                                                 {FeatureMap::relu, "relu"},
                                                 {FeatureMap::linear, "linear"}});
}
[[nodiscard]] constexpr auto enum_table(Heads) noexcept {
    return std::to_array<EnumEntry<Heads>>(
        {{Heads::shared, "shared"}, {Heads::per_task, "per-task"}});
}
[[nodiscard]] constexpr auto enum_table(SaveWeights) noexcept {
    return std::to_array<EnumEntry<SaveWeights>>({{SaveWeights::none, "none"},
                                                  {SaveWeights::initial, "initial"},
                                                  {SaveWeights::final, "final"},
                                                  {SaveWeights::records, "records"}});
}
[[nodiscard]] constexpr auto enum_table(Sampling) noexcept {
    return std::to_array<EnumEntry<Sampling>>(
        {{Sampling::epochs, "epochs"}, {Sampling::replacement, "replacement"}});
}

/// The allowed values of an integer parameter.
struct IntRange {
    std::int64_t min = 0;
    std::int64_t max = std::numeric_limits<std::int64_t>::max();

    [[nodiscard]] constexpr bool contains(std::int64_t x) const noexcept {
        return min <= x && x <= max;
    }
    /// "an integer >= 1" (no upper bound but the type's) or "an integer from 2 to 2147483647".
    [[nodiscard]] std::string allowed() const;
};

/// The allowed values of a real parameter; NaN and infinities are never allowed.
enum class RealRange { finite, non_negative, positive, unit_interval, below_one };
[[nodiscard]] bool contains(RealRange r, double x) noexcept;
/// "a finite number", "a finite number >= 0", "a finite number > 0", "a finite number from 0 to
/// 1", "a finite number >= 0 and < 1".
[[nodiscard]] std::string_view allowed(RealRange r) noexcept;

/// The range of every bounded field of RunParams, typed once. validate() checks the fields
/// against them, and the configuration keys (cli/config.cpp) refer to the same constants
/// to reject a value, with the same text, as soon as it is read.
namespace limits {
inline constexpr IntRange N{1, std::numeric_limits<std::int64_t>::max()};
inline constexpr IntRange hidden_units{1, std::numeric_limits<int>::max()}; ///< K and M
/// Hidden layers of one network (widths in K = 8x4): deeper networks, docs/theory.md §12.
inline constexpr std::size_t max_hidden_layers = 8;
inline constexpr IntRange records{2, std::numeric_limits<int>::max()};
inline constexpr IntRange eg_samples{100, std::numeric_limits<int>::max()};
/// Points of the joint rule of the theory (docs/theory.md §10): 16 shifted copies of >= 2 each.
inline constexpr IntRange joint_points{32, 1 << 26};
inline constexpr RealRange eta = RealRange::positive; ///< eta and eta_v
inline constexpr RealRange gamma = RealRange::positive;
inline constexpr RealRange v0 = RealRange::finite;
inline constexpr RealRange v_star = RealRange::finite;
inline constexpr RealRange q0 = RealRange::non_negative;
inline constexpr RealRange noise = RealRange::non_negative;
inline constexpr RealRange alpha = RealRange::positive; ///< alpha_max and alpha_min
inline constexpr RealRange divergence_q = RealRange::positive;
inline constexpr RealRange weight_decay = RealRange::non_negative; ///< lambda
inline constexpr RealRange momentum = RealRange::below_one;        ///< beta of docs/theory.md §6c
inline constexpr IntRange batch{1, std::numeric_limits<std::int64_t>::max()};     ///< B
inline constexpr IntRange train_set{1, std::numeric_limits<std::int64_t>::max()}; ///< P
inline constexpr RealRange alpha_train = RealRange::positive;                     ///< P/N
inline constexpr RealRange cluster_variance = RealRange::positive;                ///< Delta of §15
inline constexpr IntRange latent_dim{1, std::numeric_limits<int>::max()};         ///< D of §16
inline constexpr RealRange latent_ratio = RealRange::positive; ///< delta = D/N of §16
/// Several teachers (docs/theory.md §17): how many, their cosines, the eps_g threshold.
inline constexpr IntRange teachers{1, 16};
inline constexpr RealRange overlap = RealRange::unit_interval; ///< teacher- and readout-overlap
inline constexpr RealRange switch_below = RealRange::positive;
} // namespace limits

/// Student and teacher networks and the data they see.
struct ModelParams {
    std::int64_t N = 500; ///< input dimension
    NetworkSpec student{{2}, Activation{ActivationKind::erf}, Activation{ActivationKind::linear}};
    NetworkSpec teacher{{2}, Activation{ActivationKind::erf}, Activation{ActivationKind::linear}};
    bool learn_v =
        false; ///< train the student's second layer v (Eq. 3); the output v of a deeper net
    /// Train the student's weights above the first layer, W_2..W_L, of a deeper network
    /// (docs/theory.md §12): one flag for all of them, or one per layer from W_2 up (a
    /// LayerList); no effect with one hidden layer.
    std::vector<bool> learn_layers{true};
    double v0 = 1.0;     ///< initial student second-layer weights v_j
    double v_star = 1.0; ///< teacher second-layer weights v*_n
    double q0 = 0.2;     ///< student initialization w^(j)_i ~ N(0, q0/N), so Q_jj(0) ~ q0
    TeacherInit teacher_init = TeacherInit::orthonormal;
    TeacherUpper teacher_upper = TeacherUpper::random; ///< W*_2 ... W*_L of a deeper teacher
    InitSeed init_seed = InitSeed::run; ///< what keys the streams of the initial weights
    double noise = 0.0;                 ///< label-noise variance s^2: tau gets + N(0, s^2)
    /// What the label is (docs/theory.md §13): the teacher's committee of Eq. (1), or a
    /// polynomial of its first-layer fields y_1..y_M (then g*, h*, v* play no part in it).
    Target target{};
    /// Projected SGD on the sphere (docs/theory.md §14): the student's rows start on |w_j|^2 = 1
    /// (q0 then plays no part) and are rescaled to it after every update.
    Constraint constraint = Constraint::none;
    /// What an example is: Gaussian (labelled by `target`), or a Gaussian mixture whose
    /// clusters give the labels (docs/theory.md §15; the teacher is then drawn but unused).
    InputKind inputs = InputKind::gaussian;
    Mixture mixture = Mixture::exclusive_or(); ///< the clusters, with inputs = mixture
    /// The latent dimension and feature map of inputs = hidden-manifold (docs/theory.md §16).
    HiddenManifold manifold{};
    /// The per-example loss e(sigma, tau) that is minimised and that eps_g averages (Eq. (2),
    /// or the logistic loss of Eq. (15.3)).
    Loss loss{};
    /// Several teachers (docs/theory.md §17): `teachers` teachers of M units each, teacher t's
    /// first layer b^t_n = rho b^1_n + sqrt(1 - rho^2) b^{t,perp}_n (rho = teacher_overlap) and
    /// second layer v*^t = rho_v v*^1 + sqrt(1 - rho_v^2) |v*^1| u_perp (rho_v = readout_overlap).
    /// The state holds them as one teacher of teachers x M units (teacher_units()), rows
    /// K + t M .. K + (t+1) M - 1 for task t; the label of task t is the target of block t.
    int teachers = 1;
    double teacher_overlap = 0.0;
    double readout_overlap = 1.0;
    /// The alpha of each switch to the next task, strictly increasing, at most teachers - 1:
    /// the task of a step at alpha is the number of points <= alpha (task_at()).
    std::vector<double> switch_at{};
    /// Also switch to the next task when eps_g of the current task, measured at a record, is
    /// below this (it acts at record times only).
    std::optional<double> switch_below{};
    Heads heads = Heads::shared; ///< one student head for all tasks, or one per task

    friend bool operator==(const ModelParams&, const ModelParams&) = default;
};

/// How many examples one update averages over (docs/theory.md §6).
struct BatchSize {
    std::int64_t size = 1; ///< B: the mean gradient of B examples (when !all); 1 is on-line SGD
    bool all = false;      ///< every example of the training set: batch gradient descent, Eq. (7)

    friend bool operator==(const BatchSize&, const BatchSize&) = default;
};

/// The gradient descent (docs/theory.md §1, §6): per update, with B examples mu of the batch,
///   w <- w - (eta/N) ((1/B) sum_mu grad_w e^mu + lambda w),
///   v <- v - (eta_v/N) ((1/B) sum_mu de^mu/dv + lambda v)   (when v is learned).
/// The defaults (B = 1, lambda = 0, fresh examples) are on-line SGD.
struct TrainingParams {
    double eta = 0.5;
    double eta_v = 0.5;
    /// Learning rates of the weights W_2..W_L above the first layer of a deeper network:
    /// W_l <- W_l - (eta_l/N) de/dW_l (docs/theory.md §12): one value for all of them, or one
    /// per layer from W_2 up (a LayerList). Follows eta unless set.
    std::vector<double> eta_layers{0.5};
    double weight_decay = 0.0; ///< lambda
    BatchSize batch{};
    /// P, the size of a finite training set drawn once per run; nullopt (with alpha_train):
    /// a fresh example for every gradient (on-line learning).
    std::optional<std::int64_t> train_set{};
    /// The training set's size as P/N (P = round(alpha_train N)); at most one of the two is set.
    std::optional<double> alpha_train{};
    Sampling sampling = Sampling::epochs; ///< how batches are drawn from a training set
    /// eta(alpha) = eta s(alpha) for every learned layer (eta, eta_v, eta_l), docs/theory.md §6b,
    /// unless a per-layer form below is set.
    RateSchedule eta_schedule{};
    /// The per-layer forms (docs/theory.md §6b): eta_v(alpha) = eta_v s_v(alpha) and eta_l(alpha)
    /// = eta_l s_l(alpha); nullopt (the default): eta_schedule's s. rate_schedules() resolves them.
    std::optional<RateSchedule> eta_v_schedule{};
    std::optional<RateSchedule> eta_layers_schedule{};
    /// Heavy-ball momentum beta (docs/theory.md §6c) on every learned weight: u <- beta u +
    /// (the step without momentum), w <- w + u. 0: plain SGD.
    double momentum = 0.0;

    friend bool operator==(const TrainingParams&, const TrainingParams&) = default;
};

/// The most steps a run may take: alpha_max x N <= 2^53, so that the step count is exact.
inline constexpr double max_run_steps = 9007199254740992.0; // 2^53

/// When observables are recorded, in alpha = steps / N.
struct ScheduleParams {
    double alpha_max = 300.0; ///< the length of this run (after alpha_max_scale is applied)
    int records = 100;
    ScheduleKind kind = ScheduleKind::log;
    double alpha_min = 0.01; ///< first non-zero record time of the log schedule
    AlphaMaxScale alpha_max_scale = AlphaMaxScale::none; ///< how alpha_max was set (a record)
    /// The last time of the record grid shared by every run of a campaign, when the runs have
    /// different lengths (0: alpha_max). The grid is `records` times from 0 to this time; a run
    /// records those at or below its own alpha_max (engine/core/schedule.hpp).
    double axis_alpha_max = 0.0;

    friend bool operator==(const ScheduleParams&, const ScheduleParams&) = default;
};

/// How observables are measured.
struct ObserverParams {
    /// Monte-Carlo samples for eps_g when no closed form exists for the (g, h) pair.
    int eg_samples = 20000;
    /// Points of the theory's joint rule for h != identity or g != g* (docs/theory.md §10).
    int joint_points = 16384;
    /// A run whose Q_jj exceeds this (or whose weights are not finite) is marked diverged.
    double divergence_q = 1e8;

    friend bool operator==(const ObserverParams&, const ObserverParams&) = default;
};

/// Everything that defines one run, apart from its random streams (seed, run index).
struct RunParams {
    ModelParams model;
    TrainingParams training;
    ScheduleParams schedule;
    ObserverParams observer;
    /// How the run advances; gram samples the same law as full (docs/theory.md §7).
    DynamicsKind dynamics = DynamicsKind::full;
    /// The eta^2 terms of the theory's flow (plateau ode; a simulation has all of them).
    Eta2Terms ode_eta2 = Eta2Terms::keep;

    friend bool operator==(const RunParams&, const RunParams&) = default;
};

/// P, the training set's size (train_set, or round(alpha_train N)), or nullopt for fresh
/// examples.
[[nodiscard]] std::optional<std::int64_t> training_set_size(const RunParams& p) noexcept;

/// Examples per update: B, or P for batch = all.
[[nodiscard]] std::int64_t examples_per_update(const RunParams& p) noexcept;

/// D, the latent dimension of inputs = hidden-manifold (docs/theory.md §16): latent-dim, or
/// round(latent-ratio N); 0 when neither is set.
[[nodiscard]] inline std::int64_t latent_dimension(const ModelParams& m) noexcept {
    return latent_dimension(m.manifold, m.N);
}

/// Q_jj at the start of a run: 1 on the sphere (constraint = sphere, docs/theory.md §14), q0
/// otherwise. The symmetric start of `plateau ode --init symmetric` takes it.
[[nodiscard]] inline double initial_q(const ModelParams& m) noexcept {
    return m.constraint == Constraint::sphere ? 1.0 : m.q0;
}

/// The teacher rows of a run: teachers x M (docs/theory.md §17), M with one teacher.
[[nodiscard]] inline int teacher_units(const ModelParams& m) noexcept {
    return m.teachers * m.teacher.hidden();
}

/// The task (0-based teacher index) at alpha (docs/theory.md §17): the number of switch points
/// <= alpha plus the threshold switches made so far (switch-eg-below), at most teachers - 1. A
/// simulation's step from `step` to step + 1 has alpha = step/N, so the switch to task t happens
/// at the first step with alpha >= switch_at[t-1] (StepRule::task counts it in steps).
[[nodiscard]] int task_at(const RunParams& p, double alpha, int threshold_switches = 0) noexcept;

/// switch-eg-below (docs/theory.md §17, §17b): whether a record whose active task `task` has
/// eps_g = `eg` moves the run on to the next task (a threshold is set, eg is below it, and a
/// next task exists). The simulation, the Gram chain and the theory all ask here.
[[nodiscard]] bool switches_below(const RunParams& p, double eg, int task) noexcept;

/// Whether either network has more than one hidden layer (docs/theory.md §12).
[[nodiscard]] bool is_deep(const ModelParams& m) noexcept;

/// The separator of a per-layer list as the configuration writes it: "0.5:0.2". It cannot be
/// confused with the "," of a sweep or the "x" of the widths (8x4).
inline constexpr char layer_separator = ':';

/// A per-layer setting of the weights above the first layer (eta_layers, learn_layers): one
/// value for every layer, or one per layer from W_2 up. The value for W_{l+2} (l = 0..L-2, the
/// index of LayerWeights); the list is valid (validate()).
template <class T>
[[nodiscard]] T layer_value(const std::vector<T>& list, std::size_t l) noexcept {
    return list.size() == 1 ? list.front() : list[l];
}

/// The step of each weight matrix above the student's first layer, W_{l+2} <- W_{l+2} -
/// (eta_l/N) de/dW_{l+2} (docs/theory.md §12, Eq. (12.3)): eta_l/N, or nullopt for a layer that
/// is not learned. Empty for a student with one hidden layer.
[[nodiscard]] std::vector<std::optional<double>> layer_steps(const RunParams& p);

/// What one on-line SGD step takes from RunParams besides the weights: the two networks, which
/// weights learn and their step sizes (Eqs. (3)-(5); Eq. (12.3) of docs/theory.md §12 for the
/// layers above the first). OnlineSgd (engine/simulation/trainer.hpp) applies the step to the
/// weights, GramChain (engine/simulation/gram_dynamics.hpp) to the Gram matrix: both read it from
/// here.
struct StepRule {
    NetworkSpec student;
    NetworkSpec teacher;
    Target target; ///< tau from the teacher's fields (docs/theory.md §13)
    Loss loss;     ///< e(sigma, tau) whose derivative starts the backward pass
    bool learn_v;  ///< train v (Eq. 3), the output weights of any depth
    bool deep;     ///< student or teacher with several hidden layers (§12)
    bool sphere;   ///< constraint = sphere: rows rescaled to |w_j|^2 = 1 after the step (§14)
    std::vector<std::optional<double>> layer_steps; ///< eta_l/N of W_2..W_L (layer_steps())
    double eta_over_n;                              ///< eta/N of the first layer (Eqs. 4-5)
    double eta_v_over_n;                            ///< eta_v/N of v (Eq. 3)
    LayerSchedules schedules;                       ///< s(alpha) of each rate (§6b)
    double n;                                       ///< N, for alpha = step/N
    /// Several teachers (docs/theory.md §17): the label of task t is the target of teacher
    /// block t; the first step of each task after the first by the fixed schedule: the first
    /// step s with s/N >= switch_at[t-1] (task_at(p, s/N) = t).
    int teachers;
    std::vector<std::int64_t> switch_steps;

    explicit StepRule(const RunParams& p);
    /// The task of the step from `step` (docs/theory.md §17): the switch points passed plus the
    /// threshold switches made, at most teachers - 1.
    [[nodiscard]] int task(std::int64_t step, int threshold_switches) const noexcept {
        int t = threshold_switches;
        for (const std::int64_t s : switch_steps)
            t += step >= s ? 1 : 0;
        return std::min(t, teachers - 1);
    }
    /// Each rate's s(alpha) for the step from `step` to step + 1, at alpha = step/N
    /// (docs/theory.md §6b): eta by .w, eta_v by .v, every eta_l by .layers. Exactly 1 for a
    /// constant schedule.
    [[nodiscard]] RateFactors rate_factors(std::int64_t step) const noexcept {
        return schedules.factors(static_cast<double>(step) / n);
    }
    /// Some W_l above the first layer is learned.
    [[nodiscard]] bool learns_layers() const noexcept;
};

/// The run's schedules of eta, eta_v and the eta_l (docs/theory.md §6b): eta-schedule, and the
/// per-layer forms where set, each ending a cosine at the run's alpha_max (with_horizon). The one
/// place the step rule and every theory flow take them from.
[[nodiscard]] LayerSchedules rate_schedules(const RunParams& p);

/// 1/(1 - beta) for momentum beta (docs/theory.md §6c, Eq. (6c.3)): the factor on every rate of
/// the N -> infinity flow, whose limit is SGD's at eta/(1 - beta). Exactly 1 for beta = 0.
[[nodiscard]] double momentum_gain(const TrainingParams& t) noexcept;

/// Whether the run is today's on-line SGD (B = 1, lambda = 0, no momentum, fresh examples).
[[nodiscard]] bool is_online_sgd(const RunParams& p) noexcept;

/// Checks every field against its range in `limits` and the invariants between fields (M <= N
/// for an orthonormal teacher, alpha_min < alpha_max for the log schedule, what dynamics = gram
/// needs: gram_exactness_error); throws ConfigError naming the configuration key of the first
/// bad one.
void validate(const RunParams& p);

/// Why a run with these parameters cannot be sampled exactly by the Gram chain (N <= K + M, or
/// K + M + D with mixture inputs, docs/theory.md §15d; every later option that breaks exactness,
/// docs/theory.md §7, adds its condition here), or nullopt. validate() throws it when dynamics =
/// gram.
[[nodiscard]] std::optional<ConfigError> gram_exactness_error(const RunParams& params);

} // namespace plateau
