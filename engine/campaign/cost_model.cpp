#include "engine/campaign/cost_model.hpp"

#include "engine/simulation/gram_dynamics.hpp"

#include "engine/core/cpu_time.hpp"
#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"

#include <Eigen/QR>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace plateau {

ActivationClass activation_class(const ModelParams& m) noexcept {
    return {m.student.g.kind, m.student.h.kind, m.teacher.g.kind, m.teacher.h.kind};
}

MonteCarloCoefficients CostModel::monte_carlo_for(const ActivationClass& c) const noexcept {
    MonteCarloCoefficients mean{c, 0.0, 0.0, 0.0};
    for (const auto& m : monte_carlo) {
        if (m.activations == c)
            return m;
        mean.sample += m.sample / static_cast<double>(monte_carlo.size());
        mean.unit += m.unit / static_cast<double>(monte_carlo.size());
        mean.pair += m.pair / static_cast<double>(monte_carlo.size());
    }
    return mean;
}

double deep_weights(const ModelParams& m) noexcept {
    if (!is_deep(m))
        return 0.0;
    double d = 0.0;
    for (const NetworkSpec* net : {&m.student, &m.teacher}) {
        const std::vector<int>& w = net->widths;
        for (std::size_t l = 1; l < w.size(); ++l)
            d += static_cast<double>(w[l - 1]) * static_cast<double>(w[l]);
        d += static_cast<double>(w.back()); // v (v*)
    }
    return d;
}

double written_values(const RunParams& p) noexcept {
    // Per record: eg, eg_stderr, eps_train, examples, Q (K^2), R (K M), v (K), student_layers;
    // per run: T (M^2), teacher_layers, status, outcome (analysis/SCHEMA.md, "Data variables").
    const auto layers = [](const std::vector<int>& w) {
        double n = static_cast<double>(w.back());
        for (std::size_t l = 1; l < w.size(); ++l)
            n += static_cast<double>(w[l - 1]) * static_cast<double>(w[l]);
        return n;
    };
    const auto K = static_cast<double>(p.model.student.hidden());
    const auto M = static_cast<double>(p.model.teacher.hidden());
    const auto records = static_cast<double>(p.schedule.records);
    return records * (4.0 + K * K + K * M + K + layers(p.model.student.widths)) + M * M +
           layers(p.model.teacher.widths) + 2.0;
}

RunCost predict_run(const CostModel& model, const RunParams& p) {
    const StepCoefficients& c = model.step;
    const auto N = static_cast<double>(p.model.N);
    const auto K = static_cast<double>(p.model.student.hidden());
    // Every teacher's rows are swept (several teachers: teachers x M, docs/theory.md §17).
    const auto M = static_cast<double>(teacher_units(p.model));
    const auto units = K + M;
    const double D = deep_weights(p.model);
    const std::int64_t steps = run_steps(p.schedule, p.model.N);
    const bool exact = eg_method(p.model) == EgMethod::closed_form;
    // A closed-form measurement is made once per distinct record step (SimulationDynamics::
    // observe); min(records, steps + 1) bounds their number without listing the record times.
    const double records = static_cast<double>(p.schedule.records);
    const double observations =
        exact ? std::min(records, static_cast<double>(steps) + 1.0) : records;

    RunCost cost;
    if (!exact) {
        const MonteCarloCoefficients mc = model.monte_carlo_for(activation_class(p.model));
        cost.monte_carlo = records * static_cast<double>(p.observer.eg_samples) *
                           (mc.sample + units * mc.unit + units * units * mc.pair + D * c.mc_layer);
    }
    cost.write = c.write_run + written_values(p) * c.write_value;
    if (p.dynamics == DynamicsKind::gram) {
        // The chain of the r^2 Gram matrix, r = K + M (+ K velocity rows with momentum,
        // docs/theory.md §6c; + the means' D axes with mixture inputs, §15d, Eq. (15d.1)):
        // nothing of length N (docs/theory.md §7).
        const auto r = static_cast<double>(gram_rows(p));
        cost.steps =
            static_cast<double>(steps) * (c.chain + r * r * r * c.chain_cubic + D * c.layer);
        cost.records = observations * units * units * (exact ? c.pair : 0.0);
        cost.setup = c.run + records * c.record;
        return cost;
    }
    // Training regimes (docs/theory.md §6): an update uses B examples (P with batch = all),
    // drawn fresh (N normals each) or taken from a training set drawn once per run; MiniBatchSgd
    // (any but on-line SGD) has its own coefficients where they were probed.
    const bool batch =
        !is_online_sgd(p) && c.batch_normal + c.batch_multiply_add + c.batch_unit > 0.0;
    const double normal = batch ? c.batch_normal : c.normal;
    const double multiply_add = batch ? c.batch_multiply_add : c.multiply_add;
    const double unit = batch ? c.batch_unit : c.unit;
    const auto per_update = static_cast<double>(examples_per_update(p));
    const std::optional<std::int64_t> set = training_set_size(p);
    const double normals = set ? 0.0 : N * normal;
    cost.steps = static_cast<double>(steps) * per_update *
                 (normals + N * multiply_add * (2.0 * K + M) + unit * (units + 1.0) + D * c.layer);
    cost.records = observations * units * units * (N * c.gram + (exact ? c.pair : 0.0));
    cost.setup = units * N * c.init + c.run + records * c.record;
    if (set) {
        // The set: P N normals once; the training error: the fields of the P examples at
        // every record, and their forward passes.
        const auto P = static_cast<double>(*set);
        cost.setup += P * N * c.init;
        cost.records +=
            records * P * (N * multiply_add * units + unit * (units + 1.0) + D * c.mc_layer);
    }
    if (p.model.inputs == InputKind::hidden_manifold) {
        // docs/theory.md §16: an example is D normals (not N) and the D N multiply-adds of
        // x = f(F^T c / sqrt D), a GEMM over a block of examples (the batch rate where probed,
        // else the sweep's, slower: an overestimate); eps_g is always the Monte Carlo over such
        // examples and the student's K N fields.
        const auto latent = static_cast<double>(latent_dimension(p.model));
        const double gemm = c.batch_multiply_add > 0.0 ? c.batch_multiply_add : c.multiply_add;
        const double example = latent * N * gemm + (latent - N) * normal;
        if (set)
            cost.setup += static_cast<double>(*set) * (example + N * normal);
        else
            cost.steps += static_cast<double>(steps) * per_update * example;
        const MonteCarloCoefficients mc = model.monte_carlo_for(activation_class(p.model));
        cost.monte_carlo =
            records * static_cast<double>(p.observer.eg_samples) *
            (latent * normal + latent * N * gemm + K * N * gemm + mc.sample + units * mc.unit);
    }
    return cost;
}

CampaignCost predict_campaign(const CostModel& model, const CampaignSpec& spec, int workers) {
    CampaignCost out;
    out.workers = std::max(1, workers);
    const auto seeds = static_cast<double>(spec.seeds);
    for (const GridPoint& point : spec.points) {
        const RunCost run = predict_run(model, point.params);
        out.sum.steps += seeds * run.steps;
        out.sum.records += seeds * run.records;
        out.sum.monte_carlo += seeds * run.monte_carlo;
        out.sum.setup += seeds * run.setup;
        out.sum.write += seeds * run.write;
        out.longest_run = std::max(out.longest_run, run.total());
    }
    // Runs go to the workers one at a time, as they free up: the wall time is the total over
    // the workers, but never less than the longest run, nor than the writes, all on the
    // calling thread.
    out.makespan = std::max({out.sum.total() / out.workers, out.longest_run, out.sum.write});
    return out;
}

namespace {

using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point start) {
    return std::chrono::duration<double>(clock::now() - start).count();
}

/// How many units of work of `seconds_each` fill one probe (at least `least`).
std::int64_t count_for(double budget, double seconds_each, std::int64_t least) {
    if (!(seconds_each > 0.0))
        return least;
    return std::clamp(static_cast<std::int64_t>(budget / seconds_each), least,
                      std::int64_t{10'000'000});
}

/// The coefficients c >= 0 that fit the timings t ~ X c best (least squares): each probe is a
/// row of counts of work. Where the exact solution has a negative coefficient (a term below the
/// noise of the timings), the best fit over the subsets of the terms with all coefficients >= 0.
std::vector<double> fit_non_negative(const Eigen::MatrixXd& X, const Eigen::VectorXd& t) {
    const auto terms = static_cast<unsigned>(X.cols());
    std::vector<double> best(terms, 0.0);
    double best_residual = std::numeric_limits<double>::infinity();
    for (unsigned subset = 1; subset < (1U << terms); ++subset) {
        std::vector<Eigen::Index> used;
        for (unsigned j = 0; j < terms; ++j)
            if ((subset & (1U << j)) != 0)
                used.push_back(static_cast<Eigen::Index>(j));
        Eigen::MatrixXd A(X.rows(), static_cast<Eigen::Index>(used.size()));
        for (std::size_t k = 0; k < used.size(); ++k)
            A.col(static_cast<Eigen::Index>(k)) = X.col(used[k]);
        const Eigen::VectorXd c = A.colPivHouseholderQr().solve(t);
        if ((c.array() < 0.0).any() || !c.allFinite())
            continue;
        const double residual = (A * c - t).squaredNorm();
        if (residual < best_residual * (1.0 - 1e-12)) {
            best_residual = residual;
            std::fill(best.begin(), best.end(), 0.0);
            for (std::size_t k = 0; k < used.size(); ++k)
                best[static_cast<std::size_t>(used[k])] = c[static_cast<Eigen::Index>(k)];
        }
    }
    return best;
}

/// The canonical probe configuration: erf units, linear outputs, a small learning rate (no
/// divergence however long the probe), everything else the defaults.
RunParams canonical(std::int64_t N, int K, int M) {
    RunParams p;
    p.model.N = N;
    p.model.student.widths = {K};
    p.model.teacher.widths = {M};
    p.training.eta = 0.1;
    p.training.eta_v = 0.1;
    return p;
}

/// One timing of a piece of the engine. The constructor warms it up and sizes it (about
/// `seconds` of work); each once() times one repetition and returns CPU seconds per unit of
/// work. The repetitions of all probes are interleaved (calibrate_cost_model), so that a slow
/// start (the core's clock still rising) or a slow spell of a shared machine spoils one
/// repetition of each probe rather than every repetition of one.
class Probe {
public:
    Probe() = default;
    Probe(const Probe&) = delete;
    Probe& operator=(const Probe&) = delete;
    virtual ~Probe() = default;
    [[nodiscard]] virtual double once() = 0;
};

/// Seconds per step of the simulation of `p`. Each repetition is a run of its own, allocated
/// while the earlier ones live: the speed of the step depends on where its arrays fall in memory
/// (their offsets modulo 4 KiB), which changes from run to run, and from process to process with
/// address-space randomization; the repetitions sample it as a campaign's runs do.
class StepProbe final : public Probe {
public:
    StepProbe(const RunParams& p, double seconds) : params_(p), N_(static_cast<double>(p.model.N)) {
        SimulationDynamics& run = next_run();
        const double start = thread_cpu_seconds();
        (void)run.advance_to(static_cast<double>(2 * warm_up) / N_);
        steps_ = count_for(seconds, (thread_cpu_seconds() - start) / warm_up, 16);
    }
    double once() override {
        SimulationDynamics& run = next_run();
        const double start = thread_cpu_seconds();
        (void)run.advance_to(static_cast<double>(warm_up + steps_) / N_);
        return (thread_cpu_seconds() - start) / static_cast<double>(steps_);
    }

private:
    static constexpr std::int64_t warm_up = 64;
    /// A new run, past its first steps (untimed: caches, the trainer's first sweep).
    SimulationDynamics& next_run() {
        runs_.push_back(
            std::make_unique<SimulationDynamics>(params_, 0, runs_.size(), runs_.size()));
        (void)runs_.back()->advance_to(static_cast<double>(warm_up) / N_);
        return *runs_.back();
    }

    RunParams params_;
    double N_;
    std::vector<std::unique_ptr<SimulationDynamics>> runs_;
    std::int64_t steps_ = 1;
};

/// Seconds per step of dynamics = gram for `p` (a run of its own, past its first steps).
class ChainProbe final : public Probe {
public:
    ChainProbe(const RunParams& p, double seconds)
        : params_(p), run_(params_, 0, 0, 0), N_(static_cast<double>(p.model.N)) {
        const double start = thread_cpu_seconds();
        (void)run_.advance_to(static_cast<double>(warm_up) / N_);
        steps_ = count_for(seconds, (thread_cpu_seconds() - start) / warm_up, 16);
    }
    double once() override {
        const double start = thread_cpu_seconds();
        (void)run_.advance_to(static_cast<double>(done_ + steps_) / N_);
        done_ += steps_;
        return (thread_cpu_seconds() - start) / static_cast<double>(steps_);
    }

private:
    static constexpr std::int64_t warm_up = 256;
    RunParams params_;
    GramDynamics run_;
    double N_;
    std::int64_t steps_ = 1;
    std::int64_t done_ = warm_up;
};

/// Seconds per measurement (Observer::observe) of a state of `p`.
class ObserveProbe final : public Probe {
public:
    ObserveProbe(const RunParams& p, double seconds)
        : observer_(p, 0, 0), state_(make_initial_state(p.model, 0, 0)) {
        const double start = thread_cpu_seconds();
        (void)observer_.observe(state_);
        calls_ = count_for(seconds, thread_cpu_seconds() - start, 1);
    }
    double once() override {
        const double start = thread_cpu_seconds();
        for (std::int64_t i = 0; i < calls_; ++i)
            (void)observer_.observe(state_);
        return (thread_cpu_seconds() - start) / static_cast<double>(calls_);
    }

private:
    Observer observer_;
    RunState state_;
    std::int64_t calls_ = 1;
};

/// Seconds per initial state of `p`.
class SetupProbe final : public Probe {
public:
    SetupProbe(const ModelParams& m, double seconds) : model_(m) {
        const double start = thread_cpu_seconds();
        (void)make_initial_state(model_, 0, run_++);
        calls_ = count_for(seconds, thread_cpu_seconds() - start, 1);
    }
    double once() override {
        const double start = thread_cpu_seconds();
        for (std::int64_t i = 0; i < calls_; ++i)
            (void)make_initial_state(model_, 0, run_++);
        return (thread_cpu_seconds() - start) / static_cast<double>(calls_);
    }

private:
    ModelParams model_;
    std::uint64_t run_ = 0;
    std::int64_t calls_ = 1;
};

/// Seconds per run of a campaign of 16 tiny runs (16 steps, `records` record times, one
/// worker): the bookkeeping of runs and records, the objects, the hand-off to the consumer.
/// Process CPU time: the campaign's threads work for it.
class CampaignProbe final : public Probe {
public:
    explicit CampaignProbe(int records) : runs_(16) {
        GridPoint point;
        point.params = canonical(16, 1, 1);
        point.params.schedule.kind = ScheduleKind::linear;
        point.params.schedule.alpha_max = 1.0;
        point.params.schedule.records = records;
        spec_.points.push_back(point);
        spec_.seeds = static_cast<std::int64_t>(runs_.size());
        spec_.threads = 1;
        for (std::size_t i = 0; i < runs_.size(); ++i)
            runs_[i] = static_cast<std::int64_t>(i);
    }
    double once() override {
        const double start = process_cpu_seconds();
        execute_campaign(spec_, runs_, [](FinishedRun&&) {});
        return (process_cpu_seconds() - start) / static_cast<double>(runs_.size());
    }

private:
    CampaignSpec spec_;
    std::vector<std::int64_t> runs_;
};

/// One write probe's repetition: WriteProbe::once at its record count.
class WriteRepetition final : public Probe {
public:
    WriteRepetition(WriteProbe& writes, int records) : writes_(writes), records_(records) {}
    double once() override { return writes_.once(records_); }

private:
    WriteProbe& writes_;
    int records_;
};

/// A group of probes fitted together: one row of counts of work per probe (the probes
/// first .. first + rows - 1 of the calibration), and where the fitted coefficients go.
struct FitGroup {
    std::size_t first = 0;
    Eigen::MatrixXd counts;
    std::function<void(const std::vector<double>&, CostModel&)> assign;
};

/// Stage 1 of a calibration: the probes, in a fixed order (independent of the campaign's), and
/// the fits that turn their timings into coefficients.
struct Calibration {
    std::vector<std::unique_ptr<Probe>> probes;
    std::vector<FitGroup> groups;

    /// Adds probes with their rows of counts (one row per probe) and the fit's destination.
    void add(std::vector<std::unique_ptr<Probe>> group, Eigen::MatrixXd counts,
             std::function<void(const std::vector<double>&, CostModel&)> assign) {
        groups.push_back({probes.size(), std::move(counts), std::move(assign)});
        for (auto& probe : group)
            probes.push_back(std::move(probe));
    }
};

/// Probes of `Kind` at each configuration, as a group.
template <class Kind>
std::vector<std::unique_ptr<Probe>> probes_of(const std::vector<RunParams>& configs,
                                              double seconds) {
    std::vector<std::unique_ptr<Probe>> out;
    out.reserve(configs.size());
    for (const RunParams& p : configs)
        out.push_back(std::make_unique<Kind>(p, seconds));
    return out;
}

/// The step configurations (N, K, M) = (1024, 1, 1), (1024, 8, 8), (32, 8, 8) and their counts
/// per example, N, N (2K+M), K+M+1, times `examples` per step.
std::pair<std::vector<RunParams>, Eigen::MatrixXd> step_configurations(double examples) {
    std::vector<RunParams> configs{canonical(1024, 1, 1), canonical(1024, 8, 8),
                                   canonical(32, 8, 8)};
    Eigen::MatrixXd X(3, 3);
    X << 1024.0, 1024.0 * 3.0, 3.0, 1024.0, 1024.0 * 24.0, 17.0, 32.0, 32.0 * 24.0, 17.0;
    return {configs, examples * X};
}

/// On-line steps, records, the initial weights, the bookkeeping: every campaign's work.
void add_common_probes(Calibration& cal, double budget) {
    // Steps: t = N a + N (2K+M) b + (K+M+1) c.
    auto [steps, X] = step_configurations(1.0);
    cal.add(probes_of<StepProbe>(steps, budget), X, [](const std::vector<double>& f, CostModel& m) {
        m.step.normal = f[0];
        m.step.multiply_add = f[1];
        m.step.unit = f[2];
    });
    // Records (closed-form eps_g): t = (K+M)^2 N gram + (K+M)^2 pair at N = 1024 and 32,
    // K = M = 8.
    Eigen::MatrixXd R(2, 2);
    R << 256.0 * 1024.0, 256.0, 256.0 * 32.0, 256.0;
    cal.add(probes_of<ObserveProbe>({canonical(1024, 8, 8), canonical(32, 8, 8)}, budget / 4.0), R,
            [](const std::vector<double>& f, CostModel& m) {
                m.step.gram = f[0];
                m.step.pair = f[1];
            });
    // Setup: the initial weights, per weight.
    std::vector<std::unique_ptr<Probe>> setup;
    setup.push_back(std::make_unique<SetupProbe>(canonical(1024, 8, 8).model, budget / 4.0));
    cal.add(std::move(setup), Eigen::MatrixXd::Constant(1, 1, 16.0 * 1024.0),
            [](const std::vector<double>& f, CostModel& m) { m.step.init = f[0]; });
    // Bookkeeping: t = run + records x record, from campaigns of tiny runs with 2 and 100 record
    // times (16 steps, measured once per step: the observations themselves are negligible).
    std::vector<std::unique_ptr<Probe>> bookkeeping;
    bookkeeping.push_back(std::make_unique<CampaignProbe>(2));
    bookkeeping.push_back(std::make_unique<CampaignProbe>(100));
    Eigen::MatrixXd B(2, 2);
    B << 1.0, 2.0, 1.0, 100.0;
    cal.add(std::move(bookkeeping), B, [](const std::vector<double>& f, CostModel& m) {
        m.step.run = f[0];
        m.step.record = f[1];
    });
}

/// Monte-Carlo eps_g, per activation class of the campaign without a closed form: per sample,
/// t = sample + (K+M) unit + (K+M)^2 pair at K = M = 1, 3 and 8 (N = 32: the Gram product is
/// negligible beside the samples). A class with a closed form for two-layer networks is asked
/// for by deeper networks only: probed as K = M = h x 1 (Monte Carlo at any activations).
void add_monte_carlo_probes(Calibration& cal, const CampaignSpec& spec, const ProbeOptions& o,
                            CostModel& model) {
    std::set<ActivationClass> classes;
    for (const GridPoint& point : spec.points)
        if (eg_method(point.params.model) == EgMethod::monte_carlo)
            classes.insert(activation_class(point.params.model));
    constexpr int samples = 2000;
    constexpr std::array mc_halves{1, 3, 8}; // K = M
    std::size_t probed = 0;
    for (const ActivationClass& k : classes) {
        if (probed == o.max_classes) {
            ++model.unprobed_classes;
            continue;
        }
        ++probed;
        std::vector<RunParams> configs;
        Eigen::MatrixXd S(3, 3);
        for (std::size_t i = 0; i < mc_halves.size(); ++i) {
            const int half = mc_halves[i];
            RunParams p = canonical(32, half, half);
            p.model.student.g.kind = k[0];
            p.model.student.h.kind = k[1];
            p.model.teacher.g.kind = k[2];
            p.model.teacher.h.kind = k[3];
            if (eg_method(p.model) == EgMethod::closed_form) {
                p.model.student.widths = {half, 1};
                p.model.teacher.widths = {half, 1};
            }
            p.observer.eg_samples = samples;
            configs.push_back(p);
            const double units = 2.0 * half;
            S.row(static_cast<Eigen::Index>(i)) << samples, samples * units,
                samples * units * units;
        }
        cal.add(probes_of<ObserveProbe>(configs, o.seconds_per_probe / 4.0), S,
                [k](const std::vector<double>& f, CostModel& m) {
                    m.monte_carlo.push_back({k, f[0], f[1], f[2]});
                });
    }
}

/// The Gram chain: t = chain + r^3 chain_cubic at K = M = 1 and 4 (r = 2 and 8), N = 1024 (the
/// chain's cost does not depend on N).
void add_chain_probes(Calibration& cal, double budget) {
    std::vector<RunParams> configs;
    for (const int half : {1, 4}) {
        RunParams p = canonical(1024, half, half);
        p.dynamics = DynamicsKind::gram;
        configs.push_back(p);
    }
    Eigen::MatrixXd G(2, 2);
    G << 1.0, 8.0, 1.0, 512.0;
    cal.add(probes_of<ChainProbe>(configs, budget), G,
            [](const std::vector<double>& f, CostModel& m) {
                m.step.chain = f[0];
                m.step.chain_cubic = f[1];
            });
}

/// MiniBatchSgd: the step configurations with mini-batches of 8 fresh examples, per example.
void add_batch_probes(Calibration& cal, double budget) {
    constexpr double batch = 8.0;
    auto [configs, X] = step_configurations(batch);
    for (RunParams& p : configs)
        p.training.batch.size = static_cast<std::int64_t>(batch);
    cal.add(probes_of<StepProbe>(configs, budget), X,
            [](const std::vector<double>& f, CostModel& m) {
                m.step.batch_normal = f[0];
                m.step.batch_multiply_add = f[1];
                m.step.batch_unit = f[2];
            });
}

/// Deeper networks: steps and Monte-Carlo eps_g of K = M = 4 x 1 and 4 x 32 x 32 at N = 32 (the
/// square 32 x 32 layer as deeper networks have them); per step t = first + D layer, per
/// observation t = first + samples D mc_layer.
void add_deep_probes(Calibration& cal, double budget) {
    constexpr int samples = 2000;
    std::vector<RunParams> configs;
    Eigen::MatrixXd X(2, 2);
    Eigen::MatrixXd S(2, 2);
    for (const std::vector<int>& widths : {std::vector<int>{4, 1}, std::vector<int>{4, 32, 32}}) {
        RunParams p = canonical(32, 4, 4);
        p.model.student.widths = widths;
        p.model.teacher.widths = widths;
        p.observer.eg_samples = samples;
        const auto row = static_cast<Eigen::Index>(configs.size());
        X.row(row) << 1.0, deep_weights(p.model);
        S.row(row) << 1.0, samples * deep_weights(p.model);
        configs.push_back(p);
    }
    cal.add(probes_of<StepProbe>(configs, budget), X,
            [](const std::vector<double>& f, CostModel& m) { m.step.layer = f[1]; });
    cal.add(probes_of<ObserveProbe>(configs, budget / 4.0), S,
            [](const std::vector<double>& f, CostModel& m) { m.step.mc_layer = f[1]; });
}

/// Per-run file writes: t = write_run + values x write_value at the records of
/// WriteProbe::probe_records (K = M = 1).
void add_write_probes(Calibration& cal, WriteProbe& writes) {
    std::vector<std::unique_ptr<Probe>> group;
    Eigen::MatrixXd W(static_cast<Eigen::Index>(WriteProbe::probe_records.size()), 2);
    for (std::size_t i = 0; i < WriteProbe::probe_records.size(); ++i) {
        RunParams p = canonical(16, 1, 1);
        p.schedule.records = WriteProbe::probe_records[i];
        W.row(static_cast<Eigen::Index>(i)) << 1.0, written_values(p);
        group.push_back(std::make_unique<WriteRepetition>(writes, WriteProbe::probe_records[i]));
    }
    cal.add(std::move(group), W, [](const std::vector<double>& f, CostModel& m) {
        m.step.write_run = f[0];
        m.step.write_value = f[1];
    });
}

/// Stage 1: every probe the campaign needs.
Calibration plan_probes(const CampaignSpec& spec, const ProbeOptions& options, CostModel& model) {
    const double budget = options.seconds_per_probe;
    Calibration cal;
    add_common_probes(cal, budget);
    model.step_probes = static_cast<int>(cal.probes.size());
    add_monte_carlo_probes(cal, spec, options, model);
    const auto any = [&spec](auto&& predicate) {
        return std::ranges::any_of(spec.points,
                                   [&](const GridPoint& g) { return predicate(g.params); });
    };
    if (any([](const RunParams& p) { return p.dynamics == DynamicsKind::gram; }))
        add_chain_probes(cal, budget);
    if (any([](const RunParams& p) {
            return p.dynamics == DynamicsKind::full && !is_online_sgd(p);
        }))
        add_batch_probes(cal, budget);
    if (any([](const RunParams& p) { return is_deep(p.model); }))
        add_deep_probes(cal, budget);
    if (options.writes != nullptr)
        add_write_probes(cal, *options.writes);
    return cal;
}

/// Stage 2: the repetitions, interleaved (a slow spell spoils one repetition of each probe),
/// and the median of each probe's: the typical memory layout of a step (StepProbe), and
/// neither a slow nor a fast spell of a shared machine.
std::vector<double> median_times(const std::vector<std::unique_ptr<Probe>>& probes,
                                 int repetitions) {
    std::vector<std::vector<double>> times(probes.size());
    for (int r = 0; r < repetitions; ++r)
        for (std::size_t i = 0; i < probes.size(); ++i)
            times[i].push_back(probes[i]->once());
    std::vector<double> median(probes.size());
    for (std::size_t i = 0; i < probes.size(); ++i) {
        auto& t = times[i];
        const auto middle = t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2);
        std::nth_element(t.begin(), middle, t.end());
        median[i] = *middle;
    }
    return median;
}

/// Stage 3: each group's non-negative least-squares fit, into the model.
void fit_groups(const std::vector<FitGroup>& groups, const std::vector<double>& median,
                CostModel& model) {
    for (const FitGroup& g : groups) {
        Eigen::VectorXd t(g.counts.rows());
        for (Eigen::Index i = 0; i < t.size(); ++i)
            t[i] = median[g.first + static_cast<std::size_t>(i)];
        g.assign(fit_non_negative(g.counts, t), model);
    }
}

} // namespace

CostModel calibrate_cost_model(const CampaignSpec& spec, const ProbeOptions& options) {
    const auto start = clock::now();
    const double cpu_start = thread_cpu_seconds();
    CostModel model;
    model.repetitions = options.repetitions;
    const Calibration cal = plan_probes(spec, options, model);
    fit_groups(cal.groups, median_times(cal.probes, options.repetitions), model);
    model.probe_seconds = seconds_since(start);
    model.probe_cpu_seconds = thread_cpu_seconds() - cpu_start;
    return model;
}

} // namespace plateau
