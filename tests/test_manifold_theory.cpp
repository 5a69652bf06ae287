// The ODEs of on-line SGD on hidden-manifold inputs (docs/theory.md §16b,
// engine/theory/manifold_flow.hpp, engine/core/manifold_modes.hpp): the mode groups against the
// Gaussian-equivalent Q, R of the weights, the flow against the Gaussian flow where the inputs
// are isotropic, the flow against the Monte-Carlo average of the trainer's own update, the
// refusals, and the theory against simulations (tagged [heavy]).
#include "engine/core/manifold_modes.hpp"
#include "engine/theory/manifold_flow.hpp"
#include "engine/theory/theory.hpp"

#include "engine/core/errors.hpp"
#include "models/gaussian_integrals.hpp"
#include "models/hidden_manifold.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace plateau;

namespace {

RunParams manifold_params(int K, int M, std::int64_t N, double delta, FeatureMap map) {
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
        RunParams p = manifold_params(3, 2, 200, 1.0, FeatureMap::erf);
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
        CHECK(std::abs(manifold_generalization_error(s, m, T, v, v_star) -
                       flow_generalization_error(s, Q, R, T, v, v_star)) < 1e-14);
    }
}

TEST_CASE("manifold theory: refusals name the key, the value and the limit", "[theory][manifold]") {
    RunParams p = manifold_params(2, 2, 100, 0.5, FeatureMap::sign);
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
