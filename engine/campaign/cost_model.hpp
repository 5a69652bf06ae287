// Cost model of a campaign: how long its runs take on this build and machine, before running
// them (`plateau run --dry-run`). A run's time is the sum of terms, each a count of work from the
// run's parameters times a coefficient in seconds measured by short probes of the engine itself
// (calibrate_cost_model); docs/PERFORMANCE.md, "Cost model", has the measured coefficients and
// the accuracy. Per example (on-line: one per step; a mini-batch: B, or P for batch = all):
//
//   step        N (a + b (2K+M)) + c (K+M+1)      N normals (fresh examples only), (K+M) N field
//               + D layer                        and K N update multiply-adds, the K+M
//                                                activations; D = the weights above the first
//                                                layer of both networks (deeper networks, §12)
//   batch step  the same with the batch          MiniBatchSgd (B > 1, weight decay, training
//               coefficients a_B, b_B, c_B       sets): GEMMs of B examples, per example
//   record      (K+M)^2 N gram [+ (K+M)^2 pair]   the Gram product of Q, R, T [+ closed-form eps_g]
//   Monte Carlo S (sample + (K+M) unit            eps_g from S = eg-samples draws of the K+M fields
//                  + (K+M)^2 pair + D mc_layer)   (only where no closed form exists: eg_method;
//                                                always for deeper networks)
//   gram step   chain + r^3 chain_cubic           dynamics = gram: no term in N (r = K+M, + K
//               + D layer                        with momentum, + the means' D axes with
//                                                mixture inputs: gram_rows; records: (K+M)^2
//                                                pair; setup: run + records x record)
//   training    P N init + records x P (N (K+M) b the set drawn once; eps_train at every record
//   set           + (K+M+1) c)
//   setup       (K+M) N init + run + records      the initial weights; the bookkeeping of a
//                 x record                        run (its objects, the campaign's hand-off)
//                                                and of each record (copies, the result)
//   write       write_run + values x write_value  the run written to the file and flushed, on
//                                                the calling thread (values: the doubles of
//                                                the run's records); probed only with a
//                                                WriteProbe (engine/io/write_probe.hpp)
//
// The Monte-Carlo coefficients depend on the activations (tanh, sigmoid, erf cost differently):
// they are probed per class (g, h, g*, h*) of the campaign.
#pragma once

#include "engine/campaign/campaign.hpp"
#include "engine/core/run_params.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace plateau {

/// Seconds per unit of work of the engine's step, record and run setup.
struct StepCoefficients {
    double normal = 0.0;       ///< a: per input component and step (one normal of the example)
    double multiply_add = 0.0; ///< b: per multiply-add of the sweep, (2K+M) N per step
    double unit = 0.0;         ///< c: per hidden unit (plus one) and step: activations, bookkeeping
    double gram = 0.0;         ///< per multiply-add of a record's Gram product, (K+M)^2 N
    double pair = 0.0;         ///< per pair of units of a record's closed-form eps_g, (K+M)^2
    double init = 0.0;         ///< per weight of the initial state, (K+M) N
    double run = 0.0;          ///< per run: its objects, the campaign's hand-off to the consumer
    double record = 0.0;       ///< per record time, whatever is measured: copies, the result
    /// dynamics = gram (docs/theory.md §7), per step: t = chain + r^3 chain_cubic, whatever N
    /// (the Cholesky of the r x r Gram matrix dominates for large r; r = gram_rows: K + M, + K
    /// with momentum, + D with mixture inputs, §15d). Probed only for a
    /// campaign with gram points (0 otherwise).
    double chain = 0.0;
    double chain_cubic = 0.0;
    /// Deeper networks (docs/theory.md §12), per weight above the first layer (both networks)
    /// and example: the forward and backward passes and the update. Probed only for a campaign
    /// with deeper networks (0 otherwise).
    double layer = 0.0;
    /// Per weight above the first layer and Monte-Carlo sample of a deeper network's eps_g.
    double mc_layer = 0.0;
    /// MiniBatchSgd (mini-batches, weight decay, training sets), per example of a batch: the
    /// normals of a fresh example, the multiply-adds of its fields and gradient (two GEMMs), the
    /// activations. Probed only for a campaign with such points (0 otherwise).
    double batch_normal = 0.0;
    double batch_multiply_add = 0.0;
    double batch_unit = 0.0;
    /// Writing a finished run to the file (the writer's flushes), per run and per value written.
    /// Probed only with a WriteProbe (0 otherwise).
    double write_run = 0.0;
    double write_value = 0.0;
};

/// The weights above the first layer of both networks, W_2..W_L and v (D of the table above):
/// 0 for two-layer networks.
[[nodiscard]] double deep_weights(const ModelParams& m) noexcept;

/// The doubles one run puts in the file (its records' Q, R, v, eps_g, ... and the weights above
/// the first layer): what write_value multiplies. An estimate of the file's table, which lives
/// above this layer (engine/io/variables.hpp).
[[nodiscard]] double written_values(const RunParams& p) noexcept;

/// The activations (student g, h, teacher g*, h*) that decide the cost of a Monte-Carlo eps_g.
using ActivationClass = std::array<ActivationKind, 4>;
[[nodiscard]] ActivationClass activation_class(const ModelParams& m) noexcept;

/// Seconds per Monte-Carlo sample of eps_g for one activation class.
struct MonteCarloCoefficients {
    ActivationClass activations{};
    double sample = 0.0; ///< per sample: the outputs h, h*, the loop
    double unit = 0.0;   ///< per hidden unit: a normal, an activation
    double pair = 0.0;   ///< per pair of units: the product u = L z
};

/// A calibrated cost model: the coefficients and how they were measured.
struct CostModel {
    StepCoefficients step;
    /// One entry per Monte-Carlo class probed, sorted by class (independent of the grid order).
    std::vector<MonteCarloCoefficients> monte_carlo;
    double probe_seconds = 0.0;     ///< wall time of all the probes
    double probe_cpu_seconds = 0.0; ///< their CPU time (less on a machine busy with other work)
    int repetitions = 0;            ///< each probe repeated this often; the median counts
    int step_probes = 0;            ///< canonical step and record configurations probed
    /// Monte-Carlo classes of the campaign not probed (beyond the bound): they use the mean of
    /// the probed classes' coefficients.
    std::size_t unprobed_classes = 0;

    /// The coefficients for a class: its own if probed, else the mean of the probed ones.
    [[nodiscard]] MonteCarloCoefficients monte_carlo_for(const ActivationClass& c) const noexcept;
};

/// Predicted seconds of one run, by term.
struct RunCost {
    double steps = 0.0;
    double records = 0.0;
    double monte_carlo = 0.0; ///< the Monte-Carlo eps_g of every record
    double setup = 0.0; ///< the initial weights and the bookkeeping of the run and its records
    double write = 0.0; ///< the run written to the file (on the calling thread)

    [[nodiscard]] double total() const noexcept {
        return steps + records + monte_carlo + setup + write;
    }
};

/// Predicted seconds of a campaign.
struct CampaignCost {
    RunCost sum;              ///< all runs' costs added, by term
    double longest_run = 0.0; ///< the most expensive run
    /// wall time with `workers` threads: max(sum / workers, longest, all writes: one thread)
    double makespan = 0.0;
    int workers = 1;
};

/// The counts of work of one run (see the table above): what the coefficients multiply.
[[nodiscard]] RunCost predict_run(const CostModel& model, const RunParams& p);

/// All runs of `spec` on `workers` threads. O(grid points), whatever the number of seeds.
[[nodiscard]] CampaignCost predict_campaign(const CostModel& model, const CampaignSpec& spec,
                                            int workers);

/// Times writing finished runs to a campaign file: the writer is in engine/io, above this layer
/// (engine/io/write_probe.hpp has one).
class WriteProbe {
public:
    WriteProbe() = default;
    WriteProbe(const WriteProbe&) = delete;
    WriteProbe& operator=(const WriteProbe&) = delete;
    virtual ~WriteProbe() = default;
    /// CPU seconds per run of writing one (or a few) runs of `records` record times of the
    /// canonical network (K = M = 1), flushes included.
    [[nodiscard]] virtual double once(int records) = 0;
    /// The records of the two write probes, and the values each run writes (written_values()).
    static constexpr std::array<int, 2> probe_records{2, 200};
};

/// How hard calibrate_cost_model probes.
struct ProbeOptions {
    int repetitions = 9;             ///< per probe; the median counts
    double seconds_per_probe = 1e-3; ///< work of one repetition of a step probe
    std::size_t max_classes = 8;     ///< Monte-Carlo classes probed at most
    /// Times the per-run file writes; none: the write term is 0 (a campaign that writes no file).
    WriteProbe* writes = nullptr;
};

/// Measures the coefficients with short runs of canonical configurations (the same whatever the
/// campaign or its order: erf units, linear outputs, N = 1024 and 32, K = M = 1 and 8; a
/// non-negative least-squares fit of the counts of work to the timings), the Monte-Carlo eps_g
/// of each activation class of `spec` that has no closed form (sorted by class, at most
/// options.max_classes), and the kinds of work only some campaigns do (the Gram chain,
/// mini-batches, deeper layers, file writes) when `spec` has them. Three stages: the probes,
/// their interleaved repetitions and medians, the fits. A few tens of milliseconds.
[[nodiscard]] CostModel calibrate_cost_model(const CampaignSpec& spec,
                                             const ProbeOptions& options = {});

} // namespace plateau
