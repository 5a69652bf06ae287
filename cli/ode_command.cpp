// `plateau ode`: the N -> infinity theory of the same configuration, integrated for every grid
// point and written in the same schema as `plateau run` (root attribute kind = "theory"), or
// the plateau fixed point and its escape rate (--fixed-point).
#include "cli/command_support.hpp"
#include "cli/commands.hpp"
#include "cli/fixed_point_report.hpp"
#include "cli/options.hpp"
#include "cli/progress.hpp"
#include "cli/summary.hpp"
#include "engine/campaign/theory_runs.hpp"
#include "engine/core/enum_table.hpp"
#include "engine/core/errors.hpp"
#include "engine/io/reader.hpp"
#include "engine/io/theory_attributes.hpp"
#include "engine/theory/escape.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/fluctuations.hpp"
#include "engine/theory/ode_integrator.hpp"
#include "engine/theory/theory.hpp"
#include "models/gaussian_integrals.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace plateau::cli {

namespace po = boost::program_options;

namespace {

enum class InitKind {
    sample,    ///< run r starts at the initial order parameters of simulation run r
    symmetric, ///< Q = q0 I, R = r0 + asymmetry on the "diagonal" (one run per grid point)
    file,      ///< the alpha = 0 order parameters stored in a simulation file
};
[[nodiscard]] constexpr auto enum_table(InitKind) noexcept {
    return std::to_array<EnumEntry<InitKind>>({{InitKind::sample, "sample"},
                                               {InitKind::symmetric, "symmetric"},
                                               {InitKind::file, "file"}});
}

struct OdeOptions {
    std::string init = "sample";
    std::string init_from;
    bool init_average = false;
    double r0 = 0.0;
    double asymmetry = 1e-9;
    double rtol = OdeParams{}.rtol;
    double atol = OdeParams{}.atol;
    bool fixed_point = false;
    bool dry_run = false;
    std::string predictions = "auto";
    bool fluctuations = false;
};

/// The joint rule's largest estimated errors (engine/theory/theory.hpp), one line.
void print_rule_errors(const JointRuleErrors::Summary& s) {
    if (s.runs == 0)
        return;
    std::printf("joint rule (joint-points = %d, docs/theory.md section 10), largest estimated "
                "error over the records of %lld run(s): eps_g %.2g (%.2g relative), flow "
                "%.2g relative\n",
                s.points, static_cast<long long>(s.runs), s.eg, s.eg_relative, s.flow_relative);
}

/// The keys that decide where a run starts (its alpha = 0 order parameters): a file of other
/// values holds the start of another campaign.
constexpr std::array start_keys{
    "N", "K", "M", "q0", "v0", "v-star", "teacher-init", "init-seed", "dynamics", "seed", "seeds"};

/// "q0 = 0.5 there, 0.2 here; seed = ...": the start keys in which the configuration of the
/// file (its `config` attribute) differs from `config`; empty if none.
std::string start_differences(const std::string& file_config, const std::string& path,
                              const Configuration& config) {
    Configuration theirs;
    // A theory file's text goes on with plateau ode's own options: not keys of the campaign.
    read_ini_text(file_config.substr(0, file_config.find(ode_options_header)),
                  path + " (attribute 'config')", theirs);
    const auto joined = [](const std::vector<std::string>& v) {
        std::string out;
        for (const auto& x : v)
            out += (out.empty() ? "" : ", ") + x;
        return out;
    };
    std::string out;
    for (const char* key : start_keys)
        if (theirs.values(key) != config.values(key))
            out += (out.empty() ? "" : "; ") + std::string(key) + " = " +
                   printable(joined(theirs.values(key)), 40) + " there, " +
                   printable(joined(config.values(key)), 40) + " here";
    return out;
}

/// Initial conditions of every theory run from a simulation file: per run (same run indices),
/// or averaged over each grid point's seeds (one theory run per grid point).
std::vector<OrderParameters> initial_conditions_from_file(const std::string& path,
                                                          const CampaignSpec& spec,
                                                          const Configuration& config,
                                                          std::int64_t sim_seeds, bool average) {
    const auto fail = [&](const std::string& why) {
        throw UsageError("invalid value '" + printable(path, 300) + "' for 'init-from': " + why);
    };
    require_regular_input("init-from", path); // a FIFO would block the open for ever
    const CampaignReader file = [&] {
        try {
            return CampaignReader::open(path);
        } catch (const CampaignReadError& e) {
            throw UsageError("invalid value '" + printable(path, 300) +
                             "' for 'init-from': " + e.reason());
        }
    }();
    const std::int64_t file_runs = file.metadata().runs;
    const std::int64_t expected = static_cast<std::int64_t>(spec.points.size()) * sim_seeds;
    if (file_runs != expected)
        fail("it holds " + std::to_string(file_runs) + " runs; this configuration has " +
             std::to_string(expected) + " (" + std::to_string(spec.points.size()) +
             " grid points x " + std::to_string(sim_seeds) +
             " seeds): use the file's own "
             "configuration");
    // The start of another configuration would contradict the theory's own attributes.
    std::string differences;
    try {
        differences = start_differences(file.metadata().config, path, config);
    } catch (const UsageError& e) {
        fail(std::string("its configuration cannot be read (") + e.what() + ")");
    }
    if (!differences.empty())
        fail("it starts another configuration (" + differences +
             "): allowed is a file of the same start keys (" +
             [] {
                 std::string names;
                 for (const char* key : start_keys)
                     names += (names.empty() ? "" : ", ") + std::string(key);
                 return names;
             }() +
             ")");
    std::vector<OrderParameters> out;
    for (std::int64_t r = 0; r < spec.runs(); ++r) {
        const auto& m = spec.point_of(r).params.model;
        const std::string gname = group_name(m.student.hidden(), m.teacher.hidden());
        const auto& groups = file.groups();
        if (std::none_of(groups.begin(), groups.end(),
                         [&](const CampaignReader::GroupInfo& g) { return g.name == gname; }))
            fail("it has no group " + gname);
        const auto first = average ? r * sim_seeds : r;
        const auto count = average ? sim_seeds : 1;
        OrderParameters sum;
        int used = 0;
        for (std::int64_t s = first; s < first + count; ++s) {
            const auto where = file.find_run(s);
            if (!where || groups[where->group].name != gname)
                fail("it has no run " + std::to_string(s) + " in group " + gname);
            // Verified (Fletcher-32 and the run's run_checksum): a damaged run is refused, named.
            const Observables o = [&] {
                try {
                    return file.read_records(*where, 0, 1).front();
                } catch (const CampaignReadError& e) {
                    throw UsageError("invalid value '" + printable(path, 300) +
                                     "' for 'init-from': " + e.reason());
                }
            }();
            if (!o.Q.allFinite())
                continue; // never written (pending)
            // Mixture inputs: the students' overlaps with the means (docs/theory.md §15c), K x C
            // row-major in the file.
            Eigen::MatrixXd means;
            if (m.inputs == InputKind::mixture) {
                const auto K = static_cast<Eigen::Index>(m.student.hidden());
                const auto C = static_cast<Eigen::Index>(m.mixture.clusters());
                const auto it = o.extras.find(extra_name::mean_overlaps);
                if (it == o.extras.end() || it->second.size() != K * C || !it->second.allFinite())
                    fail("run " + std::to_string(s) + " has no mean_overlaps (K x C = " +
                         std::to_string(K) + " x " + std::to_string(C) + ") at alpha = 0");
                means = Eigen::Map<
                    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                    it->second.data(), K, C);
            }
            if (used++ == 0) {
                sum.Q = o.Q;
                sum.R = o.R;
                sum.T = o.T;
                sum.v = o.v;
                sum.mean_overlaps = means;
            } else {
                sum.Q += o.Q;
                sum.R += o.R;
                sum.T += o.T;
                sum.v += o.v;
                if (means.size() > 0)
                    sum.mean_overlaps += means;
            }
        }
        if (used == 0)
            fail("run " + std::to_string(first) + " has no alpha = 0 record (pending)");
        sum.Q /= used;
        sum.R /= used;
        sum.T /= used;
        sum.v /= used;
        if (sum.mean_overlaps.size() > 0)
            sum.mean_overlaps /= used;
        sum.v_star = Eigen::VectorXd::Constant(m.teacher.hidden(), m.v_star);
        out.push_back(std::move(sum));
    }
    return out;
}

/// Before a fixed-point search that takes long, its cost at once, measured on one flow
/// evaluation: the search relaxes the symmetric flow, solves by Newton, then linearizes the
/// full flow with two evaluations per column of its Jacobian (engine/theory/fixed_point.hpp),
/// and reports progress only from that last part on. Silent when the Jacobian alone takes less
/// than 10 s (K = M <= 10 or so), and for a model the search refuses (it says why).
void announce_fixed_point_cost(std::size_t point, const RunParams& params, bool quiet) {
    if (quiet)
        return;
    const ModelParams& m = params.model;
    const std::int64_t K = m.student.hidden();
    const std::int64_t M = m.teacher.hidden();
    const std::int64_t columns = K * (K + 1) / 2 + K * M + (m.learn_v ? K : 0);
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    try {
        (void)flow(params, symmetric_initial_conditions(m, m.q0 > 0.0 ? m.q0 : 0.2, 0.0, 0.0));
    } catch (const std::exception&) {
        return;
    }
    const double one = std::chrono::duration<double>(clock::now() - start).count();
    const double jacobian = 2.0 * static_cast<double>(columns) * one;
    if (jacobian < 10.0)
        return;
    std::fprintf(stderr,
                 "plateau ode: fixed point of grid point %zu (K = %lld, M = %lld): one flow "
                 "evaluation takes %s and the search needs thousands (%lld for its linearized "
                 "flow alone): at least ~%s; progress follows from the linearized flow on\n",
                 point, static_cast<long long>(K), static_cast<long long>(M),
                 format_duration(one).c_str(), 2 * static_cast<long long>(columns),
                 format_duration(jacobian).c_str());
}

/// Progress of a long fixed-point search on stderr: silent for the first 2 s (small K), then a
/// line every 5 s with the columns of the Jacobian done and the time left at the rate of this
/// Jacobian's columns so far (timed from its first column: the search before it, which can
/// take far longer than a column, is not a column's cost; a new Jacobian starts over).
FixedPointProgress fixed_point_progress(std::size_t point, bool quiet) {
    if (quiet)
        return {};
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    auto last = start;
    auto first = start;          // when the current Jacobian's first reported column was done
    std::int64_t first_done = 0; // ... and its count; 0: no Jacobian yet
    return [=](std::int64_t done, std::int64_t total) mutable {
        const auto now = clock::now();
        if (first_done == 0 || done <= first_done) { // the first column of a Jacobian
            first = now;
            first_done = done;
            return;
        }
        const double elapsed = std::chrono::duration<double>(now - start).count();
        if (elapsed < 2.0 || std::chrono::duration<double>(now - last).count() < 5.0)
            return;
        last = now;
        const double per_column = std::chrono::duration<double>(now - first).count() /
                                  static_cast<double>(done - first_done);
        const double left = per_column * static_cast<double>(total - done);
        std::fprintf(stderr,
                     "plateau ode: fixed point of grid point %zu: linearized flow, column %lld of "
                     "%lld, ~%s left\n",
                     point, static_cast<long long>(done), static_cast<long long>(total),
                     format_duration(left).c_str());
    };
}

/// The stages of a fixed-point search after the symmetric point (other fixed points, escape
/// prediction, eta_max), each announced on stderr once the grid point's search has taken 2 s:
/// the linearized flow's "~X left" is then not the last word for minutes of other work.
class SearchStages {
public:
    SearchStages(std::size_t point, bool quiet) : point_(point), quiet_(quiet) {}
    void operator()(const char* stage) const {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        if (quiet_ || elapsed < 2.0)
            return;
        std::fflush(stdout); // what the stages before printed, first
        std::fprintf(stderr, "plateau ode: fixed point of grid point %zu: %s (%s so far)\n", point_,
                     stage, format_duration(elapsed).c_str());
    }

private:
    std::size_t point_;
    bool quiet_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

void print_eigenvalues(const FixedPoint& fp) {
    std::printf("  eigenvalues:");
    for (Eigen::Index i = 0; i < std::min<Eigen::Index>(fp.eigenvalues.size(), 6); ++i) {
        const auto z = fp.eigenvalues[i];
        if (std::abs(z.imag()) > 1e-12)
            std::printf(" %.6g%+.6gi", z.real(), z.imag());
        else
            std::printf(" %.6g", z.real());
    }
    std::printf("%s\n", fp.eigenvalues.size() > 6 ? " ..." : "");
}

/// The fixed points a trajectory from a generic start (asymmetry 1e-6 on R) passes, polished by
/// Newton on the full flow (docs/theory.md §11).
void print_other_fixed_points(const RunParams& params) {
    const double alpha_end = trajectory_alpha_end(params);
    const std::vector<FixedPoint> found = trajectory_fixed_points(
        params, generic_start(params.model, generic_start_amplitude), alpha_end);
    std::printf("  fixed points along the trajectory from a generic start (R_jn = 1e-6 sin(1 + j "
                "M + n), to alpha = %.6g):\n",
                alpha_end);
    if (found.empty()) {
        std::printf("    no fixed point found\n");
        return;
    }
    for (const FixedPoint& f : found) {
        std::printf("    alpha ~ %-8.6g %s: eps_g = %.8g, largest real part %.6g (%s), residual "
                    "%.2g\n",
                    f.alpha, std::string(name(f.kind)).c_str(), f.eg, f.escape_rate,
                    f.escape_rate < 0.0 ? "stable" : "unstable", f.residual);
        std::printf("      R =");
        for (Eigen::Index j = 0; j < f.op.R.rows(); ++j) {
            std::printf(" [");
            for (Eigen::Index n = 0; n < f.op.R.cols(); ++n)
                std::printf("%s%.6g", n > 0 ? " " : "", f.op.R(j, n));
            std::printf("]");
        }
        std::printf("  diag Q =");
        for (Eigen::Index j = 0; j < f.op.Q.rows(); ++j)
            std::printf(" %.6g", f.op.Q(j, j));
        std::printf("\n");
    }
}

/// The escape prediction of engine/theory/escape.hpp at the grid point's N.
void print_escape(const RunParams& params, const FixedPoint& fp) {
    if (const auto why = escape_not_predicted(params)) {
        std::printf("  escape time: no prediction (%s)\n", why->c_str());
        return;
    }
    const EscapePrediction e = predict_escape(params, fp);
    if (!e.valid) {
        std::printf("  escape time: no prediction (%s)\n", e.why.c_str());
        return;
    }
    std::printf("  escape time (eps_g down to %.3g of the plateau's): ODE from the symmetric start "
                "with asymmetry eps: alpha_esc = A - ln(eps)/lambda, A = %.6g (free fit slope "
                "%.6g vs 1/lambda = %.6g);\n    alpha_plateau = %.6g, c = exp(lambda (A - "
                "alpha_plateau)) = %.6g;\n    eps_0 ~ N(0, (%.5g^2 initial + %.5g^2 noise)/N): "
                "predicted mean escape at N = %lld: %.6g\n",
                escape_fraction, e.A, e.fit_slope, 1.0 / e.rate, e.alpha_plateau, e.c,
                e.sigma_initial, e.sigma_noise, static_cast<long long>(params.model.N),
                predicted_mean_escape(e, static_cast<double>(params.model.N)));
    // The law of the escape time (docs/theory.md §11.2b): its spread and quantiles at this N.
    const auto N = static_cast<double>(params.model.N);
    std::printf("    escape-time law at N = %lld: standard deviation %.4g; quantiles",
                static_cast<long long>(params.model.N), predicted_escape_sd(e, N));
    for (const double q : escape_law_quantiles)
        std::printf("%s %.0f %% %.5g", q == escape_law_quantiles.front() ? "" : ",", 100.0 * q,
                    predicted_escape_quantile(e, N, q));
    std::printf("\n");
    if (e.dimension > 1)
        std::printf("    lambda is %d-fold (permutation symmetry): eps_0 is the norm of the "
                    "asymmetry's projection on the unstable eigenspace, N(0, sigma^2 I_%d / N) "
                    "(initial covariance's anisotropy %.6g); A and alpha_esc are means over %d "
                    "directions (spread %.3g: the mean escape is uncertain by ~%.2g; fine minus "
                    "coarse directions %.3g)\n",
                    e.dimension, e.dimension, e.anisotropy, e.directions, e.A_spread,
                    e.A_spread / std::sqrt(static_cast<double>(e.directions)), e.direction_shift);
}

void print_eta_max(const RunParams& params) {
    const EtaMax em = specialized_eta_max(params);
    if (!em.found)
        std::printf("  eta_max: none (%s)\n", std::string(em.why).c_str());
    else
        std::printf("  eta_max (largest eta at which the specialized fixed point is stable): "
                    "%.7g\n",
                    em.eta_max);
}

/// `plateau ode --fixed-point`: each grid point's symmetric fixed point, escape and eta_max. A grid
/// point without a fixed point (eta too large, say) is a result of the sweep, said in one line
/// ("no fixed point found: ..."), not a failure of the command: exit status 0, so that a sweep
/// in a `set -e` script goes on (issue 24).
int fixed_points(const CampaignSpec& spec, bool quiet, const CommandHooks& hooks) {
    for (std::size_t p = 0; p < spec.points.size(); ++p) {
        const GridPoint& point = spec.points[p];
        const SearchStages stage(p, quiet);
        announce_fixed_point_cost(p, point.params, quiet);
        FixedPointProgress progress = fixed_point_progress(p, quiet);
        if (hooks.interrupted) // polled at every column of the linearized flow
            progress = [&hooks, shown = std::move(progress)](std::int64_t done,
                                                             std::int64_t total) {
                if (shown)
                    shown(done, total);
                if (hooks.interrupted())
                    throw Interrupted();
            };
        const FixedPoint fp = symmetric_fixed_point(point.params, progress);
        if (hooks.fixed_point) {
            hooks.fixed_point(fixed_point_report(p, point, fp));
            continue;
        }
        std::printf("grid point %zu:%s\n", p, describe(point).c_str());
        const auto& m = point.params.model;
        if (!fp.converged) {
            // Say that there is none and why, not the numbers of the last iterate (Q = 1e8...).
            std::printf("  no fixed point found: %s\n",
                        no_fixed_point_reason(point.params, fp).c_str());
            continue;
        }
        const double c = m.student.hidden() > 1 ? fp.op.Q(0, 1) : 0.0;
        std::printf("  symmetric fixed point: Q_jj = %.10g  Q_jk = %.10g  R_jn = %.10g",
                    fp.op.Q(0, 0), c, fp.op.R(0, 0));
        if (m.learn_v)
            std::printf("  v_j = %.10g", fp.op.v(0));
        std::printf("\n  eps_g = %.10g\n", fp.eg);
        std::printf("  escape rate (largest real part of the linearized flow's eigenvalues): "
                    "%.6g\n",
                    fp.escape_rate);
        print_eigenvalues(fp);
        std::printf("  converged: yes (residual %.3g)\n", fp.residual);
        stage("fixed points along a trajectory from a generic start");
        print_other_fixed_points(point.params);
        stage("escape prediction");
        print_escape(point.params, fp);
        stage("eta_max by bisection");
        print_eta_max(point.params);
    }
    return 0;
}

/// Wall seconds the --dry-run probe of the theory integrates at most.
constexpr double probe_budget = 0.5;
/// The most points of a joint rule the probe evaluates (the times are scaled to the rule's).
constexpr int probe_joint_points = 1 << 16;

/// `plateau ode --dry-run`: runs, memory, file size, and the time extrapolated from a probe: the
/// grid point with the most order parameters (then the longest) integrated from its start over
/// doubling alphas, to alpha_max or for probe_budget seconds, whichever is first; every run is
/// taken to cost what the last doubling cost per unit alpha, and at least one Dormand-Prince
/// step (6 timed flow evaluations) per record time. Nothing is integrated for a campaign beyond
/// the memory limit.
void ode_dry_run(const CampaignSpec& spec, const InitialConditions& initial,
                 const OdeParams& integrator, PredictionMode prediction_mode, bool fluctuations) {
    const CampaignEstimate size = estimate_campaign(spec, {RunKind::theory, 0.0});
    std::printf("runs:        %lld (%zu grid point(s) x %lld seed(s)) in %zu group(s)\n",
                static_cast<long long>(spec.runs()), spec.points.size(),
                static_cast<long long>(spec.seeds), size.groups);
    std::size_t probe = 0;
    const auto order = [&spec](std::size_t i) {
        const ModelParams& m = spec.points[i].params.model;
        return std::pair{m.student.hidden() + m.teacher.hidden(),
                         spec.points[i].params.schedule.alpha_max};
    };
    for (std::size_t i = 1; i < spec.points.size(); ++i)
        if (order(i) > order(probe))
            probe = i;
    const int threads = spec.threads > 0 ? spec.threads : default_thread_count();
    const int workers = std::min(threads, default_thread_count());
    if (const auto limit = available_memory(); limit && size.memory_bytes > limit->bytes) {
        std::printf("time:        not probed (the campaign does not fit in memory)\n");
    } else {
        // The joint rule's cost is linear in its points: a rule of at most 2^16 points is
        // probed, and its times scaled (a rule of 2^26 would take minutes to probe).
        RunParams p = spec.points[probe].params;
        const double rule_scale =
            static_cast<double>(p.observer.joint_points) /
            static_cast<double>(std::min(p.observer.joint_points, probe_joint_points));
        p.observer.joint_points = std::min(p.observer.joint_points, probe_joint_points);
        const double alpha_max = p.schedule.alpha_max;
        const auto start = std::chrono::steady_clock::now();
        const auto elapsed = [&start] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        };
        const OrderParameters init = initial(static_cast<std::int64_t>(probe) * spec.seeds);
        // One evaluation of the run's own flow first (the one the runs integrate: several
        // teachers, mixtures, the manifold's modes too): a Dormand-Prince step takes 6 more. When
        // that step alone would exceed the budget (K + M in the hundreds, a sanitized build), the
        // probe stops at the one evaluation and gives the floor (a dry-run answers at once at
        // any size).
        TheoryDynamics dynamics(p, init, integrator);
        (void)dynamics.derivative();
        const double one_evaluation = elapsed();
        const bool step_too_slow = 7.0 * one_evaluation > probe_budget;
        // Doubling targets from alpha_max / 2^20: the first costs a few evaluations only. The
        // rate of the last doubling (the steps least held back by the targets) extrapolates.
        double target = alpha_max / 1048576.0;
        double last_seconds = 0.0;
        double last_alpha = 0.0;
        double per_alpha = 0.0;
        int doublings = 0;
        while (!step_too_slow && dynamics.advance_to(target)) {
            const double now = elapsed();
            per_alpha = (now - last_seconds) * rule_scale / (target - last_alpha);
            ++doublings;
            last_seconds = now;
            last_alpha = target;
            if (target >= alpha_max || now >= probe_budget)
                break;
            target = std::min(alpha_max, 2.0 * target);
        }
        const double seconds = elapsed() * rule_scale;
        const double reached = dynamics.alpha();
        // The first target alone holds the steps back to alpha_max / 2^20: no rate, a floor.
        const bool floor_only = doublings < 2 && reached < alpha_max;
        if (floor_only)
            per_alpha = 0.0;
        const auto stats = dynamics.statistics(); // the one timed above included
        // A floor: every record time ends a step of at least 6 new evaluations (Dormand-Prince).
        const double per_evaluation = step_too_slow
                                          ? one_evaluation * rule_scale
                                          : seconds / static_cast<double>(stats.evaluations);
        // Each grid point's fixed-point predictions (theory_runs: plateau height, escape
        // prediction, eta_max; about a second at K = M = 2) are computed once, by its first run:
        // timed here on the probe's point, and counted once per grid point.
        double predictions = 0.0;
        if (!step_too_slow && prediction_mode == PredictionMode::automatic) {
            const double before = elapsed();
            (void)point_predictions(spec.points[probe].params);
            predictions = elapsed() - before;
        }
        // --fluctuations (docs/theory.md §11.2c): per RK4 step of FluctuationSettings::step,
        // four stages of one step-moment rule (timed here once, at the start) and 2 dim + 1
        // flow evaluations (the drift and the Jacobian's central differences).
        double per_stage = 0.0;
        if (fluctuations && !step_too_slow) {
            const double before = elapsed();
            (void)step_moments(p, init, 0.0);
            const auto dim = static_cast<double>(
                Packing(p.model.student.hidden(), p.model.teacher.hidden(), p.model.learn_v)
                    .size());
            per_stage = elapsed() - before + (2.0 * dim + 1.0) * per_evaluation;
        }
        double sum = 0.0;
        double longest = 0.0;
        for (const auto& point : spec.points) {
            const double floor =
                per_evaluation * 6.0 * static_cast<double>(point.params.schedule.records - 1);
            const double rk4_steps =
                std::ceil(point.params.schedule.alpha_max / FluctuationSettings{}.step) +
                static_cast<double>(point.params.schedule.records);
            const double run = std::max(floor, per_alpha * point.params.schedule.alpha_max) +
                               4.0 * rk4_steps * per_stage;
            sum += run * static_cast<double>(spec.seeds) + predictions;
            longest = std::max(longest, run + predictions);
        }
        const double makespan = std::max(longest, sum / workers);
        std::printf("time:        %s%s with %d thread(s) (%.4g s of runs on %d core(s), longest "
                    "run %.4g s)\n",
                    floor_only ? "at least " : "~", format_duration(makespan).c_str(), threads, sum,
                    workers, longest);
        std::printf("             extrapolated linearly in alpha from a probe of grid point %zu "
                    "(K+M = %d): %lld flow evaluations, %lld accepted and %lld rejected steps, "
                    "to alpha = %.4g of %.4g in %.3g s (%.3g s per evaluation, scaled to the "
                    "joint rule's points); an escape from "
                    "a plateau may need more steps\n",
                    probe, order(probe).first, static_cast<long long>(stats.evaluations),
                    static_cast<long long>(stats.accepted), static_cast<long long>(stats.rejected),
                    reached, alpha_max, seconds, per_evaluation);
        if (prediction_mode == PredictionMode::automatic)
            std::printf("             plus the fixed-point predictions, once per grid point: "
                        "%.3g s on grid point %zu\n",
                        predictions, probe);
        else
            std::printf("             without the fixed-point predictions (--predictions none)\n");
        if (fluctuations)
            std::printf("             with the fluctuations: %.3g s per RK4 stage (one step "
                        "covariance and the Jacobian), 4 stages per step of %.3g in alpha\n",
                        per_stage, FluctuationSettings{}.step);
    }
    print_sizes(size, spec.points.front().params.schedule.records);
}

} // namespace

int ode_command(int argc, char** argv, const std::string& command_line, const CommandHooks& hooks) {
    const auto body = [&] {
        OutputOptions out;
        OdeOptions ode;
        po::options_description options("Options");
        add_output_options(options, out);
        options.add_options()(
            "init", po::value<std::string>(&ode.init)->default_value(ode.init),
            "initial order parameters: 'sample' (run r starts exactly where simulation run r "
            "of `plateau run` with this configuration starts, dynamics = gram included) or "
            "'symmetric' (Q = q0 I, R_jn = "
            "r0 + asymmetry [n == j mod M]; one run per grid point)")(
            "r0", po::value<double>(&ode.r0)->default_value(ode.r0, number_text(ode.r0)),
            "initial R_jn of --init symmetric")(
            "asymmetry",
            po::value<double>(&ode.asymmetry)
                ->default_value(ode.asymmetry, number_text(ode.asymmetry)),
            "initial asymmetry of --init symmetric")(
            "init-from", po::value<std::string>(&ode.init_from),
            "start from the alpha = 0 order parameters of a simulation file of the same "
            "configuration (run by run)")(
            "init-average", po::bool_switch(&ode.init_average),
            "with --init-from: start from the seed average (one run per grid point; the average "
            "cancels the ~1/sqrt(N) asymmetries that decide the escape, so this theory stays on "
            "the plateau far longer than the runs: compare the plateau, not the escape)")(
            "rtol", po::value<double>(&ode.rtol)->default_value(ode.rtol, number_text(ode.rtol)),
            "relative tolerance of the adaptive Dormand-Prince integrator")(
            "atol", po::value<double>(&ode.atol)->default_value(ode.atol, number_text(ode.atol)),
            "absolute tolerance of the integrator")(
            "predictions", po::value<std::string>(&ode.predictions)->default_value(ode.predictions),
            "each grid point's fixed-point predictions (escape_rate, eta_max, plateau_eg, "
            "escape_predicted; about 0.75 s per grid point at K = M = 2): 'auto' (computed where "
            "they apply) or 'none' (not computed: stored as NaN, and the file's attribute "
            "theory_predictions says so)")(
            "fluctuations", po::bool_switch(&ode.fluctuations),
            "also the order parameters' standard deviations at each run's N along its "
            "trajectory (Q_sd, R_sd, v_sd; the linear-noise approximation, docs/theory.md "
            "11.2c): over seeds from --init symmetric or --init-average, the step noise's "
            "alone from a run's own start (--init sample, --init-from)")(
            "dry-run", po::bool_switch(&ode.dry_run),
            "print the number of runs, the memory and file size, and the time extrapolated "
            "from a short timed integration; write nothing")(
            "fixed-point", po::bool_switch(&ode.fixed_point),
            "print the symmetric (plateau) fixed point, eps_g there and the escape rate; no "
            "integration");
        const ParsedCommand cmd = parse_command(
            argc, argv, "usage: plateau ode [CONFIG.ini] [--key value ...] [-o OUT.h5]", options);
        if (cmd.help)
            return 0;
        // The theory integrates order parameters: there are no weights to save or start from.
        for (const char* key : {"save-weights", "student-from", "teacher-from"})
            if (const std::string value = cmd.config.value(key); value != "none")
                throw ConfigError(key, value,
                                  std::string("none with plateau ode (the theory integrates Q, R, "
                                              "T and v: it has no weights; ") +
                                      key + " is a key of plateau run)");
        // Counted before expanded: a grid that does not fit is refused before it is made.
        constexpr std::int64_t max_sample = 4096;
        if (const std::int64_t grid_points = cmd.config.grid_points(); grid_points > max_sample)
            check_resources(cmd.config.expand_sample(max_sample), RunKind::theory, {},
                            OutputMode::create, static_cast<double>(grid_points));
        CampaignSpec spec = cmd.config.expand();
        for (const auto& point : spec.points) {
            require_theory_support(point.params.model);
            require_theory_regime(point.params); // batch and weight-decay are covered (§6)
        }
        const auto given = [&](const char* option) {
            return cmd.options.count(option) > 0 && !cmd.options[option].defaulted();
        };
        if (ode.fixed_point) {
            // The fixed-point search integrates no run and writes no file: an option for either
            // would be ignored, so it is refused.
            for (const char* option :
                 {"out", "overwrite", "resume", "shard", "init", "init-from", "init-average", "r0",
                  "asymmetry", "rtol", "atol", "dry-run", "predictions", "fluctuations"})
                if (given(option))
                    throw UsageError(std::string("--") + option +
                                     " does not go with --fixed-point, which prints the "
                                     "symmetric fixed point and writes no file");
            // Its subspace has T = I (docs/theory.md §11): a gaussian teacher is another flow.
            for (const auto& point : spec.points) {
                if (point.params.model.inputs != InputKind::gaussian)
                    throw ConfigError("inputs", std::string(name(point.params.model.inputs)),
                                      "gaussian with --fixed-point (the fixed points of the "
                                      "mixture flow are not searched yet, docs/theory.md "
                                      "section 15c)");
                if (point.params.model.teacher_init != TeacherInit::orthonormal)
                    throw ConfigError("teacher-init",
                                      std::string(name(point.params.model.teacher_init)),
                                      "orthonormal with --fixed-point (the symmetric fixed point "
                                      "is that of T = I)");
            }
            return fixed_points(spec, out.quiet, hooks);
        }

        // --init names sample or symmetric; --init-from FILE is the third kind.
        const std::optional<InitKind> named = parse<InitKind>(ode.init);
        if (!named || *named == InitKind::file)
            throw ConfigError("init", ode.init,
                              std::string(name(InitKind::sample)) + " or " +
                                  std::string(name(InitKind::symmetric)));
        const InitKind init = ode.init_from.empty() ? *named : InitKind::file;
        if (ode.init_average && init != InitKind::file)
            throw UsageError("--init-average goes with --init-from FILE");
        if (init == InitKind::file && given("init"))
            throw UsageError("--init and --init-from exclude each other (--init-from starts "
                             "where the file's runs start)");
        // Hidden-manifold inputs (docs/theory.md §16b): the theory's state is each run's weights
        // resolved by input mode, which only --init sample regenerates (a file holds Q, R).
        if (init != InitKind::sample)
            for (const auto& point : spec.points)
                if (point.params.model.inputs == InputKind::hidden_manifold)
                    throw ConfigError(init == InitKind::file ? "init-from" : "init",
                                      init == InitKind::file ? ode.init_from : ode.init,
                                      "--init sample with inputs = hidden-manifold (the theory "
                                      "starts from each run's weights resolved by input mode, "
                                      "docs/theory.md section 16b)");
        for (const char* option : {"r0", "asymmetry"})
            if (given(option) && init != InitKind::symmetric)
                throw UsageError(std::string("--") + option +
                                 " goes with --init symmetric (the other starts do not use it)");
        // Below min_rtol the step control chases rounding noise and a convergent flow would
        // end as if it diverged (engine/theory/ode_integrator.hpp).
        if (!(std::isfinite(ode.rtol) && ode.rtol >= min_rtol))
            throw ConfigError("rtol", number_text(ode.rtol),
                              "a finite number >= " + number_text(min_rtol) +
                                  " (100 x the machine epsilon: a smaller relative error cannot "
                                  "be met in double precision)");
        if (!(std::isfinite(ode.atol) && ode.atol > 0))
            throw ConfigError("atol", number_text(ode.atol), "a finite number > 0");
        const std::optional<PredictionMode> predictions = parse<PredictionMode>(ode.predictions);
        if (!predictions)
            throw ConfigError("predictions", ode.predictions,
                              std::string(name(PredictionMode::automatic)) + " or " +
                                  std::string(name(PredictionMode::none)));
        if (!std::isfinite(ode.r0))
            throw ConfigError("r0", number_text(ode.r0), "a finite number");
        if (!std::isfinite(ode.asymmetry))
            throw ConfigError("asymmetry", number_text(ode.asymmetry), "a finite number");

        // Several teachers (docs/theory.md §17b): R, T and v* over every teacher and the heads
        // start where a run starts.
        if (init != InitKind::sample)
            for (const auto& point : spec.points)
                if (const int n = point.params.model.teachers; n > 1)
                    throw ConfigError(
                        "teachers", std::to_string(n),
                        std::string("1 with ") +
                            (init == InitKind::file ? "--init-from" : "--init symmetric") +
                            " (several teachers start from a run's order "
                            "parameters: --init sample, docs/theory.md section "
                            "17b)");

        const std::int64_t sim_seeds = spec.seeds;
        if (init == InitKind::symmetric || (init == InitKind::file && ode.init_average))
            spec.seeds = 1; // one theory run per grid point
        std::vector<OrderParameters> from_file;
        if (init == InitKind::file)
            from_file = initial_conditions_from_file(ode.init_from, spec, cmd.config, sim_seeds,
                                                     ode.init_average);

        // A symmetric start that is not a covariance (r0 too large for q0) is bad input: found
        // here, before any file exists, not by a worker after the file was created.
        if (init == InitKind::symmetric)
            for (const auto& point : spec.points) {
                const auto& m = point.params.model;
                // Mixture inputs start from M_jc of a run (docs/theory.md §15c): M = 0 is a
                // fixed point of the XOR flow, so a symmetric start would never learn.
                if (m.inputs == InputKind::mixture)
                    throw ConfigError("init", ode.init,
                                      "sample or --init-from FILE with inputs = mixture (the "
                                      "students' overlaps with the means start from a run)");
                const auto valid = [&](double asymmetry) {
                    try {
                        (void)symmetric_initial_conditions(m, initial_q(m), ode.r0, asymmetry);
                        return true;
                    } catch (const std::invalid_argument&) {
                        return false;
                    }
                };
                // Blame the asymmetry when r0 alone would be a valid start.
                if (valid(0.0) && !valid(ode.asymmetry))
                    throw ConfigError("asymmetry", number_text(ode.asymmetry),
                                      "a number small enough that Q - R R^T stays positive "
                                      "semi-definite for --init symmetric (here q0 = " +
                                          number_text(initial_q(m)) +
                                          ", r0 = " + number_text(ode.r0) +
                                          ", K = " + std::to_string(m.student.hidden()) +
                                          ", M = " + std::to_string(m.teacher.hidden()) + ")");
                if (!valid(ode.asymmetry)) {
                    throw ConfigError("r0", number_text(ode.r0),
                                      "a number with r0^2 K M <= q0 for --init symmetric (Q - R "
                                      "R^T positive semi-definite, asymmetry included; here q0 = " +
                                          number_text(initial_q(m)) +
                                          ", K = " + std::to_string(m.student.hidden()) +
                                          ", M = " + std::to_string(m.teacher.hidden()) + ")");
                }
            }

        // --fluctuations (docs/theory.md §11.2c): refused, naming the key, for a model the
        // linear-noise approximation does not cover, before any file exists.
        std::optional<FluctuationStart> fluctuations;
        if (ode.fluctuations) {
            for (const auto& point : spec.points)
                require_fluctuation_support(point.params);
            fluctuations = init == InitKind::symmetric || ode.init_average
                               ? FluctuationStart::random_draw
                               : FluctuationStart::fixed;
        }

        OdeParams integrator;
        integrator.rtol = ode.rtol;
        integrator.atol = ode.atol;
        JointRuleErrors rule_errors;
        InitialConditions initial;
        switch (init) {
        case InitKind::sample:
            initial = sampled_initial_conditions(spec);
            break;
        case InitKind::symmetric:
            initial = [&spec, r0 = ode.r0, asymmetry = ode.asymmetry](std::int64_t run) {
                const ModelParams& m = spec.point_of(run).params.model;
                // Q = q0 I, or I on the sphere (docs/theory.md §14).
                return symmetric_initial_conditions(m, initial_q(m), r0, asymmetry);
            };
            break;
        case InitKind::file:
            initial = [&from_file](std::int64_t run) {
                return from_file[static_cast<std::size_t>(run)];
            };
            break;
        }
        if (ode.dry_run) {
            check_thread_count(spec, mpi::world());
            ode_dry_run(spec, initial, integrator, *predictions, fluctuations.has_value());
            return 0;
        }
        StepCounter alpha_done{0}; // progress in alpha inside long integrations
        const RunFunction run_one = theory_runs(spec, std::move(initial), integrator, &rule_errors,
                                                &alpha_done, *predictions, fluctuations);

        std::ostringstream text;
        text << cmd.config.to_ini(Configuration::IniScope::results) << ode_options_header
             << "init = " << name(init) << '\n';
        if (init == InitKind::symmetric)
            text << "r0 = " << number_text(ode.r0) << "\nasymmetry = " << number_text(ode.asymmetry)
                 << '\n';
        if (init == InitKind::file)
            text << "init-from = " << ode.init_from
                 << "\ninit-average = " << (ode.init_average ? "true" : "false") << '\n';
        text << "rtol = " << number_text(ode.rtol) << "\natol = " << number_text(ode.atol) << '\n';
        // Only when not computed: the text (and config_sha256) of a file with predictions is
        // that of the files written before the key existed.
        if (*predictions != PredictionMode::automatic)
            text << "predictions = " << name(*predictions) << '\n';
        // Likewise only when asked (schema 1.10): where Sigma starts says what the spread is.
        if (fluctuations)
            text << "fluctuations = " << name(*fluctuations) << '\n';
        TheoryAttributes how{theory_method_text(spec), ode.rtol, ode.atol, std::string(name(init))};
        if (init == InitKind::symmetric) {
            how.r0 = ode.r0;
            how.asymmetry = ode.asymmetry;
        }
        if (init == InitKind::file) {
            how.init_from = ode.init_from;
            how.init_average = ode.init_average;
        }
        how.predictions = *predictions;
        const FileMetadata meta{text.str(), command_line, "theory", std::move(how)};
        const int status =
            run_campaign("ode", spec, run_one, out, meta, ProgressUnit::alpha, &alpha_done, hooks);
        if (!out.quiet)
            print_rule_errors(rule_errors.summary());
        return status;
    };
    return guarded("ode", body, hooks.error);
}

} // namespace plateau::cli
