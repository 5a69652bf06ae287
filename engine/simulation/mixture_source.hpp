// Gaussian-mixture examples (docs/theory.md §15): the one sampler of Eq. (15.1) that on-line SGD
// (MixtureExamples), fresh mini-batches and finite training sets (MiniBatchSgd) share, the
// students' overlaps with the means, and the mixture's Bayes error by Monte Carlo where it has
// no closed form.
#pragma once

#include "engine/core/random.hpp"
#include "engine/core/run_params.hpp"
#include "engine/simulation/example_source.hpp"
#include "models/mixture.hpp"
#include "models/network.hpp"

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace plateau {

/// Draws examples of a mixture, Eq. (15.1).
class MixtureSampler {
public:
    explicit MixtureSampler(const Mixture& m);

    /// One example from `stream` into x (N values): N normals z, then one uniform u of the same
    /// stream picks the cluster c (the first with u < p_1 + ... + p_c); x = sqrt(Delta) z + mu_c.
    /// Returns c.
    std::size_t draw(NormalStream& stream, std::span<double> x) const noexcept;
    /// The cluster of a uniform u in [0, 1).
    [[nodiscard]] std::size_t cluster(double u) const noexcept;
    [[nodiscard]] double label(std::size_t c) const noexcept { return mixture_.labels[c]; }
    [[nodiscard]] const Mixture& mixture() const noexcept { return mixture_; }

    /// The overlaps M_jc = w_j . mu_c of the rows of W (K x N) with the means (K x C):
    /// normalised as Q and R are (docs/theory.md §15).
    [[nodiscard]] Eigen::MatrixXd mean_overlaps(const Eigen::Ref<const RowMatrix>& W) const;

private:
    Mixture mixture_;
    double sd_;                      ///< sqrt(Delta)
    std::vector<double> cumulative_; ///< p_1 + ... + p_c
};

/// On-line SGD's examples from a mixture: the run's "examples" stream through MixtureSampler;
/// label() is the cluster's y_c.
class MixtureExamples final : public ExampleSource {
public:
    MixtureExamples(const Mixture& m, std::uint64_t seed, std::uint64_t run)
        : sampler_(m), stream_(StreamKey{seed, run, StreamPurpose::examples}) {}

    [[nodiscard]] NormalStream* draw(std::span<double> x) noexcept override {
        label_ = sampler_.label(sampler_.draw(stream_, x));
        return nullptr;
    }
    [[nodiscard]] std::optional<double> label() const noexcept override { return label_; }

private:
    MixtureSampler sampler_;
    NormalStream stream_;
    double label_ = 0.0;
};

/// The source of on-line SGD for `params`: FreshExamples, MixtureExamples with inputs =
/// mixture, or ManifoldExamples with inputs = hidden-manifold
/// (engine/simulation/manifold_source.hpp).
[[nodiscard]] std::unique_ptr<ExampleSource>
make_example_source(const RunParams& params, std::uint64_t seed, std::uint64_t run);

struct BayesError {
    double value = 0.0;
    double standard_error = 0.0; ///< 0 for a closed form
};

/// The mixture's Bayes error (docs/theory.md §15b): the closed form of Eqs. (15.6)-(15.7) for
/// the built-in mixtures; otherwise the Monte-Carlo mean of min_y P(y | x) over `samples` draws
/// of x from the mixture in the means' D-space (Eq. (15.8)), from a fixed stream (the same
/// value for the same mixture), with its standard error.
[[nodiscard]] BayesError bayes_error(const Mixture& m, std::int64_t samples = 1 << 20);

} // namespace plateau
