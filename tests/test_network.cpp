// Per-example gradients of Eqs. (3)-(5) against central finite differences of Eq. (2).
#include "models/network.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace plateau;

namespace {

struct Case {
    Activation g;
    Activation h;
};

Eigen::VectorXd gaussian_vector(std::mt19937_64& rng, Eigen::Index n, double sd) {
    std::normal_distribution<double> d(0.0, sd);
    Eigen::VectorXd x(n);
    for (Eigen::Index i = 0; i < n; ++i)
        x[i] = d(rng);
    return x;
}

} // namespace

TEST_CASE("per-example gradients match central finite differences", "[model][gradient]") {
    std::vector<Case> cases;
    for (const auto g : all_activation_kinds) {
        cases.push_back({typical_activation(g, 1.0), Activation{ActivationKind::linear}});
        cases.push_back({typical_activation(g, 0.7), Activation{ActivationKind::tanh, 1.7}});
    }
    std::mt19937_64 rng(20261130);
    const Eigen::Index N = 12;
    const int K = 3;
    for (const auto& c : cases) {
        const NetworkSpec net{{K}, c.g, c.h};
        INFO("g = " << name(c.g.kind) << " (gamma " << c.g.gamma
                    << "), h = " << output_name(c.h.kind) << " (gamma " << c.h.gamma << ")");
        for (int trial = 0; trial < 5; ++trial) {
            RowMatrix W(K, N);
            for (int j = 0; j < K; ++j)
                W.row(j) = gaussian_vector(rng, N, 1.0 / std::sqrt(double(N))).transpose();
            const Eigen::VectorXd v = gaussian_vector(rng, K, 1.0);
            const Eigen::VectorXd xi = gaussian_vector(rng, N, 1.0);
            const double tau = gaussian_vector(rng, 1, 1.0)[0];

            const PerExampleGradient grad = per_example_gradient(net, W, v, xi, tau);
            const double eps = 1e-6;
            // Central differences have error O(eps^2 f''') + O(ulp/eps): ~1e-9 here.
            const double tol = 1e-7;
            for (int m = 0; m < K; ++m)
                for (Eigen::Index n = 0; n < N; ++n) {
                    RowMatrix Wp = W;
                    RowMatrix Wm = W;
                    Wp(m, n) += eps;
                    Wm(m, n) -= eps;
                    const double fd = (per_example_cost(net, Wp, v, xi, tau) -
                                       per_example_cost(net, Wm, v, xi, tau)) /
                                      (2 * eps);
                    const double x_m = W.row(m).dot(xi);
                    if (c.g.kind == ActivationKind::relu && std::abs(x_m) < 1e-4)
                        continue; // finite differences straddle the kink
                    CHECK(grad.dW(m, n) == Approx(fd).margin(tol).epsilon(1e-6));
                }
            for (int k = 0; k < K; ++k) { // learnable second layer, Eq. (3)
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

TEST_CASE("activation derivatives match finite differences", "[model]") {
    for (const auto kind : all_activation_kinds) {
        const Activation a = typical_activation(kind, 1.3);
        for (const double x : {-2.1, -0.4, 0.3, 1.7}) {
            const double fd = (a.value(x + 1e-6) - a.value(x - 1e-6)) / 2e-6;
            INFO(name(kind) << " at " << x);
            CHECK(a.derivative(x) == Approx(fd).margin(1e-8));
        }
    }
    CHECK(Activation{ActivationKind::erf}.value(1.0) == Approx(std::erf(1.0 / std::sqrt(2.0))));
    CHECK(Activation{ActivationKind::tanh, 2.0}.value(0.5) == Approx(std::tanh(1.0)));
}

TEST_CASE("activation names parse and round-trip", "[model]") {
    for (const auto kind : all_activation_kinds)
        CHECK(parse_activation(name(kind)) == kind);
    CHECK(parse_activation("identity") == ActivationKind::linear);
    CHECK_FALSE(parse_activation("softplus").has_value());
    CHECK(activation_names() ==
          "erf, tanh, sigmoid, relu, linear, square, he1, he2, he3, he4, poly");
    // Each enumerator names its own evaluator (the two lists of models/activation_table.hpp
    // in the same order): one line per activation.
    CHECK(name(ActivationKind::erf) == "erf");
    CHECK(name(ActivationKind::tanh) == "tanh");
    CHECK(name(ActivationKind::sigmoid) == "sigmoid");
    CHECK(name(ActivationKind::relu) == "relu");
    CHECK(name(ActivationKind::linear) == "linear");
    CHECK(name(ActivationKind::square) == "square");
    CHECK(name(ActivationKind::he1) == "he1");
    CHECK(name(ActivationKind::he2) == "he2");
    CHECK(name(ActivationKind::he3) == "he3");
    CHECK(name(ActivationKind::he4) == "he4");
    CHECK(name(ActivationKind::poly) == "poly");
    // Output functions: identity and tanh, in that order; square is not one.
    CHECK(output_names() == "identity, tanh");
    CHECK(parse_output("identity") == ActivationKind::linear);
    CHECK(parse_output("linear") == ActivationKind::linear);
    CHECK_FALSE(parse_output("square").has_value());
}
