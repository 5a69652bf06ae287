// The ODEs of several teachers (docs/theory.md §17b, engine/theory/teachers_flow.hpp): the active
// task's part of the flow against the one-teacher flow of its block (committee and polynomial
// targets), the switch exactly at its alpha, a switch point at a record time, the threshold
// switch at record times, the refusals. Against the trainer and simulations:
// tests/test_teachers_ode_sim.cpp.
#include "engine/theory/teachers_flow.hpp"
#include "engine/theory/theory.hpp"

#include "engine/core/errors.hpp"
#include "engine/core/schedule.hpp"
#include "engine/run/run.hpp"
#include "models/gaussian_integrals.hpp"

#include "cli_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace plateau;

namespace {

RunParams two_teacher_params(int K, int M, Heads heads) {
    RunParams p;
    p.model.student.widths = {K};
    p.model.teacher.widths = {M};
    p.model.teachers = 2;
    p.model.heads = heads;
    p.model.learn_v = true;
    p.training.eta = 1.0;
    p.training.eta_v = 0.5;
    return p;
}

/// A random valid start for n teachers of M units with teacher overlap rho: the first-layer
/// vectors of K students and nM teachers as explicit vectors in K + nM dimensions, so that the
/// covariance [[Q, R], [R^T, T]] is positive definite by construction.
OrderParameters random_start(int K, int M, int n, double rho, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    const int D = K + n * M;
    Eigen::MatrixXd B = Eigen::MatrixXd::Zero(n * M, D);
    for (int m = 0; m < M; ++m)
        B(m, m) = 1.0;
    for (int t = 1; t < n; ++t)
        for (int m = 0; m < M; ++m) {
            B(t * M + m, m) = rho;
            B(t * M + m, t * M + m) = std::sqrt(1.0 - rho * rho);
        }
    Eigen::MatrixXd W(K, D);
    for (int j = 0; j < K; ++j)
        for (int d = 0; d < D; ++d)
            W(j, d) = 0.5 * normal(rng);
    OrderParameters op;
    op.Q = W * W.transpose();
    op.R = W * B.transpose();
    op.T = B * B.transpose();
    op.v = Eigen::VectorXd::Constant(K, 1.0);
    op.v_star = Eigen::VectorXd::Constant(n * M, 1.0);
    return op;
}

} // namespace

namespace {

/// Block t of a two-teacher start as a one-teacher start: Q, R^t, T^tt, v*^t and the head v.
OrderParameters block(const OrderParameters& op, int t, int M, const Eigen::VectorXd& v) {
    OrderParameters single;
    single.Q = op.Q;
    single.R = op.R.middleCols(t * M, M);
    single.T = op.T.block(t * M, t * M, M, M);
    single.v_star = op.v_star.segment(t * M, M);
    single.v = v;
    return single;
}

} // namespace

TEST_CASE("teachers flow: the active task's part is the one-teacher flow of its block",
          "[theory][teachers]") {
    // While task t labels, dQ, dv and the columns of dR with teacher t depend on the fields x
    // and y^t only: they must be the one-teacher flow of (Q, R^t, T^tt, head, v*^t), whatever
    // teacher-overlap. With an identical second teacher (teacher-overlap 1: T = [[I, I], [I, I]],
    // R's blocks equal) the other block of dR is the same too. A flow that read the wrong block,
    // left v* unmasked (the committee of both teachers) or moved the wrong head fails.
    for (const double rho : {0.5, 1.0}) {
        for (const Heads heads : {Heads::shared, Heads::per_task}) {
            constexpr int K = 3, M = 2;
            RunParams p = two_teacher_params(K, M, heads);
            OrderParameters start = random_start(K, M, 2, rho, 7);
            start.v_star << 1.0, 0.8, -0.6, 1.3; // v*^2 != v*^1
            if (rho == 1.0)
                start.v_star.tail(M) = start.v_star.head(M);
            Eigen::MatrixXd H = start.v.replicate(1, heads == Heads::per_task ? 2 : 1);
            if (heads == Heads::per_task)
                H.col(1) = Eigen::VectorXd::LinSpaced(K, 0.4, 1.2); // a head of its own
            TeachersFlow f(p, start, H);
            RunParams one = p;
            one.model.teachers = 1;
            for (int task = 0; task < 2; ++task) {
                INFO("rho = " << rho
                              << ", heads = " << (heads == Heads::shared ? "shared" : "per-task")
                              << ", task = " << task);
                f.set_task(task);
                const int active = f.head_of(task);
                const OrderParameters d = flow(one, block(start, task, M, H.col(active)));
                Eigen::VectorXd y, dy;
                f.pack(start.Q, start.R, H, y);
                REQUIRE(f(0.0, y, dy));
                Eigen::MatrixXd dQ, dR, dH;
                f.unpack(dy, dQ, dR, dH);
                CHECK((dQ - d.Q).cwiseAbs().maxCoeff() <= 1e-12);
                CHECK((dR.middleCols(task * M, M) - d.R).cwiseAbs().maxCoeff() <= 1e-12);
                if (rho == 1.0)
                    CHECK((dR.middleCols((1 - task) * M, M) - d.R).cwiseAbs().maxCoeff() <= 1e-12);
                CHECK((dH.col(active) - d.v).cwiseAbs().maxCoeff() <= 1e-12);
                for (Eigen::Index h = 0; h < dH.cols(); ++h)
                    if (h != active)
                        CHECK(dH.col(h).cwiseAbs().maxCoeff() == 0.0);
                // eps_g of both tasks: the one-teacher eps_g of its block with its head.
                const Eigen::VectorXd eg = f.task_errors(y);
                for (int t = 0; t < 2; ++t) {
                    const OrderParameters b = block(start, t, M, H.col(f.head_of(t)));
                    CHECK(eg(t) ==
                          Approx(integrals::generalization_error(Activation{ActivationKind::erf},
                                                                 b.Q, b.R, b.T, b.v, b.v_star))
                              .epsilon(1e-12));
                }
            }
        }
    }
}

TEST_CASE("teachers flow: a polynomial target of block t is the polynomial of its fields",
          "[theory][teachers]") {
    // Eq. (17b.3): the target renamed to block 2's fields gives, on the nM fields, the value of
    // the original on block 2's; and the flow of task 2 is the one-teacher flow of block 2
    // (linear g: the exact averages of §13 in both). A target left on block 1's fields fails
    // (R's blocks differ at teacher-overlap 0.5).
    const Target target = parse_target("y1 + 0.5*y1*y2 - 0.3*he3(y2) + y2^2");
    const Target shifted = shifted_target(target, 2);
    const std::vector<double> y{0.3, -1.2, 0.7, 1.9};
    CHECK(shifted.polynomial->value(y) ==
          Approx(target.polynomial->value(std::vector<double>{0.7, 1.9})).epsilon(1e-15));
    CHECK(shifted_target(parse_target("(y1^6)^2"), 1).polynomial->value(y) ==
          Approx(std::pow(-1.2, 12)).epsilon(1e-15));

    constexpr int K = 2, M = 2;
    RunParams p = two_teacher_params(K, M, Heads::shared);
    p.model.student.g.kind = p.model.teacher.g.kind = ActivationKind::linear;
    p.model.target = target;
    const OrderParameters start = random_start(K, M, 2, 0.5, 4);
    TeachersFlow f(p, start, start.v);
    RunParams one = p;
    one.model.teachers = 1;
    const OrderParameters single = block(start, 1, M, start.v);
    const OrderParameters d = flow(one, single);
    f.set_task(1);
    Eigen::VectorXd yp, dy;
    f.pack(start.Q, start.R, start.v, yp);
    REQUIRE(f(0.0, yp, dy));
    Eigen::MatrixXd dQ, dR, dH;
    f.unpack(dy, dQ, dR, dH);
    CHECK((dQ - d.Q).cwiseAbs().maxCoeff() <= 1e-12 * d.Q.cwiseAbs().maxCoeff());
    CHECK((dR.rightCols(M) - d.R).cwiseAbs().maxCoeff() <= 1e-12 * d.R.cwiseAbs().maxCoeff());
    CHECK((dH.col(0) - d.v).cwiseAbs().maxCoeff() <= 1e-12 * d.v.cwiseAbs().maxCoeff());
    const Eigen::VectorXd eg = f.task_errors(yp);
    CHECK(eg(1) == Approx(flow_generalization_error(flow_settings(one), single.Q, single.R,
                                                    single.T, single.v, single.v_star))
                       .epsilon(1e-12));
}

namespace {

/// The state of the two-teacher flow (every head, R with both teachers) at a record's alpha,
/// integrated in pieces by hand: task 0 up to the switch point, task 1 after it.
struct Reference {
    std::vector<Eigen::VectorXd> eg_tasks;
    std::vector<Eigen::MatrixXd> R;
};

Reference piecewise(const RunParams& p, const OrderParameters& start, double switch_alpha,
                    const std::vector<double>& alphas, const OdeParams& ode) {
    TeachersFlow f(p, start, start.v.replicate(1, p.model.heads == Heads::per_task ? 2 : 1));
    Eigen::VectorXd y;
    f.pack(start.Q, start.R, start.v.replicate(1, p.model.heads == Heads::per_task ? 2 : 1), y);
    OdeIntegrator integrator(
        OdeIntegrator::TimeRhs(
            [&f](double t, const Eigen::VectorXd& x, Eigen::VectorXd& dx) { return f(t, x, dx); }),
        ode, f.classes());
    const auto ok = [](const Eigen::VectorXd&) {
        return true;
    };
    Reference out;
    double t = 0.0;
    bool switched = false;
    for (const double alpha : alphas) {
        if (!switched && switch_alpha < alpha) {
            REQUIRE(integrator.advance(y, t, switch_alpha, ok) == OdeOutcome::ok);
            f.set_task(1);
            integrator.restart();
            switched = true;
        }
        REQUIRE(integrator.advance(y, t, alpha, ok) == OdeOutcome::ok);
        out.eg_tasks.push_back(f.task_errors(y));
        out.R.push_back(f.order_parameters(y).R);
    }
    return out;
}

} // namespace

TEST_CASE("teachers theory: the task switches exactly at switch-at, between records",
          "[theory][teachers]") {
    // Records at alpha = 1, 2, 3, 4 and a switch at 2.5: TheoryDynamics must stop at 2.5 and go
    // on with task 2's flow, as the integration in two pieces does (the same steps, so to
    // rounding). With the fixed-step RK4 (step 0.4, which does not divide 2.5) a switch applied
    // at the next record (3) or a step straddling 2.5 fails by far more than the tolerance.
    for (const OdeMethod method : {OdeMethod::dormand_prince, OdeMethod::rk4}) {
        for (const Heads heads : {Heads::shared, Heads::per_task}) {
            INFO("method " << (method == OdeMethod::rk4 ? "rk4" : "dormand-prince") << ", heads "
                           << (heads == Heads::shared ? "shared" : "per-task"));
            RunParams p = two_teacher_params(2, 2, heads);
            p.model.switch_at = {2.5};
            p.model.teacher_overlap = 0.5;
            p.schedule.kind = ScheduleKind::linear;
            p.schedule.alpha_max = 4.0;
            p.schedule.records = 5;
            const std::vector<double> alphas = record_alphas(p.schedule);
            REQUIRE(alphas == std::vector<double>{0.0, 1.0, 2.0, 3.0, 4.0});
            OdeParams ode;
            ode.method = method;
            ode.rk4_step = 0.4;
            const OrderParameters start = random_start(2, 2, 2, 0.5, 3);
            const RunResult r = integrate_theory(p, start, ode);
            REQUIRE(r.status == RunStatus::completed);
            const Reference ref = piecewise(p, start, 2.5, alphas, ode);
            for (std::size_t i = 0; i < alphas.size(); ++i) {
                const Observables& o = r.records[i];
                const Eigen::VectorXd eg = o.extras.at(std::string(extra_name::eg_tasks));
                INFO("alpha = " << alphas[i] << ": eps " << eg.transpose() << " against "
                                << ref.eg_tasks[i].transpose());
                CHECK((eg - ref.eg_tasks[i]).cwiseAbs().maxCoeff() <= 1e-12);
                const Eigen::VectorXd R = o.extras.at(std::string(extra_name::R_teachers));
                const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> R_ref =
                    ref.R[i];
                CHECK((R - Eigen::Map<const Eigen::VectorXd>(R_ref.data(), R_ref.size()))
                          .cwiseAbs()
                          .maxCoeff() <= 1e-12);
                const int task = alphas[i] > 2.5 ? 1 : 0;
                CHECK(o.extras.at(std::string(extra_name::current_task))(0) == task);
                CHECK(o.eg == eg(task));
                const Eigen::VectorXd starts = o.extras.at(std::string(extra_name::switch_alpha));
                REQUIRE(starts.size() == 2);
                CHECK(starts(0) == 0.0);
                if (task == 1)
                    CHECK(starts(1) == 2.5);
                else
                    CHECK(std::isnan(starts(1)));
            }
            // The switch changes the flow (the test has power): without it, both tasks' errors
            // at alpha = 3 and 4 differ by far more than the tolerance.
            const Reference same = piecewise(p, start, 100.0, alphas, ode);
            for (const std::size_t i : {std::size_t{3}, std::size_t{4}})
                CHECK((same.eg_tasks[i] - ref.eg_tasks[i]).cwiseAbs().minCoeff() > 1e-3);
        }
    }
}

TEST_CASE("teachers theory: a switch point at a record time acts after that record",
          "[theory][teachers]") {
    // The simulation switches at its first step with alpha >= 2 (after the record at 2), so
    // the theory's record at 2 is still task 0's, and the one at 3 task 1's.
    RunParams p = two_teacher_params(2, 2, Heads::shared);
    p.model.switch_at = {2.0};
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 3.0;
    p.schedule.records = 4;
    const RunResult r = integrate_theory(p, random_start(2, 2, 2, 0.0, 5));
    REQUIRE(r.records.size() == 4);
    const auto task = [&](std::size_t i) {
        return r.records[i].extras.at(std::string(extra_name::current_task))(0);
    };
    CHECK(task(2) == 0.0);
    CHECK(task(3) == 1.0);
    CHECK(r.records[3].extras.at(std::string(extra_name::switch_alpha))(1) == 2.0);
}

TEST_CASE("teachers theory: switch-eg-below switches at the first record below it",
          "[theory][teachers]") {
    // The record whose eps_g of task 0 is below the threshold still reports task 0 (as the
    // simulation's does); the next records are task 1's, and its start is that record's alpha.
    RunParams p = two_teacher_params(2, 2, Heads::per_task);
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 40.0;
    p.schedule.records = 41;
    const OrderParameters start = random_start(2, 2, 2, 0.0, 9);
    RunParams without = p;
    const RunResult free = integrate_theory(without, start);
    REQUIRE(free.status == RunStatus::completed);
    // The threshold: halfway between eps_g at alpha = 10 and 11 of the run without switches.
    const double threshold = 0.5 * (free.records[10].eg + free.records[11].eg);
    REQUIRE(free.records[11].eg < free.records[10].eg);
    p.model.switch_below = threshold;
    const RunResult r = integrate_theory(p, start);
    REQUIRE(r.status == RunStatus::completed);
    for (std::size_t i = 0; i < r.records.size(); ++i) {
        const Observables& o = r.records[i];
        INFO("record " << i);
        CHECK(o.extras.at(std::string(extra_name::current_task))(0) == (i <= 11 ? 0.0 : 1.0));
        if (i <= 11)
            CHECK(o.eg == free.records[i].eg);
    }
    CHECK(r.records.back().extras.at(std::string(extra_name::switch_alpha))(1) == 11.0);
}

TEST_CASE("teachers theory: what it does not build is refused in one line", "[theory][teachers]") {
    RunParams p = two_teacher_params(2, 2, Heads::shared);
    // Fixed points, the escape prediction and eta_max (flow_settings) are one teacher's.
    CHECK_THROWS_AS((void)flow_settings(p), ConfigError);
    // The sizes: R must hold every teacher.
    OrderParameters start = random_start(2, 2, 2, 0.0, 1);
    start.R = start.R.leftCols(2).eval();
    CHECK_THROWS_AS(TheoryDynamics(p, start), std::invalid_argument);
}

TEST_CASE("plateau ode with several teachers: the starts it does not build, one line, exit 2",
          "[theory][teachers][cli]") {
    // --init symmetric and --init-from have no start for every teacher's R, T, v* and heads;
    // --fixed-point is one teacher's (flow_settings). Nothing written.
    const test::TempDir dir;
    const std::string common = "--teachers 2 --switch-at 2 --alpha-max 3 --seeds 1 --quiet ";
    for (const std::string& extra :
         {std::string("--init symmetric -o ") + (dir.path() / "a.h5").string(),
          std::string("--init-from ") + (dir.path() / "none.h5").string() + " -o " +
              (dir.path() / "b.h5").string(),
          std::string("--fixed-point")}) {
        INFO(extra);
        const auto r = test::run_plateau("ode " + common + extra);
        INFO(r.output);
        CHECK(r.status == 2);
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
        CHECK(r.output.find("'teachers'") != std::string::npos);
    }
    CHECK(std::filesystem::is_empty(dir.path()));
}
