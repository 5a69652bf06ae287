// Tests of the tensor rule (engine/theory/tensor_rule.hpp, FlowMethod::tensor; docs/theory.md §9
// "Smoothness", §8): the node sets (weights, symmetry, exactness of Gauss-Hermite), the flow for
// polynomial g != g* against Isserlis' theorem (exact), the tanh/sigmoid flow against the refined
// nested quadrature of §9 at a generic point, and which models take the method.
#include "engine/theory/flow_paths.hpp"
#include "engine/theory/tensor_rule.hpp"
#include "engine/theory/theory.hpp"

#include "models/gaussian_integrals.hpp"
#include "models/polynomial_averages.hpp"
#include "models/quadrature.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>

using namespace plateau;

namespace {

RunParams tensor_params(ActivationKind g, ActivationKind g_teacher) {
    RunParams p;
    p.model.N = 1000;
    p.model.student.widths = {2};
    p.model.teacher.widths = {2};
    p.model.student.g = typical_activation(g);
    p.model.teacher.g = typical_activation(g_teacher);
    p.training.eta = 0.7;
    return p;
}

/// A generic point: unit-variance orthogonal teachers, students half way, no symmetry.
OrderParameters generic_point(const ModelParams& m) {
    OrderParameters op = symmetric_initial_conditions(m, 0.5, 0.0, 0.0);
    op.Q << 0.55, 0.12, 0.12, 0.7;
    op.R << 0.45, 0.1, -0.05, 0.6;
    op.v << 0.9, 1.1;
    op.v_star << 1.0, 0.8;
    return op;
}

/// The flow's averages (docs/theory.md §3) from the per-integral functions I2, I3, I4 at C:
/// cu(j, b) = v_j sum_u c_u I3(j, b, u), cc(j, k) = v_j v_k sum_{u,u'} c_u c_u' I4(j, k, u, u'),
/// eps_g = 1/2 sum_{u,u'} c_u c_u' I2(u, u'), c = (-v, v*) -- written out independently of the
/// engine's loops, for a reference.
template <class I2f, class I3f, class I4f>
void reference_averages(const OrderParameters& op, I2f&& i2, I3f&& i3, I4f&& i4,
                        Eigen::MatrixXd& cu, Eigen::MatrixXd& cc, double& eg) {
    const auto K = op.Q.rows(), M = op.T.rows(), P = K + M;
    Eigen::VectorXd c(P);
    c << -op.v, op.v_star;
    cu = Eigen::MatrixXd::Zero(K, P);
    cc = Eigen::MatrixXd::Zero(K, K);
    eg = 0.0;
    for (int u = 0; u < P; ++u)
        for (int w = 0; w < P; ++w)
            eg += 0.5 * c(u) * c(w) * i2(u, w);
    for (int j = 0; j < K; ++j) {
        for (int b = 0; b < P; ++b)
            for (int u = 0; u < P; ++u)
                cu(j, b) += op.v(j) * c(u) * i3(j, b, u);
        for (int k = 0; k < K; ++k)
            for (int u = 0; u < P; ++u)
                for (int w = 0; w < P; ++w)
                    cc(j, k) += op.v(j) * op.v(k) * c(u) * c(w) * i4(j, k, u, w);
    }
}

/// The tensor rule's averages at op (cu, cc from the flow with eta = 1 split into its parts).
void tensor_averages(const FlowSettings& s, const OrderParameters& op, Eigen::MatrixXd& dQ,
                     Eigen::MatrixXd& dR, double& eg) {
    const TensorEstimate e = tensor_estimate(s, op.Q, op.R, op.T, op.v, op.v_star);
    dQ = e.dQ;
    dR = e.dR;
    eg = e.eg;
}

/// dQ, dR from averages (eta from s): the equations of docs/theory.md §3.
void flow_from(const FlowSettings& s, const Eigen::MatrixXd& cu, const Eigen::MatrixXd& cc,
               Eigen::MatrixXd& dQ, Eigen::MatrixXd& dR) {
    FlowAverages a;
    a.cu = cu;
    a.cc = cc;
    a.eg = Eigen::VectorXd::Zero(cu.rows());
    Eigen::VectorXd dv;
    assemble_flow(s, a, dQ, dR, dv);
}

double max_abs_difference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    return (a - b).cwiseAbs().maxCoeff();
}

/// Largest |difference| of the flow (dQ, dR) between two estimates.
double flow_difference(const TensorEstimate& a, const TensorEstimate& b) {
    return std::max(max_abs_difference(a.dQ, b.dQ), max_abs_difference(a.dR, b.dR));
}

} // namespace

TEST_CASE("tensor rule: weights sum to 1, odd moments vanish, Gauss-Hermite is exact",
          "[theory][tensor]") {
    const TensorRule trap(4, TensorRule::Trapezoid{0.7, 6.0, false});
    CHECK(std::abs(trap.weights().sum() - 1.0) < 1e-12); // rounding of ~2e4 terms
    CHECK(trap.weights().minCoeff() > 0.0);
    // Ball-pruned: about pi^2/32 of the cube's 17^4 nodes.
    CHECK(trap.points() < 17 * 17 * 17 * 17 / 2);
    CHECK((trap.nodes().colwise().squaredNorm().array() <= 36.0 + 1e-12).all());
    // Symmetric in each z_l: first and third moments 0, second ~1.
    for (int l = 0; l < 4; ++l) {
        const Eigen::ArrayXd z = trap.nodes().row(l).transpose().array();
        const Eigen::ArrayXd w = trap.weights().array();
        CHECK(std::abs((w * z).sum()) < 1e-15);
        CHECK(std::abs((w * z * z * z).sum()) < 1e-14);
        CHECK(std::abs((w * z * z).sum() - 1.0) < 1e-5);
    }
    // Gauss-Hermite, 3 nodes in 2 variables: exact for z_0^4 z_1^2 (3 * 1) and z_0^5 z_1 (0).
    const TensorRule gh(2, 3);
    REQUIRE(gh.points() == 9);
    const Eigen::ArrayXd z0 = gh.nodes().row(0).transpose().array();
    const Eigen::ArrayXd z1 = gh.nodes().row(1).transpose().array();
    const Eigen::ArrayXd w = gh.weights().array();
    CHECK(std::abs((w * z0.pow(4) * z1.square()).sum() - 3.0) < 1e-13);
    CHECK(std::abs((w * z0.pow(5) * z1).sum()) < 1e-13);
    CHECK_THROWS_AS(TensorRule(4, TensorRule::Trapezoid{0.0, 6.0, false}), std::invalid_argument);
    CHECK_THROWS_AS(TensorRule(4, 0), std::invalid_argument);
}

TEST_CASE("tensor flow: the folded rule (odd g, g*, h, h*) equals the whole rule",
          "[theory][tensor]") {
    // tanh: every average is over an even function of z, so one node of each pair (z, -z) with
    // twice the weight gives the same sums up to rounding. sigmoid is not odd: not folded.
    RunParams p = tensor_params(ActivationKind::tanh, ActivationKind::tanh);
    p.model.learn_v = true;
    p.training.eta_v = 0.3;
    p.model.noise = 0.1;
    FlowSettings s = flow_settings(p);
    const TensorRule::Trapezoid production = production_trapezoid(s.g);
    const TensorRule whole(4, production);
    REQUIRE(s.tensor_rule->points() == (whole.points() + 1) / 2); // folded
    const OrderParameters op = generic_point(p.model);
    const TensorEstimate folded = tensor_estimate(s, op.Q, op.R, op.T, op.v, op.v_star);
    s.tensor_rule = std::make_shared<const TensorRule>(whole);
    const TensorEstimate all = tensor_estimate(s, op.Q, op.R, op.T, op.v, op.v_star);
    CHECK(flow_difference(folded, all) < 1e-13); // rounding of ~1e4 terms
    CHECK(max_abs_difference(folded.dv, all.dv) < 1e-13);
    CHECK(std::abs(folded.eg - all.eg) < 1e-13);
    const RunParams ps = tensor_params(ActivationKind::sigmoid, ActivationKind::sigmoid);
    CHECK(flow_settings(ps).tensor_rule->points() == whole.points());
}

TEST_CASE("tensor flow: which models take it", "[theory][tensor]") {
    RunParams p = tensor_params(ActivationKind::tanh, ActivationKind::tanh);
    CHECK(flow_method(p.model) == FlowMethod::tensor);
    p.model.student.g = p.model.teacher.g = Activation{ActivationKind::sigmoid};
    CHECK(flow_method(p.model) == FlowMethod::tensor);
    p.model.student.widths = {3};
    p.model.teacher.widths = {2}; // K + M = 5: the nested quadrature
    CHECK(flow_method(p.model) == FlowMethod::integrals);
    p = tensor_params(ActivationKind::square, ActivationKind::he2);
    CHECK(flow_method(p.model) == FlowMethod::tensor);
    // square/he2: degree of <(e^2 + s^2) d_j d_k> = 2*2 + 2*1 = 6: 4 nodes.
    CHECK(tensor_gauss_hermite_nodes(p.model.student.g, p.model.teacher.g) == 4);
    p = tensor_params(ActivationKind::he2, ActivationKind::he2); // g = g*: Isserlis, exact
    CHECK(flow_method(p.model) == FlowMethod::integrals);
    p = tensor_params(ActivationKind::erf, ActivationKind::erf);
    CHECK(flow_method(p.model) == FlowMethod::integrals);
    p = tensor_params(ActivationKind::relu, ActivationKind::square); // not both polynomials
    CHECK(flow_method(p.model) == FlowMethod::joint);
    p = tensor_params(ActivationKind::tanh, ActivationKind::tanh);
    p.model.student.h.kind = ActivationKind::tanh; // tanh output, h* = identity: the joint rule
    CHECK(flow_method(p.model) == FlowMethod::joint);
}

TEST_CASE("tensor flow: square student, he2 teacher equals Isserlis' theorem to rounding",
          "[theory][tensor]") {
    RunParams p = tensor_params(ActivationKind::square, ActivationKind::he2);
    p.model.noise = 0.2;
    p.model.learn_v = true;
    p.training.eta_v = 0.3;
    const FlowSettings s = flow_settings(p);
    REQUIRE(s.method == FlowMethod::tensor);
    const OrderParameters op = generic_point(p.model);
    const Eigen::MatrixXd C = integrals::field_covariance(op.Q, op.R, op.T);
    // One polynomial per field: the students' square, then the teachers' he2; the exact
    // averages by Isserlis' theorem (models/polynomial_averages.hpp, docs/theory.md §9b).
    const std::array<Polynomial, 4> g{*as_polynomial(s.g), *as_polynomial(s.g),
                                      *as_polynomial(s.g_teacher), *as_polynomial(s.g_teacher)};
    namespace pa = polynomial_averages;
    Eigen::MatrixXd cu, cc;
    double eg = 0.0;
    reference_averages(
        op, [&](int u, int w) { return pa::I2(g, C, u, w); },
        [&](int j, int b, int u) { return pa::I3(g, C, j, b, u); },
        [&](int j, int k, int u, int w) { return pa::I4(g, C, j, k, u, w); }, cu, cc, eg);
    // Label noise: cc += s^2 v_j v_k <g'(x_j) g'(x_k)>.
    for (int j = 0; j < 2; ++j)
        for (int k = 0; k < 2; ++k)
            cc(j, k) += p.model.noise * op.v(j) * op.v(k) * pa::J2(g, C, j, k);
    Eigen::MatrixXd dQ_ref, dR_ref, dQ, dR;
    flow_from(s, cu, cc, dQ_ref, dR_ref);
    double eg_tensor = 0.0;
    tensor_averages(s, op, dQ, dR, eg_tensor);
    const double scale = dQ_ref.cwiseAbs().maxCoeff() + dR_ref.cwiseAbs().maxCoeff();
    INFO("dQ " << max_abs_difference(dQ, dQ_ref) << ", dR " << max_abs_difference(dR, dR_ref)
               << ", eps_g " << eg_tensor - eg << " (scale " << scale << ")");
    CHECK(max_abs_difference(dQ, dQ_ref) < 1e-13 * scale);
    CHECK(max_abs_difference(dR, dR_ref) < 1e-13 * scale);
    CHECK(std::abs(eg_tensor - eg) < 1e-13 * std::abs(eg));
    // The learned second layer: dv_j = eta_v sum_u c_u <g(x_j) g_u(u_u)>.
    const TensorEstimate e = tensor_estimate(s, op.Q, op.R, op.T, op.v, op.v_star);
    for (int j = 0; j < 2; ++j) {
        double ref = 0.0;
        for (int u = 0; u < 4; ++u)
            ref += (u < 2 ? -op.v(u) : op.v_star(u - 2)) * pa::I2(g, C, j, u);
        CHECK(std::abs(e.dv(j) - p.training.eta_v * ref) < 1e-13 * std::abs(ref));
    }
}

namespace {

/// The points of the accuracy table of docs/theory.md §9 "Smoothness": generic (students half
/// way), the plateau (symmetric, R ~ 0.1), and near the end (Q, R within 1e-2 of T).
std::vector<OrderParameters> table_points(const ModelParams& m) {
    std::vector<OrderParameters> out{generic_point(m)};
    OrderParameters plateau = symmetric_initial_conditions(m, 0.35, 0.25, 0.0);
    plateau.v = plateau.v_star = Eigen::VectorXd::Ones(2);
    out.push_back(plateau);
    OrderParameters end = symmetric_initial_conditions(m, 0.98, 0.0, 0.0);
    end.R << 0.99, 0.01, 0.005, 0.985;
    end.Q << 0.985, 0.012, 0.012, 0.975;
    end.v = end.v_star = Eigen::VectorXd::Ones(2);
    out.push_back(end);
    return out;
}

} // namespace

TEST_CASE("tensor flow: tanh and sigmoid against the refined nested quadrature",
          "[theory][tensor]") {
    // The production tensor trapezoid rule against the nested quadrature of §9 at L = 30 and
    // twice the nodes (accurate to ~1e-9, docs/theory.md §9 "Accuracy"), at a generic point:
    // the accuracy claimed in docs/theory.md §9 "Smoothness" (the table: 1e-5 absolute for the
    // flow and 2.2e-5 for eps_g with tanh, 2.4e-6 and 3.2e-6 with sigmoid), with a margin of 2.5.
    for (const auto kind : {ActivationKind::tanh, ActivationKind::sigmoid}) {
        RunParams p = tensor_params(kind, kind);
        p.model.learn_v = true;
        p.training.eta_v = 0.3;
        const FlowSettings s = flow_settings(p);
        REQUIRE(s.method == FlowMethod::tensor);
        const OrderParameters op = generic_point(p.model);
        const Eigen::MatrixXd C = integrals::field_covariance(op.Q, op.R, op.T);
        const quadrature::Rule refined{2, 30.0};
        Eigen::MatrixXd cu, cc;
        double eg = 0.0;
        reference_averages(
            op, [&](int u, int w) { return quadrature::I2(s.g, C, u, w, refined); },
            [&](int j, int b, int u) { return quadrature::I3(s.g, C, j, b, u, refined); },
            [](int, int, int, int) { return 0.0; }, cu, cc, eg);
        // cc from the distinct I4 (symmetric in j <-> k and in u <-> w).
        {
            Eigen::MatrixXd full = Eigen::MatrixXd::Zero(2, 2);
            Eigen::VectorXd c(4);
            c << -op.v, op.v_star;
            for (int j = 0; j < 2; ++j)
                for (int k = j; k < 2; ++k) {
                    double sum = 0.0;
                    for (int u = 0; u < 4; ++u)
                        for (int w = u; w < 4; ++w)
                            sum += (u == w ? 1.0 : 2.0) * c(u) * c(w) *
                                   quadrature::I4(s.g, C, j, k, u, w, refined);
                    full(j, k) = full(k, j) = op.v(j) * op.v(k) * sum;
                }
            cc = full;
        }
        Eigen::MatrixXd dQ_ref, dR_ref;
        flow_from(s, cu, cc, dQ_ref, dR_ref);
        const TensorEstimate e = tensor_estimate(s, op.Q, op.R, op.T, op.v, op.v_star);
        const double tolerance = 2.5 * (kind == ActivationKind::tanh ? 1e-5 : 2.4e-6);
        const double eg_tolerance = 2.5 * (kind == ActivationKind::tanh ? 2.2e-5 : 3.2e-6);
        INFO(name(kind) << ": dQ " << max_abs_difference(e.dQ, dQ_ref) << ", dR "
                        << max_abs_difference(e.dR, dR_ref) << ", eps_g " << e.eg - eg << " (|dQ| "
                        << dQ_ref.norm() << ")");
        CHECK(max_abs_difference(e.dQ, dQ_ref) < tolerance);
        CHECK(max_abs_difference(e.dR, dR_ref) < tolerance);
        CHECK(std::abs(e.eg - eg) < eg_tolerance);
        // dv_j = eta_v sum_u c_u I2(j, u).
        for (int j = 0; j < 2; ++j) {
            double ref = 0.0;
            for (int u = 0; u < 4; ++u)
                ref +=
                    (u < 2 ? -op.v(u) : op.v_star(u - 2)) * quadrature::I2(s.g, C, j, u, refined);
            CHECK(std::abs(e.dv(j) - p.training.eta_v * ref) < tolerance);
        }
    }
}

TEST_CASE("tensor flow: the accuracy table of h and Z (docs/theory.md §9)", "[.][tensor-sweep]") {
    // Prints, for tanh (gamma = 1) and sigmoid, per (h, Z): nodes, ms per flow, and the largest
    // absolute error of (dQ, dR) and eps_g over table_points against the rule h = 0.4, Z = 8.
    for (const auto kind : {ActivationKind::tanh, ActivationKind::sigmoid}) {
        const RunParams p = tensor_params(kind, kind);
        FlowSettings s = flow_settings(p);
        const auto points = table_points(p.model);
        s.tensor_rule =
            std::make_shared<const TensorRule>(4, TensorRule::Trapezoid{0.4, 8.0, true});
        std::vector<TensorEstimate> ref;
        for (const auto& op : points)
            ref.push_back(tensor_estimate(s, op.Q, op.R, op.T, op.v, op.v_star));
        for (const double h : {0.6, 0.65, 0.7, 0.75, 0.8, 0.9})
            for (const double Z : {4.5, 5.0, 5.5, 6.0}) {
                s.tensor_rule = std::make_shared<const TensorRule>(
                    4, TensorRule::Trapezoid{h, Z, kind == ActivationKind::tanh});
                double flow_error = 0.0, eg_error = 0.0;
                const auto start = std::chrono::steady_clock::now();
                for (std::size_t i = 0; i < points.size(); ++i) {
                    const auto& op = points[i];
                    const TensorEstimate e = tensor_estimate(s, op.Q, op.R, op.T, op.v, op.v_star);
                    flow_error = std::max(flow_error, flow_difference(e, ref[i]));
                    eg_error = std::max(eg_error, std::abs(e.eg - ref[i].eg));
                }
                const double ms =
                    1e3 *
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                        .count() /
                    static_cast<double>(points.size());
                std::printf("%s h %.2f Z %.1f nodes %6ld  %6.2f ms  flow %.1e  eg %.1e\n",
                            std::string(name(kind)).c_str(), h, Z,
                            static_cast<long>(s.tensor_rule->points()), ms, flow_error, eg_error);
            }
    }
}
