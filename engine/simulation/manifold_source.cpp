#include "engine/simulation/manifold_source.hpp"

#include "models/loss.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>

namespace plateau {

void draw_manifold_examples(const ManifoldFrame& frame, NormalStream& stream, Eigen::Index rows,
                            RowMatrix& C, RowMatrix& X, RowMatrix& Nu) {
    // c ~ N(0, I_D) per example, example after example (Eq. (16.1)).
    C.resize(rows, frame.latent());
    X.resize(rows, frame.inputs());
    Nu.resize(rows, frame.teacher.rows());
    stream.fill({C.data(), static_cast<std::size_t>(C.size())});
    frame.examples(C, X, Nu);
}

void ManifoldExamples::attach(const RunState& state) {
    if (!state.manifold)
        throw std::logic_error("ManifoldExamples: the state has no hidden manifold");
    frame_ = &*state.manifold;
}

NormalStream* ManifoldExamples::draw(std::span<double> x) {
    assert(frame_ != nullptr && x.size() == static_cast<std::size_t>(frame_->inputs()));
    if (next_ == block) {
        draw_manifold_examples(*frame_, stream_, block, c_, x_, nu_);
        next_ = 0;
    }
    std::copy_n(x_.row(next_).data(), x.size(), x.data());
    ++next_;
    return nullptr;
}

EgEstimate manifold_generalization_error(const ModelParams& m, const RunState& s, int samples,
                                         NormalStream& rng) {
    assert(s.manifold);
    // docs/theory.md §16: the loss of the student on x against the target on the teacher's
    // latent fields nu, averaged over fresh examples (no label noise), in blocks of examples.
    constexpr Eigen::Index chunk = 256;
    const auto K = static_cast<std::size_t>(s.K);
    const auto M = static_cast<std::size_t>(s.M);
    RowMatrix C, X, Nu;
    RowMatrix fields;
    double sum = 0.0;
    double sum_sq = 0.0;
    for (Eigen::Index done = 0; done < samples;) {
        const Eigen::Index rows = std::min<Eigen::Index>(chunk, samples - done);
        draw_manifold_examples(*s.manifold, rng, rows, C, X, Nu);
        fields.noalias() = X * s.student().transpose();
        for (Eigen::Index mu = 0; mu < rows; ++mu) {
            const double sigma =
                forward(m.student, {fields.row(mu).data(), K}, {s.v.data(), K}).output;
            const double tau =
                m.target.value(m.teacher, {Nu.row(mu).data(), M}, {s.v_star.data(), M});
            const double e = m.loss.value(sigma, tau); // Eq. (2) or (15.3)
            sum += e;
            sum_sq += e * e;
        }
        done += rows;
    }
    const auto n = static_cast<double>(samples);
    const double mean = sum / n;
    const double var = std::max(0.0, (sum_sq - n * mean * mean) / (n - 1.0));
    return {mean, std::sqrt(var / n)};
}

OrderParameters manifold_order_parameters(const RunState& s) {
    assert(s.manifold);
    ManifoldOverlaps o = manifold_overlaps(*s.manifold, s.student());
    OrderParameters op;
    op.Q = std::move(o.Q);
    op.R = std::move(o.R);
    op.T = std::move(o.T);
    op.v = s.v;
    op.v_star = s.v_star;
    return op;
}

} // namespace plateau
