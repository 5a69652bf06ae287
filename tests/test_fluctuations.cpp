// The linear-noise approximation (engine/theory/fluctuations.hpp, docs/theory.md §11.2c): the
// step's moments against the flow and against the Gram chain's own steps, and Sigma = N Cov of
// the order parameters along a trajectory against the sample covariance of exact Gram-chain runs.
#include "engine/theory/fluctuations.hpp"

#include "engine/campaign/theory_runs.hpp"
#include "engine/core/schedule.hpp"

#include "engine/core/errors.hpp"
#include "engine/core/random.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/simulate.hpp"
#include "engine/theory/flow.hpp"
#include "engine/theory/theory.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using namespace plateau;

namespace {

RunParams erf_params(std::int64_t N) {
    RunParams p;
    p.model.N = N;
    p.model.student.widths = {2};
    p.model.teacher.widths = {2};
    p.model.learn_v = true;
    p.model.noise = 0.1;
    p.training.eta = 0.8;
    p.training.eta_v = 0.5;
    return p;
}

/// A generic state near the plateau: no symmetry, Q positive definite.
OrderParameters generic_state() {
    OrderParameters op;
    op.Q = (Eigen::MatrixXd(2, 2) << 0.45, 0.12, 0.12, 0.38).finished();
    op.R = (Eigen::MatrixXd(2, 2) << 0.31, 0.22, 0.18, 0.27).finished();
    op.T = Eigen::MatrixXd::Identity(2, 2);
    op.v = (Eigen::VectorXd(2) << 0.9, 1.1).finished();
    op.v_star = Eigen::VectorXd::Ones(2);
    return op;
}

/// Samples' mean, covariance and the standard error of each covariance entry, the standard
/// deviation of the products (g_a - m_a)(g_b - m_b) over sqrt(n).
struct SampleMoments {
    Eigen::VectorXd mean;
    Eigen::MatrixXd covariance, standard_error;
};
SampleMoments sample_moments(const std::vector<Eigen::VectorXd>& x) {
    const auto n = static_cast<double>(x.size());
    const Eigen::Index d = x.front().size();
    SampleMoments out{Eigen::VectorXd::Zero(d), Eigen::MatrixXd::Zero(d, d),
                      Eigen::MatrixXd::Zero(d, d)};
    for (const auto& v : x)
        out.mean += v / n;
    Eigen::MatrixXd sq = Eigen::MatrixXd::Zero(d, d);
    for (const auto& v : x) {
        const Eigen::MatrixXd p = (v - out.mean) * (v - out.mean).transpose();
        out.covariance += p / (n - 1);
        sq += p.cwiseProduct(p) / n;
    }
    out.standard_error =
        ((sq - out.covariance.cwiseProduct(out.covariance)).cwiseMax(0.0) / n).cwiseSqrt();
    return out;
}

} // namespace

// <g> over the fields (the Gauss-Hermite tensor rule, exactly in zeta) is the flow of §3 at the
// same state: erf's closed forms against the quadrature of the per-example increment. The rule
// converges geometrically (|<g> - f| / max|f| = 1.7e-2, 2.1e-3, 2.8e-4, 3.9e-5, 5.3e-6 for 4, 6,
// 8, 10, 12 nodes per field): at 12 nodes within 2e-5; C at the default 10 nodes within 2e-3 of
// C at 12 (measured 8.3e-4), far below the 3 % sampling error of the tests below. A missing d_j
// d_k (eta^2) term or label noise fails both by far.
TEST_CASE("fluctuations: the step's mean is the flow", "[theory][fluctuations]") {
    RunParams p = erf_params(1000);
    const OrderParameters op = generic_state();
    PackedFlow flow(p, op);
    Eigen::VectorXd x;
    flow.packing().pack(op.Q, op.R, op.v, x);
    Eigen::VectorXd f;
    REQUIRE(flow(x, f));
    FluctuationSettings fine;
    fine.node_budget = 20736; // 12^4
    const StepMoments m = step_moments(p, op, 0.0);
    const StepMoments m12 = step_moments(p, op, 0.0, fine);
    INFO("quadrature mean " << m12.mean.transpose() << "\nflow " << f.transpose());
    CHECK((m12.mean - f).cwiseAbs().maxCoeff() < 2e-5 * f.cwiseAbs().maxCoeff());
    CHECK((m.covariance - m12.covariance).cwiseAbs().maxCoeff() <
          2e-3 * m12.covariance.cwiseAbs().maxCoeff());
    // Refused with the key named: the velocities of momentum are not in the packing.
    p.training.momentum = 0.5;
    CHECK_THROWS_WITH(step_moments(p, op, 0.0), Catch::Contains("'momentum'"));
    p.training.momentum = 0.0;
    p.model.inputs = InputKind::mixture;
    p.model.mixture = Mixture::exclusive_or();
    p.model.teacher.widths = {1};
    CHECK_THROWS_WITH(step_moments(p, op, 0.0), Catch::Contains("'inputs'"));
}

// Cov(g) against the Gram chain's own steps (engine/simulation/gram_dynamics.hpp, an independent
// path: the update of G with |xi|^2 = |z|^2 + chi^2) from one state at N = 10^6, 2 x 10^5 steps:
// every entry of N dG's sample mean and covariance within 4.5 of its standard errors
// (the family of 9 + 45 entries at 1 % false alarm), plus the O(1/sqrt N) = 1e-3 of the
// neglected |xi|^2/N - 1. Checked against breaks: C without the d_j d_k term, or without the
// label noise, fails here.
// [heavy]: 6.9 s under ASan (0.3 s in the ci build).
TEST_CASE("fluctuations: the step's covariance is the Gram chain's",
          "[theory][fluctuations][gram][heavy]") {
    constexpr std::int64_t N = 1'000'000;
    constexpr int samples = 200'000;
    RunParams p = erf_params(N);
    p.dynamics = DynamicsKind::gram;
    const OrderParameters op = generic_state();
    const StepMoments m = step_moments(p, op, 0.0);
    GramChain chain(p, op);
    REQUIRE(chain.factorize());
    const Packing packing(2, 2, true);
    NormalStream z_stream(StreamKey{3, 0, StreamPurpose::examples});
    NormalStream noise(StreamKey{3, 0, StreamPurpose::noise});
    const int r = chain.r();
    const double n = static_cast<double>(N);
    const double chi2 = n - r; // its O(sqrt N) spread enters N dG at O(1/sqrt N)
    std::vector<Eigen::VectorXd> dx;
    dx.reserve(samples);
    Eigen::VectorXd before;
    packing.pack(op.Q, op.R, op.v, before);
    Eigen::VectorXd z(r);
    for (int s = 0; s < samples; ++s) {
        GramChain c = chain;
        z_stream.fill({z.data(), static_cast<std::size_t>(r)});
        REQUIRE(c.step({z.data(), static_cast<std::size_t>(r)}, chi2,
                       std::sqrt(p.model.noise) * noise.next()));
        const OrderParameters after = c.order_parameters();
        Eigen::VectorXd x;
        packing.pack(after.Q, after.R, after.v, x);
        dx.emplace_back(n * (x - before));
    }
    const SampleMoments s = sample_moments(dx);
    const double scale = m.covariance.cwiseAbs().maxCoeff();
    for (Eigen::Index a = 0; a < m.mean.size(); ++a) {
        INFO("entry " << a << ": chain " << s.mean(a) << ", rule " << m.mean(a));
        CHECK(std::abs(s.mean(a) - m.mean(a)) <
              4.5 * std::sqrt(s.covariance(a, a) / samples) + 1e-3 * m.mean.cwiseAbs().maxCoeff());
        for (Eigen::Index b = a; b < m.mean.size(); ++b) {
            INFO("entry (" << a << ", " << b << "): chain " << s.covariance(a, b) << " +- "
                           << s.standard_error(a, b) << ", rule " << m.covariance(a, b));
            CHECK(std::abs(s.covariance(a, b) - m.covariance(a, b)) <
                  4.5 * s.standard_error(a, b) + 1e-3 * scale);
        }
    }
}

// Sigma = N Cov(Q, R, v) along a trajectory against 2000 exact Gram-chain runs at N = 1000, erf
// K = M = 2, learned v, label noise 0.1: from one fixed start (all runs share their initial Gram
// matrix: Sigma(0) = 0, the step noise alone) and from each run's own random start (Sigma(0) of
// Eq. (11.13) around the law's mean). At alpha = 5, 10, 20 (on the plateau, before the escape)
// each of the 45 entries of N times the sample covariance within 4 of its standard errors (270
// comparisons at 1 % family-wise false alarm); measured: at most 2.9 standard errors, 5.5 % of
// the largest variance, no bias beyond the sampling error at this N. Checked against breaks: C
// without the d_j d_k term or the label noise, Sigma without its source or its start, all fail.
TEST_CASE("fluctuations: the covariance along a trajectory is the Gram chain's",
          "[theory][fluctuations][gram][slow]") {
    constexpr std::int64_t N = 1000;
    constexpr int runs = 2000;
    RunParams p = erf_params(N);
    p.dynamics = DynamicsKind::gram;
    const std::vector<double> alphas{5.0, 10.0, 20.0};
    const Packing packing(2, 2, true);
    for (const bool shared_start : {true, false}) {
        INFO((shared_start ? "one fixed start" : "each run's random start"));
        // The fixed start: run 0's initial Gram matrix, shared by every run; the random start:
        // the law's mean (Q = q0 I, R = 0), around which Eq. (11.13) spreads the runs' starts.
        OrderParameters init = sample_initial_order_parameters(p, 2026, 0);
        if (!shared_start) {
            init.Q = p.model.q0 * Eigen::MatrixXd::Identity(2, 2);
            init.R.setZero();
        }
        const Eigen::MatrixXd sigma0 = shared_start
                                           ? Eigen::MatrixXd::Zero(packing.size(), packing.size())
                                           : initial_covariance(p, init);
        const CovariancePath path = integrate_covariance(p, init, sigma0, alphas);
        REQUIRE(path.alphas.size() == alphas.size());
        std::vector<std::vector<Eigen::VectorXd>> at(alphas.size());
        for (int run = 0; run < runs; ++run) {
            const auto r = static_cast<std::uint64_t>(run);
            GramDynamics d(p, 2026, r, shared_start ? 0 : r);
            for (std::size_t i = 0; i < alphas.size(); ++i) {
                REQUIRE(d.advance_to(alphas[i]));
                const OrderParameters op = d.chain().order_parameters();
                Eigen::VectorXd x;
                packing.pack(op.Q, op.R, op.v, x);
                at[i].push_back(x);
            }
        }
        const double n = static_cast<double>(N);
        for (std::size_t i = 0; i < alphas.size(); ++i) {
            const SampleMoments s = sample_moments(at[i]);
            const Eigen::MatrixXd& sigma = path.covariance[i];
            for (Eigen::Index a = 0; a < sigma.rows(); ++a)
                for (Eigen::Index b = a; b < sigma.cols(); ++b) {
                    INFO("alpha " << alphas[i] << ", entry (" << a << ", " << b << "): runs "
                                  << n * s.covariance(a, b) << " +- " << n * s.standard_error(a, b)
                                  << ", theory " << sigma(a, b));
                    CHECK(std::abs(n * s.covariance(a, b) - sigma(a, b)) <
                          4.0 * n * s.standard_error(a, b));
                }
        }
    }
}

// `plateau ode --fluctuations` (schema 1.10): the extras Q_sd, R_sd, v_sd of a theory run's
// records are sqrt(Sigma_ii / N) of integrate_covariance, unpacked entry by entry as Q, R and v
// are. K = 2, M = 3: R_sd is not square, so a transposed or shifted unpacking fails. At alpha = 0
// from the random draw they are Eq. (11.13)'s closed forms; from a fixed start, 0.
TEST_CASE("fluctuations: a theory run's records carry the covariance path's standard deviations",
          "[theory][fluctuations]") {
    RunParams p;
    p.model.N = 1000;
    p.model.student.widths = {2};
    p.model.teacher.widths = {3};
    p.model.learn_v = true;
    p.training.eta = 0.5;
    p.training.eta_v = 0.3;
    p.schedule.kind = ScheduleKind::linear;
    p.schedule.alpha_max = 1.0;
    p.schedule.records = 3;
    const int K = 2, M = 3;
    const double N = 1000.0, q0 = p.model.q0;
    const OrderParameters start = symmetric_initial_conditions(p.model, q0, 0.0, 1e-3);
    const std::vector<double> alphas = record_alphas(p.schedule);
    for (const FluctuationStart from : {FluctuationStart::random_draw, FluctuationStart::fixed}) {
        INFO("from " << name(from));
        RunResult result;
        result.records.resize(alphas.size());
        add_fluctuations(p, start, from, result);
        const Eigen::Index dim = K * (K + 1) / 2 + K * M + K;
        const Eigen::MatrixXd sigma0 = from == FluctuationStart::random_draw
                                           ? initial_covariance(p, start)
                                           : Eigen::MatrixXd::Zero(dim, dim);
        const CovariancePath path = integrate_covariance(p, start, sigma0, alphas);
        REQUIRE(path.covariance.size() == alphas.size());
        for (std::size_t r = 0; r < alphas.size(); ++r) {
            const auto& extras = result.records[r].extras;
            const Eigen::VectorXd& Q_sd = extras.at(std::string(extra_name::Q_sd));
            const Eigen::VectorXd& R_sd = extras.at(std::string(extra_name::R_sd));
            const Eigen::VectorXd& v_sd = extras.at(std::string(extra_name::v_sd));
            REQUIRE(Q_sd.size() == K * K);
            REQUIRE(R_sd.size() == K * M);
            REQUIRE(v_sd.size() == K);
            const auto sd = [&](Eigen::Index i) {
                return std::sqrt(path.covariance[r](i, i) / N);
            };
            // The packed order: Q_jk (j <= k) row by row, R_jn row by row, v_j (Packing).
            Eigen::Index i = 0;
            for (int j = 0; j < K; ++j)
                for (int k = j; k < K; ++k) {
                    CHECK(Q_sd(j * K + k) == sd(i));
                    CHECK(Q_sd(k * K + j) == sd(i));
                    ++i;
                }
            for (int j = 0; j < K; ++j)
                for (int n = 0; n < M; ++n)
                    CHECK(R_sd(j * M + n) == sd(i++));
            for (int j = 0; j < K; ++j)
                CHECK(v_sd(j) == sd(i++));
            if (r != 0)
                continue;
            // alpha = 0: Var Q_jj = 2 q0^2 / N, Var Q_jk = q0^2 / N, Var R_jn = q0 T_nn / N
            // (T = I), v fixed at the start; or nothing at all from a fixed start.
            const bool draw = from == FluctuationStart::random_draw;
            for (int j = 0; j < K; ++j)
                for (int k = 0; k < K; ++k)
                    CHECK(Q_sd(j * K + k) ==
                          Approx(draw ? q0 * std::sqrt((j == k ? 2.0 : 1.0) / N) : 0.0)
                              .margin(1e-15));
            for (Eigen::Index e = 0; e < R_sd.size(); ++e)
                CHECK(R_sd(e) == Approx(draw ? std::sqrt(q0 / N) : 0.0).margin(1e-15));
            CHECK(v_sd.isZero(0.0));
        }
        // The spread grows from the step noise: nonzero after the start, from either start.
        CHECK(result.records.back().extras.at(std::string(extra_name::R_sd)).minCoeff() > 0.0);
    }
}
