// The Gram chain's factor updated in O(r^2) (engine/simulation/gram_dynamics.hpp; docs/theory.md
// §7, Eq. (G4)): after every updated step the factor equals a fresh Cholesky factorization of the
// new G, in every variant that moves the chain (weight decay, learned v, label noise, the sphere,
// mixture axes as rows, deeper networks, several teachers); updates that cannot be trusted (zero
// or tiny pivots) fall back to a fresh factorization and never give a NaN. Hidden ("[.drift]"):
// the measurement of the drift against steps of docs/PERFORMANCE.md.
#include "engine/run/run.hpp"
#include "engine/simulation/gram_dynamics.hpp"
#include "models/mixture.hpp"
#include "run_helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

using namespace plateau;

namespace {

RunParams chain_params(std::int64_t N, int K, int M) {
    RunParams p = test::params_of(N, K, M);
    p.dynamics = DynamicsKind::gram;
    return p;
}

/// max |L - chol(G)| / max |chol(G)|: the chain's factor against a fresh one of its G.
double factor_error(const GramChain& chain) {
    const Eigen::LLT<Eigen::MatrixXd> llt(chain.gram());
    const Eigen::MatrixXd fresh = llt.matrixL();
    const Eigen::MatrixXd L = chain.factor().triangularView<Eigen::Lower>();
    return (L - fresh).cwiseAbs().maxCoeff() / fresh.cwiseAbs().maxCoeff();
}

/// ||L L^T - G||_F / ||G||_F.
double product_error(const GramChain& chain) {
    const Eigen::MatrixXd L = chain.factor().triangularView<Eigen::Lower>();
    return (L * L.transpose() - chain.gram()).norm() / chain.gram().norm();
}

struct Checked {
    std::int64_t updated = 0; ///< steps whose factor came from an update
    double worst = 0.0;       ///< the largest factor_error after one
};

/// `steps` steps of a gram run with the factor updated at every r, each updated factor checked.
Checked run_checked(const RunParams& p, int steps, int period = GramChain::default_factor_period) {
    GramDynamics dynamics(p, 3, 1, 1);
    dynamics.set_factor_period(period, true);
    Checked c;
    const auto N = static_cast<double>(p.model.N);
    for (int s = 1; s <= steps; ++s) {
        REQUIRE(dynamics.advance_to(s / N));
        const GramChain& chain = dynamics.chain();
        REQUIRE(chain.factor().allFinite());
        if (chain.factor_updated()) {
            ++c.updated;
            c.worst = std::max(c.worst, factor_error(chain));
        }
    }
    return c;
}

} // namespace

TEST_CASE("gram factor: the rank-two update is the Cholesky factor of the updated G",
          "[gram]") {
    // A wrong update is off by the step's change of G, ~eta/N times the fields (>= 1e-5 here);
    // the update's own rounding over at most 256 steps is ~1e-14 (docs/PERFORMANCE.md).
    constexpr double tolerance = 1e-11;
    struct Case {
        std::string what;
        RunParams p;
    };
    std::vector<Case> cases;
    {
        RunParams p = chain_params(200, 10, 10); // r = 20: updated by default
        p.training.eta = 1.0;
        cases.push_back({"K=M=10", p});
    }
    {
        RunParams p = chain_params(60, 2, 3);
        p.training.eta = 2.0;
        p.training.weight_decay = 0.05;
        p.model.learn_v = true;
        p.model.noise = 0.1;
        p.model.teacher_init = TeacherInit::gaussian;
        cases.push_back({"K=2 M=3 weight decay, learned v, noise", p});
    }
    {
        RunParams p = chain_params(60, 3, 2);
        p.training.eta = 2.0;
        p.model.constraint = Constraint::sphere;
        cases.push_back({"K=3 M=2 sphere", p});
    }
    {
        RunParams p = chain_params(60, 3, 2);
        p.training.eta = 1.0;
        p.model.inputs = InputKind::mixture;
        Mixture m = Mixture::exclusive_or();
        m.variance = 0.2;
        p.model.mixture = m;
        p.model.learn_v = true;
        cases.push_back({"K=3 M=2 XOR mixture (D axes as rows)", p});
    }
    {
        RunParams p = chain_params(60, 4, 2);
        p.model.student.widths = {4, 2};
        p.model.teacher.widths = {2};
        p.training.eta = 1.0;
        cases.push_back({"K=4x2 deeper student", p});
    }
    {
        RunParams p = chain_params(60, 2, 2);
        p.model.teachers = 2;
        p.model.teacher_overlap = 0.5;
        p.training.eta = 1.0;
        cases.push_back({"two teachers", p});
    }
    for (const Case& c : cases) {
        INFO(c.what);
        const Checked checked = run_checked(c.p, 600);
        CHECK(checked.updated >= 500); // a fresh factor every 256 steps
        CHECK(checked.worst < tolerance);
    }
}

TEST_CASE("gram factor: untrustworthy updates fall back to a fresh factorization", "[gram]") {
    SECTION("q0 = 0: the students are equal, Q has zero pivots") {
        RunParams p = chain_params(100, 10, 10);
        p.model.q0 = 0.0;
        GramDynamics dynamics(p, 5, 0, 0);
        REQUIRE(dynamics.advance_to(3.0));
        const GramChain& chain = dynamics.chain();
        // The students start equal and stay equal up to rounding: Q keeps zero pivots, every
        // update is refused and every step has a fresh factor.
        CHECK(chain.factor().allFinite());
        CHECK(chain.gram().allFinite());
        CHECK(chain.factor_counts().fresh == 300);
        if (chain.factor_updated())
            CHECK(factor_error(chain) < 1e-11);
    }
    SECTION("students equal to their teachers: G of rank M, then nearly so") {
        RunParams p = chain_params(1000, 5, 5); // r = 10: updated by default
        p.training.eta = 0.5;
        OrderParameters op;
        op.Q = op.R = op.T = Eigen::MatrixXd::Identity(5, 5);
        op.v = op.v_star = Eigen::VectorXd::Ones(5);
        for (const double gap : {0.0, 1e-7, 1e-4}) {
            INFO("R = (1 - " << gap << ") I");
            op.R = (1.0 - gap) * Eigen::MatrixXd::Identity(5, 5);
            GramChain chain(p, op);
            std::vector<double> z(10);
            NormalStream rng(StreamKey{1, 2, StreamPurpose::gram_steps});
            for (int s = 0; s < 300; ++s) {
                REQUIRE(chain.refresh_factor());
                rng.fill(z);
                REQUIRE(chain.step(z, 990.0, 0.0));
                REQUIRE(chain.gram().allFinite());
                REQUIRE(chain.factor().allFinite());
                if (chain.factor_updated())
                    CHECK(product_error(chain) < 1e-12);
            }
            if (gap == 0.0) // zero pivots: never updated
                CHECK(chain.factor_counts().updated == 0);
        }
    }
}

TEST_CASE("gram factor: the drift of the updated factor against steps", "[.drift]") {
    // docs/PERFORMANCE.md, "The Gram chain's factor, updated": runs with the factor never
    // refactorized (period 2^30; fresh only after a refused update), the error of the updated
    // factor at log-spaced steps through the drop, the plateau and the convergence.
    struct Case {
        const char* what;
        std::int64_t N;
        int K;
        double noise;
        double alpha;
    };
    const Case cases[] = {
        {"K=M=2 N=100", 100, 2, 0.0, 20000.0},   {"K=M=2 N=1000", 1000, 2, 0.0, 2000.0},
        {"K=M=10 N=100", 100, 10, 0.0, 10000.0}, {"K=M=10 N=1000", 1000, 10, 0.0, 1500.0},
        {"K=M=10 N=100 noise", 100, 10, 0.01, 5000.0},
    };
    for (const Case& c : cases) {
        RunParams p = chain_params(c.N, c.K, c.K);
        p.model.noise = c.noise;
        GramDynamics dynamics(p, 7, 0, 0);
        dynamics.set_factor_period(1 << 30, true);
        std::printf("%s\n%12s %10s %12s %12s %12s %8s %8s\n", c.what, "step", "alpha",
                    "|LL'-G|/|G|", "max|dL|/|L|", "min pivot/G", "fresh", "refused");
        const auto steps = static_cast<std::int64_t>(c.alpha * static_cast<double>(c.N));
        for (double s = 10.0; s <= static_cast<double>(steps); s *= std::sqrt(10.0)) {
            const auto step = static_cast<std::int64_t>(s);
            REQUIRE(dynamics.advance_to(static_cast<double>(step) / static_cast<double>(c.N)));
            const GramChain& chain = dynamics.chain();
            const Eigen::MatrixXd& L = chain.factor();
            double min_pivot = 1.0;
            for (Eigen::Index j = 0; j < L.rows(); ++j)
                min_pivot = std::min(min_pivot, L(j, j) * L(j, j) / chain.gram()(j, j));
            std::printf("%12ld %10.1f %12.3g %12.3g %12.3g %8ld %8ld\n", static_cast<long>(step),
                        static_cast<double>(step) / static_cast<double>(c.N),
                        product_error(chain), factor_error(chain), min_pivot,
                        static_cast<long>(chain.factor_counts().fresh),
                        static_cast<long>(chain.factor_counts().refused));
        }
    }
}
