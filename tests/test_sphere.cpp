// readout-scale = inverse-k and constraint = sphere (docs/theory.md §14): the gradients of the
// scaled readout against finite differences, the sphere kept to rounding by every trainer and the
// Gram chain, one step of the chain against the trainer's projected weights, the Gram chain
// against the full simulation in distribution (KS), and simulations against the projected and
// scaled flow of `plateau ode`.
#include "cli_helpers.hpp"
#include "engine/core/schedule.hpp"
#include "engine/io/reader.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"
#include "engine/theory/theory.hpp"
#include "models/network.hpp"
#include "run_helpers.hpp"
#include "stat_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>
#include <vector>

using namespace plateau;

namespace {

Eigen::VectorXd sphere_gaussian_vector(std::mt19937_64& rng, Eigen::Index n, double sd) {
    std::normal_distribution<double> d(0.0, sd);
    Eigen::VectorXd x(n);
    for (Eigen::Index i = 0; i < n; ++i)
        x[i] = d(rng);
    return x;
}

/// The largest |Q_jj - 1| over every record of a run.
double sphere_error(const RunResult& r) {
    double worst = 0.0;
    for (const Observables& o : r.records)
        worst = std::max(worst, (o.Q.diagonal().array() - 1.0).abs().maxCoeff());
    return worst;
}

} // namespace

TEST_CASE("sphere: readout-scale inverse-k gradients match central finite differences",
          "[sphere][gradient]") {
    // sigma = h((1/K) sum_j v_j g(x_j)): the gradients of w and v carry the 1/K (models/
    // network.hpp backward). Checked against the cost itself, and against the readout-one
    // gradients of the same network with v/K (so a forward pass without the scale fails too).
    std::mt19937_64 rng(20261206);
    const Eigen::Index N = 10;
    const int K = 3;
    for (const auto g : {ActivationKind::erf, ActivationKind::square, ActivationKind::tanh}) {
        for (const auto h : {ActivationKind::linear, ActivationKind::tanh}) {
            NetworkSpec net{{K}, Activation{g}, Activation{h}};
            net.readout = ReadoutScale::inverse_k;
            NetworkSpec plain = net;
            plain.readout = ReadoutScale::one;
            INFO("g = " << name(g) << ", h = " << output_name(h));
            for (int trial = 0; trial < 4; ++trial) {
                RowMatrix W(K, N);
                for (int j = 0; j < K; ++j)
                    W.row(j) =
                        sphere_gaussian_vector(rng, N, 1.0 / std::sqrt(double(N))).transpose();
                const Eigen::VectorXd v = sphere_gaussian_vector(rng, K, 1.0);
                const Eigen::VectorXd xi = sphere_gaussian_vector(rng, N, 1.0);
                const double tau = sphere_gaussian_vector(rng, 1, 1.0)[0];
                const PerExampleGradient grad = per_example_gradient(net, W, v, xi, tau);
                // The same network written with v/K and readout one: same output, same dW.
                const PerExampleGradient same = per_example_gradient(plain, W, v / K, xi, tau);
                CHECK(network_output(net, W, v, xi) ==
                      Approx(network_output(plain, W, v / K, xi)).epsilon(1e-12));
                CHECK((grad.dW - same.dW).cwiseAbs().maxCoeff() < 1e-12);
                const double eps = 1e-6;
                const double tol = 1e-7; // O(eps^2 f''') + O(ulp/eps), as tests/test_network.cpp
                for (int m = 0; m < K; ++m)
                    for (Eigen::Index n = 0; n < N; ++n) {
                        RowMatrix Wp = W;
                        RowMatrix Wm = W;
                        Wp(m, n) += eps;
                        Wm(m, n) -= eps;
                        const double fd = (per_example_cost(net, Wp, v, xi, tau) -
                                           per_example_cost(net, Wm, v, xi, tau)) /
                                          (2 * eps);
                        CHECK(grad.dW(m, n) == Approx(fd).margin(tol).epsilon(1e-6));
                    }
                for (int k = 0; k < K; ++k) {
                    Eigen::VectorXd vp = v;
                    Eigen::VectorXd vm = v;
                    vp[k] += eps;
                    vm[k] -= eps;
                    const double fd = (per_example_cost(net, W, vp, xi, tau) -
                                       per_example_cost(net, W, vm, xi, tau)) /
                                      (2 * eps);
                    CHECK(grad.dv[k] == Approx(fd).margin(tol).epsilon(1e-6));
                }
            }
        }
    }
}

TEST_CASE("sphere: full runs (on-line and mini-batch) and the Gram chain keep Q_jj = 1",
          "[sphere]") {
    // eta = 2 with square and erf students: an unconstrained run moves Q_jj by O(1) within the
    // first records, so 1e-12 is a test of the projection at every step, not of the start.
    for (const auto g : {ActivationKind::erf, ActivationKind::square}) {
        for (const auto dynamics : {DynamicsKind::full, DynamicsKind::gram}) {
            for (const std::int64_t batch : {1, 3}) {
                if (dynamics == DynamicsKind::gram && batch != 1)
                    continue; // the chain is on-line SGD only
                RunParams p = test::params_of(60, 3, 2);
                p.model.student.g.kind = g;
                p.model.constraint = Constraint::sphere;
                p.model.learn_v = true;
                p.model.noise = 0.1;
                p.training.eta = 2.0;
                p.training.batch.size = batch;
                p.dynamics = dynamics;
                p.schedule.alpha_max = 20.0;
                p.schedule.records = 10;
                p.observer.eg_samples = 200;
                INFO(name(g) << ", " << name(dynamics) << ", B = " << batch);
                for (std::uint64_t run = 0; run < 2; ++run) {
                    const RunResult r = simulate(p, 3, run);
                    REQUIRE(r.status == RunStatus::completed);
                    CHECK(sphere_error(r) < 1e-12);
                    // The run moved: R_11 is not its start (the check above has teeth).
                    CHECK(std::abs(r.records.back().R(0, 0) - r.records.front().R(0, 0)) > 1e-2);
                }
            }
        }
    }
}

TEST_CASE("sphere: one step of the chain is the Gram matrix of the trainer's projected weights",
          "[sphere]") {
    // As tests/test_gram.cpp's one-step test, with the rescaling of every student row after the
    // update (docs/theory.md §14): the chain rescales its rows and columns of G.
    for (const bool inverse_k : {false, true}) {
        RunParams p = test::params_of(40, 3, 2);
        p.model.constraint = Constraint::sphere;
        if (inverse_k)
            p.model.student.readout = p.model.teacher.readout = ReadoutScale::inverse_k;
        p.model.learn_v = true;
        p.model.noise = 0.3;
        p.training.eta = 1.5;
        const std::uint64_t seed = 8;
        for (std::uint64_t run = 0; run < 4; ++run) {
            INFO("inverse-k " << inverse_k << ", run " << run);
            RunState s = make_initial_state(p.model, seed, run);
            CHECK((order_parameters_of(s).Q.diagonal().array() - 1.0).abs().maxCoeff() < 1e-14);
            const RowMatrix A = s.weights;
            GramChain chain(p, order_parameters_of(s));
            const test::FirstExample e = test::first_example(p.model, seed, run);
            const std::unique_ptr<Trainer> trainer = make_trainer(p, seed, run);
            REQUIRE(trainer->advance(s, 1) == StepOutcome::ok);
            const OrderParameters after = order_parameters_of(s);
            test::gram_chain_step(chain, A, e);
            Eigen::MatrixXd expected(5, 5);
            expected << after.Q, after.R, after.R.transpose(), after.T;
            const Eigen::MatrixXd& got = chain.gram();
            CHECK((got - expected).cwiseAbs().maxCoeff() < 1e-12);
            CHECK((chain.v() - after.v).cwiseAbs().maxCoeff() < 1e-13);
            CHECK(got == got.transpose());
            // The step moved R by far more than the tolerance.
            CHECK((after.R - order_parameters_of(make_initial_state(p.model, seed, run)).R)
                      .cwiseAbs()
                      .maxCoeff() > 1e-5);
        }
    }
}

namespace {

/// Q_11, R_11 and Q_12 of many runs at chosen records.
struct Sample {
    std::vector<std::vector<double>> q11, r11, q12; ///< [record][run]
};

Sample sample_runs(const RunParams& p, int runs, const std::vector<std::size_t>& at) {
    // A square student without the sphere diverges now and then (a few runs in 1000 here): part
    // of the law, so a diverged run's records from its divergence on count as +infinity (1e300)
    // in both backends.
    constexpr double diverged = 1e300;
    Sample s;
    s.q11.resize(at.size());
    s.r11.resize(at.size());
    s.q12.resize(at.size());
    for (int run = 0; run < runs; ++run) {
        const RunResult res = simulate(p, 91, static_cast<std::uint64_t>(run));
        REQUIRE((res.status == RunStatus::completed || res.status == RunStatus::diverged));
        for (std::size_t i = 0; i < at.size(); ++i) {
            const bool there = at[i] < res.records.size() && res.records[at[i]].Q.allFinite() &&
                               res.records[at[i]].R.allFinite();
            s.q11[i].push_back(there ? res.records[at[i]].Q(0, 0) : diverged);
            s.r11[i].push_back(there ? res.records[at[i]].R(0, 0) : diverged);
            s.q12[i].push_back(there ? res.records[at[i]].Q(0, 1) : diverged);
        }
    }
    return s;
}

} // namespace

TEST_CASE("sphere: the Gram chain has the law of full runs, square student with he2(y1) (KS)",
          "[sphere][gram]") {
    // 1000 runs of each backend per case at N = 40 (finite N, where a wrong chain shows): KS tests
    // on Q_11 (the unconstrained case), R_11 and Q_12 at 3 records; Bonferroni over the 16 tests
    // at a family-wise level of 1e-3.
    struct Case {
        const char* what;
        Constraint constraint;
    };
    const Case cases[] = {{"square, he2(y1)", Constraint::none},
                          {"square, he2(y1), sphere", Constraint::sphere}};
    const int runs = 1000;
    const double per_test = 1e-3 / 16.0;
    double smallest = 1.0;
    for (const Case& c : cases) {
        INFO(c.what);
        RunParams p = test::params_of(40, 2, 1);
        p.model.student.g.kind = ActivationKind::square;
        p.model.target = parse_target("he2(y1)");
        p.model.constraint = c.constraint;
        p.model.q0 = 0.5;
        p.model.v0 = 0.5;
        p.training.eta = 0.2;
        p.schedule.kind = ScheduleKind::linear;
        p.schedule.alpha_max = 8.0;
        p.schedule.records = 9;
        p.observer.eg_samples = 100;
        const std::vector<std::size_t> at{2, 4, 8};
        p.dynamics = DynamicsKind::gram;
        const Sample gram = sample_runs(p, runs, at);
        p.dynamics = DynamicsKind::full;
        const Sample full = sample_runs(p, runs, at);
        for (std::size_t i = 0; i < at.size(); ++i) {
            INFO("record " << at[i]);
            for (const auto& [what, a, b] : {std::tuple{"Q_11", &gram.q11[i], &full.q11[i]},
                                             std::tuple{"R_11", &gram.r11[i], &full.r11[i]},
                                             std::tuple{"Q_12", &gram.q12[i], &full.q12[i]}}) {
                if (c.constraint == Constraint::sphere && std::string(what) == "Q_11")
                    continue; // 1 in both
                const double pv = test::ks_p_value(*a, *b);
                INFO(what << ": p = " << pv);
                CHECK(pv > per_test);
                smallest = std::min(smallest, pv);
            }
        }
    }
    WARN("smallest KS p-value of 15: " << smallest);
}

TEST_CASE("sphere: simulations follow plateau ode's projected and scaled flow (erf)",
          "[sphere][theory][heavy]") {
    // Each full run against the ODE integrated from its own initial order parameters (plateau
    // ode --init sample): the seed mean of eps_g, Q_12 and R_11 within 4 standard errors of the
    // paired difference plus 2 % of the theory's value (the O(1/N) finite-size bias), at every
    // record. Without the projection (docs/theory.md §14) the flow's Q_jj leaves 1 and eps_g
    // follows; without the 1/K in dv or in the averages the inverse-k runs part from it.
    struct Case {
        const char* what;
        int M;
        Constraint constraint;
        ReadoutScale readout;
        bool learn_v;
        double noise;
    };
    const Case cases[] = {
        {"K = M = 2, sphere", 2, Constraint::sphere, ReadoutScale::one, false, 0.0},
        {"K = M = 2, sphere, learned v, noise", 2, Constraint::sphere, ReadoutScale::one, true,
         0.01},
        {"K = M = 2, inverse-k, learned v", 2, Constraint::none, ReadoutScale::inverse_k, true,
         0.0},
        {"K = 2, M = 1, sphere, inverse-k, learned v", 1, Constraint::sphere,
         ReadoutScale::inverse_k, true, 0.0},
    };
    const int runs = 12;
    for (const Case& c : cases) {
        INFO(c.what);
        RunParams p = test::params_of(1000, 2, c.M);
        p.model.constraint = c.constraint;
        p.model.student.readout = p.model.teacher.readout = c.readout;
        p.model.learn_v = c.learn_v;
        p.model.noise = c.noise;
        p.training.eta = 1.0;
        p.training.eta_v = 1.0;
        p.schedule.kind = ScheduleKind::linear;
        p.schedule.alpha_max = 12.0;
        p.schedule.records = 7;
        const std::vector<double> alphas = record_alphas(p.schedule);
        std::vector<std::vector<double>> sim(alphas.size() * 3);
        std::vector<std::vector<double>> ode(alphas.size() * 3);
        for (int run = 0; run < runs; ++run) {
            const auto r = static_cast<std::uint64_t>(run);
            const RunResult s = simulate(p, 17, r);
            const RunResult t = integrate_theory(p, sample_initial_order_parameters(p, 17, r));
            REQUIRE(s.status == RunStatus::completed);
            REQUIRE(t.status == RunStatus::completed);
            for (std::size_t k = 0; k < alphas.size(); ++k) {
                const auto& a = s.records[k];
                const auto& b = t.records[k];
                for (const auto& [i, x, y] :
                     {std::tuple{0, a.eg, b.eg}, std::tuple{1, a.Q(0, 1), b.Q(0, 1)},
                      std::tuple{2, a.R(0, 0), b.R(0, 0)}}) {
                    sim[3 * k + i].push_back(x);
                    ode[3 * k + i].push_back(y);
                }
                if (c.constraint == Constraint::sphere)
                    CHECK(std::abs(b.Q(0, 0) - 1.0) < 1e-6); // the flow keeps Q_jj = 1
            }
        }
        for (std::size_t k = 1; k < alphas.size(); ++k)
            for (std::size_t i = 0; i < 3; ++i) {
                test::Stat diff;
                test::Stat theory;
                for (int run = 0; run < runs; ++run) {
                    diff.add(sim[3 * k + i][run] - ode[3 * k + i][run]);
                    theory.add(ode[3 * k + i][run]);
                }
                INFO("alpha = " << alphas[k] << ", "
                                << (i == 0   ? "eps_g"
                                    : i == 1 ? "Q_12"
                                             : "R_11")
                                << ": simulation - ode = " << diff.mean() << " +- "
                                << diff.standard_error() << ", ode " << theory.mean());
                CHECK(std::abs(diff.mean()) <
                      4.0 * diff.standard_error() + 0.02 * std::abs(theory.mean()));
            }
    }
}

TEST_CASE("sphere: plateau ode --init symmetric starts on the sphere, bad values are one line",
          "[sphere][cli]") {
    const plateau::test::TempDir dir;
    const auto ok = plateau::test::run_plateau(
        "ode --K 2 --M 2 --constraint sphere --readout-scale inverse-k --init symmetric "
        "--r0 0.1 --alpha-max 2 --records 3 --quiet -o " +
        (dir / "s.h5"));
    REQUIRE(ok.status == 0);
    // Q = I (not q0 I, q0 = 0.2 by default) at the start, and Q_jj = 1 along the projected flow
    // (docs/theory.md §14).
    const auto file = CampaignReader::open(dir / "s.h5");
    const auto records = file.read_records(*file.find_run(0), 0, 3);
    REQUIRE(records.size() == 3);
    CHECK(records.front().Q == Eigen::MatrixXd::Identity(2, 2));
    CHECK(std::abs(records.front().R(0, 0) - 0.1) < 1e-6);
    CHECK((records.back().Q.diagonal().array() - 1.0).abs().maxCoeff() < 1e-6);
    CHECK(std::abs(records.back().Q(0, 1)) > 1e-4); // the flow moved
    for (const auto& [key, value] :
         {std::pair{"constraint", "ball"}, std::pair{"readout-scale", "inverse-m"}}) {
        const auto bad = plateau::test::run_plateau("run --" + std::string(key) + " " + value +
                                                    " --alpha-max 1 -o " + (dir / "bad.h5"));
        INFO(bad.output);
        CHECK(bad.status == 2);
        CHECK(bad.output.find(key) != std::string::npos);
        CHECK(bad.output.find(value) != std::string::npos);
        CHECK(std::count(bad.output.begin(), bad.output.end(), '\n') == 1);
        CHECK(!std::filesystem::exists(dir / "bad.h5"));
    }
    // q0 has no effect on the sphere: refused when set (as every key without effect).
    const auto q0 = plateau::test::run_plateau(
        "run --q0 0.3 --constraint sphere --alpha-max 1 -o " + (dir / "bad.h5"));
    INFO(q0.output);
    CHECK(q0.status == 2);
    CHECK(q0.output.find("q0") != std::string::npos);
    CHECK(plateau::test::run_plateau("run --q0 0.3 --constraint none,sphere --alpha-max 1 "
                                     "--N 20 --seeds 1 --quiet")
              .status == 0);
    const auto deep = plateau::test::run_plateau(
        "run --K 2x2 --readout-scale inverse-k --alpha-max 1 -o " + (dir / "bad.h5"));
    CHECK(deep.status == 2);
    CHECK(deep.output.find("readout-scale") != std::string::npos);
}
