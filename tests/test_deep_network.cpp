// Backpropagation through L hidden layers (models/deep_network.hpp, docs/theory.md §12): every
// weight's gradient against central finite differences of Eq. (2).
#include "models/deep_network.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

using namespace plateau;

namespace {

Eigen::MatrixXd gaussian_matrix(std::mt19937_64& rng, Eigen::Index rows, Eigen::Index cols,
                                double sd) {
    std::normal_distribution<double> d(0.0, sd);
    Eigen::MatrixXd x(rows, cols);
    for (Eigen::Index i = 0; i < rows; ++i)
        for (Eigen::Index j = 0; j < cols; ++j)
            x(i, j) = d(rng);
    return x;
}

/// Central difference of the cost in one weight, changed through `at`.
template <class F>
double central_difference(F cost, double& at) {
    const double eps = 1e-6;
    const double x = at;
    at = x + eps;
    const double up = cost();
    at = x - eps;
    const double down = cost();
    at = x;
    return (up - down) / (2 * eps);
}

} // namespace

TEST_CASE("deep networks: every weight's gradient matches central finite differences",
          "[model][gradient][deep]") {
    std::mt19937_64 rng(20261202);
    const Eigen::Index N = 7;
    const std::vector<std::vector<int>> stacks{{3, 2}, {4, 3, 2}};
    for (const auto& widths : stacks)
        for (const auto g : all_activation_kinds)
            for (const auto h : output_kinds) {
                const NetworkSpec net{widths, typical_activation(g, 0.8), Activation{h, 1.3}};
                INFO("L = " << widths.size() << ", g = " << name(g) << ", h = " << output_name(h));
                for (int trial = 0; trial < 4; ++trial) {
                    RowMatrix W1 = gaussian_matrix(rng, widths[0], N, 1.0 / std::sqrt(double(N)));
                    LayerWeights W = zero_layers(net);
                    for (auto& m : W)
                        m = gaussian_matrix(rng, m.rows(), m.cols(), 1.0);
                    Eigen::VectorXd v = gaussian_matrix(rng, widths.back(), 1, 1.0);
                    const Eigen::VectorXd xi = gaussian_matrix(rng, N, 1, 1.0);
                    const double tau = gaussian_matrix(rng, 1, 1, 1.0)(0, 0);
                    const auto cost = [&] {
                        return deep_per_example_cost(net, W1, W, v, xi, tau);
                    };
                    const DeepGradient grad = deep_per_example_gradient(net, W1, W, v, xi, tau);
                    // relu's kink: finite differences straddling it are meaningless. Skip a
                    // trial whose fields (any layer) come within 1e-4 of zero.
                    if (g == ActivationKind::relu) {
                        DeepWorkspace ws(net);
                        const Eigen::VectorXd f = W1 * xi;
                        (void)deep_forward(net, {f.data(), std::size_t(f.size())}, W,
                                           {v.data(), std::size_t(v.size())}, ws);
                        bool near_kink = false;
                        for (const auto& hl : ws.h)
                            near_kink = near_kink || hl.cwiseAbs().minCoeff() < 1e-4;
                        if (near_kink)
                            continue;
                    }
                    // Central differences: error O(eps^2 f''') + O(ulp(cost) / eps): ~1e-9 for an
                    // O(1) cost, but the rounding part grows with the cost (square over three
                    // layers: |cost| up to ~1e4), so 5 ulp(cost) / eps on top.
                    const double tol = std::max(1e-7, 5.0 * 2.2e-16 * std::abs(cost()) / 1e-6);
                    INFO("cost " << cost());
                    for (Eigen::Index m = 0; m < W1.rows(); ++m)
                        for (Eigen::Index n = 0; n < N; ++n)
                            CHECK(grad.dW1(m, n) == Approx(central_difference(cost, W1(m, n)))
                                                        .margin(tol)
                                                        .epsilon(1e-6));
                    for (std::size_t l = 0; l < W.size(); ++l)
                        for (Eigen::Index j = 0; j < W[l].rows(); ++j)
                            for (Eigen::Index k = 0; k < W[l].cols(); ++k)
                                CHECK(grad.dW[l](j, k) ==
                                      Approx(central_difference(cost, W[l](j, k)))
                                          .margin(tol)
                                          .epsilon(1e-6));
                    for (Eigen::Index k = 0; k < v.size(); ++k)
                        CHECK(grad.dv[k] ==
                              Approx(central_difference(cost, v[k])).margin(tol).epsilon(1e-6));
                }
            }
}

TEST_CASE("deep networks: one hidden layer is the two-layer network of Eq. (1), bit for bit",
          "[model][deep]") {
    std::mt19937_64 rng(7);
    const Eigen::Index N = 9;
    for (const auto g : all_activation_kinds)
        for (const auto h : output_kinds) {
            const NetworkSpec net{{3}, typical_activation(g), Activation{h}};
            const RowMatrix W1 = gaussian_matrix(rng, 3, N, 0.4);
            const Eigen::VectorXd v = gaussian_matrix(rng, 3, 1, 1.0);
            const Eigen::VectorXd xi = gaussian_matrix(rng, N, 1, 1.0);
            const DeepGradient deep = deep_per_example_gradient(net, W1, {}, v, xi, 0.3);
            const PerExampleGradient two = per_example_gradient(net, W1, v, xi, 0.3);
            // Equal up to rounding: with -march=native (release preset) the compiler fuses
            // a * b + c into FMAs differently in the two functions. The engine's one-layer
            // path is the two-layer code itself (files bit-identical: tests/python/test_golden).
            CHECK((deep.dW1 - two.dW).cwiseAbs().maxCoeff() <=
                  1e-14 * (1.0 + two.dW.cwiseAbs().maxCoeff()));
            CHECK((deep.dv - two.dv).cwiseAbs().maxCoeff() <=
                  1e-14 * (1.0 + two.dv.cwiseAbs().maxCoeff()));
            const double out = network_output(net, W1, v, xi);
            CHECK(std::abs(deep_network_output(net, W1, {}, v, xi) - out) <=
                  1e-14 * (1.0 + std::abs(out)));
        }
}
