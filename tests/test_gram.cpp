// Tests of the Gram-matrix sampler, dynamics = gram (engine/simulation/gram_dynamics.hpp;
// docs/theory.md §7): the algebra of one step against the engine's trainer on explicit weights, the
// initial law and the chi^2 variates against their exact moments and against the full simulation,
// the refusals, divergence, and (slow) the law of whole runs against full runs (two-sample KS
// tests) and against the N -> infinity theory.
#include "cli/config.hpp"
#include "cli_helpers.hpp"
#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/io/reader.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"
#include "engine/theory/theory.hpp"
#include "run_helpers.hpp"
#include "stat_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

using namespace plateau;
using plateau::cli::Configuration;

namespace {

RunParams gram_params(std::int64_t N, int K, int M) {
    RunParams p = test::params_of(N, K, M);
    p.dynamics = DynamicsKind::gram;
    return p;
}

/// Q, R, T of G as one (K+M) x (K+M) matrix.
Eigen::MatrixXd gram_of(const OrderParameters& op) {
    const auto K = op.Q.rows();
    const auto M = op.T.rows();
    Eigen::MatrixXd G(K + M, K + M);
    G << op.Q, op.R, op.R.transpose(), op.T;
    return G;
}

/// Mean and variance of a sample.
struct Moments {
    double mean = 0.0;
    double var = 0.0;
};
Moments moments(const std::vector<double>& x) {
    const auto n = static_cast<double>(x.size());
    double s = 0.0;
    for (const double v : x)
        s += v;
    const double mean = s / n;
    double ss = 0.0;
    for (const double v : x)
        ss += (v - mean) * (v - mean);
    return {mean, ss / (n - 1.0)};
}

/// |mean_a - mean_b| in units of its standard error.
double z_score(const std::vector<double>& a, const std::vector<double>& b) {
    const Moments ma = moments(a);
    const Moments mb = moments(b);
    return std::abs(ma.mean - mb.mean) / std::sqrt(ma.var / static_cast<double>(a.size()) +
                                                   mb.var / static_cast<double>(b.size()));
}

} // namespace

TEST_CASE("gram: one step of the chain is the Gram matrix of the trainer's updated weights",
          "[gram]") {
    // Explicit weights and an explicit example xi: the trainer (make_trainer: OnlineSgd, or
    // MiniBatchSgd with B = 1 for weight decay) updates the weights; the chain, fed z = L^-1 (x, y)
    // and chi^2 = |xi|^2 - |z|^2 of the same xi, must give the Gram matrix of the updated weights
    // (Eqs. (G1)-(G3), docs/theory.md §7).
    struct Case {
        const char* what;
        int K;
        int M;
        bool learn_v;
        double noise;
        ActivationKind g;
        ActivationKind h;
        double weight_decay = 0.0;
    };
    const Case cases[] = {
        {"erf K=M=2", 2, 2, false, 0.0, ActivationKind::erf, ActivationKind::linear},
        {"erf K=3 M=2 learn-v noise", 3, 2, true, 0.3, ActivationKind::erf, ActivationKind::linear},
        {"tanh K=2 M=4 tanh output", 2, 4, true, 0.0, ActivationKind::tanh, ActivationKind::tanh},
        // lambda large enough that the decay's rescaling (1 - eta lambda/N)^2 of Q is far above
        // the tolerance
        {"erf K=M=2 learn-v weight decay", 2, 2, true, 0.1, ActivationKind::erf,
         ActivationKind::linear, 4.0},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        RunParams p = gram_params(50, c.K, c.M);
        p.model.learn_v = c.learn_v;
        p.model.noise = c.noise;
        p.model.q0 = 1.0;
        p.model.v0 = 0.7;
        p.model.student.g.kind = p.model.teacher.g.kind = c.g;
        p.model.student.h.kind = p.model.teacher.h.kind = c.h;
        p.training.eta = 1.5; // large, so that the eta^2 |xi|^2 d d^T term is far above rounding
        p.training.eta_v = 0.8;
        p.training.weight_decay = c.weight_decay;
        const std::uint64_t seed = 11;
        for (std::uint64_t run = 0; run < 5; ++run) {
            RunState s = make_initial_state(p.model, seed, run);
            const RowMatrix A = s.weights;
            GramChain chain(p, order_parameters_of(s));

            // The trainer's first example and label noise.
            const test::FirstExample e = test::first_example(p.model, seed, run);
            const std::unique_ptr<Trainer> trainer = make_trainer(p, seed, run);
            REQUIRE(trainer->advance(s, 1) == StepOutcome::ok);
            const OrderParameters after = order_parameters_of(s);

            test::gram_chain_step(chain, A, e);

            const Eigen::MatrixXd expected = gram_of(after);
            const Eigen::MatrixXd& got = chain.gram();
            CHECK((got - expected).cwiseAbs().maxCoeff() < 1e-11);
            CHECK((chain.v() - after.v).cwiseAbs().maxCoeff() < 1e-13);
            CHECK(got == got.transpose()); // exactly symmetric
            // The step changed G by far more than the tolerance (the test has teeth).
            CHECK((expected - gram_of(order_parameters_of(make_initial_state(p.model, seed, run))))
                      .cwiseAbs()
                      .maxCoeff() > 1e-4);
        }
    }
}

TEST_CASE("gram: a run draws z then chi^2 with N - K - M degrees of freedom from stream 9",
          "[gram]") {
    // The wiring of GramDynamics, step by step: its first steps equal the chain fed by hand with
    // r normals and 2 Gamma((N - r)/2) from the run's gram_steps stream and the label noise
    // from its noise stream (a wrong number of degrees of freedom changes |xi|^2, Eq. (G2)).
    RunParams p = gram_params(7, 2, 3);
    p.model.noise = 0.2;
    p.training.eta = 2.0;
    GramDynamics dynamics(p, 4, 1, 1);
    GramChain chain(p, sample_initial_gram(p, 4, 1));
    NormalStream draws(StreamKey{4, 1, StreamPurpose::gram_steps});
    NormalStream noise(StreamKey{4, 1, StreamPurpose::noise});
    const GammaSampler half_chi2(0.5 * (7 - 5));
    std::vector<double> z(5);
    for (int step = 1; step <= 3; ++step) {
        REQUIRE(chain.factorize());
        draws.fill(z);
        const double chi2 = 2.0 * half_chi2(draws);
        REQUIRE(chain.step(z, chi2, std::sqrt(0.2) * noise.next()));
        REQUIRE(dynamics.advance_to(step / 7.0));
        CHECK(dynamics.step() == step);
        CHECK(dynamics.chain().gram() == chain.gram());
    }
}

TEST_CASE("gram: chi^2 variates have the moments of chi^2", "[gram]") {
    // Mean k and variance 2k; skewness sqrt(8/k) checked through the third central moment 8k.
    for (const double k : {1.0, 2.5, 7.0, 96.0, 1e6}) {
        INFO("dof " << k);
        NormalStream rng(StreamKey{3, static_cast<std::uint64_t>(k), StreamPurpose::gram_steps});
        const int n = 40000;
        std::vector<double> x(n);
        for (double& v : x)
            v = chi_squared_variate(rng, k);
        const Moments m = moments(x);
        CHECK(std::abs(m.mean - k) < 5.0 * std::sqrt(2.0 * k / n));
        // Var of the sample variance ~ (mu4 - sigma^4)/n, mu4 = 12 k (k + 4) for chi^2.
        const double var_sd = std::sqrt((12.0 * k * (k + 4.0) - 4.0 * k * k) / n);
        CHECK(std::abs(m.var - 2.0 * k) < 5.0 * var_sd);
        double m3 = 0.0;
        for (const double v : x)
            m3 += (v - m.mean) * (v - m.mean) * (v - m.mean);
        m3 /= n;
        // Standard error of the third central moment ~ sqrt(mu6/n); mu6 ~ 120 (2k)^3/8 suffices
        // as a bound for these k.
        CHECK(std::abs(m3 - 8.0 * k) < 5.0 * std::sqrt(15.0 * 8.0 * k * k * k / n + 1e4 * k / n));
        CHECK(*std::min_element(x.begin(), x.end()) >= 0.0);
    }
}

TEST_CASE("gram: the initial Gram matrix has the law of the full simulation's", "[gram]") {
    // Moments (means and second moments) of every entry of Q, R, T over many draws of each:
    // the weights of make_initial_state (full) and sample_initial_gram (gram), at small N where
    // the laws differ most from their means; orthonormal and Gaussian teachers, K != M.
    for (const TeacherInit teacher : all_values<TeacherInit>()) {
        INFO("teacher " << name(teacher));
        RunParams p = gram_params(12, 2, 3);
        p.model.q0 = 0.5;
        p.model.teacher_init = teacher;
        const int draws = 4000;
        const int r = 5;
        std::vector<std::vector<double>> full(r * r);
        std::vector<std::vector<double>> gram(r * r);
        for (int d = 0; d < draws; ++d) {
            const auto run = static_cast<std::uint64_t>(d);
            const Eigen::MatrixXd a =
                gram_of(order_parameters_of(make_initial_state(p.model, 5, run)));
            const Eigen::MatrixXd b = gram_of(sample_initial_gram(p, 5, run));
            CHECK(b == b.transpose());
            for (int i = 0; i < r * r; ++i) {
                full[static_cast<std::size_t>(i)].push_back(a(i / r, i % r));
                gram[static_cast<std::size_t>(i)].push_back(b(i / r, i % r));
            }
        }
        double worst = 0.0;
        for (int i = 0; i < r * r; ++i) {
            const auto& f = full[static_cast<std::size_t>(i)];
            const auto& g = gram[static_cast<std::size_t>(i)];
            if (moments(f).var < 1e-20) { // T of the orthonormal teacher: identity in both
                CHECK(std::abs(moments(g).mean - moments(f).mean) < 1e-12);
                CHECK(moments(g).var < 1e-20);
                continue;
            }
            std::vector<double> f2;
            std::vector<double> g2;
            for (const double v : f)
                f2.push_back(v * v);
            for (const double v : g)
                g2.push_back(v * v);
            worst = std::max({worst, z_score(f, g), z_score(f2, g2)});
        }
        // 50 entries x 2 moments at 5 standard errors: a false alarm has probability < 1e-4.
        CHECK(worst < 5.0);
        // And the exact first moments: E Q_jj = q0, E T_nn = 1 (docs/theory.md §7).
        const double q_mean = moments(gram[0]).mean;
        CHECK(std::abs(q_mean - p.model.q0) < 5.0 * std::sqrt(moments(gram[0]).var / draws));
    }
}

TEST_CASE("gram: N <= K + M is refused naming N", "[gram][errors]") {
    RunParams p = gram_params(4, 2, 2);
    CHECK(plateau::test::error_of<ConfigError>([&] { validate(p); }) ==
          "invalid value '4' for 'N': allowed is an integer > K + M = 4 with dynamics = gram");
    p.model.N = 5;
    CHECK_NOTHROW(validate(p));
    p.model.N = 4;
    p.dynamics = DynamicsKind::full;
    CHECK_NOTHROW(validate(p));
    // Through the configuration, one line, exit status 2 from the program.
    Configuration c;
    c.set("dynamics", "gram");
    c.set("N", "3, 100");
    CHECK(plateau::test::error_of<ConfigError>([&] { (void)c.expand(); }) ==
          "invalid value '3' for 'N': allowed is an integer > K + M = 4 with dynamics = gram");
    const auto res = plateau::test::run_plateau("run --dynamics gram --N 4 --dry-run");
    CHECK(res.status == 2);
    CHECK(res.output.find("invalid value '4' for 'N'") != std::string::npos);
}

TEST_CASE("gram: a training set or a batch is refused naming its key", "[gram][errors]") {
    const auto refused = [](const char* key, const char* value) {
        Configuration c;
        c.set("dynamics", "gram");
        c.set("N", "50");
        c.set(key, value);
        return plateau::test::error_of<ConfigError>([&] { (void)c.expand(); });
    };
    CHECK(refused("train-set", "100") == "invalid value '100' for 'train-set': allowed is none "
                                         "with dynamics = gram (it needs a fresh example each "
                                         "step)");
    CHECK(refused("alpha-train", "2").starts_with("invalid value '2' for 'alpha-train'"));
    CHECK(refused("batch", "4") ==
          "invalid value '4' for 'batch': allowed is 1 with dynamics = gram (one example a step)");
    CHECK(refused("weight-decay", "0.1") == "no error"); // exact: the chain rescales G
    CHECK(refused("batch", "1") == "no error");
}

TEST_CASE("gram: a G that is not positive semi-definite or not finite is a divergence", "[gram]") {
    RunParams p = gram_params(50, 2, 2);
    OrderParameters op = sample_initial_gram(p, 1, 0);
    op.Q(1, 1) = -0.5;
    GramChain bad(p, op);
    CHECK_FALSE(bad.factorize());
    op = sample_initial_gram(p, 1, 0);
    op.R(0, 1) = std::numeric_limits<double>::quiet_NaN();
    op.R(0, 1) = std::numeric_limits<double>::quiet_NaN();
    GramChain nan(p, op);
    CHECK_FALSE(nan.factorize());
    // A rank-deficient G (q0 = 0: the students are zero) is not: the fields x are 0.
    p.model.q0 = 0.0;
    GramChain zero(p, sample_initial_gram(p, 1, 0));
    REQUIRE(zero.factorize());
    CHECK(zero.factor().topRows(2).isZero(0.0));

    // Whole runs: a learning rate far too large with unbounded g blows the weights up; the run
    // is diverged, whatever the backend, and never crashes.
    RunParams wild = gram_params(50, 2, 2);
    wild.model.student.g.kind = wild.model.teacher.g.kind = ActivationKind::relu;
    wild.training.eta = 60.0;
    wild.schedule.alpha_max = 50.0;
    for (std::uint64_t run = 0; run < 4; ++run)
        CHECK(simulate(wild, 1, run).status == RunStatus::diverged);
}

TEST_CASE("gram: runs converge to the teacher without a false divergence", "[gram]") {
    // K = M, no noise: w^(j) -> B_j, G becomes singular to rounding; the semi-definite
    // factorization keeps the run going (q0 = 0 starts singular).
    for (const double q0 : {0.0, 0.2}) {
        RunParams p = gram_params(20, 2, 2);
        p.model.q0 = q0;
        p.training.eta = 1.0;
        p.schedule.alpha_max = 3000.0;
        p.schedule.records = 20;
        int converged = 0;
        for (std::uint64_t run = 0; run < 6; ++run) {
            const RunResult res = simulate(p, 3, run);
            REQUIRE(res.status == RunStatus::completed);
            if (res.records.back().eg < 1e-12)
                ++converged;
        }
        // q0 = 0: w^(1) = w^(2) = 0 start equal, G has a zero pivot; exactly they stay equal
        // (the symmetric plateau, forever: a full run keeps them bitwise equal), the chain's
        // rounding (1e-16) breaks the symmetry and may let a run escape late. Either way the
        // run completes.
        if (q0 > 0.0)
            CHECK(converged == 6);
    }
}

TEST_CASE("gram: a run is a pure function of its arguments and swept as a coordinate", "[gram]") {
    RunParams p = gram_params(100, 2, 2);
    p.schedule.alpha_max = 5.0;
    p.schedule.records = 10;
    const RunResult a = simulate(p, 9, 3);
    const RunResult b = simulate(p, 9, 3);
    REQUIRE(a.records.size() == b.records.size());
    for (std::size_t i = 0; i < a.records.size(); ++i) {
        CHECK(a.records[i].Q == b.records[i].Q);
        CHECK(a.records[i].eg == b.records[i].eg);
    }
    CHECK_FALSE(a.records.back().Q == simulate(p, 9, 4).records.back().Q);
    // The first record is the exact initial G, and the swept key is a per-run coordinate.
    CHECK(
        gram_of(OrderParameters{a.records[0].Q, a.records[0].R, a.records[0].T, {}, {}, {}, {}}) ==
        gram_of(sample_initial_gram(p, 9, 3)));
    Configuration c;
    c.set("dynamics", "full, gram");
    const auto spec = c.expand();
    REQUIRE(spec.points.size() == 2);
    CHECK(spec.points[1].params.dynamics == DynamicsKind::gram);
    const bool coordinate =
        std::any_of(spec.points[1].coordinates.begin(), spec.points[1].coordinates.end(),
                    [](const auto& k) { return k.key == "dynamics"; });
    CHECK(coordinate);
}

TEST_CASE("gram: plateau ode --init sample starts where the gram run starts", "[gram]") {
    const plateau::test::TempDir dir;
    const std::string common = "--N 30 --K 2 --M 3 --q0 0.4 --seeds 3 --alpha-max 1 --records 3 "
                               "--dynamics gram --quiet ";
    REQUIRE(plateau::test::run_plateau("run " + common + "-o " + (dir / "g.h5")).status == 0);
    REQUIRE(plateau::test::run_plateau("ode " + common + "--predictions none -o " + (dir / "o.h5"))
                .status == 0);
    const auto g = CampaignReader::open(dir / "g.h5");
    const auto o = CampaignReader::open(dir / "o.h5");
    for (std::int64_t run = 0; run < 3; ++run) {
        const Observables a = g.read_records(*g.find_run(run), 0, 1).front();
        const Observables b = o.read_records(*o.find_run(run), 0, 1).front();
        CHECK(a.Q == b.Q);
        CHECK(a.R == b.R);
        CHECK(a.T == b.T);
    }
}

TEST_CASE("gram: whole runs have the law of full runs (two-sample KS)", "[gram][slow]") {
    // 500 runs of each backend per case; KS tests on Q_11, R_11, eps_g at 3 record times and on
    // the escape time: 10 tests per case, 3 cases, Bonferroni at a family-wise level of 1e-3:
    // each test must have p > 1e-3 / 30.
    struct Case {
        const char* what;
        std::int64_t N;
        int K;
        int M;
        bool learn_v;
        double noise;
        double escape_eg;
    };
    const Case cases[] = {
        {"N=50 K=M=2", 50, 2, 2, false, 0.0, 0.01},
        {"N=200 K=M=2", 200, 2, 2, false, 0.0, 0.01},
        {"N=50 K=3 M=2 learn-v noise", 50, 3, 2, true, 0.05, 0.012},
    };
    const int runs = 500;
    const double per_test = 1e-3 / 30.0;
    double smallest = 1.0;
    for (const Case& c : cases) {
        INFO(c.what);
        RunParams p = gram_params(c.N, c.K, c.M);
        p.model.learn_v = c.learn_v;
        p.model.noise = c.noise;
        p.training.eta = 1.0;
        p.training.eta_v = 1.0;
        p.schedule.kind = ScheduleKind::linear;
        p.schedule.alpha_max = 200.0;
        p.schedule.records = 201;
        // alpha = 5 (the drop), 40 (the plateau), 100 (the escape of N = 200)
        const std::vector<std::size_t> at{5, 40, 100};
        const test::Sample gram = test::sample_runs(p, runs, at, c.escape_eg);
        p.dynamics = DynamicsKind::full;
        const test::Sample full = test::sample_runs(p, runs, at, c.escape_eg);
        INFO("escape time: mean gram " << moments(gram.escape).mean << ", full "
                                       << moments(full.escape).mean);
        smallest = std::min(smallest, test::check_same_law(gram, full, at, per_test));
    }
    WARN("smallest KS p-value of 30: " << smallest);
}

TEST_CASE("gram: seed means at N = 10^4 follow the theory", "[gram][slow]") {
    // Each gram run against the ODE of §3 integrated from its own initial G (plateau ode --init
    // sample): the paired differences' mean at every record time within 5 standard errors (plus
    // 1e-3 for the O(1/N) finite-size bias). Before the escape, where the fluctuations that
    // decide it have not yet grown (alpha <= 40 at eta = 1, q0 = 0.2).
    RunParams p = gram_params(10000, 2, 2);
    p.training.eta = 1.0;
    p.schedule.alpha_max = 40.0;
    p.schedule.records = 30;
    const int runs = 24;
    const std::vector<double> alphas = record_alphas(p.schedule);
    std::vector<std::vector<double>> dq(alphas.size());
    std::vector<std::vector<double>> dr(alphas.size());
    std::vector<std::vector<double>> deg(alphas.size());
    for (int run = 0; run < runs; ++run) {
        const auto r = static_cast<std::uint64_t>(run);
        const RunResult g = simulate(p, 5, r);
        const RunResult t = integrate_theory(p, sample_initial_gram(p, 5, r));
        REQUIRE(g.status == RunStatus::completed);
        REQUIRE(t.status == RunStatus::completed);
        for (std::size_t k = 0; k < alphas.size(); ++k) {
            dq[k].push_back(g.records[k].Q.trace() - t.records[k].Q.trace());
            dr[k].push_back(g.records[k].R.trace() - t.records[k].R.trace());
            deg[k].push_back(g.records[k].eg - t.records[k].eg);
        }
    }
    for (std::size_t k = 1; k < alphas.size(); ++k) {
        INFO("alpha = " << alphas[k]);
        for (const auto* d : {&dq[k], &dr[k], &deg[k]}) {
            const Moments m = moments(*d);
            CHECK(std::abs(m.mean) < 5.0 * std::sqrt(m.var / runs) + 1e-3);
        }
    }
}
