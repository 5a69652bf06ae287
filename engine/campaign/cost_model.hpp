// Cost model of a campaign: how long its runs take on this build and machine, before running
// them (`plateau run --dry-run`). A run's time is the sum of terms, each a count of work from the
// run's parameters times a coefficient in seconds measured by short probes of the engine itself
// (calibrate_cost_model); docs/PERFORMANCE.md, "Cost model", has the measured coefficients and
// the accuracy.
//
//   step        N (a + b (2K+M)) + c (K+M+1)      N normals, (K+M) N field and K N update
//                                                multiply-adds, the K+M activations
//   record      (K+M)^2 N gram [+ (K+M)^2 pair]   the Gram product of Q, R, T [+ closed-form eps_g]
//   Monte Carlo S (sample + (K+M) unit            eps_g from S = eg-samples draws of the K+M fields
//                  + (K+M)^2 pair)
//                                                (only where no closed form exists: eg_method)
//   gram step   chain + (K+M)^3 chain_cubic       dynamics = gram: no term in N (records:
//                                                (K+M)^2 pair; setup: run + records x record)
//   setup       (K+M) N init + run + records      the initial weights; the bookkeeping of a
//                 x record                        run (its objects, the campaign's hand-off)
//                                                and of each record (copies, the result)
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
    /// dynamics = gram (docs/theory.md §7), per step: t = chain + (K+M)^3 chain_cubic, whatever
    /// N (the Cholesky of the r x r Gram matrix dominates for large r). Probed only for a
    /// campaign with gram points (0 otherwise).
    double chain = 0.0;
    double chain_cubic = 0.0;
};

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

    [[nodiscard]] double total() const noexcept { return steps + records + monte_carlo + setup; }
};

/// Predicted seconds of a campaign.
struct CampaignCost {
    RunCost sum;              ///< all runs' costs added, by term
    double longest_run = 0.0; ///< the most expensive run
    double makespan = 0.0;    ///< wall time with `workers` threads: max(sum / workers, longest)
    int workers = 1;
};

/// The counts of work of one run (see the table above): what the coefficients multiply.
[[nodiscard]] RunCost predict_run(const CostModel& model, const RunParams& p);

/// All runs of `spec` on `workers` threads. O(grid points), whatever the number of seeds.
[[nodiscard]] CampaignCost predict_campaign(const CostModel& model, const CampaignSpec& spec,
                                            int workers);

/// How hard calibrate_cost_model probes.
struct ProbeOptions {
    int repetitions = 9;             ///< per probe; the median counts
    double seconds_per_probe = 1e-3; ///< work of one repetition of a step probe
    std::size_t max_classes = 8;     ///< Monte-Carlo classes probed at most
};

/// Measures the coefficients with short runs of canonical configurations (the same whatever the
/// campaign or its order: erf units, linear outputs, N = 1024 and 32, K = M = 1 and 8; a
/// non-negative least-squares fit of the counts of work to the timings) and the
/// Monte-Carlo eps_g of each activation class of `spec` that has no closed form (sorted by
/// class, at most options.max_classes). A few tens of milliseconds.
[[nodiscard]] CostModel calibrate_cost_model(const CampaignSpec& spec,
                                             const ProbeOptions& options = {});

} // namespace plateau
