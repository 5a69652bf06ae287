#include "engine/cost_model.hpp"

#include "engine/observer.hpp"
#include "engine/run.hpp"
#include "engine/schedule.hpp"
#include "engine/state.hpp"

#include <Eigen/QR>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <time.h>
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

RunCost predict_run(const CostModel& model, const RunParams& p) {
    const StepCoefficients& c = model.step;
    const auto N = static_cast<double>(p.model.N);
    const auto K = static_cast<double>(p.model.student.hidden());
    const auto M = static_cast<double>(p.model.teacher.hidden());
    const auto units = K + M;
    const std::int64_t steps = run_steps(p.schedule, p.model.N);
    const bool exact = eg_method(p.model) == EgMethod::closed_form;
    // A closed-form measurement is made once per distinct record step (SimulationDynamics::
    // observe); min(records, steps + 1) bounds their number without listing the record times.
    const double records = static_cast<double>(p.schedule.records);
    const double observations =
        exact ? std::min(records, static_cast<double>(steps) + 1.0) : records;

    RunCost cost;
    cost.steps = static_cast<double>(steps) *
                 (N * (c.normal + c.multiply_add * (2.0 * K + M)) + c.unit * (units + 1.0));
    cost.records = observations * units * units * (N * c.gram + (exact ? c.pair : 0.0));
    if (!exact) {
        const MonteCarloCoefficients mc = model.monte_carlo_for(activation_class(p.model));
        cost.monte_carlo = records * static_cast<double>(p.observer.eg_samples) *
                           (mc.sample + units * mc.unit + units * units * mc.pair);
    }
    cost.setup = units * N * c.init;
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
        out.longest_run = std::max(out.longest_run, run.total());
    }
    // Runs go to the workers one at a time, as they free up: the wall time is the total over
    // the workers, but never less than the longest run.
    out.makespan = std::max(out.sum.total() / out.workers, out.longest_run);
    return out;
}

namespace {

using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point start) {
    return std::chrono::duration<double>(clock::now() - start).count();
}

/// CPU time of the calling thread: a probe preempted by other work on a shared machine is not
/// charged for the time it waited.
double thread_cpu_seconds() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// The fastest of `repetitions` calls of `once()`, in seconds of the thread's CPU time.
template <class F>
double fastest(int repetitions, F&& once) {
    double best = std::numeric_limits<double>::infinity();
    for (int r = 0; r < repetitions; ++r) {
        const double start = thread_cpu_seconds();
        once();
        best = std::min(best, thread_cpu_seconds() - start);
    }
    return best;
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

/// Seconds per step of the simulation of `p`: a warm-up sizes the probe, then the fastest of
/// the repetitions, each continuing the same run.
double probe_step(const RunParams& p, const ProbeOptions& o) {
    SimulationDynamics run(p, 0, 0);
    const auto N = static_cast<double>(p.model.N);
    std::int64_t done = 64;
    const auto warm = clock::now();
    (void)run.advance_to(static_cast<double>(done) / N);
    const std::int64_t steps = count_for(o.seconds_per_probe, seconds_since(warm) / 64.0, 16);
    const double best = fastest(o.repetitions, [&] {
        done += steps;
        (void)run.advance_to(static_cast<double>(done) / N);
    });
    return best / static_cast<double>(steps);
}

/// Seconds per measurement (Observer::observe) of a state of `p`.
double probe_observe(const RunParams& p, const ProbeOptions& o) {
    Observer observer(p, 0, 0);
    const RunState state = make_initial_state(p.model, 0, 0);
    const auto warm = clock::now();
    (void)observer.observe(state);
    const std::int64_t calls = count_for(o.seconds_per_probe / 4.0, seconds_since(warm), 1);
    const double best = fastest(o.repetitions, [&] {
        for (std::int64_t i = 0; i < calls; ++i)
            (void)observer.observe(state);
    });
    return best / static_cast<double>(calls);
}

/// Seconds per initial state of `p`.
double probe_setup(const RunParams& p, const ProbeOptions& o) {
    const auto warm = clock::now();
    (void)make_initial_state(p.model, 0, 0);
    const std::int64_t calls = count_for(o.seconds_per_probe / 4.0, seconds_since(warm), 1);
    std::uint64_t run = 1;
    const double best = fastest(o.repetitions, [&] {
        for (std::int64_t i = 0; i < calls; ++i)
            (void)make_initial_state(p.model, 0, run++);
    });
    return best / static_cast<double>(calls);
}

} // namespace

CostModel calibrate_cost_model(const CampaignSpec& spec, const ProbeOptions& options) {
    const auto start = clock::now();
    const double cpu_start = thread_cpu_seconds();
    CostModel model;
    model.repetitions = options.repetitions;
    StepCoefficients& c = model.step;

    // Steps: t = N a + N (2K+M) b + (K+M+1) c at (N, K, M) = (1024, 1, 1), (1024, 8, 8) and
    // (32, 8, 8).
    Eigen::MatrixXd X(3, 3);
    Eigen::VectorXd t(3);
    X << 1024.0, 1024.0 * 3.0, 3.0, 1024.0, 1024.0 * 24.0, 17.0, 32.0, 32.0 * 24.0, 17.0;
    t << probe_step(canonical(1024, 1, 1), options), probe_step(canonical(1024, 8, 8), options),
        probe_step(canonical(32, 8, 8), options);
    const std::vector<double> step = fit_non_negative(X, t);
    c.normal = step[0];
    c.multiply_add = step[1];
    c.unit = step[2];

    // Records (closed-form eps_g): t = (K+M)^2 N gram + (K+M)^2 pair at N = 1024 and 32,
    // K = M = 8.
    Eigen::MatrixXd R(2, 2);
    Eigen::VectorXd r(2);
    R << 256.0 * 1024.0, 256.0, 256.0 * 32.0, 256.0;
    r << probe_observe(canonical(1024, 8, 8), options), probe_observe(canonical(32, 8, 8), options);
    const std::vector<double> record = fit_non_negative(R, r);
    c.gram = record[0];
    c.pair = record[1];

    // Setup: the initial weights, per weight.
    c.init = probe_setup(canonical(1024, 8, 8), options) / (16.0 * 1024.0);
    model.step_probes = 6;

    // Monte-Carlo eps_g, per activation class of the campaign without a closed form: per
    // sample, t = sample + (K+M) unit + (K+M)^2 pair at K = M = 1, 3 and 8 (N = 32: the Gram
    // product is negligible beside the samples).
    std::set<ActivationClass> classes;
    for (const GridPoint& point : spec.points)
        if (eg_method(point.params.model) == EgMethod::monte_carlo)
            classes.insert(activation_class(point.params.model));
    constexpr int samples = 2000;
    for (const ActivationClass& k : classes) {
        if (model.monte_carlo.size() == options.max_classes) {
            ++model.unprobed_classes;
            continue;
        }
        Eigen::MatrixXd S(3, 3);
        Eigen::VectorXd s(3);
        for (Eigen::Index i = 0; i < 3; ++i) {
            const int half = std::array{1, 3, 8}[static_cast<std::size_t>(i)];
            const double units = 2.0 * half;
            RunParams p = canonical(32, half, half);
            p.model.student.g.kind = k[0];
            p.model.student.h.kind = k[1];
            p.model.teacher.g.kind = k[2];
            p.model.teacher.h.kind = k[3];
            p.observer.eg_samples = samples;
            S.row(i) << 1.0, units, units * units;
            s[i] = probe_observe(p, options) / samples;
        }
        const std::vector<double> mc = fit_non_negative(S, s);
        model.monte_carlo.push_back({k, mc[0], mc[1], mc[2]});
    }
    model.probe_seconds = seconds_since(start);
    model.probe_cpu_seconds = thread_cpu_seconds() - cpu_start;
    return model;
}

} // namespace plateau
