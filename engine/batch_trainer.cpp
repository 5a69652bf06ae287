#include "engine/batch_trainer.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <utility>

namespace plateau {

MiniBatchSgd::MiniBatchSgd(const RunParams& params, std::uint64_t seed, std::uint64_t run)
    : student_(params.model.student), teacher_(params.model.teacher),
      learn_v_(params.model.learn_v),
      eta_over_n_(params.training.eta / static_cast<double>(params.model.N)),
      eta_v_over_n_(params.training.eta_v / static_cast<double>(params.model.N)),
      lambda_(params.training.weight_decay), noise_sd_(std::sqrt(params.model.noise)),
      n_(params.model.N), batch_(plateau::examples_per_update(params)),
      set_size_(training_set_size(params).value_or(0)), full_batch_(params.training.batch.all),
      sampling_(params.training.sampling), seed_(seed), run_(run),
      examples_(StreamKey{seed, run, StreamPurpose::examples}),
      noise_(StreamKey{seed, run, StreamPurpose::noise}),
      order_(StreamKey{seed, run, StreamPurpose::sampling}) {
    assert(batch_ >= 1);
    assert(set_size_ == 0 || batch_ <= set_size_);
}

void MiniBatchSgd::prepare(const RunState& s) const {
    if (set_size_ == 0 || set_.rows() == set_size_)
        return;
    // The set: example mu and the normal z^mu after it from example mu's own stream.
    Eigen::VectorXd z;
    set_ = FiniteTrainingSet(static_cast<std::uint64_t>(set_size_), seed_, run_).matrix(n_, z);
    // Fixed labels tau^mu = h*(sum_n v*_n g*(B_n . xi^mu)) + s z^mu (docs/theory.md §1, §6).
    const RowMatrix y = set_ * s.teacher().transpose();
    const auto M = static_cast<std::size_t>(s.M);
    labels_.resize(set_size_);
    for (Eigen::Index mu = 0; mu < set_size_; ++mu) {
        labels_(mu) = forward(teacher_, {y.row(mu).data(), M}, {s.v_star.data(), M}).output;
        if (noise_sd_ > 0.0)
            labels_(mu) += noise_sd_ * z(mu);
    }
}

void MiniBatchSgd::pick_batch() {
    const auto P = static_cast<std::uint64_t>(set_size_);
    // floor(u n) for u uniform on [0, 1) (a multiple of 2^-53): uniform on 0..n-1 up to a
    // relative bias below n 2^-53; clamped against rounding up to n.
    const auto below = [this](std::uint64_t n) {
        const auto i = static_cast<std::uint64_t>(order_.next_double() * static_cast<double>(n));
        return static_cast<std::int64_t>(std::min(i, n - 1));
    };
    picked_.resize(static_cast<std::size_t>(batch_));
    if (sampling_ == Sampling::replacement) {
        for (auto& mu : picked_)
            mu = below(P);
        return;
    }
    for (auto& mu : picked_) {
        if (cursor_ == shuffle_.size()) {
            // A new epoch: a Fisher-Yates shuffle of the previous order (uniform and independent
            // of it).
            if (shuffle_.empty()) {
                shuffle_.resize(static_cast<std::size_t>(P));
                std::iota(shuffle_.begin(), shuffle_.end(), std::int64_t{0});
            }
            for (std::uint64_t i = P - 1; i > 0; --i)
                std::swap(shuffle_[i], shuffle_[static_cast<std::size_t>(below(i + 1))]);
            cursor_ = 0;
        }
        mu = shuffle_[cursor_++];
    }
}

bool MiniBatchSgd::update(RunState& s, const RowMatrix& X, const Eigen::VectorXd* tau) {
    const Eigen::Index K = s.K;
    const Eigen::Index B = X.rows();
    const auto k = static_cast<std::size_t>(s.K);
    const auto m = static_cast<std::size_t>(s.M);
    // The fields of the batch, one GEMM: students and teachers for fresh examples (the teacher
    // gives the label), students only for a training set (its labels are fixed).
    if (tau == nullptr)
        fields_.noalias() = X * s.weights.transpose();
    else
        fields_.noalias() = X * s.student().transpose();
    errors_.resize(B, K);
    grad_v_.setZero(K);
    Eigen::VectorXd gv(K);
    const std::span<double> grad_v =
        learn_v_ ? std::span<double>{gv.data(), k} : std::span<double>{};
    for (Eigen::Index b = 0; b < B; ++b) {
        const double* f = fields_.row(b).data();
        double label = 0.0;
        if (tau != nullptr) {
            label = (*tau)(b);
        } else {
            // tau = h*(sum_n v*_n g*(y_n)) + zeta, zeta ~ N(0, s^2): Eq. (1) and §1.
            label = forward(teacher_, {f + K, m}, {s.v_star.data(), m}).output;
            if (noise_sd_ > 0.0)
                label += noise_sd_ * noise_.next();
        }
        const ForwardPass pass = forward(student_, {f, k}, {s.v.data(), k});
        if (!std::isfinite(pass.output))
            return false;
        // Eqs. (3)-(5): the field errors de^b/dx_m (row b of D) and de^b/dv_k.
        backward(student_, {f, k}, {s.v.data(), k}, pass, label, {errors_.row(b).data(), k},
                 grad_v);
        if (learn_v_)
            grad_v_ += gv;
    }
    // w^(m) <- w^(m) - (eta/N) ((1/B) sum_b de^b/dx_m xi^b + lambda w^(m)): Eq. (5) summed over
    // the batch (Eq. (7) for the whole set) and weight decay: Eq. (8) of docs/theory.md §6, as
    // W <- (1 - eta lambda/N) W - (eta/(N B)) D^T X.
    auto W = s.weights.topRows(K);
    if (lambda_ != 0.0)
        W *= 1.0 - eta_over_n_ * lambda_;
    W.noalias() -= (eta_over_n_ / static_cast<double>(B)) * errors_.transpose() * X;
    // v_k <- v_k - (eta_v/N) ((1/B) sum_b de^b/dv_k + lambda v_k): Eqs. (3), (6) and (8).
    if (learn_v_)
        s.v -= eta_v_over_n_ * (grad_v_ / static_cast<double>(B) + lambda_ * s.v);
    return true;
}

StepOutcome MiniBatchSgd::advance(RunState& s, std::int64_t steps) {
    if (steps <= 0)
        return StepOutcome::ok;
    assert(s.N() == n_);
    prepare(s);
    for (std::int64_t t = 0; t < steps; ++t) {
        bool ok = false;
        if (!has_training_set()) {
            // B fresh examples: the next B N normals of the stream, example after example.
            block_.resize(batch_, n_);
            examples_.fill({block_.data(), static_cast<std::size_t>(block_.size())});
            ok = update(s, block_, nullptr);
        } else if (full_batch_) {
            ok = update(s, set_, &labels_);
        } else {
            pick_batch();
            block_.resize(batch_, n_);
            block_labels_.resize(batch_);
            for (Eigen::Index b = 0; b < batch_; ++b) {
                const auto mu = picked_[static_cast<std::size_t>(b)];
                block_.row(b) = set_.row(mu);
                block_labels_(b) = labels_(mu);
            }
            ok = update(s, block_, &block_labels_);
        }
        if (!ok)
            return StepOutcome::diverged;
        ++s.step;
    }
    return StepOutcome::ok;
}

void MiniBatchSgd::measure(const RunState& s, Observables& o) const {
    Trainer::measure(s, o);
    if (!has_training_set())
        return;
    prepare(s);
    o.extras.insert_or_assign(
        "eps_train",
        Eigen::VectorXd::Constant(1, training_error(student_, s.student(), s.v, set_, labels_)));
}

} // namespace plateau
