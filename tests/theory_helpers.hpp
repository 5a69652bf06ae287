// Order parameters the theory tests share.
#pragma once

#include "engine/observer.hpp"

#include <Eigen/Core>

#include <cmath>
#include <random>

namespace plateau::test {

/// Random order parameters from K+M random vectors in dimension D = K+M+3: C = W W^T is
/// positive definite and not close to any symmetric point.
inline OrderParameters random_order_parameters(int K, int M, std::mt19937_64& rng) {
    const int P = K + M, D = P + 3;
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uniform(0.5, 1.5);
    Eigen::MatrixXd W(P, D);
    for (int a = 0; a < P; ++a) {
        const double scale = uniform(rng) / std::sqrt(static_cast<double>(D));
        for (int i = 0; i < D; ++i)
            W(a, i) = scale * normal(rng);
    }
    const Eigen::MatrixXd C = W * W.transpose();
    OrderParameters op;
    op.Q = C.topLeftCorner(K, K);
    op.R = C.topRightCorner(K, M);
    op.T = C.bottomRightCorner(M, M);
    op.v.resize(K);
    op.v_star.resize(M);
    for (int j = 0; j < K; ++j)
        op.v(j) = uniform(rng);
    for (int n = 0; n < M; ++n)
        op.v_star(n) = uniform(rng);
    return op;
}

} // namespace plateau::test
