#include "engine/core/random_simd.hpp"

#include <bit>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PLATEAU_X86_KERNELS 1
#include <immintrin.h>
#else
#define PLATEAU_X86_KERNELS 0
#endif

namespace plateau {

namespace {

constexpr std::size_t refill_lanes = 4;

// ---------------------------------------------------------------------------------------------
// Scalar kernels: the reference every level reproduces.

void refill_scalar(std::uint64_t (&s)[4][4], std::uint64_t* block, std::size_t block_size) {
    // Local copies so that the compiler keeps the 4 state vectors in registers. The inner loop
    // over the lanes must stay a loop for GCC's loop vectorizer to turn it into one 256-bit (AVX2)
    // or two 128-bit (SSE2) operations per step: fully unrolled, GCC 12 leaves it scalar (the
    // SLP vectorizer does not handle the loop-carried state), hence "unroll 1". Checked in the
    // assembly at -O2 and -O3, with and without -march=native.
    alignas(32) std::uint64_t s0[refill_lanes];
    alignas(32) std::uint64_t s1[refill_lanes];
    alignas(32) std::uint64_t s2[refill_lanes];
    alignas(32) std::uint64_t s3[refill_lanes];
    for (std::size_t l = 0; l < refill_lanes; ++l) {
        s0[l] = s[0][l];
        s1[l] = s[1][l];
        s2[l] = s[2][l];
        s3[l] = s[3][l];
    }
    for (std::size_t k = 0; k < block_size; k += refill_lanes) {
#pragma GCC unroll 1
        for (std::size_t l = 0; l < refill_lanes; ++l) {
            // xoshiro256++ (Blackman & Vigna, reference implementation xoshiro256plusplus.c).
            block[k + l] = std::rotl(s0[l] + s3[l], 23) + s0[l];
            const std::uint64_t t = s1[l] << 17;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = std::rotl(s3[l], 45);
        }
    }
    for (std::size_t l = 0; l < refill_lanes; ++l) {
        s[0][l] = s0[l];
        s[1][l] = s1[l];
        s[2][l] = s2[l];
        s[3][l] = s3[l];
    }
}

std::size_t fast_run_scalar(const std::uint64_t* words, std::size_t n,
                            const detail::ZigguratLayer* layers, double* out) {
    std::size_t m = 0;
    for (; m < n; ++m) {
        const std::uint64_t u = words[m];
        const std::uint64_t j = u >> 11;
        const auto& layer = layers[u & 0xff];
        if (j >= layer.k) [[unlikely]]
            break;
        out[m] =
            detail::with_sign_bit8(static_cast<double>(static_cast<std::int64_t>(j)) * layer.w, u);
    }
    return m;
}

#if PLATEAU_X86_KERNELS

// ---------------------------------------------------------------------------------------------
// AVX2: 4 lanes per register. The xoshiro state of the 4 lanes is one register per word; the
// ziggurat gathers k and w of 4 layers, and converts the 53-bit magnitude to double exactly as
// hi * 2^32 + lo, each half through the exponent trick (2^84 + hi 2^32 and 2^52 + lo are
// doubles whose mantissas hold the halves; subtracting the offsets is exact, and so is the sum,
// an integer below 2^53). No product feeds an addition: nothing an FMA could change.

__attribute__((target("avx2"))) __m256i rotl_avx2(__m256i x, int r) {
    return _mm256_or_si256(_mm256_slli_epi64(x, r), _mm256_srli_epi64(x, 64 - r));
}

// refill_scalar's loop with the 4 lanes of each state word in one 256-bit register (the body of
// the AVX2 and AVX-512 refills, which differ in the rotation alone: ROTL(x, r) rotates each
// 64-bit lane of x left by the constant r). A macro, because each copy must be compiled inside a
// function of its own instruction set.
#define PLATEAU_REFILL_4_LANES(ROTL)                                                               \
    __m256i s0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[0]));                       \
    __m256i s1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[1]));                       \
    __m256i s2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[2]));                       \
    __m256i s3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[3]));                       \
    for (std::size_t k = 0; k < block_size; k += refill_lanes) {                                   \
        /* xoshiro256++, as refill_scalar */                                                       \
        const __m256i out = _mm256_add_epi64(ROTL(_mm256_add_epi64(s0, s3), 23), s0);              \
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(block + k), out);                           \
        const __m256i t = _mm256_slli_epi64(s1, 17);                                               \
        s2 = _mm256_xor_si256(s2, s0);                                                             \
        s3 = _mm256_xor_si256(s3, s1);                                                             \
        s1 = _mm256_xor_si256(s1, s2);                                                             \
        s0 = _mm256_xor_si256(s0, s3);                                                             \
        s2 = _mm256_xor_si256(s2, t);                                                              \
        s3 = ROTL(s3, 45);                                                                         \
    }                                                                                              \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(s[0]), s0);                                     \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(s[1]), s1);                                     \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(s[2]), s2);                                     \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(s[3]), s3);                                     \
    _mm256_zeroupper() /* clean upper halves for the SSE code after: see fast_run_avx512 */

__attribute__((target("avx2"))) void refill_avx2(std::uint64_t (&s)[4][4], std::uint64_t* block,
                                                 std::size_t block_size) {
    PLATEAU_REFILL_4_LANES(rotl_avx2);
}

__attribute__((target("avx2"))) std::size_t fast_run_avx2(const std::uint64_t* words, std::size_t n,
                                                          const detail::ZigguratLayer* layers,
                                                          double* out) {
    const auto* const k_base = reinterpret_cast<const long long*>(&layers[0].k);
    const auto* const w_base = &layers[0].w;
    const __m256i low8 = _mm256_set1_epi64x(0xff);
    const __m256i bit8 = _mm256_set1_epi64x(0x100);
    const __m256i lo32 = _mm256_set1_epi64x(0xffffffffLL);
    const __m256i exp52 = _mm256_set1_epi64x(0x4330000000000000LL); // 2^52
    const __m256i exp84 = _mm256_set1_epi64x(0x4530000000000000LL); // 2^84
    const __m256d off84 = _mm256_set1_pd(0x1p84);
    const __m256d off52 = _mm256_set1_pd(0x1p52);
    std::size_t m = 0;
    for (; m + 4 <= n; m += 4) {
        const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + m));
        const __m256i index = _mm256_slli_epi64(_mm256_and_si256(u, low8), 1); // 16-byte records
        const __m256i k = _mm256_i64gather_epi64(k_base, index, 8);
        const __m256d w = _mm256_i64gather_pd(w_base, index, 8);
        const __m256i j = _mm256_srli_epi64(u, 11);
        // j, k < 2^63: the signed comparison is the unsigned one.
        const int accepted = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(k, j)));
        const __m256d hi = _mm256_sub_pd(
            _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(j, 32), exp84)), off84);
        const __m256d lo = _mm256_sub_pd(
            _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(j, lo32), exp52)), off52);
        const __m256d x = _mm256_mul_pd(_mm256_add_pd(hi, lo), w);
        const __m256i sign = _mm256_slli_epi64(_mm256_and_si256(u, bit8), 55);
        const __m256d y = _mm256_castsi256_pd(_mm256_xor_si256(_mm256_castpd_si256(x), sign));
        if (accepted == 0xf) [[likely]] {
            _mm256_storeu_pd(out + m, y);
            continue;
        }
        alignas(32) double lanes[4];
        _mm256_store_pd(lanes, y);
        _mm256_zeroupper(); // see fast_run_avx512
        const auto run = static_cast<std::size_t>(std::countr_one(static_cast<unsigned>(accepted)));
        for (std::size_t l = 0; l < run; ++l)
            out[m + l] = lanes[l];
        return m + run;
    }
    _mm256_zeroupper(); // see fast_run_avx512
    return m + fast_run_scalar(words + m, n - m, layers, out + m);
}

// ---------------------------------------------------------------------------------------------
// AVX-512 (F, DQ, VL): the same with 8-lane gathers, masks and an exact int64 -> double
// conversion; the xoshiro lanes stay 4 (one 256-bit register, with the VL rotate).

__attribute__((target("avx512f,avx512dq,avx512vl"))) void
refill_avx512(std::uint64_t (&s)[4][4], std::uint64_t* block, std::size_t block_size) {
    PLATEAU_REFILL_4_LANES(_mm256_rol_epi64); // VL's one-instruction rotate
}

#undef PLATEAU_REFILL_4_LANES

__attribute__((target("avx512f,avx512dq,avx512vl"))) std::size_t
fast_run_avx512(const std::uint64_t* words, std::size_t n, const detail::ZigguratLayer* layers,
                double* out) {
    // The masked forms of the shifts and gathers, with every lane on: GCC 12's plain forms pass
    // an undefined source register, which -Wmaybe-uninitialized reports.
    constexpr __mmask8 all = 0xff;
    const auto* const k_base = reinterpret_cast<const long long*>(&layers[0].k);
    const auto* const w_base = &layers[0].w;
    const __m512i low8 = _mm512_set1_epi64(0xff);
    const __m512i bit8 = _mm512_set1_epi64(0x100);
    const __m512i zero = _mm512_setzero_si512();
    const __m512d zero_pd = _mm512_setzero_pd();
    std::size_t m = 0;
    for (; m + 8 <= n; m += 8) {
        const __m512i u = _mm512_loadu_si512(words + m);
        // 16-byte records: the index of layer i's k (and w) in 8-byte units is 2i.
        const __m512i index = _mm512_maskz_slli_epi64(all, _mm512_and_si512(u, low8), 1);
        const __m512i k = _mm512_mask_i64gather_epi64(zero, all, index, k_base, 8);
        const __m512d w = _mm512_mask_i64gather_pd(zero_pd, all, index, w_base, 8);
        const __m512i j = _mm512_maskz_srli_epi64(all, u, 11);
        const __mmask8 accepted = _mm512_cmplt_epu64_mask(j, k);
        const __m512d x = _mm512_mul_pd(_mm512_cvtepi64_pd(j), w); // j < 2^53: exact
        const __m512i sign = _mm512_maskz_slli_epi64(all, _mm512_and_si512(u, bit8), 55);
        const __m512d y = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(x), sign));
        if (accepted == all) [[likely]] {
            _mm512_storeu_pd(out + m, y);
            continue;
        }
        const auto run = static_cast<unsigned>(std::countr_one(static_cast<unsigned>(accepted)));
        _mm512_mask_storeu_pd(out + m, static_cast<__mmask8>((1U << run) - 1U), y);
        _mm256_zeroupper();
        return m + run;
    }
    // Clean upper register halves before the SSE code that follows (the scalar tail here, the
    // caller's code after the return): GCC 12 leaves out its own vzeroupper on this path, and
    // SSE code after dirty upper halves ran ~3x slower here (an SSE2 Eigen GEMM after the
    // normals of a training set: docs/PERFORMANCE.md §26).
    _mm256_zeroupper();
    return m + fast_run_scalar(words + m, n - m, layers, out + m);
}

#endif // PLATEAU_X86_KERNELS

[[nodiscard]] SimdLevel detect_simd_level() noexcept {
#if PLATEAU_X86_KERNELS
    // __builtin_cpu_supports also checks that the operating system saves the wide registers.
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return SimdLevel::avx512;
    if (__builtin_cpu_supports("avx2"))
        return SimdLevel::avx2;
#endif
    return SimdLevel::scalar;
}

} // namespace

SimdLevel best_simd_level() noexcept {
    static const SimdLevel level = detect_simd_level();
    return level;
}

bool simd_level_supported(SimdLevel level) noexcept {
    return static_cast<int>(level) <= static_cast<int>(best_simd_level());
}

namespace detail {

void xoshiro_refill(SimdLevel level, std::uint64_t (&s)[4][4], std::uint64_t* block,
                    std::size_t block_size) noexcept {
    switch (level) {
#if PLATEAU_X86_KERNELS
    case SimdLevel::avx512:
        refill_avx512(s, block, block_size);
        return;
    case SimdLevel::avx2:
        refill_avx2(s, block, block_size);
        return;
#endif
    default:
        refill_scalar(s, block, block_size);
        return;
    }
}

std::size_t ziggurat_fast_run(SimdLevel level, const std::uint64_t* words, std::size_t n,
                              const ZigguratLayer* layers, double* out) noexcept {
    switch (level) {
#if PLATEAU_X86_KERNELS
    case SimdLevel::avx512:
        return fast_run_avx512(words, n, layers, out);
    case SimdLevel::avx2:
        return fast_run_avx2(words, n, layers, out);
#endif
    default:
        return fast_run_scalar(words, n, layers, out);
    }
}

} // namespace detail

} // namespace plateau
