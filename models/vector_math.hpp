// Vector math at the quadrature's nodes (docs/theory.md §9 "Vector math at the nodes";
// docs/PERFORMANCE.md §33): exp, erf and tanh on four doubles at once (GCC vector extensions), for
// the tensor rule's per-node integrand, Eq. (10.1) of docs/theory.md §10 "Equations". The double
// overloads are libm's (std::exp, std::erf, std::tanh): an evaluator's formula written once with
// vmath::f serves both (models/activations/erf.hpp, tanh.hpp).
//
// Bit for bit the same on every x86-64 CPU and vector width: only IEEE +, -, *, / and exact bit
// operations (no FMA: a caller compiled for AVX2 contracts nothing, "avx2" does not imply "fma"),
// so the portable `default` code (two SSE2 halves) and an AVX2 clone of a caller give the same
// values, and the golden files hold on both. Accuracy (tests/test_vector_math.cpp, against libm
// over 10^6 arguments up to |x| = 800 and down to 1e-148, tails, special values): exp <= 1 ulp,
// erf <= 2 ulp, tanh <= 3 ulp (measured maxima; the polynomials' own error is below 2e-17
// relative, the rest is rounding). Polynomials: near-minimax Chebyshev fits (mpmath.chebyfit,
// 50 digits), coefficients rounded to double, highest degree first.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace plateau::vmath {

/// Four doubles, four int64 / uint64 lanes (one AVX register, or two SSE2 registers).
using Vec = double __attribute__((vector_size(32)));
using IVec = std::int64_t __attribute__((vector_size(32)));
using UVec = std::uint64_t __attribute__((vector_size(32)));
inline constexpr std::size_t lanes = 4;

namespace detail {

// exp(r) = 1 + r + r^2 Q(r), |r| <= ln2/2, the degree-12 fit (error 4.21e-20); Q
inline constexpr std::array<double, 11> exp_tail{2.092161270126645e-09,
                                                 2.51149153726104e-08,
                                                 2.7557251805838646e-07,
                                                 2.7557224820682715e-06,
                                                 2.4801587350217137e-05,
                                                 0.0001984126990936602,
                                                 0.001388888888887184,
                                                 0.008333333333309458,
                                                 0.04166666666666669,
                                                 0.16666666666666702,
                                                 0.5};
// erf(z)/z in s = z^2 in [0, 0.64], degree 11; fit error 4.04e-20
inline constexpr std::array<double, 12> erf_small{
    -9.174107620833158e-10, 1.4310100743152348e-08,  -1.6319093857978072e-07,
    1.6459296345395267e-06, -1.4925537564176553e-05, 0.00012055329960864425,
    -0.0008548326970088456, 0.005223977624843868,    -0.026866170645091635,
    0.1128379167095499,     -0.3761263890318375,     1.1283791670955126};
// erfc(z) exp(z^2) in u = (z - 1.5) / 0.7000000000000001, z in [0.8, 2.2], degree 17 (erf abs
// err 7.54e-18); fit error 1.43e-17
inline constexpr std::array<double, 18> erfc_a{
    -8.681400341705983e-12,  4.756129263558953e-11,  -2.160033566560161e-10,
    1.1236528043781177e-09,  -5.777666979418893e-09, 2.8622549286450558e-08,
    -1.3791701911798438e-07, 6.458525038464917e-07,  -2.9320500625889502e-06,
    1.2873376591360666e-05,  -5.451278717638607e-05, 0.00022190188162382233,
    -0.0008648810850988095,  0.0032118995628824362,  -0.011295300517749652,
    0.03731400952918201,     -0.11453604241279204,   0.3215854164543175};
// erfc(z) exp(z^2) in u = (z - 4.1) / 1.9, z in [2.2, 6.0], degree 20 (erf abs err 1.84e-18); fit
// error 2.32e-16
inline constexpr std::array<double, 21> erfc_b{
    5.321708272874445e-10,   -1.6639251126738758e-09, 2.353535290202462e-09,
    -7.0150997929797395e-09, 2.6920021813324244e-08,  -7.951028440361648e-08,
    2.240162293363351e-07,   -6.431622865963188e-07,  1.8276484119589692e-06,
    -5.105540191366226e-06,  1.4052319709967873e-05,  -3.8100464128147005e-05,
    0.00010168058782844029,  -0.0002669100284720021,  0.0006886290839673832,
    -0.0017447660593090946,  0.004337289446160576,    -0.010567700816468522,
    0.025206916412888563,    -0.05878488367887262,    0.13383411641865198};
// (tanh(x)/x - 1)/x^2 in s = x^2 in [0, 0.25], degree 10; fit error 1.06e-18
inline constexpr std::array<double, 11> tanh_small{
    -2.295330465333733e-05, 8.819580305745065e-05, -0.00023635364294136244, 0.0005894667419101905,
    -0.0014557608138655873, 0.0035921217969498704, -0.008863235198659135,   0.0218694885258676,
    -0.053968253968089755,  0.1333333333333323,    -0.3333333333333333};

[[gnu::always_inline]] inline Vec splat(double c) noexcept {
    return Vec{c, c, c, c};
}

/// sum_k c_k x^(N-1-k) as E(x^2) + x O(x^2), E and O by Horner from the highest degree: two
/// independent chains of half the length (a chain of N dependent multiply-adds waits on their
/// latency; the kernels run one vector at a time), fully unrolled.
template <std::size_t N>
[[gnu::always_inline]] inline Vec horner(const std::array<double, N>& c, Vec x) noexcept {
    static_assert(N >= 2);
    const Vec x2 = x * x;
    // degree d = N - 1 - k of c[k]: even degrees into E, odd into O
    constexpr std::size_t first_even = (N - 1) % 2 == 0 ? 0 : 1; // c index of the highest even
    constexpr std::size_t first_odd = 1 - first_even;
    Vec e = splat(c[first_even]);
    Vec o = splat(c[first_odd]);
#pragma GCC unroll 16
    for (std::size_t k = first_even + 2; k < N; k += 2)
        e = e * x2 + c[k];
#pragma GCC unroll 16
    for (std::size_t k = first_odd + 2; k < N; k += 2)
        o = o * x2 + c[k];
    return e + x * o;
}

/// True if any lane of the comparison mask m is set.
[[gnu::always_inline]] inline bool any(IVec m) noexcept {
    return (m[0] | m[1] | m[2] | m[3]) != 0;
}

inline constexpr std::int64_t sign_bit = std::int64_t{1} << 63;

/// Lanes that are NaN: |x|'s bits above infinity's.
[[gnu::always_inline]] inline IVec is_nan(Vec x) noexcept {
    return (std::bit_cast<IVec>(x) & ~sign_bit) > std::bit_cast<std::int64_t>(HUGE_VAL);
}

[[gnu::always_inline]] inline Vec abs(Vec x) noexcept {
    return std::bit_cast<Vec>(std::bit_cast<IVec>(x) & ~sign_bit);
}
/// |magnitude| with the sign of s (magnitude >= 0 or NaN).
[[gnu::always_inline]] inline Vec with_sign_of(Vec magnitude, Vec s) noexcept {
    return std::bit_cast<Vec>(std::bit_cast<IVec>(magnitude) | (std::bit_cast<IVec>(s) & sign_bit));
}

} // namespace detail

inline double exp(double x) noexcept {
    return std::exp(x);
}
inline double erf(double x) noexcept {
    return std::erf(x);
}
inline double tanh(double x) noexcept {
    return std::tanh(x);
}

/// exp(x) = 2^n exp(r), n = round(x / ln 2), r = x - n ln 2 (Cody-Waite, ln 2 in two parts, the
/// first with n ln2_hi exact), exp(r) = 1 + r + r^2 Q(r) of degree 12; 2^n as two exact
/// power-of-two factors so that results down to the subnormals round once. exp(x > 709.78) = inf,
/// exp(x < -745.2) = 0, NaN -> NaN.
[[gnu::always_inline]] inline Vec exp(Vec x) noexcept {
    using namespace detail;
    constexpr double log2e = 1.4426950408889634;
    constexpr double ln2_hi = 6.93145751953125e-1; // 11 significant bits of ln 2
    constexpr double ln2_lo = 1.42860682030941723212e-6;
    constexpr double shifter = 0x1.8p52; // x + shifter - shifter rounds x to an integer
    const Vec xc = x < -746.0 ? splat(-746.0) : (x > 710.0 ? splat(710.0) : x);
    const Vec t = xc * log2e + shifter;
    const Vec n = t - shifter;
    const Vec r = (xc - n * ln2_hi) - n * ln2_lo;
    const Vec p = 1.0 + (r + r * r * horner(exp_tail, r));
    // n as an integer from t's low mantissa bits; n = n1 + n2, each 2^n_i a normal double
    const IVec ni = std::bit_cast<IVec>(t) - std::bit_cast<std::int64_t>(shifter);
    const IVec n1 = std::bit_cast<IVec>(std::bit_cast<UVec>(ni + 2048) >> 1) - 1024;
    const IVec n2 = ni - n1;
    const Vec s1 = std::bit_cast<Vec>((n1 + 1023) << 52);
    const Vec s2 = std::bit_cast<Vec>((n2 + 1023) << 52);
    Vec y = p * s1 * s2;
    y = x > 709.782712893384 ? splat(HUGE_VAL) : y;
    y = x < -745.1332191019412 ? splat(0.0) : y;
    return is_nan(x) ? x : y;
}

/// erf(z): |z| < 0.8: z P(z^2); 0.8 <= |z| < 6: 1 - exp(-z^2) F(|z|), F = erfc exp(z^2) by two
/// polynomials ([0.8, 2.2], [2.2, 6]); |z| >= 6: 1 (erfc(6) = 2e-17 < ulp(1)/2); odd.
[[gnu::always_inline]] inline Vec erf(Vec z) noexcept {
    using namespace detail;
    const Vec a = abs(z);
    const Vec s = a * a;
    const Vec small = a * horner(erf_small, s);
    const IVec large = a >= 0.8 || is_nan(a);
    if (!any(large))
        return with_sign_of(small, z);
    const IVec in_a = a < 2.2;
    Vec F = splat(0.0);
    if (any(large & in_a))
        F = horner(erfc_a, (a - 1.5) * (1.0 / 0.7));
    if (any(large & ~in_a))
        F = in_a ? F : horner(erfc_b, (a - 4.1) * (1.0 / 1.9));
    Vec y = 1.0 - exp(-s) * F;
    y = a >= 6.0 ? splat(1.0) : y;
    y = large ? y : small;
    return with_sign_of(y, z);
}

/// tanh(x): |x| < 0.5: |x| + |x| x^2 P(x^2); else (1 - e) / (1 + e), e = exp(-2|x|); odd.
[[gnu::always_inline]] inline Vec tanh(Vec x) noexcept {
    using namespace detail;
    const Vec a = abs(x);
    const Vec s = a * a;
    const IVec small = a < 0.5;
    Vec y = splat(0.0);
    if (any(small))
        y = a + a * s * horner(tanh_small, s);
    if (any(~small)) {
        const Vec e = exp(-2.0 * a);
        y = small ? y : (1.0 - e) / (1.0 + e);
    }
    return with_sign_of(y, x);
}

} // namespace plateau::vmath
