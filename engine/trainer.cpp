#include "engine/trainer.hpp"

#include <cmath>

namespace plateau {

OnlineSgd::OnlineSgd(const RunParams& params, std::uint64_t seed, std::uint64_t run)
    : student_(params.model.student), teacher_(params.model.teacher),
      learn_v_(params.model.learn_v),
      eta_over_n_(params.training.eta / static_cast<double>(params.model.N)),
      eta_v_over_n_(params.training.eta_v / static_cast<double>(params.model.N)),
      noise_sd_(std::sqrt(params.model.noise)),
      examples_(StreamKey{seed, run, StreamPurpose::examples}),
      noise_(StreamKey{seed, run, StreamPurpose::noise}), xi_(params.model.N),
      fields_(params.model.student.hidden + params.model.teacher.hidden),
      grad_fields_(static_cast<std::size_t>(params.model.student.hidden)),
      grad_v_(static_cast<std::size_t>(params.model.student.hidden)) {}

StepOutcome OnlineSgd::advance(RunState& state, std::int64_t steps) {
    for (std::int64_t i = 0; i < steps; ++i) {
        if (step(state) == StepOutcome::diverged)
            return StepOutcome::diverged;
        ++state.step;
    }
    return StepOutcome::ok;
}

StepOutcome OnlineSgd::step(RunState& s) {
    const auto K = static_cast<std::size_t>(s.K);
    const auto M = static_cast<std::size_t>(s.M);

    // A fresh example xi ~ N(0, I_N).
    examples_.fill({xi_.data(), static_cast<std::size_t>(xi_.size())});

    // All K+M fields in one pass over the stacked weights: x_j = w^(j).xi, y_n = B_n.xi.
    fields_.noalias() = s.weights * xi_;
    const std::span<const double> x{fields_.data(), K};
    const std::span<const double> y{fields_.data() + K, M};

    // Teacher label tau = h*(sum_n v*_n g*(y_n)) + zeta, zeta ~ N(0, s^2); student sigma, Eq. (1).
    double tau = forward(teacher_, y, {s.v_star.data(), M}).output;
    if (noise_sd_ > 0.0)
        tau += noise_sd_ * noise_.next();
    const ForwardPass pass = forward(student_, x, {s.v.data(), K});
    if (!std::isfinite(pass.output))
        return StepOutcome::diverged;

    // Eqs. (3)-(5): field errors delta v_m g'(x_m) and, if v is learned, de/dv_k = delta g(x_k).
    const std::span<double> grad_v = learn_v_ ? std::span<double>{grad_v_} : std::span<double>{};
    backward(student_, x, {s.v.data(), K}, pass, tau, grad_fields_, grad_v);

    // Descent: w^(m) <- w^(m) - (eta/N) grad_{w^(m)} e = w^(m) - (eta/N) (de/dx_m) xi  (Eq. 5).
    for (std::size_t m = 0; m < K; ++m) {
        const double c = -eta_over_n_ * grad_fields_[m];
        s.weights.row(static_cast<Eigen::Index>(m)).noalias() += c * xi_.transpose();
    }
    // v_k <- v_k - (eta_v/N) de/dv_k (Eq. 3), from the same example and the pre-update fields.
    for (std::size_t k = 0; k < grad_v.size(); ++k)
        s.v[static_cast<Eigen::Index>(k)] -= eta_v_over_n_ * grad_v[k];
    return StepOutcome::ok;
}

} // namespace plateau
