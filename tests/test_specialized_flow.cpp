// The flow at and near the specialized point Q = R = T, v = v* (docs/theory.md §9 "Smoothness"):
// the exact flow vanishes there (tau - sigma = 0 for every input) and, just inside the PSD cone,
// points back at it. A rule whose error is proportional to e = tau - sigma keeps both; per-term
// averages (each I3, I4 on its own) do not, which moves the flow's zero off the specialized point
// and stalls plateau ode for tanh at alpha ~ 236 (issue 24). The flow takes the tensor rule there
// (FlowMethod::tensor, engine/theory/tensor_rule.hpp); the nested quadrature of §9 fails both
// checks (|dQ| = 2.3e-6 at the point, dQ_jj < 0 just inside).
#include "engine/theory/theory.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace plateau;

namespace {

RunParams specialized_model(ActivationKind g) {
    RunParams p;
    p.model.N = 1000;
    p.model.student.widths = {2};
    p.model.teacher.widths = {2};
    p.model.student.g = p.model.teacher.g = Activation{g, 1.0};
    p.training.eta = 0.5;
    return p;
}

/// Q = (1 - delta)^2 T, R = (1 - delta) T, v = v*: every student w_j = (1 - delta) w*_j, on the
/// PSD cone's boundary; delta = 0 is the specialized point.
OrderParameters shrunk_teacher(const ModelParams& m, double delta) {
    OrderParameters op = symmetric_initial_conditions(m, 1.0, 0.0, 0.0);
    op.T = Eigen::MatrixXd::Identity(2, 2);
    op.T(0, 1) = op.T(1, 0) = 0.3;
    op.R = (1.0 - delta) * op.T;
    op.Q = (1.0 - delta) * (1.0 - delta) * op.T;
    op.v = op.v_star;
    return op;
}

} // namespace

TEST_CASE("theory: the tanh/sigmoid flow vanishes at the specialized point and points at it "
          "just inside",
          "[specialized-flow][theory][tensor]") {
    for (const auto g : {ActivationKind::tanh, ActivationKind::sigmoid}) {
        const RunParams p = specialized_model(g);
        REQUIRE(flow_method(p.model) == FlowMethod::tensor);
        const OrderParameters at = shrunk_teacher(p.model, 0.0);
        const OrderParameters d0 = flow(p, at);
        INFO(name(g) << ": |dQ| " << d0.Q.norm() << ", |dR| " << d0.R.norm() << ", |dv| "
                     << d0.v.norm() << " at Q = R = T");
        // Exactly zero for a rule with error proportional to e (rounding: 1e-13).
        CHECK(d0.Q.norm() + d0.R.norm() + d0.v.norm() < 1e-13);

        // Students at (1 - 1e-6) times their teachers: the exact flow grows R_jj and Q_jj
        // (towards T), by O(delta) = O(1e-6 eta).
        const OrderParameters near = shrunk_teacher(p.model, 1e-6);
        const OrderParameters d = flow(p, near);
        for (Eigen::Index j = 0; j < 2; ++j) {
            INFO(name(g) << ", j = " << j << ": dR_jj " << d.R(j, j) << ", dQ_jj " << d.Q(j, j));
            CHECK(d.R(j, j) > 0.0);
            CHECK(d.Q(j, j) > 0.0);
        }
    }
}
