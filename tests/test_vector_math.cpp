// Tests of the vector kernels at the tensor rule's nodes (models/vector_math.hpp, docs/theory.md
// §9 "Vector math at the nodes"): exp, erf, tanh on four lanes against libm over a wide range
// (max error in ulps), the tails and special values, the activations' vector forms against their
// scalar values, and the AVX2 code against the portable code, bit for bit.
#include "models/activation.hpp"
#include "models/vector_math.hpp"

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <vector>

namespace {

using plateau::vmath::Vec;

/// Distance in units in the last place (doubles of one sign; 0 for two NaNs).
double ulps(double got, double want) {
    if (std::isnan(got) || std::isnan(want))
        return std::isnan(got) && std::isnan(want) ? 0.0 : HUGE_VAL;
    if (got == want)
        return 0.0;
    if (std::signbit(got) != std::signbit(want))
        return HUGE_VAL;
    const auto a = std::bit_cast<std::int64_t>(got);
    const auto b = std::bit_cast<std::int64_t>(want);
    return std::abs(static_cast<double>(a - b));
}

/// 10^6 arguments: uniform on [-6, 6], [-40, 40], [-800, 800], and +-10^u with u uniform on
/// [-300, 3] (tiny and huge magnitudes).
std::vector<double> arguments() {
    std::mt19937_64 gen(20261207);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<double> x(1'000'000);
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double r = u(gen);
        switch (i % 4) {
        case 0:
            x[i] = 6.0 * r;
            break;
        case 1:
            x[i] = 40.0 * r;
            break;
        case 2:
            x[i] = 800.0 * r;
            break;
        default:
            x[i] = std::copysign(std::pow(10.0, -148.5 + 151.5 * u(gen)), r);
            break;
        }
    }
    return x;
}

double max_ulps(const std::vector<double>& x, Vec (*kernel)(Vec), double (*scalar)(double)) {
    double worst = 0.0;
    for (std::size_t i = 0; i + 4 <= x.size(); i += 4) {
        const Vec y = kernel(Vec{x[i], x[i + 1], x[i + 2], x[i + 3]});
        for (std::size_t l = 0; l < 4; ++l)
            worst = std::max(worst, ulps(y[l], scalar(x[i + l])));
    }
    return worst;
}

Vec vexp(Vec x) {
    return plateau::vmath::exp(x);
}
Vec verf(Vec x) {
    return plateau::vmath::erf(x);
}
Vec vtanh(Vec x) {
    return plateau::vmath::tanh(x);
}
double sexp(double x) {
    return std::exp(x);
}
double serf(double x) {
    return std::erf(x);
}
double stanh(double x) {
    return std::tanh(x);
}

double lane0(Vec (*kernel)(Vec), double x) {
    return kernel(Vec{x, x, x, x})[0];
}

/// The three kernels over the arguments (inlined into each caller, compiled for its target).
[[gnu::always_inline]] inline void kernels(const std::vector<double>& x, std::vector<double>& out) {
    for (std::size_t i = 0; i + 4 <= x.size(); i += 4) {
        const Vec v{x[i], x[i + 1], x[i + 2], x[i + 3]};
        const Vec e = plateau::vmath::exp(v), f = plateau::vmath::erf(v),
                  t = plateau::vmath::tanh(v);
        for (std::size_t l = 0; l < 4; ++l) {
            out[3 * (i + l)] = e[l];
            out[3 * (i + l) + 1] = f[l];
            out[3 * (i + l) + 2] = t[l];
        }
    }
}

/// Compiled for AVX2 (a separate function: what a target_clones caller's AVX2 clone runs).
[[gnu::target("avx2")]] void kernels_avx2(const std::vector<double>& x, std::vector<double>& out) {
    kernels(x, out);
}

void kernels_default(const std::vector<double>& x, std::vector<double>& out) {
    kernels(x, out);
}

} // namespace

TEST_CASE("vector math: exp, erf, tanh within a few ulp of libm over a wide range",
          "[vector_math][theory]") {
    const std::vector<double> x = arguments();
    // the bounds are the measured maxima (models/vector_math.hpp)
    CHECK(max_ulps(x, vexp, sexp) <= 1.0);
    CHECK(max_ulps(x, verf, serf) <= 2.0);
    CHECK(max_ulps(x, vtanh, stanh) <= 3.0);
}

TEST_CASE("vector math: tails, piece boundaries and special values", "[vector_math][theory]") {
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double tiny = std::numeric_limits<double>::denorm_min();
    for (const double x :
         {0.0,  -0.0, 1e-310, -1e-310, 1e-20, 0.5,    -0.5,   0.8,    2.2,    6.0,
          -6.0, 5.9,  19.0,   -19.0,   700.0, -700.0, -708.5, -720.0, -745.0, 709.78}) {
        INFO("x = " << x);
        CHECK(ulps(lane0(vexp, x), std::exp(x)) <= 1.0);
        CHECK(ulps(lane0(verf, x), std::erf(x)) <= 2.0);
        CHECK(ulps(lane0(vtanh, x), std::tanh(x)) <= 3.0);
    }
    // odd functions keep the sign of zero
    CHECK(std::signbit(lane0(verf, -0.0)));
    CHECK(std::signbit(lane0(vtanh, -0.0)));
    CHECK(lane0(vexp, inf) == inf);
    CHECK(lane0(vexp, 709.79) == inf);
    CHECK(lane0(vexp, -inf) == 0.0);
    CHECK(lane0(vexp, -745.14) == 0.0);
    CHECK(lane0(vexp, -745.13) == tiny); // the last subnormal
    CHECK(lane0(verf, inf) == 1.0);
    CHECK(lane0(verf, -inf) == -1.0);
    CHECK(lane0(vtanh, inf) == 1.0);
    CHECK(lane0(vtanh, -inf) == -1.0);
    CHECK(std::isnan(lane0(vexp, nan)));
    CHECK(std::isnan(lane0(verf, nan)));
    CHECK(std::isnan(lane0(vtanh, nan)));
    // lanes are independent: a NaN or infinity in one lane leaves the others' values
    const Vec mixed = plateau::vmath::erf(Vec{nan, 0.3, inf, -3.0});
    CHECK(mixed[1] == lane0(verf, 0.3));
    CHECK(mixed[3] == lane0(verf, -3.0));
}

TEST_CASE("vector math: the AVX2 code gives the portable code's bits", "[vector_math][theory]") {
    if (!__builtin_cpu_supports("avx2")) {
        WARN("no AVX2 on this CPU: not checked");
        return;
    }
    const std::vector<double> x = arguments();
    std::vector<double> a(3 * x.size()), b(3 * x.size());
    kernels_avx2(x, a);
    kernels_default(x, b);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        differ += std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i]) &&
                  !(std::isnan(a[i]) && std::isnan(b[i]));
    CHECK(differ == 0);
}

TEST_CASE("vector math: activations' vector forms against their scalar values",
          "[vector_math][theory]") {
    using plateau::ActivationKind;
    const Vec x{-3.7, -0.2, 0.45, 2.9};
    for (const auto kind : plateau::all_activation_kinds) {
        const plateau::Activation g = plateau::typical_activation(kind, 1.5);
        INFO("activation " << plateau::name(kind));
        const Vec value = g.value(x);
        const auto both = g.value_and_derivative(x);
        for (std::size_t l = 0; l < 4; ++l) {
            const auto one = g.value_and_derivative(x[l]);
            // erf, tanh: the vector kernels, within a few ulp (the slope's 1 - t^2 a few more
            // near t^2 = 1: absolute 2e-15); every other kind: the scalar values, lane by lane, bit
            // for bit
            const double tol = g.has_vector_form() ? 3.0 : 0.0;
            CHECK(ulps(value[l], g.value(x[l])) <= tol);
            CHECK(ulps(both.value[l], one.value) <= tol);
            CHECK(std::abs(both.slope[l] - one.slope) <= 2e-15);
        }
    }
    CHECK(plateau::Activation{ActivationKind::erf}.has_vector_form());
    CHECK(plateau::Activation{ActivationKind::tanh}.has_vector_form());
    CHECK_FALSE(plateau::Activation{ActivationKind::sigmoid}.has_vector_form());
}
