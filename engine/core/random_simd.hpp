// The vector kernels of the random streams (engine/core/random.hpp), chosen at run time by what
// the CPU offers, so that one portable binary draws normals as fast as a -march=native one.
//
// Every kernel computes exactly what the scalar code computes, bit for bit, on every level: the
// uniform block is the same four xoshiro256++ lanes (only the registers that hold them differ),
// and the ziggurat's fast path is an exact integer test, an exact integer-to-double conversion
// (the magnitude has 53 bits) and one IEEE multiplication per draw. A kernel stops at the first
// draw that fails the fast test, as the scalar loop does, so the slow path consumes the same
// words in the same order. The streams' values therefore do not depend on the level (the tests
// compare every level the CPU supports against the scalar one).
#pragma once

#include "engine/core/enum_table.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace plateau {

/// The instruction-set level of the random kernels. scalar: the portable C++ loops (which the
/// compiler may still vectorize for the build's target); avx2: 256-bit integer vectors and
/// gathers; avx512: AVX-512 F + DQ + VL (8-lane gathers, 64-bit compares into masks, exact
/// int64 -> double conversion, 64-bit rotates).
enum class SimdLevel { scalar, avx2, avx512 };

[[nodiscard]] constexpr auto enum_table(SimdLevel) noexcept {
    return std::to_array<EnumEntry<SimdLevel>>(
        {{SimdLevel::scalar, "scalar"}, {SimdLevel::avx2, "avx2"}, {SimdLevel::avx512, "avx512"}});
}

/// Whether this CPU (and operating system) can run the kernels of a level; scalar always.
[[nodiscard]] bool simd_level_supported(SimdLevel level) noexcept;

/// The highest supported level, determined once per process.
[[nodiscard]] SimdLevel best_simd_level() noexcept;

namespace detail {

/// What the ziggurat's fast path needs of layer i, side by side in one 16-byte record (the
/// vector kernels gather both fields with one index).
struct ZigguratLayer {
    std::uint64_t k; ///< accept at once iff magnitude (53 bits) < k: floor(2^53 x[i+1]/x[i])
    double w;        ///< x[i] * 2^-53: magnitude -> abscissa
};

/// One refill of a 4-lane xoshiro256++ block: block[4k + l] is output k of lane l, for
/// 4k + l < block_size; s[word][lane] is the state, advanced by block_size / 4 steps.
void xoshiro_refill(SimdLevel level, std::uint64_t (&s)[4][4], std::uint64_t* block,
                    std::size_t block_size) noexcept;

/// Gives a >= 0 the sign bit 8 of u: the ziggurat's sign, for the scalar paths of every level.
[[nodiscard]] inline double with_sign_bit8(double a, std::uint64_t u) noexcept {
    return std::bit_cast<double>(std::bit_cast<std::uint64_t>(a) ^ ((u & 0x100) << 55));
}

/// The ziggurat's fast path over words[0, n): for each word u in order, layer i = u & 0xff,
/// magnitude j = u >> 11; while j < layers[i].k, out[m] = j * layers[i].w with the sign of bit
/// 8 of u. Returns the number of words so accepted: the first rejected word (if any) is
/// words[return value], untouched, for the caller's slow path.
[[nodiscard]] std::size_t ziggurat_fast_run(SimdLevel level, const std::uint64_t* words,
                                            std::size_t n, const ZigguratLayer* layers,
                                            double* out) noexcept;

} // namespace detail

} // namespace plateau
