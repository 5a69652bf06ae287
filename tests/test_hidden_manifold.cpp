// Hidden-manifold inputs (docs/theory.md §16): the feature maps' Gaussian-equivalence constants
// against quadrature, the parameters' checks and keys, the generator's moments, the trainers'
// steps against a reference with finite-difference gradients, the recorded Q, R against Monte
// Carlo on fresh inputs, eps_g against the Gaussian-equivalent closed form, determinism.
#include "cli/config.hpp"
#include "engine/core/run_params.hpp"
#include "engine/simulation/batch_trainer.hpp"
#include "engine/simulation/manifold_source.hpp"
#include "engine/simulation/observer.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"
#include "engine/simulation/training_set.hpp"
#include "models/gaussian_integrals.hpp"
#include "models/hidden_manifold.hpp"
#include "models/network.hpp"
#include "models/quadrature.hpp"
#include "models/target.hpp"

#include "run_helpers.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <numbers>
#include <vector>

using namespace plateau;

namespace {

/// <phi(u)> for u ~ N(0, 1): composite Simpson on [-12, 0] and [0, 12] separately (sign and
/// relu have their kink at 0, smooth on each half; the tails beyond 12 weigh < 1e-32). With
/// 20000 intervals a half the error is ~ h^4 max|(phi p)^(4)| ~ 1e-13.
template <class Phi>
double gaussian_mean(Phi phi) {
    constexpr int n = 20000;
    constexpr double L = 12.0;
    const double h = L / n;
    const auto density = [](double u) {
        return std::exp(-0.5 * u * u) / std::sqrt(2.0 * std::numbers::pi);
    };
    double sum = 0.0;
    for (const double sign : {-1.0, 1.0}) {
        // The half-line's own limit at 0 (sign(0) is 0, not the half's +-1).
        const auto at = [&](int i) {
            const double u = i == 0 ? sign * 1e-300 : sign * h * i;
            return phi(u) * density(u);
        };
        double half = at(0) + at(n);
        for (int i = 1; i < n; ++i)
            half += (i % 2 == 1 ? 4.0 : 2.0) * at(i);
        sum += half * h / 3.0;
    }
    return sum;
}

/// "key = value: allowed" of the ConfigError that f() throws, or "no error".
template <class F>
std::string refusal(F&& f) {
    try {
        f();
    } catch (const ConfigError& e) {
        return e.key() + " = " + e.value() + ": allowed " + e.allowed();
    }
    return "no error";
}

} // namespace

TEST_CASE("hidden manifold: the feature maps' constants against quadrature", "[manifold]") {
    // a0 = <f> before centring, a1 = <u f(u)>, a2 = <f(u)^2> of the centred map (Eq. (16.2)),
    // against the quadrature (error ~1e-13): tolerance 1e-9.
    for (const FeatureMap map :
         {FeatureMap::sign, FeatureMap::erf, FeatureMap::relu, FeatureMap::linear}) {
        INFO("feature map " << name(map));
        const FeatureEvaluator f{map};
        const FeatureConstants c = f.constants();
        const double mean = gaussian_mean([&](double u) { return f(u); });
        CHECK(mean == Approx(0.0).margin(1e-9)); // centred
        CHECK(c.a1 == Approx(gaussian_mean([&](double u) { return u * f(u); })).margin(1e-9));
        CHECK(c.a2 == Approx(gaussian_mean([&](double u) { return f(u) * f(u); })).margin(1e-9));
        // a0: the mean of the map before centring, f + a0.
        CHECK(c.a0 == Approx(gaussian_mean([&](double u) { return f(u) + c.a0; })).margin(1e-9));
        CHECK(c.a_star_sq() >= -1e-15);
    }
    // The maps differ: a sign map is not a relu.
    CHECK(FeatureEvaluator{FeatureMap::relu}.constants().a0 > 0.39);
    CHECK(FeatureEvaluator{FeatureMap::linear}.constants().a_star_sq() == 0.0);
}

TEST_CASE("hidden manifold: D from latent-dim or latent-ratio", "[manifold]") {
    RunParams p = test::params_of(100, 2, 2);
    p.model.inputs = InputKind::hidden_manifold;
    p.model.manifold.latent_ratio = 0.255;
    CHECK(latent_dimension(p.model) == 26);
    CHECK_NOTHROW(validate(p));
    p.model.manifold.latent_ratio.reset();
    p.model.manifold.latent_dim = 7;
    CHECK(latent_dimension(p.model) == 7);
    CHECK_NOTHROW(validate(p));
}

TEST_CASE("hidden manifold: bad settings are refused naming the key", "[manifold]") {
    RunParams p = test::params_of(100, 2, 2);
    p.model.inputs = InputKind::hidden_manifold;
    const auto message = [&] {
        return refusal([&] { validate(p); });
    };
    // Neither latent key.
    CHECK(message() == "latent-dim = none: allowed an integer from 1 to 2147483647 (inputs = "
                       "hidden-manifold needs latent-dim = D or latent-ratio = D/N)");
    p.model.manifold.latent_dim = 10;
    p.model.manifold.latent_ratio = 0.1;
    CHECK_THAT(message(), Catch::StartsWith("latent-ratio = 0.1: allowed none when latent-dim"));
    p.model.manifold.latent_dim.reset();
    p.model.manifold.latent_ratio = 0.004; // round(0.4) = 0
    CHECK_THAT(message(),
               Catch::StartsWith("latent-ratio = 0.004: allowed a number with 1 <= round"));
    p.model.manifold.latent_ratio = 0.01; // D = 1 < M = 2, orthonormal
    CHECK_THAT(message(), Catch::StartsWith("M = 2: allowed an integer <= D = 1"));
    p.model.teacher_init = TeacherInit::gaussian;
    CHECK_NOTHROW(validate(p));
    p.model.student.widths = {2, 2};
    CHECK_THAT(message(), Catch::StartsWith("K = 2x2: allowed one hidden layer"));
    p.model.student.widths = {2};
    p.dynamics = DynamicsKind::gram;
    CHECK_THAT(message(), Catch::StartsWith("inputs = hidden-manifold: allowed gaussian or "
                                            "mixture with dynamics = gram"));
}

TEST_CASE("hidden manifold: the keys", "[manifold]") {
    using plateau::cli::Configuration;
    Configuration c;
    c.set("inputs", "hidden-manifold");
    c.set("latent-ratio", "0.5, 2");
    c.set("feature-map", "relu");
    const auto spec = c.expand();
    REQUIRE(spec.points.size() == 2);
    CHECK(spec.points[1].params.model.manifold.latent_ratio == 2.0);
    CHECK(spec.points[1].params.model.manifold.feature_map == FeatureMap::relu);
    CHECK(latent_dimension(spec.points[1].params.model) == 1000);
    CHECK_THAT(refusal([&] { c.set("feature-map", "tanh"); }),
               Catch::StartsWith("feature-map = tanh: allowed one of sign, erf, relu, linear"));
    CHECK(refusal([&] { c.set("latent-dim", "0"); }) ==
          "latent-dim = 0: allowed an integer from 1 to 2147483647 or none");
    // A latent key without hidden-manifold inputs acts on nothing.
    Configuration g;
    g.set("latent-dim", "20");
    REQUIRE(g.ineffective_key().has_value());
    CHECK(g.ineffective_key()->key() == "latent-dim");
    CHECK_THAT(g.ineffective_key()->allowed(), Catch::StartsWith("to leave it out"));
    g.set("inputs", "hidden-manifold");
    CHECK(!g.ineffective_key().has_value());
}

namespace {

/// A hidden-manifold run: N inputs, D latent dimensions, K students, M teachers, feature map f.
RunParams manifold_params(std::int64_t N, std::int64_t D, int K, int M, FeatureMap f) {
    RunParams p = test::params_of(N, K, M);
    p.model.inputs = InputKind::hidden_manifold;
    p.model.manifold.latent_dim = D;
    p.model.manifold.feature_map = f;
    return p;
}

constexpr std::array<FeatureMap, 4> all_maps{FeatureMap::sign, FeatureMap::erf, FeatureMap::relu,
                                             FeatureMap::linear};

} // namespace

TEST_CASE("hidden manifold: the state holds F and the teacher in the latent space", "[manifold]") {
    const RunParams p = manifold_params(50, 20, 2, 3, FeatureMap::sign);
    const RunState s = make_initial_state(p.model, 5, 1);
    REQUIRE(s.manifold.has_value());
    CHECK(s.manifold->features.rows() == 20);
    CHECK(s.manifold->features.cols() == 50);
    // Orthonormal teacher rows in R^D: T = identity.
    CHECK((s.manifold->teacher * s.manifold->teacher.transpose() - Eigen::MatrixXd::Identity(3, 3))
              .cwiseAbs()
              .maxCoeff() < 1e-12);
    CHECK(s.teacher().isZero());
    // F: i.i.d. N(0, 1) from its own stream.
    NormalStream f(StreamKey{5, 1, StreamPurpose::features});
    CHECK(s.manifold->features(0, 0) == f.next());
    CHECK(s.manifold->features(0, 1) == f.next());
    // init-seed = shared: F (and the teacher) keyed by the seed index, shared by the points of
    // a sweep, from purpose features_shared.
    RunParams shared = p;
    shared.model.init_seed = InitSeed::shared;
    NormalStream fs(StreamKey{5, 1, StreamPurpose::features_shared});
    CHECK(make_initial_state(shared.model, 5, 1).manifold->features(0, 0) == fs.next());
    // The student is drawn as for Gaussian inputs.
    RunParams g = p;
    g.model.inputs = InputKind::gaussian;
    CHECK(make_initial_state(g.model, 5, 1).student() == s.student());
    CHECK_FALSE(make_initial_state(g.model, 5, 1).manifold.has_value());
}

TEST_CASE("hidden manifold: the generator's moments per feature map", "[manifold]") {
    // x = f(F^T c / sqrt D): mean 0 (the maps are centred), covariance a1^2 (F^T F / D)_ij +
    // a*^2 delta_ij (Eq. (16.3)). With P examples an empirical covariance entry has standard
    // error se ~ a2 / sqrt P. Off the diagonal the regression slope of C_ij on G_ij = (F^T F /
    // D)_ij estimates a1^2 with standard error se / |G|_F; the Gaussian equivalence neglects
    // terms O(G_ij^3) (sign: (2/pi) asin(G) - (2/pi) G), a slope bias O(<G^4>/<G^2>) = O(3/D):
    // tolerance 4 se/|G|_F + 3/D. The diagonal: <f(u_i)^2> with var(u_i) = |F_i|^2/D, whose
    // mean over i is 1 with spread sqrt(2/(N D)); a2 moves with it at slope <= 1 (linear), at
    // second order by O(1/D): tolerance 4 sqrt(2/(N D)) + 4 se/sqrt N + 2/D. The mean:
    // 4 sqrt(a2 / (P N)) + 1/D (relu's mean moves with var(u_i) at second order).
    constexpr std::int64_t N = 64;
    constexpr std::int64_t D = 64;
    constexpr Eigen::Index P = 100000;
    for (const FeatureMap map : all_maps) {
        INFO("feature map " << name(map));
        const RunParams p = manifold_params(N, D, 1, 1, map);
        const RunState s = make_initial_state(p.model, 3, 0);
        const FeatureConstants a = FeatureEvaluator{map}.constants();
        NormalStream stream(StreamKey{3, 0, StreamPurpose::examples});
        RowMatrix C, X, Nu;
        draw_manifold_examples(*s.manifold, stream, P, C, X, Nu);
        const auto n = static_cast<double>(P);
        const Eigen::MatrixXd cov = (X.transpose() * X) / n;
        const Eigen::MatrixXd G =
            (s.manifold->features.transpose() * s.manifold->features) / static_cast<double>(D);
        const double mean = X.mean();
        CHECK(std::abs(mean) < 4.0 * std::sqrt(a.a2 / (n * N)) + 1.0 / D);
        double num = 0.0;
        double den = 0.0;
        for (Eigen::Index i = 0; i < N; ++i)
            for (Eigen::Index j = 0; j < i; ++j) {
                num += cov(i, j) * G(i, j);
                den += G(i, j) * G(i, j);
            }
        const double se = a.a2 / std::sqrt(n);
        const double slope = num / den;
        INFO("slope " << slope << " a1^2 " << a.a1 * a.a1);
        CHECK(std::abs(slope - a.a1 * a.a1) < 4.0 * se / std::sqrt(den) + 3.0 / D);
        const double diag = cov.diagonal().mean();
        INFO("diagonal " << diag << " a2 " << a.a2);
        CHECK(std::abs(diag - a.a2) < 4.0 * std::sqrt(2.0 / (N * D)) +
                                          4.0 * se / std::sqrt(static_cast<double>(N)) + 2.0 / D);
        // The teacher's field nu = b . c: variance T = |b|^2 = 1 (orthonormal rows).
        CHECK(std::abs((Nu.transpose() * Nu)(0, 0) / n - 1.0) < 4.0 * std::sqrt(2.0 / n));
    }
}

namespace {

/// e(W) of one example: the loss of the student on x against tau.
double cost(const RunParams& p, const RowMatrix& W, const Eigen::VectorXd& v,
            const Eigen::VectorXd& x, double tau) {
    return per_example_cost(p.model.student, W, v, x, tau, p.model.loss);
}

/// grad_W e by central differences (step h), entry by entry.
RowMatrix finite_difference_gradient(const RunParams& p, const RowMatrix& W,
                                     const Eigen::VectorXd& v, const Eigen::VectorXd& x, double tau,
                                     double h) {
    RowMatrix g(W.rows(), W.cols());
    RowMatrix Wp = W;
    for (Eigen::Index j = 0; j < W.rows(); ++j)
        for (Eigen::Index i = 0; i < W.cols(); ++i) {
            const double w = W(j, i);
            Wp(j, i) = w + h;
            const double up = cost(p, Wp, v, x, tau);
            Wp(j, i) = w - h;
            const double down = cost(p, Wp, v, x, tau);
            Wp(j, i) = w;
            g(j, i) = (up - down) / (2.0 * h);
        }
    return g;
}

/// The label of a manifold example: the target on the teacher's fields nu (Eq. (16.1)).
double manifold_label(const RunParams& p, const Eigen::VectorXd& v_star, const double* nu) {
    return p.model.target.value(p.model.teacher,
                                {nu, static_cast<std::size_t>(p.model.teacher.hidden())},
                                {v_star.data(), static_cast<std::size_t>(v_star.size())});
}

} // namespace

TEST_CASE("hidden manifold: on-line steps follow the finite-difference gradient", "[manifold]") {
    // Each step: the example x = f(F^T c / sqrt D) with c the next D normals of the examples
    // stream, the label from the teacher's fields b_n . c plus noise, W <- W - (eta/N) grad_W e
    // with grad_W e by central differences (h = 1e-5: truncation O(h^2) ~ 1e-10, rounding
    // ~ 1e-16/h ~ 1e-11 per entry). 40 steps cross the source's block of 32 examples. The
    // weights move by (eta/N) |grad| ~ 1e-2 |W| per step; tolerance 1e-8 max|W| covers the
    // finite differences' error times the steps, and a wrong example or label misses it by far.
    constexpr std::uint64_t seed = 41;
    constexpr int steps = 40;
    static_assert(steps > ManifoldExamples::block);
    for (const FeatureMap map : all_maps) {
        RunParams p = manifold_params(30, 12, 2, 2, map);
        p.model.noise = 0.01;
        p.model.learn_v = map == FeatureMap::relu; // v learned in one case
        if (map == FeatureMap::erf) // a polynomial target of the latent fields (§13) in one
            p.model.target = parse_target("he2(y1) + y1*y2");
        p.training.eta = 0.8;
        p.training.eta_v = 0.8;
        p.model.q0 = 1.0;
        INFO("feature map " << name(map));
        constexpr std::uint64_t run = 2;
        RunState s = make_initial_state(p.model, seed, run);
        RowMatrix W = s.student();
        Eigen::VectorXd v = s.v;
        OnlineSgd trainer(p, seed, run);
        REQUIRE(trainer.advance(s, 7) == StepOutcome::ok); // uneven calls
        REQUIRE(trainer.advance(s, steps - 7) == StepOutcome::ok);
        NormalStream examples(StreamKey{seed, run, StreamPurpose::examples});
        NormalStream noise(StreamKey{seed, run, StreamPurpose::noise});
        const double eta_n = p.training.eta / static_cast<double>(p.model.N);
        for (int t = 0; t < steps; ++t) {
            RowMatrix C, X, Nu;
            draw_manifold_examples(*s.manifold, examples, 1, C, X, Nu);
            const Eigen::VectorXd x = X.row(0).transpose();
            const double tau = manifold_label(p, s.v_star, Nu.row(0).data()) +
                               std::sqrt(p.model.noise) * noise.next();
            const RowMatrix g = finite_difference_gradient(p, W, v, x, tau, 1e-5);
            if (p.model.learn_v) {
                const PerExampleGradient pg =
                    per_example_gradient(p.model.student, W, v, x, tau, p.model.loss);
                v -= eta_n * pg.dv;
            }
            W -= eta_n * g;
        }
        CHECK((s.student() - W).cwiseAbs().maxCoeff() < 1e-8 * W.cwiseAbs().maxCoeff());
        CHECK((s.v - v).cwiseAbs().maxCoeff() < 1e-8 * v.cwiseAbs().maxCoeff());
    }
}

TEST_CASE("hidden manifold: the sphere keeps |w_j| = 1 on manifold inputs", "[manifold]") {
    RunParams p = manifold_params(60, 30, 3, 2, FeatureMap::relu);
    p.model.constraint = Constraint::sphere;
    RunState s = make_initial_state(p.model, 8, 0);
    OnlineSgd trainer(p, 8, 0);
    const RowMatrix start = s.student();
    REQUIRE(trainer.advance(s, 50) == StepOutcome::ok);
    CHECK(s.student() != start);
    for (Eigen::Index j = 0; j < 3; ++j)
        CHECK(s.student().row(j).squaredNorm() == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("hidden manifold: mini-batches and training sets draw from the manifold", "[manifold]") {
    constexpr std::uint64_t seed = 9;
    constexpr std::uint64_t run = 4;
    RunParams p = manifold_params(40, 20, 2, 2, FeatureMap::erf);
    p.model.q0 = 1.0;
    p.training.batch.size = 3;
    {
        // Fresh batches: B examples from the examples stream, the mean of their gradients.
        RunState s = make_initial_state(p.model, seed, run);
        RowMatrix W = s.student();
        MiniBatchSgd trainer(p, seed, run);
        REQUIRE(trainer.advance(s, 2) == StepOutcome::ok);
        NormalStream examples(StreamKey{seed, run, StreamPurpose::examples});
        const double eta_n = p.training.eta / static_cast<double>(p.model.N);
        for (int t = 0; t < 2; ++t) {
            RowMatrix C, X, Nu;
            draw_manifold_examples(*s.manifold, examples, 3, C, X, Nu);
            RowMatrix g = RowMatrix::Zero(W.rows(), W.cols());
            for (Eigen::Index b = 0; b < 3; ++b)
                g +=
                    finite_difference_gradient(p, W, s.v, X.row(b).transpose(),
                                               manifold_label(p, s.v_star, Nu.row(b).data()), 1e-5);
            W -= (eta_n / 3.0) * g;
        }
        CHECK((s.student() - W).cwiseAbs().maxCoeff() < 1e-8 * W.cwiseAbs().maxCoeff());
    }
    {
        // A training set: example mu is c^mu, the first D normals of its own stream, and the
        // next normal its label noise; eps_train at the start is the loss over the set.
        p.training.train_set = 25;
        p.model.noise = 0.04;
        RunState s = make_initial_state(p.model, seed, run);
        MiniBatchSgd trainer(p, seed, run);
        Observables o;
        trainer.measure(s, o);
        const FiniteTrainingSet set(25, seed, run);
        double sum = 0.0;
        for (std::uint64_t mu = 0; mu < 25; ++mu) {
            NormalStream stream = set.stream_of(mu);
            RowMatrix C, X, Nu;
            draw_manifold_examples(*s.manifold, stream, 1, C, X, Nu);
            const double tau = manifold_label(p, s.v_star, Nu.row(0).data()) +
                               std::sqrt(p.model.noise) * stream.next();
            sum += cost(p, s.student(), s.v, X.row(0).transpose(), tau);
        }
        CHECK(o.extras.at(std::string(extra_name::eps_train))(0) ==
              Approx(sum / 25.0).epsilon(1e-12));
        REQUIRE(trainer.advance(s, 5) == StepOutcome::ok);
    }
}

TEST_CASE("hidden manifold: the recorded Q, R against Monte Carlo on fresh inputs",
          "[manifold][heavy]") {
    // Q_jk = <lambda_j lambda_k>, R_jn = <lambda_j nu_n> over fresh examples, lambda = W x, nu =
    // B c. The Gaussian equivalence (Eq. (16.4)) neglects the fields' non-Gaussian corrections
    // and the O(1/sqrt D) spread of the u_i's variances, both O(1/sqrt N) in Q and R here
    // (N = D = 200): tolerance 4 standard errors of the empirical moments + 1/sqrt N times the
    // scale of Q. A missing a*^2 W W^T term (a*^2 Q_plain ~ 0.36 for sign) or a wrong a1 misses
    // it by far.
    constexpr std::int64_t N = 200;
    constexpr Eigen::Index P = 40000;
    for (const FeatureMap map : all_maps) {
        INFO("feature map " << name(map));
        RunParams p = manifold_params(N, N, 2, 2, map);
        p.model.q0 = 1.0;
        RunState s = make_initial_state(p.model, 13, 0);
        // A student aligned with the teacher through the latent space: W += sqrt(D) B F / N, so
        // that S = W F^T / sqrt D gains B F F^T / N ~ B (F F^T ~ N I_D) and R ~ a1 I.
        s.weights.topRows(2) += (std::sqrt(static_cast<double>(N)) / static_cast<double>(N) *
                                 s.manifold->teacher * s.manifold->features)
                                    .eval();
        const OrderParameters op = manifold_order_parameters(s);
        NormalStream stream(StreamKey{13, 0, StreamPurpose::observer});
        RowMatrix C, X, Nu;
        draw_manifold_examples(*s.manifold, stream, P, C, X, Nu);
        const RowMatrix lambda = X * s.student().transpose();
        const auto n = static_cast<double>(P);
        const Eigen::MatrixXd Q = lambda.transpose() * lambda / n;
        const Eigen::MatrixXd R = lambda.transpose() * Nu / n;
        const double scale = op.Q.diagonal().maxCoeff();
        for (Eigen::Index j = 0; j < 2; ++j)
            for (Eigen::Index k = 0; k < 2; ++k) {
                const double se_q = std::sqrt(op.Q(j, j) * op.Q(k, k) + op.Q(j, k) * op.Q(j, k));
                const double se_r = std::sqrt(op.Q(j, j) * op.T(k, k) + op.R(j, k) * op.R(j, k));
                INFO("j " << j << " k " << k << " Q " << Q(j, k) << " vs " << op.Q(j, k) << " R "
                          << R(j, k) << " vs " << op.R(j, k));
                CHECK(std::abs(Q(j, k) - op.Q(j, k)) <
                      4.0 * se_q / std::sqrt(n) + scale / std::sqrt(static_cast<double>(N)));
                CHECK(std::abs(R(j, k) - op.R(j, k)) <
                      4.0 * se_r / std::sqrt(n) + scale / std::sqrt(static_cast<double>(N)));
            }
        CHECK(op.T.isApprox(Eigen::MatrixXd::Identity(2, 2), 1e-12));
    }
}

TEST_CASE("hidden manifold: eps_g on fresh inputs against the Gaussian-equivalent closed form",
          "[manifold]") {
    // erf g = g*, h linear: eps_g of (Q, R, T) in closed form (docs/theory.md §2) with the
    // Gaussian-equivalent Q, R, T is the N -> infinity limit of the Monte-Carlo eps_g on fresh
    // manifold inputs; they differ by the Monte-Carlo error and O(1/sqrt N) (as Q, R above):
    // tolerance 4 standard errors + eps_g / sqrt N.
    constexpr std::int64_t N = 300;
    for (const FeatureMap map : {FeatureMap::sign, FeatureMap::relu}) {
        INFO("feature map " << name(map));
        RunParams p = manifold_params(N, N / 2, 2, 2, map);
        p.model.q0 = 1.0;
        p.observer.eg_samples = 20000;
        RunState s = make_initial_state(p.model, 17, 1);
        // Aligned with the teacher through the latent space (as above, D = N/2).
        s.weights.topRows(2) += (std::sqrt(static_cast<double>(N / 2)) / static_cast<double>(N) *
                                 s.manifold->teacher * s.manifold->features)
                                    .eval();
        Observer observer(p, 17, 1);
        const Observables o = observer.observe(s);
        const double closed =
            integrals::generalization_error(ActivationKind::erf, o.Q, o.R, o.T, s.v, s.v_star);
        INFO("Monte Carlo " << o.eg << " +- " << o.eg_stderr << ", closed form " << closed);
        CHECK(o.eg_stderr > 0.0);
        CHECK(std::abs(o.eg - closed) <
              4.0 * o.eg_stderr + closed / std::sqrt(static_cast<double>(N)));
    }
}

TEST_CASE("hidden manifold: runs are deterministic and learn", "[manifold]") {
    RunParams p = manifold_params(100, 50, 2, 2, FeatureMap::sign);
    p.schedule.alpha_max = 20.0;
    p.schedule.records = 5;
    p.schedule.kind = ScheduleKind::linear;
    p.observer.eg_samples = 2000;
    p.training.eta = 1.0;
    const RunResult a = simulate(p, 3, 1);
    const RunResult b = simulate(p, 3, 1);
    REQUIRE(a.status == RunStatus::completed);
    REQUIRE(a.records.size() == b.records.size());
    for (std::size_t r = 0; r < a.records.size(); ++r) {
        CHECK(a.records[r].eg == b.records[r].eg);
        CHECK(a.records[r].Q == b.records[r].Q);
        CHECK(a.records[r].R == b.records[r].R);
    }
    // The start is the sampled initial order parameters (what plateau ode starts from).
    const OrderParameters start = sample_initial_order_parameters(p, 3, 1);
    CHECK(a.records.front().Q == start.Q);
    CHECK(a.records.front().R == start.R);
    // Learning: eps_g falls below its start.
    CHECK(a.records.back().eg < a.records.front().eg);
}
