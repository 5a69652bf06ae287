// Gaussian-mixture inputs and the logistic loss (docs/theory.md §15): the sampler's moments, the
// logistic loss's gradients, the Bayes error's closed forms against direct integrals and its
// Monte Carlo, the trainers on mixture data and short XOR runs.
#include "engine/core/run_params.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/simulation/mixture_source.hpp"
#include "engine/simulation/simulate.hpp"
#include "models/loss.hpp"
#include "models/mixture.hpp"
#include "models/network.hpp"

#include "run_helpers.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <vector>

using namespace plateau;

namespace {

/// A mixture with unequal weights and three directions, from the text of a clusters file.
Mixture file_mixture(double delta) {
    Mixture m = Mixture::parse("# label, mean, weight\n"
                               " 1  2 0 0  weight 2\n"
                               "-1  0 1 1  weight 1\n"
                               "-1  0 0 -3 weight 1   # scaled to unit norm\n",
                               "file");
    m.variance = delta;
    return m;
}

double gaussian_density(double x, double mean, double var) {
    return std::exp(-(x - mean) * (x - mean) / (2.0 * var)) /
           std::sqrt(2.0 * std::numbers::pi * var);
}

} // namespace

TEST_CASE("mixture: a clusters file is parsed, scaled and normalised", "[mixture]") {
    const Mixture m = file_mixture(0.2);
    REQUIRE(m.clusters() == 3);
    REQUIRE(m.dims == 3);
    CHECK(m.weights[0] == Approx(0.5));
    CHECK(m.weights[2] == Approx(0.25));
    CHECK(m.mean(0, 0) == Approx(1.0));
    CHECK(m.mean(1, 1) == Approx(1.0 / std::sqrt(2.0)));
    CHECK(m.mean(2, 2) == Approx(-1.0));
    CHECK(m.labels == std::vector<double>{1.0, -1.0, -1.0});
    CHECK_THROWS_AS(Mixture::parse("1 1 0\n-1 0\n", "f"), MixtureSyntaxError);   // D differs
    CHECK_THROWS_AS(Mixture::parse("1 1 0\n1 0 1\n", "f"), MixtureSyntaxError);  // one label
    CHECK_THROWS_AS(Mixture::parse("2 1 0\n-1 0 1\n", "f"), MixtureSyntaxError); // label 2
    CHECK_THROWS_AS(Mixture::parse("1 1 0 weight 1\n-1 0 1\n", "f"), MixtureSyntaxError);
    CHECK_THROWS_AS(Mixture::parse("1 0 0\n-1 0 1\n", "f"), MixtureSyntaxError); // zero mean
}

TEST_CASE("mixture: the sampler's moments (cluster frequencies, means, variance Delta)",
          "[mixture]") {
    // Every statistic within 4 standard errors of its exact value (fixed seed).
    for (const Mixture& base : {Mixture::exclusive_or(), file_mixture(0.0)}) {
        Mixture m = base;
        m.variance = 0.3;
        const MixtureSampler sampler(m);
        const std::size_t N = 20;
        const int n = 40000;
        const std::size_t C = m.clusters();
        NormalStream stream(StreamKey{7, 1, StreamPurpose::examples});
        std::vector<double> count(C, 0.0);
        std::vector<std::vector<double>> sum(C, std::vector<double>(N, 0.0));
        std::vector<double> sum_sq(C, 0.0); // of (x_i - mu_c,i)^2 over i < N
        std::vector<double> x(N);
        for (int k = 0; k < n; ++k) {
            const std::size_t c = sampler.draw(stream, x);
            REQUIRE(c < C);
            count[c] += 1.0;
            for (std::size_t i = 0; i < N; ++i) {
                sum[c][i] += x[i];
                const double mu = i < m.dims ? m.mean(c, i) : 0.0;
                sum_sq[c] += (x[i] - mu) * (x[i] - mu);
            }
        }
        for (std::size_t c = 0; c < C; ++c) {
            const double p = m.weights[c];
            CHECK(std::abs(count[c] / n - p) < 4.0 * std::sqrt(p * (1.0 - p) / n));
            for (std::size_t i = 0; i < N; ++i) {
                const double mu = i < m.dims ? m.mean(c, i) : 0.0;
                CHECK(std::abs(sum[c][i] / count[c] - mu) < 4.0 * std::sqrt(m.variance / count[c]));
            }
            // sum_sq / (N n_c) estimates Delta with standard error Delta sqrt(2 / (N n_c)).
            const double values = static_cast<double>(N) * count[c];
            CHECK(std::abs(sum_sq[c] / values - m.variance) <
                  4.0 * m.variance * std::sqrt(2.0 / values));
        }
    }
}

TEST_CASE("mixture: the students' overlaps with the means", "[mixture]") {
    const Mixture m = file_mixture(0.1);
    const MixtureSampler sampler(m);
    RowMatrix W = RowMatrix::Random(2, 7);
    const Eigen::MatrixXd M = sampler.mean_overlaps(W);
    for (Eigen::Index j = 0; j < 2; ++j)
        for (std::size_t c = 0; c < m.clusters(); ++c) {
            double dot = 0.0; // w_j . mu_c, mu_c on the first D axes
            for (std::size_t d = 0; d < m.dims; ++d)
                dot += W(j, static_cast<Eigen::Index>(d)) * m.mean(c, d);
            CHECK(M(j, static_cast<Eigen::Index>(c)) == Approx(dot).margin(1e-15));
        }
}

TEST_CASE("logistic loss: value and gradients against central finite differences", "[mixture]") {
    const Loss logistic{LossKind::logistic};
    // The value: log(1 + exp(-tau sigma)), and no overflow far out.
    for (const double m : {-3.0, -0.5, 0.0, 0.7, 4.0})
        CHECK(logistic.value(m, 1.0) == Approx(std::log1p(std::exp(-m))).epsilon(1e-14));
    CHECK(logistic.value(-800.0, 1.0) == Approx(800.0));
    CHECK(logistic.value(800.0, 1.0) == 0.0);
    CHECK(std::isfinite(logistic.error(-800.0, 1.0)));
    // de/dsigma against the central difference of the value, both labels and losses.
    for (const Loss loss : {Loss{LossKind::squared}, logistic})
        for (const double tau : {1.0, -1.0})
            for (const double sigma : {-2.5, -0.3, 0.0, 0.4, 1.9}) {
                const double h = 1e-5;
                const double fd =
                    (loss.value(sigma + h, tau) - loss.value(sigma - h, tau)) / (2 * h);
                CHECK(loss.error(sigma, tau) == Approx(fd).margin(1e-8));
            }
    // The weights' gradients of a network (Eqs. (3)-(5) with the logistic delta).
    NetworkSpec net{{3}, Activation{ActivationKind::erf}, Activation{ActivationKind::linear}};
    const std::int64_t N = 6;
    RowMatrix W = RowMatrix::Random(3, N) * 0.5;
    Eigen::VectorXd v = Eigen::VectorXd::Random(3);
    Eigen::VectorXd xi = Eigen::VectorXd::Random(N);
    for (const double tau : {1.0, -1.0}) {
        const PerExampleGradient g = per_example_gradient(net, W, v, xi, tau, logistic);
        const double h = 1e-6;
        for (Eigen::Index j = 0; j < 3; ++j) {
            for (Eigen::Index i = 0; i < N; ++i) {
                RowMatrix up = W, down = W;
                up(j, i) += h;
                down(j, i) -= h;
                const double fd = (per_example_cost(net, up, v, xi, tau, logistic) -
                                   per_example_cost(net, down, v, xi, tau, logistic)) /
                                  (2 * h);
                CHECK(g.dW(j, i) == Approx(fd).margin(1e-8));
            }
            Eigen::VectorXd up = v, down = v;
            up(j) += h;
            down(j) -= h;
            const double fd = (per_example_cost(net, W, up, xi, tau, logistic) -
                               per_example_cost(net, W, down, xi, tau, logistic)) /
                              (2 * h);
            CHECK(g.dv(j) == Approx(fd).margin(1e-8));
        }
    }
}

TEST_CASE("mixture: the Bayes error's closed forms against direct integrals", "[mixture]") {
    for (const double delta : {0.05, 0.2, 0.5}) {
        // XOR: the integral over the plane of min(f_+, f_-), f_y the density of (x_1, x_2) and
        // the label y (Eq. (15.8)), by the midpoint rule in the rotated coordinates
        // u = (x_1 + x_2)/sqrt 2, w = (x_1 - x_2)/sqrt 2, where min switches on the cell edges
        // u = 0 and w = 0 (|x_1| = |x_2|): a smooth integrand in every cell, so the rule's
        // error is c h^2 + O(h^4), and Richardson's (4 I(h/2) - I(h))/3 removes the h^2 term
        // (measured: within 4e-10 of Eq. (15.6); without it, 2e-5).
        const double L = 1.0 + 9.0 * std::sqrt(delta);
        const auto midpoint = [&](int n) {
            const double h = 2.0 * L / n;
            double sum = 0.0;
            for (int a = 0; a < n; ++a) {
                const double u = -L + (a + 0.5) * h;
                for (int b = 0; b < n; ++b) {
                    const double w = -L + (b + 0.5) * h;
                    const double x1 = (u + w) / std::sqrt(2.0), x2 = (u - w) / std::sqrt(2.0);
                    const double plus =
                        0.25 *
                        (gaussian_density(x1, 1.0, delta) + gaussian_density(x1, -1.0, delta)) *
                        gaussian_density(x2, 0.0, delta);
                    const double minus =
                        0.25 * gaussian_density(x1, 0.0, delta) *
                        (gaussian_density(x2, 1.0, delta) + gaussian_density(x2, -1.0, delta));
                    sum += std::min(plus, minus);
                }
            }
            return sum * h * h;
        };
        const double xor_integral = (4.0 * midpoint(1200) - midpoint(600)) / 3.0;
        CHECK(xor_bayes_error(delta) == Approx(xor_integral).margin(1e-8));
        // Two clusters: one dimension.
        double two_integral = 0.0;
        const int m = 200000;
        const double k = 2.0 * L / m;
        for (int a = 0; a < m; ++a) {
            const double x = -L + (a + 0.5) * k;
            two_integral +=
                0.5 * std::min(gaussian_density(x, 1.0, delta), gaussian_density(x, -1.0, delta)) *
                k;
        }
        CHECK(two_bayes_error(delta) == Approx(two_integral).margin(1e-9));
    }
}

TEST_CASE("mixture: the Monte-Carlo Bayes error agrees with the closed form and an integral",
          "[mixture]") {
    // A file holding the XOR means: Monte Carlo, within 4 of its standard errors.
    Mixture as_file = Mixture::parse("1 1 0\n1 -1 0\n-1 0 1\n-1 0 -1\n", "xor.txt");
    as_file.variance = 0.2;
    const BayesError mc = bayes_error(as_file, 1 << 18);
    REQUIRE(mc.standard_error > 0.0);
    CHECK(std::abs(mc.value - xor_bayes_error(0.2)) < 4.0 * mc.standard_error);
    CHECK(bayes_error(Mixture::exclusive_or()).standard_error == 0.0);
    // Unequal weights in two dimensions: a direct integral of min(f_+, f_-).
    Mixture tilted = Mixture::parse("1 1 0 weight 3\n-1 -1 0 weight 1\n-1 0 1 weight 1\n", "t");
    tilted.variance = 0.3;
    const double L = 1.0 + 9.0 * std::sqrt(tilted.variance);
    const int n = 1000;
    const double h = 2.0 * L / n;
    double integral = 0.0;
    for (int a = 0; a < n; ++a)
        for (int b = 0; b < n; ++b) {
            const double x1 = -L + (a + 0.5) * h, x2 = -L + (b + 0.5) * h;
            double f[2] = {0.0, 0.0};
            for (std::size_t c = 0; c < tilted.clusters(); ++c)
                f[tilted.labels[c] > 0 ? 0 : 1] +=
                    tilted.weights[c] * gaussian_density(x1, tilted.mean(c, 0), tilted.variance) *
                    gaussian_density(x2, tilted.mean(c, 1), tilted.variance);
            integral += std::min(f[0], f[1]) * h * h;
        }
    const BayesError t = bayes_error(tilted, 1 << 18);
    CHECK(std::abs(t.value - integral) < 4.0 * t.standard_error);
}

TEST_CASE("mixture: bad settings are refused naming the key", "[mixture]") {
    RunParams p = test::params_of(100, 2, 1);
    p.model.inputs = InputKind::mixture;
    p.dynamics = DynamicsKind::gram; // the exact chain of §15d (tests/test_mixture_gram.cpp)
    CHECK_NOTHROW(validate(p));
    p.dynamics = DynamicsKind::full;
    p.model.mixture.variance = 0.0;
    CHECK_THROWS_WITH(validate(p), Catch::Contains("cluster-variance"));
    p.model.mixture.variance = 0.1;
    p.model.target = parse_target("y1");
    CHECK_THROWS_WITH(validate(p), Catch::Contains("target"));
    p.model.target = Target{};
    p.model.student.widths = {2, 2};
    CHECK_THROWS_WITH(validate(p), Catch::Contains("K"));
    p.model.student.widths = {2};
    CHECK_NOTHROW(validate(p));
}

namespace {

/// A short on-line run on the XOR mixture; returns the classification error of its last record.
double final_class_error(RunParams p, std::uint64_t run) {
    const RunResult r = simulate(p, 11, run);
    REQUIRE(r.status == RunStatus::completed);
    return r.records.back().extras.at(std::string(extra_name::class_error))(0);
}

RunParams xor_run(int K, ActivationKind g) {
    RunParams p = test::params_of(200, K, 1);
    p.model.inputs = InputKind::mixture;
    p.model.mixture.variance = 0.1;
    p.model.student.g = Activation{g};
    p.model.learn_v = true;
    p.model.v0 = 0.1; // all v_j = 1 would keep sigma >= 0 for relu units for a long time
    p.training.eta = 2.0;
    p.training.eta_v = 2.0;
    p.schedule.alpha_max = 60.0;
    p.schedule.records = 4;
    p.schedule.kind = ScheduleKind::linear;
    p.observer.eg_samples = 4000;
    return p;
}

} // namespace

TEST_CASE("mixture: on the XOR mixture K = 4 relu learns, K = 1 erf stays at chance", "[mixture]") {
    // Chance is 1/2, the Bayes error (Delta = 0.1) 0.025. K = 4 relu ends near the Bayes error
    // or, in some runs, at about 0.27 (one pair of clusters misplaced; K = 8 avoids it): below
    // 0.35 either way. K = 1 erf is odd and the XOR labels even in xi, so it stays at chance; the
    // Monte-Carlo class error of one record has a standard error below sqrt(1/4 / 4000) < 0.008:
    // allow 0.05 (6 of them).
    for (std::uint64_t run = 0; run < 2; ++run) {
        CHECK(final_class_error(xor_run(4, ActivationKind::relu), run) < 0.35);
        CHECK(std::abs(final_class_error(xor_run(1, ActivationKind::erf), run) - 0.5) < 0.05);
    }
}

TEST_CASE("mixture: training sets and mini-batches of mixture data", "[mixture]") {
    RunParams p = xor_run(4, ActivationKind::relu);
    p.training.alpha_train = 2.0;
    p.training.batch.size = 4;
    const RunResult r = simulate(p, 11, 0);
    REQUIRE(r.status == RunStatus::completed);
    const auto& last = r.records.back();
    // The training error is the loss on the set's clusters' labels: finite, below its start.
    const double first = r.records.front().extras.at(std::string(extra_name::eps_train))(0);
    const double final = last.extras.at(std::string(extra_name::eps_train))(0);
    CHECK(final < first);
    CHECK(last.extras.at(std::string(extra_name::class_error))(0) < 0.5);
}
