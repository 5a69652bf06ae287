#include "engine/simulation/trainer.hpp"

#include "engine/core/linear_algebra.hpp"
#include "engine/simulation/mixture_source.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <utility>

namespace plateau {

namespace step_kernels {

namespace {

// Explicit vectors (GCC/Clang vector extensions): 256 bits with AVX, 128 bits otherwise (SSE2).
// 256 rather than 512 bits even where AVX-512 exists: measured faster on the Zen 4 machines of
// docs/PERFORMANCE.md (which split 512-bit operations in two), and the compiler's own tuning
// prefers 256 there too. Each row keeps `unroll` vectors of partial sums, and a block of R rows
// shares every load of x, so a 4-row block has 8 independent multiply-add chains (enough to hide
// the FMA latency). The partial sums and the tail are reduced in a fixed order: the result
// depends only on the binary, never on the data, the thread or the run.
#if defined(__AVX__)
constexpr std::size_t vector_bytes = 32;
#else
constexpr std::size_t vector_bytes = 16;
#endif
using vec = double __attribute__((vector_size(vector_bytes)));
constexpr std::size_t width = vector_bytes / sizeof(double);
constexpr std::size_t unroll = 2;
constexpr std::size_t lanes = width * unroll;

inline vec load(const double* p) noexcept {
    vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store(double* p, const vec& v) noexcept {
    std::memcpy(p, &v, sizeof v);
}

static_assert(lanes <= scratch_per_row);
static_assert(chunk % lanes == 0);

/// R rows over the columns [j, end) of a sweep (j a multiple of lanes; end = n for the last
/// chunk): the first U rows get W += c x_old, then every row's partial sums accumulate
/// W_r . x_new. The partial sums start at zero for the first chunk (j == 0) and are carried to
/// the next chunk in `carry` (R x lanes doubles); the last chunk adds the tail columns (beyond
/// the last multiple of lanes) and reduces the partial sums, in a fixed order, into out[r]. The
/// sums come out the same whatever the chunk size: every partial sum adds its columns in order.
template <std::size_t R, std::size_t U>
void chunk_rows(double* __restrict__ W, std::size_t n, std::size_t j, std::size_t end,
                const double* __restrict__ c, const double* __restrict__ x_old,
                const double* __restrict__ x_new, double* __restrict__ carry,
                double* __restrict__ out) noexcept {
    static_assert(U <= R);
    vec acc[R][unroll] = {};
    if (j != 0)
        std::memcpy(acc, carry, sizeof acc);
    double cr[U > 0 ? U : 1] = {};
    for (std::size_t r = 0; r < U; ++r)
        cr[r] = c[r];
    const std::size_t body = end == n ? n - n % lanes : end;
    for (std::size_t i = j; i < body; i += lanes) {
        vec xn[unroll];
        for (std::size_t u = 0; u < unroll; ++u)
            xn[u] = load(x_new + i + u * width);
#pragma GCC unroll 4
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t u = 0; u < unroll; ++u) {
                double* const p = W + r * n + i + u * width;
                vec w = load(p);
                if (r < U) {
                    w += cr[r] * load(x_old + i + u * width);
                    store(p, w);
                }
                acc[r][u] += w * xn[u];
            }
    }
    if (end != n) {
        std::memcpy(carry, acc, sizeof acc);
        return;
    }
    for (std::size_t r = 0; r < R; ++r) {
        vec sum = acc[r][0];
        for (std::size_t u = 1; u < unroll; ++u)
            sum += acc[r][u];
        double part[width];
        std::memcpy(part, &sum, sizeof part);
        for (std::size_t h = width / 2; h > 0; h /= 2)
            for (std::size_t l = 0; l < h; ++l)
                part[l] += part[l + h];
        double total = part[0];
        double* const w = W + r * n;
        for (std::size_t i = body; i < n; ++i) {
            if (r < U)
                w[i] += cr[r] * x_old[i];
            total += w[i] * x_new[i];
        }
        out[r] = total;
    }
}

template <std::size_t U>
void update_rows(double* __restrict__ W, std::size_t n, const double* c,
                 const double* __restrict__ x) noexcept {
    double cr[U];
    for (std::size_t r = 0; r < U; ++r)
        cr[r] = c[r];
    const std::size_t body = n - n % width;
    for (std::size_t i = 0; i < body; i += width) {
        const vec xv = load(x + i);
        for (std::size_t r = 0; r < U; ++r)
            store(W + r * n + i, load(W + r * n + i) + cr[r] * xv);
    }
    for (std::size_t r = 0; r < U; ++r)
        for (std::size_t i = body; i < n; ++i)
            W[r * n + i] += cr[r] * x[i];
}

} // namespace

void sweep(double* W, std::size_t rows, std::size_t updated, std::size_t n, const double* c,
           const double* x_old, double* x_new, double* out, NormalStream* draw,
           double* scratch) noexcept {
    for (std::size_t j = 0; j < n; j += chunk) {
        const std::size_t end = std::min(n, j + chunk);
        if (draw != nullptr)
            draw->fill({x_new + j, end - j});
        // Blocks of 4 rows (2 vectors of partial sums each: 8 independent chains), updated rows
        // first; a block may mix the last updated rows with the first fixed ones.
        std::size_t r = 0;
        const auto block = [&]<std::size_t R, std::size_t U>() {
            chunk_rows<R, U>(W + r * n, n, j, end, U > 0 ? c + r : nullptr, x_old, x_new,
                             scratch + r * lanes, out + r);
            r += R;
        };
        while (r < rows) {
            const std::size_t left = rows - r;
            const std::size_t up = r < updated ? updated - r : 0;
            if (left >= 4) {
                if (up >= 4)
                    block.template operator()<4, 4>();
                else if (up == 3)
                    block.template operator()<4, 3>();
                else if (up == 2)
                    block.template operator()<4, 2>();
                else if (up == 1)
                    block.template operator()<4, 1>();
                else
                    block.template operator()<4, 0>();
            } else if (left >= 2) {
                if (up >= 2)
                    block.template operator()<2, 2>();
                else if (up == 1)
                    block.template operator()<2, 1>();
                else
                    block.template operator()<2, 0>();
            } else if (up >= 1) {
                block.template operator()<1, 1>();
            } else {
                block.template operator()<1, 0>();
            }
        }
    }
}

void update(double* W, std::size_t rows, std::size_t n, const double* c, const double* x) noexcept {
    std::size_t r = 0;
    for (; r + 4 <= rows; r += 4)
        update_rows<4>(W + r * n, n, c + r, x);
    if (r + 2 <= rows) {
        update_rows<2>(W + r * n, n, c + r, x);
        r += 2;
    }
    if (r < rows)
        update_rows<1>(W + r * n, n, c + r, x);
}

void project_rows(double* W, std::size_t rows, std::size_t n, double* fields) noexcept {
    // Projected SGD on the sphere (docs/theory.md §14): w^(j) <- w^(j) / |w^(j)|, so Q_jj = 1 to
    // rounding; a field w^(j) . xi computed before the rescaling is rescaled with its row.
    for (std::size_t r = 0; r < rows; ++r) {
        double* const w = W + r * n;
        double q = 0.0;
        for (std::size_t i = 0; i < n; ++i)
            q += w[i] * w[i];
        const double inv = 1.0 / std::sqrt(q);
        for (std::size_t i = 0; i < n; ++i)
            w[i] *= inv;
        if (fields != nullptr)
            fields[r] *= inv;
    }
}

} // namespace step_kernels

void Trainer::measure(const RunState& state, Observables& o) const {
    // Examples seen, a double (exact up to 2^53, which validate() keeps alpha_max N below).
    o.extras.insert_or_assign(
        std::string(extra_name::examples),
        Eigen::VectorXd::Constant(1, static_cast<double>(state.step) *
                                         static_cast<double>(examples_per_update())));
}

OnlineSgd::OnlineSgd(const RunParams& params, std::uint64_t seed, std::uint64_t run)
    : OnlineSgd(params, seed, run, make_example_source(params, seed, run)) {}

OnlineSgd::OnlineSgd(const RunParams& params, std::uint64_t seed, std::uint64_t run,
                     std::unique_ptr<ExampleSource> examples)
    : rule_(params), noise_sd_(std::sqrt(params.model.noise)),
      n_(static_cast<std::size_t>(params.model.N)), examples_(std::move(examples)),
      noise_(StreamKey{seed, run, StreamPurpose::noise}), xi_(params.model.N),
      xi_next_(params.model.N),
      fields_(params.model.student.hidden() + teacher_units(params.model)),
      grad_fields_(params.model.student.hidden()), coef_(params.model.student.hidden()),
      grad_v_(params.model.student.widths.back()),
      scratch_(
          static_cast<std::size_t>(params.model.student.hidden() + teacher_units(params.model)) *
          step_kernels::scratch_per_row),
      student_pass_(params.model.student), teacher_pass_(params.model.teacher),
      grad_layers_(zero_layers(params.model.student)) {
    assert(examples_ != nullptr);
}

bool OnlineSgd::learn_deep_from_fields(RunState& s) {
    const auto K = static_cast<std::size_t>(s.K);
    const auto M = static_cast<std::size_t>(s.M);
    const auto KL = static_cast<std::size_t>(s.v.size());
    const auto ML = static_cast<std::size_t>(s.v_star.size());
    // Down the teacher (or the polynomial target, §13) and the student (docs/theory.md §12,
    // Eq. (12.1)) from their first-layer fields; tau gets the label noise as in
    // learn_from_fields.
    double tau = rule_.target.deep_value(rule_.teacher, {fields_.data() + K, M}, s.layers_star,
                                         {s.v_star.data(), ML}, teacher_pass_);
    if (noise_sd_ > 0.0)
        tau += noise_sd_ * noise_.next();
    const std::span<const double> v{s.v.data(), KL};
    const ForwardPass pass =
        deep_forward(rule_.student, {fields_.data(), K}, s.layers, v, student_pass_);
    if (!std::isfinite(pass.output))
        return false;
    // Up again (Eq. (12.2)): every gradient from the weights before this step's update.
    const std::span<double> grad_v =
        rule_.learn_v ? std::span<double>{grad_v_.data(), KL} : std::span<double>{};
    deep_backward(rule_.student, s.layers, v, pass, tau, student_pass_, {grad_fields_.data(), K},
                  rule_.learns_layers() ? &grad_layers_ : nullptr, grad_v, rule_.loss);
    const RateFactors f = rule_.rate_factors(s.step); // s(alpha) of this step, docs/theory.md §6b
    const double eta_over_n = rule_.eta_over_n * f.w;
    const double eta_v_over_n = rule_.eta_v_over_n * f.v;
    for (std::size_t m = 0; m < K; ++m) // Eq. (5) for the first layer, rows in advance()
        coef_[static_cast<Eigen::Index>(m)] =
            -eta_over_n * grad_fields_[static_cast<Eigen::Index>(m)];
    for (std::size_t l = 0; l < rule_.layer_steps.size();
         ++l) // W_l -= (eta_l/N) de/dW_l, Eq. (12.3)
        if (const auto step = rule_.layer_steps[l])
            s.layers[l].noalias() -= (*step * f.layers) * grad_layers_[l];
    for (std::size_t k = 0; k < grad_v.size(); ++k) // v <- v - (eta_v/N) de/dv, Eq. (12.3)
        s.v[static_cast<Eigen::Index>(k)] -= eta_v_over_n * grad_v[k];
    return true;
}

bool OnlineSgd::learn_from_fields(RunState& s) {
    if (rule_.deep)
        return learn_deep_from_fields(s);
    const auto K = static_cast<std::size_t>(s.K);
    const auto M = static_cast<std::size_t>(s.units_per_teacher());
    const std::span<const double> x{fields_.data(), K};
    // Several teachers (docs/theory.md §17): the task of this step labels, from its block of
    // the teacher rows (and, with per-task heads, the student answers with its head).
    if (rule_.teachers > 1)
        if (const int task = rule_.task(s.step, s.threshold_switches); task != s.task)
            switch_task(s, task);
    const auto block = static_cast<std::size_t>(s.task) * M;
    // The teacher's fields: from the teacher rows and the example, or from the source (the
    // hidden manifold's b_n . c, docs/theory.md §16; one teacher there).
    const std::span<const double> given_fields = examples_->teacher_fields();
    const std::span<const double> y = given_fields.empty()
                                          ? std::span<const double>{fields_.data() + K + block, M}
                                          : given_fields;

    // Label tau = tau(y) + zeta, zeta ~ N(0, s^2): the target (docs/theory.md §13), by default
    // the committee h*(sum_n v*_n g*(y_n)); student sigma, Eq. (1).
    // With mixture inputs (§15) the source gives the label y_c of the example's cluster.
    const std::optional<double> given = examples_->label();
    double tau =
        given ? *given : rule_.target.value(rule_.teacher, y, {s.v_star.data() + block, M});
    if (noise_sd_ > 0.0)
        tau += noise_sd_ * noise_.next();
    const ForwardPass pass = forward(rule_.student, x, {s.v.data(), K});
    if (!std::isfinite(pass.output))
        return false;

    // Eqs. (3)-(5): field errors delta v_m g'(x_m) and, if v is learned, de/dv_k = delta g(x_k).
    const std::span<double> grad_v =
        rule_.learn_v ? std::span<double>{grad_v_.data(), K} : std::span<double>{};
    backward(rule_.student, x, {s.v.data(), K}, pass, tau, {grad_fields_.data(), K}, grad_v,
             rule_.loss);

    // Descent: w^(m) <- w^(m) - (eta/N) grad_{w^(m)} e = w^(m) - (eta/N) (de/dx_m) xi  (Eq. 5);
    // the row coefficients here, the rows in advance().
    // eta(alpha) = eta s(alpha) with alpha = step/N at the start of this step (§6b).
    const RateFactors f = rule_.rate_factors(s.step);
    const double eta_over_n = rule_.eta_over_n * f.w;
    const double eta_v_over_n = rule_.eta_v_over_n * f.v;
    for (std::size_t m = 0; m < K; ++m)
        coef_[static_cast<Eigen::Index>(m)] =
            -eta_over_n * grad_fields_[static_cast<Eigen::Index>(m)];
    // v_k <- v_k - (eta_v/N) de/dv_k (Eq. 3), from the same example and the pre-update fields.
    for (std::size_t k = 0; k < grad_v.size(); ++k)
        s.v[static_cast<Eigen::Index>(k)] -= eta_v_over_n * grad_v[k];
    return true;
}

StepOutcome OnlineSgd::advance(RunState& s, std::int64_t steps) {
    if (steps <= 0)
        return StepOutcome::ok;
    const auto K = static_cast<std::size_t>(s.K);
    const auto M = static_cast<std::size_t>(s.M);
    const std::size_t n = n_;
    assert(s.weights.cols() == static_cast<Eigen::Index>(n));
    double* const student = s.weights.data();
    examples_->attach(s);
    // The rows whose fields the sweeps compute: students and teachers, or the students alone
    // when the source gives the teacher's fields (hidden manifold, §16).
    const std::size_t rows = examples_->gives_teacher_fields() ? K : K + M;

    // Step t needs the fields of its example from the weights after step t-1. The first example
    // is drawn and its fields computed here; from then on the one sweep that applies the update
    // of step t also draws example t+1 (chunk by chunk) and computes its fields.
    step_kernels::sweep(student, rows, 0, n, nullptr, nullptr, xi_.data(), fields_.data(),
                        examples_->draw({xi_.data(), n}), scratch_.data());
    for (std::int64_t t = 1;; ++t) {
        if (!learn_from_fields(s))
            return StepOutcome::diverged;
        if (t == steps) {
            step_kernels::update(student, K, n, coef_.data(), xi_.data());
            if (rule_.sphere)
                step_kernels::project_rows(student, K, n, nullptr);
            ++s.step;
            return StepOutcome::ok;
        }
        step_kernels::sweep(student, rows, K, n, coef_.data(), xi_.data(), xi_next_.data(),
                            fields_.data(), examples_->draw({xi_next_.data(), n}), scratch_.data());
        if (rule_.sphere) // the updated rows and the next example's fields with them (§14)
            step_kernels::project_rows(student, K, n, fields_.data());
        xi_.swap(xi_next_);
        ++s.step;
    }
}

} // namespace plateau
