#include "engine/simulation/mixture_source.hpp"

#include "engine/simulation/manifold_source.hpp"

#include <algorithm>
#include <cmath>

namespace plateau {

MixtureSampler::MixtureSampler(const Mixture& m)
    : mixture_(m), sd_(std::sqrt(m.variance)), cumulative_(m.weights.size()) {
    double sum = 0.0;
    for (std::size_t c = 0; c < m.weights.size(); ++c)
        cumulative_[c] = sum += m.weights[c];
}

std::size_t MixtureSampler::cluster(double u) const noexcept {
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
    return std::min(static_cast<std::size_t>(it - cumulative_.begin()), cumulative_.size() - 1);
}

std::size_t MixtureSampler::draw(NormalStream& stream, std::span<double> x) const noexcept {
    stream.fill(x);
    const std::size_t c = cluster(stream.uniform().next_double());
    // Eq. (15.1): xi = mu_c + sqrt(Delta) z, mu_c on the first D coordinate axes.
    for (double& xi : x)
        xi *= sd_;
    for (std::size_t d = 0; d < mixture_.dims; ++d)
        x[d] += mixture_.mean(c, d);
    return c;
}

Eigen::MatrixXd MixtureSampler::mean_overlaps(const Eigen::Ref<const RowMatrix>& W) const {
    const auto C = static_cast<Eigen::Index>(mixture_.clusters());
    const auto D = static_cast<Eigen::Index>(mixture_.dims);
    Eigen::MatrixXd M = Eigen::MatrixXd::Zero(W.rows(), C);
    for (Eigen::Index c = 0; c < C; ++c) // M_jc = w_j . mu_c, Eq. (15.2)
        for (Eigen::Index d = 0; d < D; ++d)
            M.col(c) +=
                W.col(d) * mixture_.mean(static_cast<std::size_t>(c), static_cast<std::size_t>(d));
    return M;
}

std::unique_ptr<ExampleSource> make_example_source(const RunParams& params, std::uint64_t seed,
                                                   std::uint64_t run) {
    if (params.model.inputs == InputKind::mixture)
        return std::make_unique<MixtureExamples>(params.model.mixture, seed, run);
    if (params.model.inputs == InputKind::hidden_manifold) // docs/theory.md §16
        return std::make_unique<ManifoldExamples>(seed, run);
    return std::make_unique<FreshExamples>(seed, run);
}

BayesError bayes_error(const Mixture& m, std::int64_t samples) {
    if (const auto exact = closed_form_bayes_error(m))
        return {*exact, 0.0};
    // E_x[min_y P(y | x)] over x from the mixture (Eq. (15.8)), in the D-space of the means
    // (the other N - D directions carry the same noise for every cluster and drop out). A fixed
    // stream: the same mixture gives the same value.
    const MixtureSampler sampler(m);
    NormalStream stream(StreamKey{0, 0, StreamPurpose::observer});
    std::vector<double> x(m.dims);
    double sum = 0.0;
    double sum_sq = 0.0;
    for (std::int64_t i = 0; i < samples; ++i) {
        (void)sampler.draw(stream, x);
        const double e = posterior_minority(m, x.data());
        sum += e;
        sum_sq += e * e;
    }
    const auto n = static_cast<double>(samples);
    const double mean = sum / n;
    const double var = std::max(0.0, (sum_sq - n * mean * mean) / (n - 1.0));
    return {mean, std::sqrt(var / n)};
}

} // namespace plateau
