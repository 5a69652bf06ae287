#include "engine/core/random.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace plateau {

namespace {

/// f(x) = exp(-x^2/2), the unnormalized density of the ziggurat.
double half_gauss(double x) {
    return std::exp(-0.5 * x * x);
}

} // namespace

// ---------------------------------------------------------------------------------------------
// UniformStream

UniformStream::UniformStream(StreamKey key, SimdLevel level) noexcept : block_{}, level_(level) {
    // SplitMix64 expansion of the key hash: 16 consecutive outputs, word-major. The outputs of
    // a SplitMix64 sequence are distinct (bijective mixer of distinct inputs), so no lane can
    // start in the forbidden all-zero state.
    std::uint64_t z = key_hash(key);
    for (auto& word : s_) {
        for (auto& lane : word) {
            z += 0x9e3779b97f4a7c15ULL;
            lane = splitmix64_mix(z);
        }
    }
}

void UniformStream::refill() noexcept {
    detail::xoshiro_refill(level_, s_, block_, block_size);
    pos_ = 0;
}

// ---------------------------------------------------------------------------------------------
// Ziggurat tables

namespace detail {

namespace {

ZigguratTables make_ziggurat_tables() {
    ZigguratTables t;
    constexpr double r = ZigguratTables::r;
    constexpr int n = ZigguratTables::layers;
    // The layer area follows from r (base rectangle plus tail), rather than from the rounded
    // 0.00492867323399 of Marsaglia & Tsang: with this v the recursion closes at the top to
    // ~1e-14 (f(x[255]) + v/x[255] = 1), against ~2e-11 with the rounded value.
    // v = r f(r) + sqrt(pi/2) erfc(r/sqrt2), written so that no product feeds an addition: a
    // compiler may fuse a*b + c into an FMA on some targets only, and the tables (hence every
    // normal) must be bit-identical in portable and -march=native builds. Same below.
    const double fr = half_gauss(r);
    const double tail_over_fr =
        std::sqrt(std::numbers::pi / 2.0) * std::erfc(r / std::numbers::sqrt2) / fr;
    t.v = fr * (r + tail_over_fr);
    t.x[0] = t.v / fr;
    t.x[1] = r;
    for (int i = 1; i < n - 1; ++i) {
        // f(x[i+1]) = f(x[i]) + v/x[i], written as f - 1 to keep precision near the top.
        const double xi = t.x[static_cast<std::size_t>(i)];
        const double fm1 = std::expm1(-0.5 * xi * xi) + t.v / xi;
        t.x[static_cast<std::size_t>(i) + 1] = std::sqrt(-2.0 * std::log1p(fm1));
    }
    t.x[static_cast<std::size_t>(n)] = 0.0;
    for (std::size_t i = 0; i <= static_cast<std::size_t>(n); ++i)
        t.f[i] = half_gauss(t.x[i]);
    t.f[0] = fr; // the base strip's top edge is f(r), not f(x[0])
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        // Layer i spans [0, x[i]]; the column below x[i+1] lies under the curve entirely (for
        // layer 0: x[1] = r, beyond which lies the tail). floor() errs on the safe side.
        const double ratio = t.x[i + 1] / t.x[i];
        t.layer[i].k = static_cast<std::uint64_t>(std::floor(ratio * 0x1p53));
        t.layer[i].w = t.x[i] * 0x1p-53;
    }
    return t;
}

} // namespace

const ZigguratTables& ziggurat_tables() noexcept {
    static const ZigguratTables tables = make_ziggurat_tables();
    return tables;
}

double ziggurat_tail(UniformStream& uniform) noexcept {
    // Marsaglia (1964), as in Marsaglia & Tsang (2000): with a = -ln(U1)/r and b = -ln(U2),
    // accept r + a when 2b >= a^2. 1 - U lies in (0, 1], so the logarithms are finite.
    constexpr double r = ZigguratTables::r;
    double a = 0.0;
    double b = 0.0;
    do {
        a = -std::log(1.0 - uniform.next_double()) / r;
        b = -std::log(1.0 - uniform.next_double());
    } while (b + b < a * a);
    return r + a;
}

} // namespace detail

// ---------------------------------------------------------------------------------------------
// NormalStream

NormalStream::NormalStream(StreamKey key, SimdLevel level) noexcept
    : uniform_(key, level), layers_(detail::ziggurat_tables().layer.data()) {}

double NormalStream::slow(std::uint64_t u) noexcept {
    const auto& t = detail::ziggurat_tables();
    for (;;) {
        const std::size_t i = u & 0xff;
        const std::uint64_t j = u >> 11;
        const auto& layer = t.layer[i];
        if (j < layer.k) // a retry accepted at once
            return detail::with_sign_bit8(
                static_cast<double>(static_cast<std::int64_t>(j)) * layer.w, u);
        if (i == 0) // beyond r in the base strip: the tail
            return detail::with_sign_bit8(detail::ziggurat_tail(uniform_), u);
        // Wedge: the point (x, y) is uniform in [x[i+1], x[i]] x [f(x[i]), f(x[i+1])]; accept
        // if y < f(x), tested as y - f(x[i]) < f(x) - f(x[i]) so that no product feeds an
        // addition (an FMA here would make -march=native builds accept different points).
        const double x = static_cast<double>(static_cast<std::int64_t>(j)) * layer.w;
        const double dy = uniform_.next_double() * (t.f[i + 1] - t.f[i]);
        if (dy < half_gauss(x) - t.f[i])
            return detail::with_sign_bit8(x, u);
        u = uniform_.next_u64();
    }
}

void NormalStream::fill(std::span<double> out) noexcept {
    // The loop of next(), reorganized for speed: runs of fast-path draws are taken straight from
    // the uniform block (by the vector kernel of the stream's level), with the read position in a
    // register (next() reloads and stores it for every draw, a loop-carried store-to-load
    // dependency that costs about as much as the rest). The words are consumed in the same order,
    // so the values are those of next().
    UniformStream& src = uniform_;
    std::size_t n = 0;
    while (n < out.size()) {
        if (src.pos_ == UniformStream::block_size)
            src.refill();
        const std::uint64_t* const words = src.block_ + src.pos_;
        const std::size_t avail = std::min(out.size() - n, UniformStream::block_size - src.pos_);
        const std::size_t m =
            detail::ziggurat_fast_run(src.level_, words, avail, layers_, out.data() + n);
        src.pos_ += m;
        n += m;
        if (m < avail) { // words[m] failed the fast test: it is consumed, then the slow path
            ++src.pos_;
            out[n++] = slow(words[m]);
        }
    }
}

} // namespace plateau
