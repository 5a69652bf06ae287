// Gaussian-mixture inputs (docs/theory.md §15): C clusters c with weights p_c, means mu_c and
// labels y_c = +-1; an example of cluster c is xi = mu_c + sqrt(Delta) z with z ~ N(0, I_N)
// (Eq. (15.1)), its label y_c. The means have unit norm in the engine's units (|mu_c| = 1 where
// |w_j|^2 = Q_jj), so an aligned unit student vector sees a mean field w . mu_c of O(1). They lie
// on the first D coordinate axes e_1 .. e_D of the input space: z and the initial weights are
// isotropic, so any orthonormal D-frame gives the same law. Pure data and closed forms; the
// sampler and the Monte-Carlo Bayes error are in engine/simulation/mixture_source.hpp.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace plateau {

/// A mixture text that is not one: what() is one line naming the line and what was expected.
struct MixtureSyntaxError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Mixture {
    /// How the clusters were given: "xor", "two" or the path of a file (the `clusters` key).
    std::string source = "xor";
    std::size_t dims = 2;          ///< D: the means' coordinates on e_1 .. e_D
    std::vector<double> means{};   ///< C x D, row-major: mu_c = sum_d means[c D + d] e_d
    std::vector<double> labels{};  ///< y_c = +1 or -1
    std::vector<double> weights{}; ///< p_c > 0, summing to 1
    double variance = 0.1;         ///< Delta of Eq. (15.1) (the `cluster-variance` key)

    [[nodiscard]] std::size_t clusters() const noexcept { return labels.size(); }
    [[nodiscard]] double mean(std::size_t c, std::size_t d) const noexcept {
        return means[c * dims + d];
    }

    /// The XOR mixture: means +-e_1 labelled +1, +-e_2 labelled -1, equal weights (Eq. (15.4)).
    [[nodiscard]] static Mixture exclusive_or();
    /// Two clusters: +e_1 labelled +1, -e_1 labelled -1, equal weights (Eq. (15.5)).
    [[nodiscard]] static Mixture two();
    /// A mixture from the text of a clusters file (docs/theory.md §15, "Clusters"): one cluster a
    /// line,
    ///     label  m_1 m_2 ... m_D  [weight w]
    /// label +1 or -1, the mean's D coordinates (the same D on every line; the mean is scaled
    /// to unit norm), optionally `weight` and a positive number (weights are normalised to sum
    /// to 1; equal if none is given, all or none); '#' starts a comment. Throws
    /// MixtureSyntaxError. `source` is stored as given.
    [[nodiscard]] static Mixture parse(std::string_view text, std::string source);

    friend bool operator==(const Mixture&, const Mixture&) = default;
};

/// Phi(x), the standard normal distribution function.
[[nodiscard]] double normal_cdf(double x) noexcept;

/// The Bayes error of the XOR mixture, Eq. (15.6): 2 p (1 - p) with p = Phi(-1/sqrt(2 Delta)).
[[nodiscard]] double xor_bayes_error(double delta) noexcept;
/// The Bayes error of two clusters +-mu with equal weights, Eq. (15.7): Phi(-1/sqrt(Delta)).
[[nodiscard]] double two_bayes_error(double delta) noexcept;
/// The closed form of the mixture's Bayes error where one exists (the built-in xor and two
/// mixtures), else nullopt.
[[nodiscard]] std::optional<double> closed_form_bayes_error(const Mixture& m) noexcept;

/// min(P(y = +1 | x), P(y = -1 | x)) at a point x of the means' D-space (docs/theory.md §15b):
/// the probability that the Bayes classifier errs at x; its mean over x is the Bayes error.
[[nodiscard]] double posterior_minority(const Mixture& m, const double* x) noexcept;

} // namespace plateau
