// The ODE theory for hidden activations without closed forms (tanh(gamma x), sigmoid; the averages
// by quadrature, docs/theory.md §9) against simulations at N = 1000, with the statistical method
// of "theory versus simulation: erf K = M = 2, N = 1000" (tests/test_theory.cpp).
#include "engine/theory/theory.hpp"

#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"

#include "theory_helpers.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using namespace plateau;

namespace {

RunParams hidden(ActivationKind g, double gamma) {
    RunParams p;
    p.model.N = 1000;
    p.model.student.widths = {2};
    p.model.teacher.widths = {2};
    p.model.student.g = p.model.teacher.g = Activation{g, gamma};
    p.training.eta = 0.5;
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 30.0;
    p.schedule.records = 16;
    return p;
}

} // namespace

// tanh(gamma x) with gamma = 0.7, and sigmoid; K = M = 2, N = 1000, eta = 0.5, S = 10 seeds, alpha
// up to 30 (the plateau).
//   k: 15 record times (after alpha = 0) x 2 models = 30 comparisons; a family-wise false-alarm
//      rate of 1% needs two-sided p = 0.01/30 per comparison: t_9(1 - 1.7e-4) < 5.95 (the t
//      quantile with S - 1 = 9 degrees of freedom, Bonferroni; we use 6.16, the quantile for 60
//      comparisons, slightly conservative).
//   allowance (K+M)/N * eps_g(theory): the O(1/N) finite-size bias, as in test_theory.cpp.
// The simulation's eps_g for tanh and sigmoid is the observer's Monte-Carlo estimate (unchanged),
// whose noise is part of the measured spread of the differences.
TEST_CASE("theory versus simulation: tanh (gamma = 0.7) and sigmoid, K = M = 2, N = 1000",
          "[theory][quadrature][slow]") {
    constexpr int seeds = 10;
    constexpr double k = 6.16;
    for (const auto& [g, gamma] :
         {std::pair{ActivationKind::tanh, 0.7}, std::pair{ActivationKind::sigmoid, 1.0}}) {
        const RunParams p = hidden(g, gamma);
        const test::Comparison c = test::compare(p, seeds);
        CHECK(std::abs(c.mean_diff[0]) < 1e-12 + 5.0 * c.standard_error[0]);
        for (std::size_t i = 1; i < c.alphas.size(); ++i) {
            const double allowance = 4.0 / static_cast<double>(p.model.N) * c.theory_mean[i];
            INFO(name(g) << " gamma " << gamma << ", alpha = " << c.alphas[i]
                         << ": mean(sim - theory) = " << c.mean_diff[i] << ", standard error "
                         << c.standard_error[i] << ", allowance " << allowance << ", theory "
                         << c.theory_mean[i]);
            CHECK(std::abs(c.mean_diff[i]) < k * c.standard_error[i] + allowance);
        }
    }
}

// gamma reaches the theory: at the same order parameters, tanh(0.7 x) and tanh(2 x) give
// different flows and eps_g. (A whole tanh(2 x) run is minutes of quadrature: not a CI test.)
TEST_CASE("theory: gamma of tanh reaches the flow and eps_g", "[theory][quadrature]") {
    const RunParams a = hidden(ActivationKind::tanh, 0.7);
    const RunParams b = hidden(ActivationKind::tanh, 2.0);
    const OrderParameters op = symmetric_initial_conditions(a.model, 0.5, 0.1, 0.05);
    const OrderParameters fa = flow(a, op), fb = flow(b, op);
    CHECK((fa.R - fb.R).norm() > 0.1 * fa.R.norm());
    const double ea =
        flow_generalization_error(flow_settings(a), op.Q, op.R, op.T, op.v, op.v_star);
    const double eb =
        flow_generalization_error(flow_settings(b), op.Q, op.R, op.T, op.v, op.v_star);
    CHECK(std::abs(ea - eb) > 0.1 * ea);
}
