// A reusable integrator for ODEs dy/dt = f(y) or dy/dt = f(t, y) on Eigen vectors: the adaptive
// Dormand-Prince 5(4) with error control (default) or the classical fixed-step RK4. The theory
// (engine/theory/theory.hpp) integrates the order parameters with it, the fixed point search
// (engine/theory/fixed_point.hpp) relaxes the reduced flow with it; any other ODE can use it.
//
// Symmetry classes (optional): entries of y that are equivalent under a symmetry of the ODE (for
// the theory: permutations of the student units and of the teacher units) may be given one class
// each; the step control then also bounds the error of each entry's deviation from its class
// mean, relative to that deviation (see ode_integrator.cpp). Without classes every entry is its
// own class and only the usual per-entry error norm applies.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace plateau {

enum class OdeMethod {
    dormand_prince, ///< adaptive embedded Runge-Kutta 5(4) with error control (default)
    rk4,            ///< classical fixed-step Runge-Kutta 4 with step rk4_step
};

/// The smallest relative tolerance the Dormand-Prince step control accepts: 100 x the machine
/// epsilon (2.2e-14). Below it the error estimate is the rounding noise of the stages, which no
/// step size reduces, and a run ends as if its flow had diverged.
inline constexpr double min_rtol = 100.0 * std::numeric_limits<double>::epsilon();

/// Integrator settings. The defaults resolve asymmetries down to ~1e-12 (see ode_integrator.cpp:
/// the error of the *deviations* of symmetry-equivalent entries from their mean is controlled with
/// its own absolute tolerance atol_asymmetry, so a tiny asymmetry that decides when the plateau
/// ends is integrated with a small relative error).
struct OdeParams {
    OdeMethod method = OdeMethod::dormand_prince;
    double rtol = 1e-10;           ///< relative tolerance per step (Dormand-Prince), >= min_rtol
    double atol = 1e-12;           ///< absolute tolerance of each entry (Dormand-Prince)
    double atol_asymmetry = 1e-16; ///< absolute tolerance of the asymmetric parts (see above)
    double h_max = 10.0;           ///< largest step in alpha (Dormand-Prince)
    double h_initial = 1e-4;       ///< first trial step (Dormand-Prince)
    double rk4_step = 0.01;        ///< step in alpha of the fixed-step RK4 (at most; see advance)
    /// Steps (accepted and rejected) over the integrator's whole life, every advance() call
    /// together; exceeding them is a failure. A default run takes ~10^3 steps (K = M = 2 to
    /// alpha = 3000: ~30 ms); a flow that needs ever smaller steps (eta ~ 10^4, noise ~ 10^12)
    /// ends here in seconds instead of hours.
    std::int64_t max_steps = 500'000;
};

enum class OdeOutcome {
    ok,      ///< reached the target time
    failed,  ///< non-finite right-hand side with a step underflow, or too many steps
    stopped, ///< the guard rejected an accepted state (divergence)
};

class OdeIntegrator {
public:
    /// dy = f(y); returns false when f is not finite (or not defined) at y.
    using Rhs = std::function<bool(const Eigen::VectorXd& y, Eigen::VectorXd& dy)>;
    /// dy = f(t, y), for a flow that depends on time (a learning-rate schedule, eta(alpha)).
    using TimeRhs = std::function<bool(double t, const Eigen::VectorXd& y, Eigen::VectorXd& dy)>;
    /// Returns false to stop at an accepted state (e.g. a divergence threshold).
    using Guard = std::function<bool(const Eigen::VectorXd& y)>;

    /// Every entry its own symmetry class. Throws std::invalid_argument for bad settings (an rtol
    /// below min_rtol included).
    OdeIntegrator(Rhs rhs, OdeParams p);
    /// classes[i] >= 0: the symmetry class of entry i (see above).
    OdeIntegrator(Rhs rhs, OdeParams p, std::vector<int> classes);
    /// A time-dependent right-hand side: every stage is evaluated at its own time (t + c_i h).
    OdeIntegrator(TimeRhs rhs, OdeParams p, std::vector<int> classes = {});

    /// Advances (y, t) to exactly t_end. On failure (y, t) is the last accepted state.
    OdeOutcome advance(Eigen::VectorXd& y, double& t, double t_end, const Guard& guard);

    /// The right-hand side changed at the current time (a task switch, docs/theory.md §17b):
    /// the next advance evaluates f at its start instead of reusing the last step's final stage
    /// (first same as last), so no step carries the old flow past the switch.
    void restart() noexcept { fsal_valid_ = false; }

    [[nodiscard]] std::int64_t accepted() const noexcept { return accepted_; }
    [[nodiscard]] std::int64_t rejected() const noexcept { return rejected_; }

private:
    OdeOutcome advance_rk4(Eigen::VectorXd& y, double& t, double t_end, const Guard& guard);
    OdeOutcome advance_dp(Eigen::VectorXd& y, double& t, double t_end, const Guard& guard);
    double error_norm(const Eigen::VectorXd& y, const Eigen::VectorXd& y_new,
                      const Eigen::VectorXd& err);

    TimeRhs rhs_;
    OdeParams p_;
    std::vector<int> classes_; ///< empty: every entry its own class
    std::vector<int> class_size_;
    double h_;
    bool fsal_valid_ = false;
    std::int64_t accepted_ = 0;
    std::int64_t rejected_ = 0;
    Eigen::VectorXd k1_, k2_, k3_, k4_, k5_, k6_, k7_, tmp_, y_new_, err_;
    std::vector<double> mean_y_, mean_y_new_, mean_err_;
};

} // namespace plateau
