// Fixed points of the ODEs (symmetric, trajectory-guided), eta_max of the specialized point, and
// the escape time from the plateau predicted by the ODEs against the exact finite-N dynamics of
// the Gram chain (docs/theory.md §11).
#include "engine/escape.hpp"
#include "engine/fixed_point.hpp"
#include "engine/flow.hpp"
#include "engine/gram_dynamics.hpp"
#include "engine/theory.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

using namespace plateau;

namespace {

RunParams erf_params(int K, int M, double eta) {
    RunParams p;
    p.model.student.widths = {K};
    p.model.teacher.widths = {M};
    p.training.eta = eta;
    return p;
}

/// Mean and standard error of the escape times of `seeds` gram runs at N (runs 0 .. seeds-1 of
/// master seed `seed`), by the rule of escape.hpp (eps_g sampled every 0.25 in alpha).
struct EscapeSample {
    double mean = 0.0;
    double se = 0.0;
    int escaped = 0;
};
EscapeSample simulated_escape(RunParams p, std::int64_t N, int seeds, std::uint64_t seed,
                              double threshold, double alpha_limit) {
    p.model.N = N;
    p.dynamics = DynamicsKind::gram;
    const FlowSettings settings = flow_settings(p);
    std::vector<double> times;
    for (int r = 0; r < seeds; ++r) {
        const auto run = static_cast<std::uint64_t>(r);
        GramDynamics dynamics(p, seed, run, run);
        double a_prev = 0.0;
        const auto eg_now = [&] {
            const OrderParameters op = dynamics.chain().order_parameters();
            return flow_generalization_error(settings, op.Q, op.R, op.T, op.v, op.v_star);
        };
        double e_prev = eg_now();
        double t = std::numeric_limits<double>::quiet_NaN();
        for (double a = 0.25; a <= alpha_limit; a += 0.25) {
            REQUIRE(dynamics.advance_to(a));
            const double e = eg_now();
            if (e <= threshold) {
                const std::array<double, 2> as{a_prev, a}, es{e_prev, e};
                t = first_crossing(as, es, threshold);
                break;
            }
            a_prev = a;
            e_prev = e;
        }
        if (std::isfinite(t))
            times.push_back(t);
    }
    EscapeSample s;
    s.escaped = static_cast<int>(times.size());
    const auto n = static_cast<double>(times.size());
    for (const double t : times)
        s.mean += t / n;
    double var = 0.0;
    for (const double t : times)
        var += (t - s.mean) * (t - s.mean) / (n - 1.0);
    s.se = std::sqrt(var / n);
    return s;
}

} // namespace

TEST_CASE("escape prediction: scratch", "[.scratch]") {
    const RunParams p = erf_params(2, 2, 0.5);
    const FixedPoint fp = symmetric_fixed_point(p);
    const EscapePrediction e = predict_escape(p, fp);
    std::printf("valid %d %s lambda %.6g eg %.8g A %.6g slope %.6g (1/l %.6g) a_plat %.4g c %.4g "
                "a_lin %.4g sig_i %.6g sig_n %.6g\n",
                e.valid, e.why.c_str(), e.rate, e.eg_plateau, e.A, e.fit_slope, 1 / e.rate,
                e.alpha_plateau, e.c, e.alpha_linear, e.sigma_initial, e.sigma_noise);
    for (Eigen::Index i = 0; i < e.sensitivity.size(); ++i)
        std::printf(" %.5g", e.sensitivity(i));
    std::printf("\n");
    for (std::size_t i = 0; i < e.eps.size(); ++i)
        std::printf("eps %.3g esc %.6g r %.5g\n", e.eps[i], e.alpha_esc[i],
                    e.alpha_esc[i] - e.A + std::log(e.eps[i]) / e.rate);
    for (const double N : {100.0, 316.0, 1000.0, 3162.0, 10000.0, 1e5, 1e6}) {
        EscapePrediction no_noise = e;
        no_noise.sigma_noise = 0.0;
        std::printf("N %g pred %.5g (initial only %.5g)\n", N, predicted_mean_escape(e, N),
                    predicted_mean_escape(no_noise, N));
    }
}

TEST_CASE("fixed points: scratch", "[.scratch]") {
    for (const auto& [K, M] : {std::pair{2, 2}, std::pair{3, 3}, std::pair{3, 2}}) {
        const RunParams p = erf_params(K, M, 0.5);
        const auto found = trajectory_fixed_points(p, generic_start(p.model, 1e-6), 4000.0);
        std::printf("K=%d M=%d: %zu found\n", K, M, found.size());
        for (const auto& f : found)
            std::printf("  alpha %g %s eg %.6g lambda %.6g res %.2g\n", f.alpha,
                        std::string(name(f.kind)).c_str(), f.eg, f.escape_rate, f.residual);
        const EtaMax em = specialized_eta_max(p);
        std::printf("  eta_max %d %.8g [%.8g, %.8g] %s\n", em.found, em.eta_max, em.lower, em.upper,
                    std::string(em.why).c_str());
    }
}

TEST_CASE("escape simulation: scratch", "[.scratch]") {
    const RunParams p = erf_params(2, 2, 0.5);
    const FixedPoint fp = symmetric_fixed_point(p);
    for (const std::int64_t N : {300, 1000, 3000}) {
        const EscapeSample s = simulated_escape(p, N, 200, 11, 0.5 * fp.eg, 1500.0);
        std::printf("N %lld: mean %.5g se %.3g escaped %d\n", static_cast<long long>(N), s.mean,
                    s.se, s.escaped);
    }
}
