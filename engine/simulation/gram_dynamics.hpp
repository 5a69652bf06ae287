// The Gram-matrix sampler, `dynamics = gram` (docs/theory.md §7): a second backend of the
// microscopic dynamics that never holds an N-vector. For fresh isotropic Gaussian examples,
// everything a step reads and changes is a function of the Gram matrix of the K + M rows,
// G = [[Q, R], [R^T, T]], and of v: (G, v) is a Markov chain whose transition is sampled exactly
// in O((K+M)^3), whatever N. A gram run has the law of a full run of the same configuration at
// every N (not its random numbers: the two backends draw different samples of the same law).
// With mixture inputs (docs/theory.md §15d) the D axes e_1 .. e_D of the means are rows of the
// Gram matrix too (students, teachers, axes: r = K + M + D), and the chain stays exact. With
// momentum (docs/theory.md §6c) the K velocity rows come last (r = 2K + M + D): exact as well.
//
// Streams of run (seed, run): the initial Gram matrix from purpose gram_initial (8); the r field
// normals z and the chi^2_{N-r} of every step from purpose gram_steps (9); the label noise from
// purpose noise (4), as the trainer; Monte-Carlo eps_g from the observer's stream (5). With
// mixture inputs a step draws, from purpose 9, the r normals z, then one uniform (the cluster,
// as MixtureSampler::cluster), then the chi^2.
#pragma once

#include "engine/core/errors.hpp"
#include "engine/core/random.hpp"
#include "engine/core/run_params.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/mixture_source.hpp"
#include "engine/simulation/observer.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace plateau {

/// Gamma(shape, 1) variates, shape > 0 (Marsaglia & Tsang 2000: one normal and one uniform per
/// try, ~98% accepted at once for shape >= 1; shape < 1 through Gamma(shape + 1) U^(1/shape)),
/// from the normals and uniforms of a stream. The constants of the shape are computed once.
class GammaSampler {
public:
    explicit GammaSampler(double shape) noexcept;
    [[nodiscard]] double operator()(NormalStream& rng) const noexcept;

private:
    double boost_ = 0.0; ///< 1/shape when shape < 1, else 0
    double d_ = 0.0;     ///< max(shape, shape + 1) - 1/3
    double c_ = 0.0;     ///< 1/sqrt(9 d)
};

/// One Gamma(shape, 1) variate (GammaSampler(shape)(rng)).
[[nodiscard]] double gamma_variate(NormalStream& rng, double shape) noexcept;
/// A chi^2 variate with dof > 0 degrees of freedom: 2 Gamma(dof/2, 1).
[[nodiscard]] double chi_squared_variate(NormalStream& rng, double dof) noexcept;

/// A Wishart_p(dof, I) matrix by the Bartlett decomposition (docs/theory.md §7): S = A A^T, A
/// lower triangular, A_ii = sqrt(chi^2_{dof-i}) (i = 0..p-1), A_ij ~ N(0, 1) below the diagonal,
/// drawn row by row. dof > p - 1. Exactly symmetric.
[[nodiscard]] Eigen::MatrixXd wishart_bartlett(NormalStream& rng, int p, double dof);

/// constraint = sphere on a Gram matrix (docs/theory.md §14): rows and columns j < K (the
/// students) multiplied by 1/sqrt(G_jj), so G_jj = 1 exactly; G stays exactly symmetric.
void project_gram_to_sphere(Eigen::MatrixXd& G, int K) noexcept;

/// The rows r of the Gram matrix that a `dynamics = gram` run of p holds (GramChain::r, which
/// asserts that it equals this): the K students, every teacher's units (teacher_units), with
/// mixture inputs the means' D axes (docs/theory.md §15d, Eq. (15d.1): r = K + M + D) and with
/// momentum the K velocity rows (§6c).
[[nodiscard]] int gram_rows(const RunParams& p) noexcept;

/// The initial order parameters keyed by (seed, init_index) (the run index, or the seed index
/// with init-seed = shared: CampaignSpec::init_index_of), drawn from their exact law at this N
/// (docs/theory.md §7) from stream purpose gram_initial (gram_initial_shared): the start of the
/// gram run, and of `plateau ode --init sample` when dynamics = gram. Needs N > K + M.
/// With inputs = mixture: the Q, R, T of sample_initial_mixture_gram.
[[nodiscard]] OrderParameters sample_initial_gram(const RunParams& params, std::uint64_t seed,
                                                  std::uint64_t init_index);

/// The start of a gram run with mixture inputs (docs/theory.md §15d): the order parameters and
/// the overlaps of the K + M rows (students, then teachers) with the axes e_1 .. e_D of the
/// means, `axes` ((K + M) x D: w_j . e_d, B_n . e_d), drawn jointly from their exact law at this
/// N (Eqs. (15d.5)-(15d.7)) from stream purpose gram_initial (gram_initial_shared). The rows
/// w_j . mu_c of the means follow: M_jc = sum_d m_cd (w_j . e_d). Needs N > K + M + D.
struct MixtureStart {
    OrderParameters op;
    Eigen::MatrixXd axes;
};
[[nodiscard]] MixtureStart sample_initial_mixture_gram(const RunParams& params, std::uint64_t seed,
                                                       std::uint64_t init_index);

/// The chain's state and its transition, without random numbers: step() is fed the draws, so
/// that a test can feed it the (z, chi^2) of an explicit example. A step also updates the
/// Cholesky factor of G in O(r^2) for the next one (Eq. (G4), r > 8), refactorized every
/// factor_period() steps.
class GramChain {
public:
    /// Gaussian inputs.
    GramChain(const RunParams& params, const OrderParameters& initial);
    /// Mixture inputs (docs/theory.md §15d): `axes` ((K + M) x D) are the overlaps of the
    /// students' and teachers' rows with the means' axes e_1 .. e_D (MixtureStart::axes).
    GramChain(const RunParams& params, const OrderParameters& initial, const Eigen::MatrixXd& axes);

    [[nodiscard]] int K() const noexcept { return K_; }
    [[nodiscard]] int M() const noexcept { return M_; }
    /// The mixture's D axes as rows of G (0 for Gaussian inputs).
    [[nodiscard]] int D() const noexcept { return D_; }
    /// With momentum (docs/theory.md §6c): the K velocity rows u_j, after every other row
    /// (0 without momentum).
    [[nodiscard]] int V() const noexcept { return V_; }
    [[nodiscard]] int r() const noexcept { return K_ + M_ + D_ + V_; }

    /// L with G = L L^T, lower triangular: the Cholesky factor, with the pivots that are zero
    /// up to rounding (|p| <= 1e-14 G_jj: a rank-deficient G) set to zero with their column.
    /// False, leaving the factor undefined, when G is not finite or not positive semi-definite
    /// beyond rounding: the run diverged.
    [[nodiscard]] bool factorize() noexcept;
    /// The factor for the next step (docs/theory.md §7, "Updating the factor"): the one the last
    /// step's rank-two update left (Eq. (G4)), or a fresh factorize() when that is
    /// factor_period() steps old, when the update was not made (momentum, r <= 8 by default, a
    /// zero pivot, a downdate that would lose positive definiteness). False as factorize() (the
    /// run diverged).
    [[nodiscard]] bool refresh_factor() noexcept;
    /// Steps between fresh factorizations: 1 refactorizes every step (the reference of
    /// bench_gram), default_factor_period by default (docs/PERFORMANCE.md, "The Gram chain's
    /// factor, updated"). The factor is updated only when r > update_min_rows (or when
    /// update_small is set).
    void set_factor_period(int period, bool update_small = false) noexcept;
    [[nodiscard]] int factor_period() const noexcept { return factor_period_; }
    /// Whether the current factor comes from an update (not a fresh factorize()).
    [[nodiscard]] bool factor_updated() const noexcept { return since_factor_ > 0; }
    static constexpr int default_factor_period = 256;
    static constexpr int update_min_rows = 9; ///< the unrolled Cholesky (r <= 8) is cheaper
    /// Each rate's s(alpha) for the step from `step` (StepRule::rate_factors, docs/theory.md
    /// §6b).
    [[nodiscard]] RateFactors rate_factors(std::int64_t step) const noexcept {
        return rule_.rate_factors(step);
    }
    /// The factor of the last factorize(), or of G after the last step when it updated it
    /// (factor_updated(); after a step that did not, undefined until refresh_factor()).
    [[nodiscard]] const Eigen::MatrixXd& factor() const noexcept { return L_; }

    /// One step from the factor of the last factorize(): fields (x, y) = L z, |xi|^2 = |z|^2 +
    /// chi2, label noise zeta (0 without noise), then Eq. (5)'s update of G and Eq. (3)'s of v
    /// (docs/theory.md §7), each rate times its factor of `rates`. z has r() entries. False if the
    /// output is not finite (diverged).
    [[nodiscard]] bool step(std::span<const double> z, double chi2, double zeta,
                            RateFactors rates = {}) noexcept;
    /// One step with mixture inputs (docs/theory.md §15d), an example of `cluster`: fields
    /// A mu_c + sqrt(Delta) L z (Eq. (15d.2)), |xi|^2 from z and chi2 by Eq. (15d.3), the label
    /// y_c + zeta, then the update of step(). z has r() entries, chi2 is chi^2_{N-r}.
    [[nodiscard]] bool mixture_step(std::span<const double> z, double chi2, std::size_t cluster,
                                    double zeta, RateFactors rates = {}) noexcept;

    [[nodiscard]] const Eigen::MatrixXd& gram() const noexcept { return G_; }
    [[nodiscard]] const Eigen::VectorXd& v() const noexcept { return v_; }
    [[nodiscard]] OrderParameters order_parameters() const;
    /// Several teachers (docs/theory.md §17): the current task, the task of the step from
    /// `step` (StepRule::task), and the switch to `task` (per-task heads swapped as in a full
    /// run).
    [[nodiscard]] int task() const noexcept { return task_; }
    [[nodiscard]] int task_of(std::int64_t step, int threshold_switches) const noexcept {
        return rule_.task(step, threshold_switches);
    }
    void switch_task(int task) noexcept;
    /// With mixture inputs, the students' overlaps with the means, M_jc = w_j . mu_c (K x C,
    /// Eq. (15d.4)).
    [[nodiscard]] Eigen::MatrixXd mean_overlaps() const;
    /// The mixture, with mixture inputs.
    [[nodiscard]] const std::optional<Mixture>& mixture() const noexcept { return mixture_; }

    /// Counts of a run's factors (docs/PERFORMANCE.md): fresh factorizations, updates, and
    /// updates refused (then a fresh factorization follows).
    struct FactorCounts {
        std::int64_t fresh = 0;
        std::int64_t updated = 0;
        std::int64_t refused = 0;
    };
    [[nodiscard]] const FactorCounts& factor_counts() const noexcept { return counts_; }

    /// The dense kernels for this r (unrolled for small r).
    struct Kernels {
        bool (*factorize)(const double* G, double* L, double* inv_diag, int r) noexcept;
        double (*fields)(const double* L, const double* z, double* u, int r) noexcept;
    };

private:
    /// The passes and the update of G and v from the fields u_ and |xi|^2 of this step's
    /// example, its label `label` (mixtures) or the target's, plus zeta.
    [[nodiscard]] bool learn(double xi2, std::optional<double> label, double zeta,
                             RateFactors rates) noexcept;
    /// learn()'s update of G and v with momentum (docs/theory.md §6c), from the row
    /// coefficients d_, the decay factor s = 1 - eta lambda/N and de/dv.
    void learn_with_momentum(double xi2, double s, double eta_v_over_n,
                             std::span<const double> grad_v) noexcept;

    /// After G's update of learn() (Eq. (G3) with the decay's s): the factor of the new G by
    /// Eq. (G4) from the coordinates coords_ of the example's projection, d_, |xi|^2 and s;
    /// false (the factor is then stale) when it cannot be trusted.
    [[nodiscard]] bool update_factor(double xi2, double s) noexcept;

    bool (*factorize_kernel_)(const double*, double*, double*, int) noexcept = nullptr;
    double (*fields_kernel_)(const double*, const double*, double*, int) noexcept = nullptr;
    StepRule rule_; ///< the networks, what learns, the step sizes
    double lambda_; ///< weight decay: W <- (1 - eta lambda/N) W each step (Eq. (8))
    int K_;
    int M_;
    int D_;                          ///< the mixture's axes (0 for Gaussian inputs)
    int V_;                          ///< velocity rows: K with momentum, else 0
    double beta_;                    ///< momentum (docs/theory.md §6c)
    std::optional<Mixture> mixture_; ///< with inputs = mixture
    Eigen::MatrixXd G_;              ///< r x r, exactly symmetric
    Eigen::MatrixXd L_;              ///< r x r, lower triangular
    Eigen::VectorXd inv_diag_;       ///< 1/L_jj, 0 for a zero pivot
    // The factor's update (Eq. (G4)): the steps between fresh factorizations, the steps since
    // the last one (-1: the factor is stale), whether this r updates, the example's coordinates
    // in the factor's basis (z, or with mixture inputs those of mu_c + sqrt(Delta) z), scratch.
    int factor_period_ = default_factor_period;
    std::int64_t since_factor_ = -1;
    bool update_rows_ = false;
    Eigen::VectorXd coords_;
    Eigen::MatrixXd update_work_;
    FactorCounts counts_;
    Eigen::VectorXd v_;
    Eigen::VectorXd v_star_;
    // Scratch: the r fields, the K field errors and row coefficients d, de/dv.
    Eigen::VectorXd u_;
    Eigen::VectorXd grad_fields_;
    Eigen::VectorXd d_;
    Eigen::VectorXd grad_v_;
    // Momentum: G before the step, the velocities of v and of W_2..W_L (their rows' are in G).
    Eigen::MatrixXd G_before_;
    Eigen::VectorXd velocity_v_;
    LayerWeights velocity_layers_;
    // Deeper networks: the weights above the first layer (student, teacher), the passes'
    // workspaces and the gradient of W_2..W_L.
    LayerWeights layers_;
    LayerWeights layers_star_;
    DeepWorkspace student_pass_;
    DeepWorkspace teacher_pass_;
    LayerWeights grad_layers_;
    // Several teachers (docs/theory.md §17): M of one teacher, the current task, the heads.
    int units_;
    int task_;
    Eigen::MatrixXd heads_;
};

/// The backend: the chain from sample_initial_gram(), advanced with the run's streams, observed
/// through the Observer (order parameters = G's blocks, eps_g by the same function of (Q, R, T,
/// v, v*) as a full run).
class GramDynamics final : public Dynamics {
public:
    /// Run `run` of a campaign, its initial Gram matrix keyed by `init_index`.
    GramDynamics(const RunParams& params, std::uint64_t seed, std::uint64_t run,
                 std::uint64_t init_index);

    [[nodiscard]] bool advance_to(double alpha) override;
    [[nodiscard]] Observables observe() override;
    [[nodiscard]] const GramChain& chain() const noexcept { return chain_; }
    /// GramChain::set_factor_period (bench_gram's reference: 1, refactorize every step).
    void set_factor_period(int period, bool update_small = false) noexcept {
        chain_.set_factor_period(period, update_small);
    }
    [[nodiscard]] std::int64_t step() const noexcept { return step_; }

private:
    GramChain chain_;
    std::int64_t N_;
    GammaSampler half_chi2_; ///< Gamma((N - r)/2): chi^2_{N-r} / 2
    double noise_sd_;
    NormalStream draws_;
    NormalStream noise_;
    Observer observer_;
    std::optional<MixtureSampler> clusters_; ///< with mixture inputs: the cluster of a uniform
    Eigen::VectorXd z_;
    std::int64_t step_ = 0;
    /// As SimulationDynamics: record times that round to the same step are observed once when
    /// eps_g is exact.
    std::optional<std::pair<std::int64_t, Observables>> last_;
    bool eg_exact_ = false;
    RunParams params_;               ///< the task schedule (docs/theory.md §17)
    int threshold_switches_ = 0;     ///< switches made by switch-eg-below
    std::vector<double> task_start_; ///< the alpha at which each task began (switch_alpha)
};

} // namespace plateau
