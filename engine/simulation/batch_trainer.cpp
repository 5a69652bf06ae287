#include "engine/simulation/batch_trainer.hpp"

#include "engine/simulation/manifold_source.hpp"
#include "engine/simulation/training_set.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <utility>

namespace plateau {

MiniBatchSgd::MiniBatchSgd(const RunParams& params, std::uint64_t seed, std::uint64_t run)
    : rule_(params), lambda_(params.training.weight_decay), beta_(params.training.momentum),
      noise_sd_(std::sqrt(params.model.noise)), n_(params.model.N),
      batch_(plateau::examples_per_update(params)),
      set_size_(training_set_size(params).value_or(0)), full_batch_(params.training.batch.all),
      sampling_(params.training.sampling), seed_(seed), run_(run),
      examples_(StreamKey{seed, run, StreamPurpose::examples}),
      noise_(StreamKey{seed, run, StreamPurpose::noise}),
      order_(StreamKey{seed, run, StreamPurpose::sampling}), student_pass_(params.model.student),
      teacher_pass_(params.model.teacher), grad_layers_(zero_layers(params.model.student)),
      grad_layers_sum_(zero_layers(params.model.student)) {
    if (params.model.inputs == InputKind::mixture)
        mixture_.emplace(params.model.mixture);
    assert(batch_ >= 1);
    assert(set_size_ == 0 || batch_ <= set_size_);
}

void MiniBatchSgd::prepare(const RunState& s) const {
    if (set_size_ == 0 || set_.rows() == set_size_)
        return;
    if (s.manifold) {
        // Hidden-manifold inputs (§16): example mu from its own stream (D normals, its latent
        // vector c, Eq. (16.1)), then the normal of its label noise; the set keeps x^mu and the
        // fixed label tau^mu from the teacher's fields b_n . c^mu (c is not kept).
        FiniteTrainingSet set(static_cast<std::uint64_t>(set_size_), seed_, run_);
        const Eigen::Index D = s.manifold->latent();
        RowMatrix C(set_size_, D);
        Eigen::VectorXd z(set_size_);
        for (Eigen::Index mu = 0; mu < set_size_; ++mu) {
            NormalStream stream = set.stream_of(static_cast<std::uint64_t>(mu));
            stream.fill({C.row(mu).data(), static_cast<std::size_t>(D)});
            z(mu) = stream.next();
        }
        RowMatrix y;
        set_.resize(set_size_, n_);
        s.manifold->examples(C, set_, y);
        labels_.resize(set_size_);
        for (Eigen::Index mu = 0; mu < set_size_; ++mu) {
            labels_(mu) = teacher_output(s, y.row(mu).data());
            if (noise_sd_ > 0.0)
                labels_(mu) += noise_sd_ * z(mu);
        }
        return;
    }
    if (mixture_) {
        // Mixture inputs (§15): example mu from its own stream (N normals, the uniform that
        // picks its cluster c, Eq. (15.1)), then the normal of its label noise; tau^mu = y_c.
        FiniteTrainingSet set(static_cast<std::uint64_t>(set_size_), seed_, run_);
        set_.resize(set_size_, n_);
        labels_.resize(set_size_);
        for (Eigen::Index mu = 0; mu < set_size_; ++mu) {
            NormalStream stream = set.stream_of(static_cast<std::uint64_t>(mu));
            const std::size_t c =
                mixture_->draw(stream, {set_.row(mu).data(), static_cast<std::size_t>(n_)});
            labels_(mu) = mixture_->label(c);
            const double z = stream.next();
            if (noise_sd_ > 0.0)
                labels_(mu) += noise_sd_ * z;
        }
        return;
    }
    // The set: example mu and the normal z^mu after it from example mu's own stream.
    Eigen::VectorXd z;
    set_ = FiniteTrainingSet(static_cast<std::uint64_t>(set_size_), seed_, run_).matrix(n_, z);
    // Fixed labels tau^mu = h*(sum_n v*_n g*(B_n . xi^mu)) + s z^mu (docs/theory.md §1, §6).
    const RowMatrix y = set_ * s.teacher().transpose();
    labels_.resize(set_size_);
    for (Eigen::Index mu = 0; mu < set_size_; ++mu) {
        labels_(mu) = teacher_output(s, y.row(mu).data());
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

double MiniBatchSgd::teacher_output(const RunState& s, const double* y) const {
    const std::span<const double> fields{y, static_cast<std::size_t>(s.M)};
    const std::span<const double> v_star{s.v_star.data(),
                                         static_cast<std::size_t>(s.v_star.size())};
    // The target (docs/theory.md §13: by default Eq. (1), or down a deeper teacher, §12,
    // Eq. (12.1)).
    return rule_.deep ? rule_.target.deep_value(rule_.teacher, fields, s.layers_star, v_star,
                                                teacher_pass_)
                      : rule_.target.value(rule_.teacher, fields, v_star);
}

bool MiniBatchSgd::update(RunState& s, const RowMatrix& X, const Eigen::VectorXd* tau) {
    const Eigen::Index K = s.K;
    const Eigen::Index B = X.rows();
    const auto k = static_cast<std::size_t>(s.K);
    // The fields of the batch, one GEMM: students and teachers for fresh examples (the teacher
    // gives the label), students only for a training set (its labels are fixed).
    if (tau == nullptr)
        fields_.noalias() = X * s.weights.transpose();
    else
        fields_.noalias() = X * s.student().transpose();
    const Eigen::Index KL = s.v.size(); // the output weights: K, or K_L of a deeper student
    const auto kl = static_cast<std::size_t>(KL);
    errors_.resize(B, K);
    grad_v_.setZero(KL);
    Eigen::VectorXd gv(KL);
    const std::span<double> grad_v =
        rule_.learn_v ? std::span<double>{gv.data(), kl} : std::span<double>{};
    const std::span<const double> v{s.v.data(), kl};
    for (auto& sum : grad_layers_sum_)
        sum.setZero();
    for (Eigen::Index b = 0; b < B; ++b) {
        const double* f = fields_.row(b).data();
        double label = 0.0;
        if (tau != nullptr) {
            label = (*tau)(b);
        } else {
            // tau = h*(sum_n v*_n g*(y_n)) + zeta, zeta ~ N(0, s^2): Eq. (1) and §1.
            label = teacher_output(s, f + K);
            if (noise_sd_ > 0.0)
                label += noise_sd_ * noise_.next();
        }
        const std::span<double> errors{errors_.row(b).data(), k};
        if (rule_.deep) {
            // Down and up the deeper student (Eqs. (12.1)-(12.2)): d_1 (row b of D), de^b/dW_l
            // and de^b/dv from the weights before this update.
            const ForwardPass pass =
                deep_forward(rule_.student, {f, k}, s.layers, v, student_pass_);
            if (!std::isfinite(pass.output))
                return false;
            deep_backward(rule_.student, s.layers, v, pass, label, student_pass_, errors,
                          rule_.learns_layers() ? &grad_layers_ : nullptr, grad_v, rule_.loss);
            if (rule_.learns_layers())
                for (std::size_t l = 0; l < grad_layers_.size(); ++l)
                    grad_layers_sum_[l] += grad_layers_[l];
        } else {
            const ForwardPass pass = forward(rule_.student, {f, k}, v);
            if (!std::isfinite(pass.output))
                return false;
            // Eqs. (3)-(5): the field errors de^b/dx_m (row b of D) and de^b/dv_k.
            backward(rule_.student, {f, k}, v, pass, label, errors, grad_v, rule_.loss);
        }
        if (rule_.learn_v)
            grad_v_ += gv;
    }
    // w^(m) <- w^(m) - (eta/N) ((1/B) sum_b de^b/dx_m xi^b + lambda w^(m)): Eq. (5) summed over
    // the batch (Eq. (7) for the whole set) and weight decay: Eq. (8) of docs/theory.md §6, as
    // W <- (1 - eta lambda/N) W - (eta/(N B)) D^T X.
    // eta(alpha) = eta s(alpha) with alpha = step/N at the start of this update (§6b).
    const RateFactors f = rule_.rate_factors(s.step);
    const double eta_over_n = rule_.eta_over_n * f.w;
    const double eta_v_over_n = rule_.eta_v_over_n * f.v;
    auto W = s.weights.topRows(K);
    if (beta_ != 0.0) {
        // Heavy ball, Eq. (6c.1): u <- beta u + (the step of the lines below), w <- w + u, for
        // the rows, the layers above the first and v alike (the sphere is refused with it).
        Velocity& u = *s.velocity;
        const auto Bd = static_cast<double>(B);
        u.W *= beta_;
        if (lambda_ != 0.0)
            u.W.noalias() -= (eta_over_n * lambda_) * W;
        u.W.noalias() -= (eta_over_n / Bd) * errors_.transpose() * X;
        W += u.W;
        for (std::size_t l = 0; l < rule_.layer_steps.size(); ++l)
            if (const auto step = rule_.layer_steps[l]) {
                u.layers[l] = beta_ * u.layers[l] - (*step * f.layers) * (grad_layers_sum_[l] / Bd +
                                                                          lambda_ * s.layers[l]);
                s.layers[l] += u.layers[l];
            }
        if (rule_.learn_v) {
            u.v = beta_ * u.v - eta_v_over_n * (grad_v_ / Bd + lambda_ * s.v);
            s.v += u.v;
        }
        return true;
    }
    if (lambda_ != 0.0)
        W *= 1.0 - eta_over_n * lambda_;
    W.noalias() -= (eta_over_n / static_cast<double>(B)) * errors_.transpose() * X;
    if (rule_.sphere) // projected SGD: every row back on |w^(m)| = 1 (docs/theory.md §14)
        step_kernels::project_rows(W.data(), static_cast<std::size_t>(K),
                                   static_cast<std::size_t>(n_), nullptr);
    // W_l <- W_l - (eta_l/N) ((1/B) sum_b de^b/dW_l + lambda W_l) above the first layer of a
    // deeper student: Eq. (12.3) with the batch mean and weight decay as for v.
    for (std::size_t l = 0; l < rule_.layer_steps.size(); ++l)
        if (const auto step = rule_.layer_steps[l])
            s.layers[l] -= (*step * f.layers) *
                           (grad_layers_sum_[l] / static_cast<double>(B) + lambda_ * s.layers[l]);
    // v_k <- v_k - (eta_v/N) ((1/B) sum_b de^b/dv_k + lambda v_k): Eqs. (3), (6) and (8).
    if (rule_.learn_v)
        s.v -= eta_v_over_n * (grad_v_ / static_cast<double>(B) + lambda_ * s.v);
    return true;
}

StepOutcome MiniBatchSgd::advance(RunState& s, std::int64_t steps) {
    if (steps <= 0)
        return StepOutcome::ok;
    assert(s.N() == n_);
    prepare(s);
    if (beta_ != 0.0 && !s.velocity) // at rest at the start (docs/theory.md §6c)
        s.velocity = Velocity{RowMatrix::Zero(s.K, n_), Eigen::VectorXd::Zero(s.v.size()),
                              zero_layers(rule_.student)};
    for (std::int64_t t = 0; t < steps; ++t) {
        bool ok = false;
        if (!has_training_set() && mixture_) {
            // B fresh mixture examples (§15), each N normals and a uniform of the stream, and
            // their clusters' labels (with label noise from the noise stream).
            block_.resize(batch_, n_);
            block_labels_.resize(batch_);
            for (Eigen::Index b = 0; b < batch_; ++b) {
                const std::size_t c =
                    mixture_->draw(examples_, {block_.row(b).data(), static_cast<std::size_t>(n_)});
                block_labels_(b) = mixture_->label(c);
                if (noise_sd_ > 0.0)
                    block_labels_(b) += noise_sd_ * noise_.next();
            }
            ok = update(s, block_, &block_labels_);
        } else if (!has_training_set() && s.manifold) {
            // B fresh hidden-manifold examples (§16): B latent vectors from the stream, example
            // after example; labels from the teacher's fields b_n . c (noise from its stream).
            draw_manifold_examples(*s.manifold, examples_, batch_, latent_, block_, block_fields_);
            block_labels_.resize(batch_);
            for (Eigen::Index b = 0; b < batch_; ++b) {
                block_labels_(b) = teacher_output(s, block_fields_.row(b).data());
                if (noise_sd_ > 0.0)
                    block_labels_(b) += noise_sd_ * noise_.next();
            }
            ok = update(s, block_, &block_labels_);
        } else if (!has_training_set()) {
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
        std::string(extra_name::eps_train),
        Eigen::VectorXd::Constant(1, training_error(rule_.student, s.student(), s.layers, s.v, set_,
                                                    labels_, rule_.loss)));
}

} // namespace plateau
