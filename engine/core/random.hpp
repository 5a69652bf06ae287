// Random number streams of the engine: counter-free keyed seeding, a 4-lane xoshiro256++ uniform
// generator with block refill, and a 256-layer ziggurat for standard normals.
//
// Keying. Every stream is identified by a StreamKey (master seed, run index, purpose). The three
// words are absorbed one after the other through the SplitMix64 finalizer (a bijective 64-bit
// mixer), so that changing any one of them changes the whole state; the resulting 64-bit word is
// the starting point of a SplitMix64 sequence whose first 16 outputs become the 4 x 4 words of the
// xoshiro256++ state. Nothing is counted or registered globally: two streams built from different
// keys are statistically independent, whatever order they are created in and whatever thread
// creates them.
//
// Generator. UniformStream runs 4 independent xoshiro256++ generators ("lanes", Blackman & Vigna
// 2018) in structure-of-arrays layout, so that the block refill is auto-vectorized (4 x 64-bit
// lanes fit an AVX2 register; 2 per SSE2 register). xoshiro256++ rather than xoshiro256+ because
// the ziggurat uses all 64 bits of every output, including the low ones, which are weak in
// xoshiro256+. Outputs are interleaved lane by lane: block[4k + l] is output k of lane l.
//
// Normals. NormalStream implements the ziggurat of Marsaglia & Tsang (2000) with 256 layers
// (r = 3.6541528853610088) in its 64-bit form: one uint64 gives the layer (8 low bits), the sign
// (bit 8) and a 53-bit magnitude (bits 11..63); 98.5% of the draws are accepted by a single integer
// comparison. The tables are built once, at first use, and are immutable.
//
// Vector kernels. The refill and the fast path of fill() run at the widest instruction set the CPU
// offers (AVX2 or AVX-512, chosen at run time: engine/core/random_simd.hpp), with the values of
// the scalar code, bit for bit.
//
// Determinism: the same key followed by the same sequence of calls yields the same values. This
// holds bit for bit across compilers, optimization levels and instruction sets (portable or
// -march=native: the code avoids expressions a compiler could fuse into FMAs), given the same C
// library; exp, log, expm1, log1p and erfc of the C library enter the tables and the slow paths.
// In addition, NormalStream::fill(out) produces exactly the values (and leaves the stream in
// exactly the state) of out.size() calls of next(). Nothing more is promised: in particular the
// values depend on the call pattern (drawing uniforms through uniform() between normals shifts
// all subsequent normals).
//
// None of these classes is thread-safe; give each thread its own stream (its own key).
#pragma once

#include "engine/core/random_simd.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

namespace plateau {

/// What a stream is used for; part of its key, so that e.g. the teacher and the examples of one
/// run never share random numbers. The values are part of the output format (they determine the
/// streams): never renumber them.
enum class StreamPurpose : std::uint64_t {
    teacher = 1,
    student_init = 2,
    examples = 3,
    noise = 4,
    observer = 5,
    /// Example mu of a finite training set (engine/simulation/training_set.hpp): the stream keyed
    /// by (master seed, run, training_set), rehashed with mu.
    training_set = 6,
    /// The order in which batches are drawn from a finite training set (shuffles of the epochs,
    /// or indices drawn with replacement): engine/simulation/batch_trainer.hpp.
    sampling = 7,
    /// The exact initial Gram matrix of dynamics = gram (engine/simulation/gram_dynamics.hpp).
    gram_initial = 8,
    /// The per-step draws of dynamics = gram: the r field normals z and the chi^2_{N-r}.
    gram_steps = 9,
    /// The teacher and the initial student when several runs share them (init-seed = shared):
    /// keyed by (master seed, seed index) instead of (master seed, run index).
    teacher_shared = 10,
    student_init_shared = 11,
    /// The initial Gram matrix of dynamics = gram with init-seed = shared.
    gram_initial_shared = 12,
    /// The student's weights above the first layer of a deeper network (docs/theory.md §12),
    /// keyed by the run index, or by the seed index with init-seed = shared.
    student_layers = 13,
    /// The teacher's weights above the first layer of a deeper network, keyed as student_layers.
    teacher_layers = 14,
    /// The feature matrix F of hidden-manifold inputs (docs/theory.md §16), keyed as the teacher:
    /// by the run index, or by the seed index with init-seed = shared (features_shared).
    features = 15,
    features_shared = 16,
};

/// Identifies a random stream: (master seed, run index, purpose).
struct StreamKey {
    std::uint64_t seed = 0;
    std::uint64_t run = 0;
    StreamPurpose purpose = StreamPurpose::examples;

    friend bool operator==(const StreamKey&, const StreamKey&) = default;
};

/// The SplitMix64 output function (Steele, Lea & Flood 2014; constants of Stafford's "Mix13"):
/// a bijection of 64-bit words with good avalanche.
[[nodiscard]] constexpr std::uint64_t splitmix64_mix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// The 64-bit word that starts the SplitMix64 expansion of a key (exposed for tests).
[[nodiscard]] constexpr std::uint64_t key_hash(const StreamKey& key) noexcept {
    // Absorb the words one at a time; each step is a bijection of the running hash for a fixed
    // word and of the word for a fixed running hash.
    std::uint64_t h = splitmix64_mix(key.seed ^ 0x243f6a8885a308d3ULL); // pi, as a domain tag
    h = splitmix64_mix((h + 0x9e3779b97f4a7c15ULL) ^ key.run);
    h = splitmix64_mix((h + 0x9e3779b97f4a7c15ULL) ^ static_cast<std::uint64_t>(key.purpose));
    return h;
}

/// Uniform random numbers: 4 lanes of xoshiro256++, refilled a block at a time.
class UniformStream {
public:
    static constexpr std::size_t lanes = 4;
    static constexpr std::size_t block_size = 256; ///< uint64 per refill (a multiple of lanes)

    /// The stream of a key. level: the refill kernel (engine/core/random_simd.hpp); every level
    /// gives the same values, the CPU's best by default.
    explicit UniformStream(StreamKey key, SimdLevel level = best_simd_level()) noexcept;

    /// 64 uniformly distributed bits.
    [[nodiscard]] std::uint64_t next_u64() noexcept {
        if (pos_ == block_size) [[unlikely]]
            refill();
        return block_[pos_++];
    }

    /// Uniform on [0, 1): a multiple of 2^-53.
    [[nodiscard]] double next_double() noexcept { return to_unit(next_u64()); }

    /// The top 53 bits of u as a double in [0, 1).
    [[nodiscard]] static constexpr double to_unit(std::uint64_t u) noexcept {
        return static_cast<double>(static_cast<std::int64_t>(u >> 11)) * 0x1p-53;
    }

private:
    friend class NormalStream; // NormalStream::fill reads the block directly

    void refill() noexcept;

    alignas(64) std::uint64_t block_[block_size];
    alignas(32) std::uint64_t s_[4][lanes]; ///< s_[word][lane]
    std::size_t pos_ = block_size;
    SimdLevel level_;
};

namespace detail {

/// The 256-layer ziggurat for f(x) = exp(-x^2/2) (unnormalized half-normal density).
/// Layer i = 1..255 is the rectangle [0, x[i]] x [f(x[i]), f(x[i+1])] with x[1] = r and
/// x[256] = 0; layer 0 is the base strip [0, r] x [0, f(r)] plus the tail x > r, treated as a
/// rectangle of width x[0] = v / f(r). Every layer has area v.
struct ZigguratTables {
    static constexpr int layers = 256;
    static constexpr double r = 3.6541528853610088;

    /// What the fast path needs, side by side in one 16-byte record.
    using Layer = ZigguratLayer;

    double v = 0.0;              ///< common layer area, = r f(r) + int_r^inf f
    std::array<double, 257> x{}; ///< layer edges, decreasing; x[0] = v/f(r), x[256] = 0
    std::array<double, 257> f{}; ///< f(x[i]) for i >= 1 (f[256] = 1); f[0] = f(r)
    alignas(64) std::array<Layer, 256> layer{};
};

/// The tables, computed on first use (thread-safe), then immutable.
[[nodiscard]] const ZigguratTables& ziggurat_tables() noexcept;

/// A draw from the normal tail beyond r (a value > r, density proportional to f), by the exact
/// algorithm of Marsaglia (1964); the slow path of NormalStream. Exposed for tests.
[[nodiscard]] double ziggurat_tail(UniformStream& uniform) noexcept;

} // namespace detail

/// Standard normal random numbers (mean 0, variance 1) by the ziggurat method.
class NormalStream {
public:
    /// The stream of a key. level: the kernels of fill() and of the uniform refill
    /// (engine/core/random_simd.hpp); every level gives the same values, the CPU's best by default.
    explicit NormalStream(StreamKey key, SimdLevel level = best_simd_level()) noexcept;

    /// One standard normal.
    [[nodiscard]] double next() noexcept {
        const std::uint64_t u = uniform_.next_u64();
        const std::size_t i = u & 0xff;
        const std::uint64_t j = u >> 11;
        const auto& layer = layers_[i];
        if (j < layer.k) [[likely]]
            return detail::with_sign_bit8(
                static_cast<double>(static_cast<std::int64_t>(j)) * layer.w, u);
        return slow(u);
    }

    /// Fills out with standard normals: the same values as out.size() calls of next().
    void fill(std::span<double> out) noexcept;

    /// The underlying uniform stream (shared with the normals: drawing from it shifts them).
    [[nodiscard]] UniformStream& uniform() noexcept { return uniform_; }
    [[nodiscard]] const UniformStream& uniform() const noexcept { return uniform_; }

private:
    /// Wedge and tail tests for a draw u rejected by the fast test, then retries until accepted.
    [[nodiscard]] double slow(std::uint64_t u) noexcept;

    UniformStream uniform_;
    const detail::ZigguratTables::Layer* layers_;
};

} // namespace plateau
