#include "models/mixture.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

namespace plateau {

Mixture Mixture::exclusive_or() {
    // Eq. (15.4): +-e_1 labelled +1, +-e_2 labelled -1.
    Mixture m;
    m.source = "xor";
    m.dims = 2;
    m.means = {1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0};
    m.labels = {1.0, 1.0, -1.0, -1.0};
    m.weights = {0.25, 0.25, 0.25, 0.25};
    return m;
}

Mixture Mixture::two() {
    // Eq. (15.5): +e_1 labelled +1, -e_1 labelled -1.
    Mixture m;
    m.source = "two";
    m.dims = 1;
    m.means = {1.0, -1.0};
    m.labels = {1.0, -1.0};
    m.weights = {0.5, 0.5};
    return m;
}

namespace {

std::optional<double> number(std::string_view word) {
    double x = 0.0;
    const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), x);
    if (ec != std::errc{} || end != word.data() + word.size() || !std::isfinite(x))
        return std::nullopt;
    return x;
}

} // namespace

Mixture Mixture::parse(std::string_view text, std::string source) {
    Mixture m;
    m.source = std::move(source);
    m.dims = 0;
    m.means.clear();
    m.labels.clear();
    m.weights.clear();
    std::size_t with_weight = 0;
    std::istringstream lines{std::string(text)};
    std::string line;
    for (int number_of_line = 1; std::getline(lines, line); ++number_of_line) {
        if (const auto hash = line.find('#'); hash != std::string::npos)
            line.erase(hash);
        std::istringstream words(line);
        std::vector<std::string> w;
        for (std::string word; words >> word;)
            w.push_back(word);
        if (w.empty())
            continue;
        const auto fail = [&](const std::string& what) {
            return MixtureSyntaxError("line " + std::to_string(number_of_line) + ": " + what);
        };
        const auto label = number(w[0]);
        if (!label || (*label != 1.0 && *label != -1.0))
            throw fail("expected a label +1 or -1, found '" + w[0] + "'");
        std::size_t end = w.size();
        double weight = 1.0;
        if (end >= 2 && w[end - 2] == "weight") {
            const auto x = number(w[end - 1]);
            if (!x || *x <= 0.0)
                throw fail("expected a weight > 0, found '" + w[end - 1] + "'");
            weight = *x;
            end -= 2;
            ++with_weight;
        }
        if (end < 2)
            throw fail("expected the mean's coordinates after the label");
        const std::size_t dims = end - 1;
        if (m.dims != 0 && dims != m.dims)
            throw fail("expected " + std::to_string(m.dims) +
                       " coordinates like the lines above, found " + std::to_string(dims));
        m.dims = dims;
        double norm2 = 0.0;
        std::vector<double> mu;
        for (std::size_t d = 1; d < end; ++d) {
            const auto x = number(w[d]);
            if (!x)
                throw fail("expected a number, found '" + w[d] + "'");
            mu.push_back(*x);
            norm2 += *x * *x;
        }
        if (norm2 == 0.0)
            throw fail("the mean is zero (it is scaled to unit norm)");
        for (const double x : mu) // |mu_c| = 1 (docs/theory.md §15)
            m.means.push_back(x / std::sqrt(norm2));
        m.labels.push_back(*label);
        m.weights.push_back(weight);
    }
    if (m.labels.size() < 2)
        throw MixtureSyntaxError("expected at least two clusters, one a line: label m_1 .. m_D "
                                 "[weight w]");
    if (with_weight != 0 && with_weight != m.labels.size())
        throw MixtureSyntaxError("a weight on every line or on none");
    if (std::ranges::all_of(m.labels, [&](double y) { return y == m.labels.front(); }))
        throw MixtureSyntaxError("expected clusters of both labels +1 and -1");
    const double total = std::accumulate(m.weights.begin(), m.weights.end(), 0.0);
    for (double& p : m.weights)
        p /= total;
    return m;
}

double normal_cdf(double x) noexcept {
    return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

double xor_bayes_error(double delta) noexcept {
    // Eq. (15.6): the Bayes classifier says +1 iff |x_1| > |x_2|; with a = (x_1 + x_2)/sqrt 2,
    // b = (x_1 - x_2)/sqrt 2, independent N(1/sqrt 2, Delta) given the cluster +e_1, it errs
    // iff a b < 0.
    const double p = normal_cdf(-1.0 / std::sqrt(2.0 * delta));
    return 2.0 * p * (1.0 - p);
}

double two_bayes_error(double delta) noexcept {
    // Eq. (15.7): the Bayes classifier is sign(mu . x); mu . x = 1 + sqrt(Delta) z.
    return normal_cdf(-1.0 / std::sqrt(delta));
}

std::optional<double> closed_form_bayes_error(const Mixture& m) noexcept {
    if (m.source == "xor")
        return xor_bayes_error(m.variance);
    if (m.source == "two")
        return two_bayes_error(m.variance);
    return std::nullopt;
}

double posterior_minority(const Mixture& m, const double* x) noexcept {
    // p(y, x) = sum_{c: y_c = y} p_c exp(-|x - mu_c|^2 / (2 Delta)) up to a common factor
    // (Eq. (15.8)); shifted by the largest exponent against underflow.
    const std::size_t C = m.clusters();
    double top = -std::numeric_limits<double>::infinity();
    std::vector<double> e(C);
    for (std::size_t c = 0; c < C; ++c) {
        double d2 = 0.0;
        for (std::size_t d = 0; d < m.dims; ++d) {
            const double u = x[d] - m.mean(c, d);
            d2 += u * u;
        }
        e[c] = -d2 / (2.0 * m.variance);
        top = std::max(top, e[c]);
    }
    double plus = 0.0;
    double minus = 0.0;
    for (std::size_t c = 0; c < C; ++c) {
        const double w = m.weights[c] * std::exp(e[c] - top);
        (m.labels[c] > 0.0 ? plus : minus) += w;
    }
    return std::min(plus, minus) / (plus + minus);
}

} // namespace plateau
