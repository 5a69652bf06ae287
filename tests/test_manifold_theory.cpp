// The ODEs of on-line SGD on hidden-manifold inputs (docs/theory.md §16b,
// engine/theory/manifold_flow.hpp, engine/core/manifold_modes.hpp): the mode groups against the
// Gaussian-equivalent Q, R of the weights, the flow against the Gaussian flow where the inputs
// are isotropic, the flow against the Monte-Carlo average of the trainer's own update, the
// refusals, and the theory against simulations (tagged [heavy]).
#include "engine/core/manifold_modes.hpp"
#include "engine/theory/manifold_flow.hpp"
#include "engine/theory/theory.hpp"

#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/manifold_source.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/simulation/state.hpp"
#include "engine/simulation/trainer.hpp"
#include "models/gaussian_integrals.hpp"
#include "models/hidden_manifold.hpp"

#include "stat_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace plateau;
using plateau::test::Stat;

namespace {

RunParams theory_manifold_params(int K, int M, std::int64_t N, double delta, FeatureMap map) {
    RunParams p;
    p.model.N = N;
    p.model.student.widths = {K};
    p.model.teacher.widths = {M};
    p.model.inputs = InputKind::hidden_manifold;
    p.model.manifold.latent_ratio = delta;
    p.model.manifold.feature_map = map;
    return p;
}

Eigen::MatrixXd gaussian_matrix(Eigen::Index rows, Eigen::Index cols, double sd,
                                std::mt19937_64& rng) {
    std::normal_distribution<double> normal(0.0, sd);
    Eigen::MatrixXd A(rows, cols);
    for (Eigen::Index i = 0; i < A.size(); ++i)
        A(i) = normal(rng);
    return A;
}

} // namespace

TEST_CASE("manifold modes: the groups sum to the Gaussian-equivalent Q, R and W W^T",
          "[theory][manifold]") {
    // Eq. (16b.6) against Q = W Omega W^T, R = (a1/sqrt D) W F^T B^T (Eq. (16b.2)), for D < N
    // (a complement group) and D > N (none), with and without a*^2.
    std::mt19937_64 rng(3);
    struct Case {
        Eigen::Index N, D;
        double a1, astar2;
    };
    for (const Case c :
         {Case{60, 25, 0.8, 0.36}, Case{30, 70, 0.8, 0.36}, Case{40, 40, 1.0, 0.0}}) {
        INFO("N = " << c.N << ", D = " << c.D);
        constexpr Eigen::Index K = 3, M = 2;
        const Eigen::MatrixXd F = gaussian_matrix(c.D, c.N, 1.0, rng);
        const Eigen::MatrixXd W = gaussian_matrix(K, c.N, 1.0 / std::sqrt(double(c.N)), rng);
        const Eigen::MatrixXd B = gaussian_matrix(M, c.D, 1.0 / std::sqrt(double(c.D)), rng);
        const ManifoldModes m = resolve_manifold_modes(W, B, F, c.a1, c.astar2);
        const double Dd = static_cast<double>(c.D);
        const Eigen::MatrixXd Omega =
            (c.a1 * c.a1 / Dd) * F.transpose() * F + c.astar2 * Eigen::MatrixXd::Identity(c.N, c.N);
        const Eigen::MatrixXd Q = W * Omega * W.transpose();
        const Eigen::MatrixXd R = (c.a1 / std::sqrt(Dd)) * W * F.transpose() * B.transpose();
        CHECK((m.field_covariance(K) - Q).cwiseAbs().maxCoeff() < 1e-12);
        CHECK((m.teacher_overlaps(K, M) - R).cwiseAbs().maxCoeff() < 1e-12);
        CHECK((m.weight_overlaps(K) - W * W.transpose()).cwiseAbs().maxCoeff() < 1e-12);
        CHECK(m.groups() == std::min(c.D, c.N) + (c.N > c.D ? 1 : 0));
        CHECK(std::abs(m.share.sum() - 1.0) < 1e-12);
        // The teacher's visible part: sum_g share_g t_g = (a1^2/D) B F F^T B^T.
        const Eigen::VectorXd tsum = m.t * m.share;
        const Eigen::MatrixXd visible = (c.a1 * c.a1 / Dd) * B * F * F.transpose() * B.transpose();
        CHECK(
            (Eigen::Map<const Eigen::MatrixXd>(tsum.data(), M, M) - visible).cwiseAbs().maxCoeff() <
            1e-12);
    }
}

TEST_CASE("manifold flow: isotropic inputs give the Gaussian flow", "[theory][manifold]") {
    // One group with kappa = 1 holding q = Q, r = R, t = T is Omega = I: the group's flow
    // (Eqs. (16b.7)-(16b.8)) must be the Gaussian flow of §3 (A C = <c u^T>), with the eta^2
    // term, label noise, weight decay, a learned v and a batch.
    for (const ActivationKind g :
         {ActivationKind::erf, ActivationKind::relu, ActivationKind::linear}) {
        INFO("g = " << name(g));
        RunParams p = theory_manifold_params(3, 2, 200, 1.0, FeatureMap::erf);
        p.model.student.g.kind = p.model.teacher.g.kind = g;
        p.model.noise = 0.05;
        p.model.learn_v = true;
        p.training.eta = 0.8;
        p.training.eta_v = 0.3;
        p.training.weight_decay = 0.01;
        p.training.batch.size = 2;
        const FlowSettings s = manifold_flow_settings(p);
        std::mt19937_64 rng(9);
        const Eigen::MatrixXd X = gaussian_matrix(5, 7, 0.6, rng);
        const Eigen::MatrixXd C = X * X.transpose(); // a covariance of the K + M fields
        const Eigen::MatrixXd Q = C.topLeftCorner(3, 3), R = C.topRightCorner(3, 2);
        const Eigen::MatrixXd T = C.bottomRightCorner(2, 2);
        const Eigen::VectorXd v = Eigen::Vector3d(0.7, -0.4, 1.1);
        const Eigen::VectorXd v_star = Eigen::Vector2d(1.0, 0.8);
        ManifoldModes m;
        m.kappa = Eigen::VectorXd::Ones(1);
        m.share = Eigen::VectorXd::Ones(1);
        m.q = Q.reshaped();
        m.r = R.reshaped();
        m.t = T.reshaped();
        ManifoldDerivatives d;
        compute_manifold_flow(s, m, T, v, v_star, d);
        Eigen::MatrixXd dQ, dR;
        Eigen::VectorXd dv;
        compute_flow(s, Q, R, T, v, v_star, dQ, dR, dv);
        CHECK((d.dQ - dQ).cwiseAbs().maxCoeff() < 1e-12);
        CHECK((d.dR - dR).cwiseAbs().maxCoeff() < 1e-12);
        CHECK((d.dv - dv).cwiseAbs().maxCoeff() < 1e-12);
        CHECK(dQ.cwiseAbs().maxCoeff() > 0.01);
        CHECK(std::abs(manifold_flow_generalization_error(s, m, T, v, v_star) -
                       flow_generalization_error(s, Q, R, T, v, v_star)) < 1e-14);
    }
}

TEST_CASE("manifold flow: equals the Monte-Carlo average of the trainer's update",
          "[theory][manifold][heavy]") {
    // At a state with O(1) overlaps R (student rows with components along F^T b_n), the
    // trainer's own step (OnlineSgd on ManifoldExamples) is taken from the same state `samples`
    // times; N dQ, N dR (the Gaussian-equivalent covariances of Eq. (16b.2)), N d(W W^T) and
    // N dv against the flow within 5 standard errors, plus the finite-N allowance of the eta^2
    // term: |x|^2/N = tr(Omega)/N + O((K + 3)/N) where it correlates with the fields, (K + 3)/N
    // of the entry's scale. Feature maps: linear (Gaussian equivalence exact) and sign; latent
    // ratios below and above 1.
    struct Case {
        FeatureMap map;
        double delta;
    };
    for (const Case c : {Case{FeatureMap::linear, 0.5}, Case{FeatureMap::sign, 0.5},
                         Case{FeatureMap::sign, 2.0}}) {
        constexpr int K = 3, M = 2;
        constexpr std::int64_t N = 400;
        constexpr int samples = 30'000;
        INFO("feature map " << static_cast<int>(c.map) << ", delta = " << c.delta);
        RunParams p = theory_manifold_params(K, M, N, c.delta, c.map);
        p.model.noise = 0.1;
        p.model.learn_v = true;
        p.training.eta = 1.5;
        p.training.eta_v = 0.5;
        RunState state = make_initial_state(p.model, 11, 0);
        REQUIRE(state.manifold);
        const ManifoldFrame& frame = *state.manifold;
        const Eigen::MatrixXd F = frame.features, B = frame.teacher;
        const auto D = F.rows();
        const FeatureConstants fc = FeatureEvaluator{c.map}.constants();
        std::mt19937_64 rng(20261206);
        std::uniform_real_distribution<double> uniform(-1.0, 1.0);
        const auto n = static_cast<double>(N);
        const Eigen::MatrixXd directions = F.transpose() * B.transpose() / std::sqrt(n); // N x M
        for (int j = 0; j < K; ++j) {
            Eigen::VectorXd w = gaussian_matrix(N, 1, std::sqrt(0.5 / n), rng);
            for (int m = 0; m < M; ++m)
                w += 0.8 * uniform(rng) * directions.col(m);
            state.weights.row(j) = w.transpose();
            state.v(j) = (j % 2 == 0 ? 1.0 : -1.0) * (0.6 + 0.4 * uniform(rng));
        }
        const Eigen::MatrixXd W0 = state.student();
        const Eigen::VectorXd v0 = state.v;
        OrderParameters op = manifold_order_parameters(state);
        op.manifold = resolve_manifold_modes(W0, B, F, fc.a1, fc.a_star_sq());
        const OrderParameters d = manifold_flow(p, op);

        const double sqD = std::sqrt(static_cast<double>(D));
        const Eigen::MatrixXd S0 = W0 * F.transpose() / sqD; // K x D
        const auto overlaps = [&](const Eigen::MatrixXd& W, const Eigen::MatrixXd& S) {
            return std::pair{Eigen::MatrixXd(fc.a1 * fc.a1 * S * S.transpose() +
                                             fc.a_star_sq() * W * W.transpose()),
                             Eigen::MatrixXd(fc.a1 * S * B.transpose())};
        };
        const auto [Q0, R0] = overlaps(W0, S0);
        REQUIRE((Q0 - op.Q).cwiseAbs().maxCoeff() < 1e-10);
        const Eigen::MatrixXd P0 = W0 * W0.transpose();
        const auto trainer = make_trainer(p, 11, 0);
        std::vector<Stat> dQ(K * K), dR(K * M), dP(K * K), dv(K);
        for (int s = 0; s < samples; ++s) {
            REQUIRE(trainer->advance(state, 1) == StepOutcome::ok);
            const Eigen::MatrixXd W1 = state.student();
            // One step moves every row along the example x (w_j += (eta/N) c_j x): project the
            // largest row's move on F once and scale it for the others.
            const Eigen::MatrixXd dW = W1 - W0;
            Eigen::Index top = 0;
            (void)dW.rowwise().squaredNorm().maxCoeff(&top);
            const double top_norm = dW.row(top).squaredNorm();
            const Eigen::RowVectorXd moved = dW.row(top) * F.transpose() / sqD;
            Eigen::MatrixXd S1 = S0;
            if (top_norm > 0.0)
                S1 += (dW * dW.row(top).transpose() / top_norm) * moved;
            const auto [Q1, R1] = overlaps(W1, S1);
            const Eigen::MatrixXd P1 = W1 * W1.transpose();
            for (int j = 0; j < K; ++j) {
                for (int l = 0; l < K; ++l) {
                    dQ[static_cast<std::size_t>(j * K + l)].add(n * (Q1(j, l) - Q0(j, l)));
                    dP[static_cast<std::size_t>(j * K + l)].add(n * (P1(j, l) - P0(j, l)));
                }
                for (int m = 0; m < M; ++m)
                    dR[static_cast<std::size_t>(j * M + m)].add(n * (R1(j, m) - R0(j, m)));
                dv[static_cast<std::size_t>(j)].add(n * (state.v(j) - v0(j)));
            }
            state.weights.topRows(K) = W0; // the same state at every sample
            state.v = v0;
        }
        const Eigen::MatrixXd dP_theory = [&] {
            ManifoldModes moved = op.manifold;
            moved.q = d.manifold.q;
            return moved.weight_overlaps(K);
        }();
        const double bias = (K + 3.0) / n;
        int failures = 0;
        const auto check = [&](const char* what, const Stat& mc, double theory, double scale) {
            const bool ok =
                std::abs(mc.mean() - theory) <= 5.0 * mc.standard_error() + bias * scale;
            if (!ok)
                ++failures;
            UNSCOPED_INFO(what << ": Monte Carlo " << mc.mean() << " +- " << mc.standard_error()
                               << ", theory " << theory << (ok ? "" : "   <-- off"));
        };
        const double q_scale = d.Q.cwiseAbs().maxCoeff();
        const double p_scale = dP_theory.cwiseAbs().maxCoeff();
        for (int j = 0; j < K; ++j) {
            for (int l = 0; l < K; ++l) {
                check("dQ", dQ[static_cast<std::size_t>(j * K + l)], d.Q(j, l), q_scale);
                check("dWW", dP[static_cast<std::size_t>(j * K + l)], dP_theory(j, l), p_scale);
            }
            for (int m = 0; m < M; ++m)
                check("dR", dR[static_cast<std::size_t>(j * M + m)], d.R(j, m), 0.0);
            check("dv", dv[static_cast<std::size_t>(j)], d.v(j), 0.0);
        }
        CHECK(failures == 0);
        // The flow is not trivially small here: the test has power.
        CHECK(d.R.cwiseAbs().maxCoeff() > 0.05);
        CHECK(q_scale > 0.05);
    }
}

TEST_CASE("manifold theory: refusals name the key, the value and the limit", "[theory][manifold]") {
    RunParams p = theory_manifold_params(2, 2, 100, 0.5, FeatureMap::sign);
    CHECK_NOTHROW(require_theory_support(p.model));
    const auto refused = [&](const char* key) {
        try {
            require_theory_support(p.model);
            FAIL("accepted; expected a refusal naming " << key);
        } catch (const ConfigError& e) {
            INFO(e.what());
            CHECK(std::string(e.what()).find(std::string("'") + key + "'") != std::string::npos);
        }
    };
    p.model.student.g.kind = p.model.teacher.g.kind = ActivationKind::tanh;
    refused("activation");
    p.model.student.g.kind = p.model.teacher.g.kind = ActivationKind::relu;
    CHECK_NOTHROW(require_theory_support(p.model));
    p.model.student.g.kind = p.model.teacher.g.kind = ActivationKind::erf;
    p.model.constraint = Constraint::sphere;
    refused("constraint");
    p.model.constraint = Constraint::none;
    p.model.N = 2 * max_manifold_modes;
    p.model.manifold.latent_ratio = 0.75;
    refused("latent-ratio");
    p.model.manifold.latent_ratio = 0.25;
    CHECK_NOTHROW(require_theory_support(p.model));
    // The Gaussian flow (fixed points, escape) refuses these inputs: one line, not a wrong flow.
    p.model.N = 100;
    CHECK_THROWS_AS((void)flow_settings(p), ConfigError);
    // A start without its modes (a file's or a symmetric one) is not a start of this theory.
    OrderParameters op = symmetric_initial_conditions(p.model, 0.2, 0.0, 0.01);
    CHECK_THROWS_AS(TheoryDynamics(p, op), std::invalid_argument);
}

namespace {

/// Seed means of simulation and theory (each theory run from its simulation's initial order
/// parameters, resolved by input mode): every record of eps_g, Q and R within 4 standard errors
/// of the simulations' seed mean plus 2 % of the theory's scale.
void compare_with_simulation(const RunParams& p, int seeds) {
    const std::vector<double> alphas = record_alphas(p.schedule);
    const int K = p.model.student.hidden(), M = p.model.teacher.hidden();
    std::vector<Stat> eg_sim(alphas.size());
    std::vector<double> eg_theory(alphas.size(), 0.0);
    std::vector<std::vector<Stat>> q_sim(alphas.size(), std::vector<Stat>(K * K + K * M));
    std::vector<Eigen::VectorXd> q_theory(alphas.size(), Eigen::VectorXd::Zero(K * K + K * M));
    for (int s = 0; s < seeds; ++s) {
        const auto run = static_cast<std::uint64_t>(s);
        const RunResult sim = simulate(p, 5, run);
        const RunResult theory = integrate_theory(p, sample_initial_order_parameters(p, 5, run));
        REQUIRE(sim.records.size() == alphas.size());
        REQUIRE(theory.records.size() == alphas.size());
        for (std::size_t i = 0; i < alphas.size(); ++i) {
            eg_sim[i].add(sim.records[i].eg);
            eg_theory[i] += theory.records[i].eg / seeds;
            Eigen::VectorXd x(K * K + K * M), y(K * K + K * M);
            x << sim.records[i].Q.reshaped(), sim.records[i].R.reshaped();
            y << theory.records[i].Q.reshaped(), theory.records[i].R.reshaped();
            for (Eigen::Index e = 0; e < x.size(); ++e)
                q_sim[i][static_cast<std::size_t>(e)].add(x(e));
            q_theory[i] += y / seeds;
        }
    }
    for (std::size_t i = 0; i < alphas.size(); ++i) {
        INFO("alpha = " << alphas[i] << ": eps_g simulation " << eg_sim[i].mean() << " +- "
                        << eg_sim[i].standard_error() << ", theory " << eg_theory[i]);
        CHECK(std::abs(eg_sim[i].mean() - eg_theory[i]) <=
              4.0 * eg_sim[i].standard_error() + 0.02 * eg_theory[i]);
        const double scale = q_theory[i].cwiseAbs().maxCoeff();
        for (Eigen::Index e = 0; e < q_theory[i].size(); ++e) {
            const Stat& x = q_sim[i][static_cast<std::size_t>(e)];
            INFO("entry " << e << " of (Q, R): simulation " << x.mean() << " +- "
                          << x.standard_error() << ", theory " << q_theory[i](e));
            CHECK(std::abs(x.mean() - q_theory[i](e)) <= 4.0 * x.standard_error() + 0.02 * scale);
        }
    }
    // The runs learn: the comparison is not of two flat lines.
    CHECK(eg_theory.back() < 0.85 * eg_theory.front());
}

} // namespace

TEST_CASE("manifold theory versus simulation: K = M = 2, erf, sign features, delta = 0.25, 1, 2",
          "[theory][manifold][heavy]") {
    // N = 500, eta = 1, 8 seeds (6 at delta = 2, whose examples cost 4 times those of 0.25);
    // at delta = 0.25 the runs leave a plateau (eps_g ~ 0.105 from alpha ~ 12 to ~ 36) for the
    // specialized state; at delta = 1, 2 the latent directions outside F's rows (and the a*
    // noise of the inputs) keep eps_g high and the runs learn slowly (docs/theory.md §16b).
    struct Case {
        double delta, alpha_max;
        int seeds;
    };
    for (const Case c : {Case{0.25, 60.0, 8}, Case{1.0, 30.0, 8}, Case{2.0, 30.0, 6}}) {
        INFO("delta = " << c.delta);
        RunParams p = theory_manifold_params(2, 2, 500, c.delta, FeatureMap::sign);
        p.training.eta = 1.0;
        p.schedule.alpha_max = c.alpha_max;
        p.schedule.records = 6;
        p.schedule.kind = ScheduleKind::linear;
        p.observer.eg_samples = 1000;
        compare_with_simulation(p, c.seeds);
    }
}

TEST_CASE("manifold theory versus simulation: K = 3, M = 2, erf features, learned v",
          "[theory][manifold][heavy]") {
    struct Case {
        double delta, alpha_max;
        int seeds;
    };
    for (const Case c : {Case{0.25, 40.0, 8}, Case{1.0, 20.0, 8}, Case{2.0, 20.0, 6}}) {
        INFO("delta = " << c.delta);
        RunParams p = theory_manifold_params(3, 2, 500, c.delta, FeatureMap::erf);
        p.training.eta = 1.0;
        p.model.learn_v = true;
        p.training.eta_v = 0.5;
        p.model.noise = 0.01;
        p.schedule.alpha_max = c.alpha_max;
        p.schedule.records = 6;
        p.schedule.kind = ScheduleKind::linear;
        p.observer.eg_samples = 1000;
        compare_with_simulation(p, c.seeds);
    }
}
