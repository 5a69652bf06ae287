// The Gram chain with Gaussian-mixture inputs (engine/simulation/gram_dynamics.hpp; docs/theory.md
// §15d): one step against the trainer's update of explicit weights, projected on the rows
// (students, teachers, the means' axes); the wiring of GramDynamics to its stream; the initial
// law against the full simulation's; the refusals; and the law of whole runs against full runs
// (two-sample KS tests), squared and logistic loss.
#include "engine/core/errors.hpp"
#include "engine/core/run_params.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/mixture_source.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"
#include "models/mixture.hpp"

#include "cli_helpers.hpp"
#include "run_helpers.hpp"
#include "stat_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

using namespace plateau;

namespace {

/// A mixture of three clusters with unequal weights on D = 3 axes, means not orthogonal (the
/// clusters-file mixture of tests/test_mixture.cpp).
Mixture clusters_file_mixture(double delta) {
    Mixture m = Mixture::parse(" 1  2 0 0  weight 2\n"
                               "-1  0 1 1  weight 1\n"
                               "-1  1 0 -3 weight 1\n",
                               "file");
    m.variance = delta;
    return m;
}

/// On-line SGD on a mixture with dynamics = gram.
RunParams mixture_params(std::int64_t N, int K, int M, const Mixture& m) {
    RunParams p = test::params_of(N, K, M);
    p.model.inputs = InputKind::mixture;
    p.model.mixture = m;
    p.dynamics = DynamicsKind::gram;
    return p;
}

/// The Gram matrix of the rows [W; B; E] of a full run's state, E the D axes e_1 .. e_D: G's
/// layout in the chain (students, teachers, axes).
Eigen::MatrixXd gram_with_axes(const RunState& s, int D) {
    const auto KM = s.weights.rows();
    Eigen::MatrixXd G = Eigen::MatrixXd::Identity(KM + D, KM + D);
    G.topLeftCorner(KM, KM) = s.weights * s.weights.transpose();
    G.topRightCorner(KM, D) = s.weights.leftCols(D);
    G.bottomLeftCorner(D, KM) = s.weights.leftCols(D).transpose();
    return G;
}

/// The chain on the rows of a full run's state.
GramChain chain_of(const RunParams& p, const RunState& s) {
    const auto D = static_cast<Eigen::Index>(p.model.mixture.dims);
    return {p, order_parameters_of(s), s.weights.leftCols(D)};
}

/// The first example of a run on a mixture, as the trainer draws it: N normals and one uniform
/// of the "examples" stream (MixtureSampler::draw), and the label noise.
struct MixtureExample {
    Eigen::VectorXd xi;
    std::size_t cluster = 0;
    double zeta = 0.0;
};

MixtureExample first_mixture_example(const ModelParams& m, std::uint64_t seed, std::uint64_t run) {
    MixtureExample e;
    e.xi.resize(m.N);
    NormalStream examples(StreamKey{seed, run, StreamPurpose::examples});
    e.cluster = MixtureSampler(m.mixture).draw(
        examples, {e.xi.data(), static_cast<std::size_t>(e.xi.size())});
    NormalStream noise(StreamKey{seed, run, StreamPurpose::noise});
    e.zeta = m.noise > 0.0 ? std::sqrt(m.noise) * noise.next() : 0.0;
    return e;
}

/// The chain's step on example e, the chain holding the Gram matrix of the rows A = [W; B; E]:
/// z_full = (xi - mu_c)/sqrt(Delta), z = L^-1 A z_full (Eq. (G1)), chi^2 = |z_full|^2 - |z|^2
/// (Eq. (G2)). Requires that the chain factorizes and steps.
void mixture_chain_step(GramChain& chain, const Eigen::MatrixXd& A, const Mixture& m,
                        const MixtureExample& e) {
    REQUIRE(chain.factorize());
    Eigen::VectorXd z_full = e.xi;
    for (std::size_t d = 0; d < m.dims; ++d)
        z_full(static_cast<Eigen::Index>(d)) -= m.mean(e.cluster, d);
    z_full /= std::sqrt(m.variance);
    const Eigen::VectorXd u = A * z_full;
    const Eigen::VectorXd z = chain.factor().triangularView<Eigen::Lower>().solve(u);
    const double chi2 = z_full.squaredNorm() - z.squaredNorm();
    REQUIRE(chain.mixture_step({z.data(), static_cast<std::size_t>(z.size())}, chi2, e.cluster,
                               e.zeta));
}

/// The rows [W; B; E] of a state as one matrix.
Eigen::MatrixXd rows_with_axes(const RunState& s, int D) {
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(s.weights.rows() + D, s.weights.cols());
    A.topRows(s.weights.rows()) = s.weights;
    for (int d = 0; d < D; ++d)
        A(s.weights.rows() + d, d) = 1.0;
    return A;
}

} // namespace

TEST_CASE("mixture gram: one step of the chain is the Gram matrix of the trainer's update",
          "[mixture][gram]") {
    // Explicit weights and the trainer's first example xi = mu_c + sqrt(Delta) z (its cluster c
    // from the same stream): the trainer (OnlineSgd, or MiniBatchSgd with B = 1 for weight decay)
    // updates the weights; the chain, fed the z and chi^2 of the same example and c, must give
    // the Gram matrix of the updated rows [W; B; E], the means' overlaps and v (Eqs. (15d.1)-
    // (15d.4)). N = 30 and Delta = 0.1: |mu_c|^2 = 1 is a fifth of |xi|^2, and eta = 1.5 puts the
    // eta^2 |xi|^2 d d^T term far above the tolerance.
    struct Case {
        const char* what;
        Mixture mixture;
        int K;
        ActivationKind g;
        LossKind loss;
        bool learn_v = true;
        double noise = 0.0;
        Constraint constraint = Constraint::none;
        double weight_decay = 0.0;
    };
    Mixture xor_mixture = Mixture::exclusive_or();
    xor_mixture.variance = 0.1;
    const Case cases[] = {
        {"xor relu K=4 squared", xor_mixture, 4, ActivationKind::relu, LossKind::squared},
        {"xor relu K=4 logistic noise", xor_mixture, 4, ActivationKind::relu, LossKind::logistic,
         true, 0.2},
        {"file erf K=3 squared fixed v", clusters_file_mixture(0.3), 3, ActivationKind::erf,
         LossKind::squared, false},
        {"xor erf K=2 logistic sphere", xor_mixture, 2, ActivationKind::erf, LossKind::logistic,
         true, 0.0, Constraint::sphere},
        {"file relu K=3 squared weight decay", clusters_file_mixture(0.1), 3, ActivationKind::relu,
         LossKind::squared, true, 0.0, Constraint::none, 4.0},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        RunParams p = mixture_params(30, c.K, 2, c.mixture);
        p.model.student.g = Activation{c.g};
        p.model.loss = Loss{c.loss};
        p.model.learn_v = c.learn_v;
        p.model.noise = c.noise;
        p.model.constraint = c.constraint;
        p.model.q0 = c.constraint == Constraint::sphere ? p.model.q0 : 1.0;
        p.model.v0 = 0.7;
        p.training.eta = 1.5;
        p.training.eta_v = 0.8;
        p.training.weight_decay = c.weight_decay;
        const int D = static_cast<int>(c.mixture.dims);
        const std::uint64_t seed = 13;
        for (std::uint64_t run = 0; run < 6; ++run) {
            INFO("run " << run);
            RunState s = make_initial_state(p.model, seed, run);
            const Eigen::MatrixXd before = gram_with_axes(s, D);
            const Eigen::MatrixXd A = rows_with_axes(s, D);
            GramChain chain = chain_of(p, s);
            CHECK(chain.r() == c.K + 2 + D);
            // The layout: students, teachers, axes (the chain symmetrizes G: a T computed from
            // weights may not be symmetric in its last bit).
            CHECK((chain.gram() - before).cwiseAbs().maxCoeff() < 1e-15);

            const MixtureExample e = first_mixture_example(p.model, seed, run);
            const std::unique_ptr<Trainer> trainer = make_trainer(p, seed, run);
            REQUIRE(trainer->advance(s, 1) == StepOutcome::ok);
            const Eigen::MatrixXd expected = gram_with_axes(s, D);

            mixture_chain_step(chain, A, c.mixture, e);

            const Eigen::MatrixXd& got = chain.gram();
            CHECK((got - expected).cwiseAbs().maxCoeff() < 1e-11);
            CHECK(got == got.transpose()); // exactly symmetric
            CHECK((chain.v() - s.v).cwiseAbs().maxCoeff() < 1e-13);
            // The order parameters and M_jc are G's blocks, as a full run's observer sees them.
            const OrderParameters op = chain.order_parameters();
            const OrderParameters full = order_parameters_of(s);
            CHECK((op.Q - full.Q).cwiseAbs().maxCoeff() < 1e-11);
            CHECK((op.R - full.R).cwiseAbs().maxCoeff() < 1e-11);
            CHECK((op.T - full.T).cwiseAbs().maxCoeff() < 1e-11);
            const Eigen::MatrixXd means = MixtureSampler(c.mixture).mean_overlaps(s.student());
            CHECK((chain.mean_overlaps() - means).cwiseAbs().maxCoeff() < 1e-11);
            // The step changed G by far more than the tolerance (the test has teeth).
            CHECK((expected - before).cwiseAbs().maxCoeff() > 1e-4);
        }
    }
}

TEST_CASE("mixture gram: a run draws z, the cluster's uniform, then chi^2_{N-r} from stream 9",
          "[mixture][gram]") {
    // The wiring of GramDynamics: its first steps equal the chain fed by hand with r normals, one
    // uniform (the cluster, MixtureSampler::cluster) and 2 Gamma((N - r)/2) from the run's
    // gram_steps stream, the label noise from its noise stream; r = K + M + D.
    RunParams p = mixture_params(11, 2, 1, clusters_file_mixture(0.2));
    p.model.noise = 0.2;
    p.training.eta = 2.0;
    GramDynamics dynamics(p, 4, 1, 1);
    const MixtureStart start = sample_initial_mixture_gram(p, 4, 1);
    GramChain chain(p, start.op, start.axes);
    REQUIRE(chain.r() == 6);
    CHECK(dynamics.chain().gram() == chain.gram());
    const MixtureSampler sampler(p.model.mixture);
    NormalStream draws(StreamKey{4, 1, StreamPurpose::gram_steps});
    NormalStream noise(StreamKey{4, 1, StreamPurpose::noise});
    const GammaSampler half_chi2(0.5 * (11 - 6));
    std::vector<double> z(6);
    for (int step = 1; step <= 4; ++step) {
        REQUIRE(chain.factorize());
        draws.fill(z);
        const std::size_t c = sampler.cluster(draws.uniform().next_double());
        const double chi2 = 2.0 * half_chi2(draws);
        REQUIRE(chain.mixture_step(z, chi2, c, std::sqrt(0.2) * noise.next()));
        REQUIRE(dynamics.advance_to(step / 11.0));
        CHECK(dynamics.step() == step);
        CHECK(dynamics.chain().gram() == chain.gram());
    }
    // The record: the chain's blocks and M_jc, the class error and the Bayes error.
    const Observables o = dynamics.observe();
    CHECK(o.Q == chain.order_parameters().Q);
    CHECK(o.R == chain.order_parameters().R);
    const Eigen::MatrixXd means = chain.mean_overlaps();
    const Eigen::VectorXd& recorded = o.extras.at(std::string(extra_name::mean_overlaps));
    REQUIRE(recorded.size() == means.size());
    for (Eigen::Index j = 0; j < means.rows(); ++j)
        for (Eigen::Index c = 0; c < means.cols(); ++c)
            CHECK(recorded(j * means.cols() + c) == means(j, c));
    CHECK(o.extras.count(std::string(extra_name::class_error)) == 1);
    CHECK(o.extras.count(std::string(extra_name::bayes_error)) == 1);
}

namespace {

/// What the initial-law test compares of one G(0) (r x r, the last D rows the axes): every entry,
/// and for each of the other rows a the squared length of its projection on the axes'
/// span, |G_{a,E}|^2 (whose spread tells a uniform unit teacher row from a Gaussian one).
std::vector<double> initial_statistics(const Eigen::MatrixXd& G, int D) {
    const auto r = G.rows();
    std::vector<double> x(G.data(), G.data() + G.size());
    for (Eigen::Index a = 0; a < r - D; ++a)
        x.push_back(G.row(a).tail(D).squaredNorm());
    return x;
}

} // namespace

TEST_CASE("mixture gram: the initial Gram matrix with the axes has the full simulation's law",
          "[mixture][gram]") {
    // Means and second moments of every entry of G(0) over (students, teachers, axes) and of
    // each row's squared projection on the axes, drawn by make_initial_state (full) and
    // sample_initial_mixture_gram (gram) at small N, where the laws are far from Gaussian;
    // orthonormal and Gaussian teachers; with the sphere.
    struct Case {
        TeacherInit teacher;
        Constraint constraint;
    };
    for (const Case c : {Case{TeacherInit::orthonormal, Constraint::none},
                         Case{TeacherInit::gaussian, Constraint::none},
                         Case{TeacherInit::orthonormal, Constraint::sphere}}) {
        INFO("teacher " << name(c.teacher) << ", constraint " << name(c.constraint));
        RunParams p = mixture_params(10, 2, 2, clusters_file_mixture(0.1));
        p.model.q0 = c.constraint == Constraint::sphere ? p.model.q0 : 0.5;
        p.model.teacher_init = c.teacher;
        p.model.constraint = c.constraint;
        const int D = 3;
        const int draws = 10000;
        std::vector<test::Stat> full;
        std::vector<test::Stat> gram;
        std::vector<test::Stat> full2;
        std::vector<test::Stat> gram2;
        for (int d = 0; d < draws; ++d) {
            const auto run = static_cast<std::uint64_t>(d);
            const std::vector<double> a =
                initial_statistics(gram_with_axes(make_initial_state(p.model, 5, run), D), D);
            const MixtureStart start = sample_initial_mixture_gram(p, 5, run);
            const std::vector<double> b =
                initial_statistics(GramChain(p, start.op, start.axes).gram(), D);
            full.resize(a.size());
            gram.resize(a.size());
            full2.resize(a.size());
            gram2.resize(a.size());
            for (std::size_t i = 0; i < a.size(); ++i) {
                full[i].add(a[i]);
                gram[i].add(b[i]);
                full2[i].add(a[i] * a[i]);
                gram2[i].add(b[i] * b[i]);
            }
        }
        const auto z = [](const test::Stat& x, const test::Stat& y) {
            return std::abs(x.mean() - y.mean()) /
                   std::hypot(x.standard_error(), y.standard_error());
        };
        double worst = 0.0;
        int compared = 0;
        for (std::size_t i = 0; i < full.size(); ++i) {
            if (full[i].standard_error() < 1e-12) { // T = I, the axes' block, Q_jj on the sphere
                CHECK(std::abs(gram[i].mean() - full[i].mean()) < 1e-12);
                CHECK(gram[i].standard_error() < 1e-12);
                continue;
            }
            worst = std::max({worst, z(full[i], gram[i]), z(full2[i], gram2[i])});
            compared += 2;
        }
        // At most 106 moments at 5 standard errors: a false alarm has probability < 1e-4.
        INFO(compared << " moments compared");
        CHECK(worst < 5.0);
    }
}

TEST_CASE("mixture gram: N <= K + M + D and training sets are refused naming the key",
          "[mixture][gram][errors]") {
    RunParams p = mixture_params(5, 2, 1, Mixture::exclusive_or());
    CHECK(test::error_of<ConfigError>([&] { validate(p); }) ==
          "invalid value '5' for 'N': allowed is an integer > K + M + D = 5 with dynamics = gram "
          "and inputs = mixture (D = 2 axes of the means)");
    p.model.N = 6;
    CHECK_NOTHROW(validate(p));
    // A training set is not a fresh example each step: refused as for Gaussian inputs.
    p.training.alpha_train = 2.0;
    CHECK_THROWS_WITH(validate(p),
                      Catch::Contains("alpha-train") && Catch::Contains("fresh example each step"));
}

namespace {

/// What the KS test compares, per run at each record of `at`: Q_11, Q_12, M_11 = w_1 . mu_1, v_1
/// and the classification error.
struct ChainSample {
    std::vector<std::vector<double>> q11, q12, m11, v1, class_error;
};

ChainSample chain_sample_runs(const RunParams& p, int runs, const std::vector<std::size_t>& at) {
    ChainSample s;
    for (auto* v : {&s.q11, &s.q12, &s.m11, &s.v1, &s.class_error})
        v->resize(at.size());
    for (int run = 0; run < runs; ++run) {
        const RunResult res = simulate(p, 71, static_cast<std::uint64_t>(run));
        REQUIRE(res.status == RunStatus::completed);
        for (std::size_t i = 0; i < at.size(); ++i) {
            const Observables& o = res.records.at(at[i]);
            s.q11[i].push_back(o.Q(0, 0));
            s.q12[i].push_back(o.Q(0, 1));
            s.m11[i].push_back(o.extras.at(std::string(extra_name::mean_overlaps))(0));
            s.v1[i].push_back(o.v(0));
            s.class_error[i].push_back(o.extras.at(std::string(extra_name::class_error))(0));
        }
    }
    return s;
}

/// KS tests of gram against full runs of `p` on every variable of ChainSample at records 1 and 2
/// (Q_11 = 1 on the sphere: left out); each must pass at `per_test`. Returns the smallest p-value.
double ks_gram_against_full(RunParams p, int runs, double per_test) {
    const std::vector<std::size_t> at{1, 2};
    const bool sphere = p.model.constraint == Constraint::sphere;
    p.dynamics = DynamicsKind::gram;
    const ChainSample gram = chain_sample_runs(p, runs, at);
    p.dynamics = DynamicsKind::full;
    const ChainSample full = chain_sample_runs(p, runs, at);
    double smallest = 1.0;
    for (std::size_t i = 0; i < at.size(); ++i) {
        INFO("record " << at[i]);
        for (const auto& [what, a, b] :
             {std::tuple{"Q_11", &gram.q11[i], &full.q11[i]},
              std::tuple{"Q_12", &gram.q12[i], &full.q12[i]},
              std::tuple{"M_11", &gram.m11[i], &full.m11[i]},
              std::tuple{"v_1", &gram.v1[i], &full.v1[i]},
              std::tuple{"class_error", &gram.class_error[i], &full.class_error[i]}}) {
            if (sphere && std::string(what) == "Q_11")
                continue;
            const double pv = test::ks_p_value(*a, *b);
            INFO(what << ": p = " << pv);
            CHECK(pv > per_test);
            smallest = std::min(smallest, pv);
        }
    }
    return smallest;
}

/// The XOR mixture (Delta = 0.1), K = 4 relu, learned v, at N = 30 (r = 7), where |mu_c|^2 = 1
/// is a quarter of |xi|^2 and a wrong chain shows; records at alpha = 0, 5, 10.
RunParams xor_ks_params(LossKind loss) {
    Mixture m = Mixture::exclusive_or();
    m.variance = 0.1;
    RunParams p = mixture_params(30, 4, 1, m);
    p.model.student.g = Activation{ActivationKind::relu};
    p.model.loss = Loss{loss};
    p.model.learn_v = true;
    p.model.v0 = 0.3;
    p.training.eta = 1.0;
    p.training.eta_v = 1.0;
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 10.0;
    p.schedule.records = 3;
    p.observer.eg_samples = 200;
    return p;
}

} // namespace

TEST_CASE("mixture gram: the chain has the law of full runs, XOR, K = 4 relu, squared loss (KS)",
          "[mixture][gram]") {
    // 2000 runs of each backend: KS tests on Q_11, Q_12, M_11, v_1 and the class error at
    // alpha = 5 and 10; Bonferroni over the 28 tests of the three KS cases at a family-wise
    // level of 1e-3.
    const double smallest = ks_gram_against_full(xor_ks_params(LossKind::squared), 2000, 1e-3 / 28);
    WARN("smallest KS p-value of 10 (squared loss): " << smallest);
}

TEST_CASE("mixture gram: the chain has the law of full runs, XOR, K = 4 relu, logistic (KS)",
          "[mixture][gram]") {
    // As above with the logistic loss, 1000 runs of each backend.
    const double smallest =
        ks_gram_against_full(xor_ks_params(LossKind::logistic), 1000, 1e-3 / 28);
    WARN("smallest KS p-value of 10 (logistic loss): " << smallest);
}

TEST_CASE("mixture gram: the chain has the law of full runs, two clusters on the sphere (KS)",
          "[mixture][gram]") {
    // The two clusters +-e_1 (D = 1, r = 3 + 1 + 1), Delta = 0.2, K = 3 erf on the sphere, label
    // noise, squared loss; 1000 runs of each backend. (A clusters file would cost each run a
    // Monte-Carlo Bayes error of 2^20 draws: its algebra is checked by the one-step test.)
    RunParams p = xor_ks_params(LossKind::squared);
    p.model.mixture = Mixture::two();
    p.model.mixture.variance = 0.2;
    p.model.student.widths = {3};
    p.model.student.g = Activation{ActivationKind::erf};
    p.model.constraint = Constraint::sphere;
    p.model.q0 = RunParams{}.model.q0;
    p.model.noise = 0.1;
    const double smallest = ks_gram_against_full(p, 1000, 1e-3 / 28);
    WARN("smallest KS p-value of 8 (two clusters, sphere): " << smallest);
}
