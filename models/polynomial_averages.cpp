// Exact Gaussian averages of polynomials by Isserlis' theorem; see polynomial_averages.hpp and
// docs/theory.md §9b.
#include "models/polynomial_averages.hpp"

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace plateau::polynomial_averages {
namespace {

/// The most moments one average may tabulate (far above I4's 5184 at degree 8).
constexpr std::size_t max_moments = std::size_t{1} << 24;

void check(const Eigen::MatrixXd& C, int field) {
    if (C.rows() != C.cols())
        throw std::invalid_argument(
            "plateau::polynomial_averages: covariance matrix must be square");
    if (field < 0 || field >= C.rows())
        throw std::out_of_range("plateau::polynomial_averages: index " + std::to_string(field) +
                                " outside a covariance matrix of size " + std::to_string(C.rows()));
}

/// The coefficients of p, up to its degree.
std::vector<double> coefficients(const Polynomial& p) {
    const auto n = static_cast<std::size_t>(p.degree()) + 1;
    return {p.c.begin(), p.c.begin() + static_cast<std::ptrdiff_t>(n)};
}

/// a * b, coefficients from x^0 up.
std::vector<double> multiply(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> out(a.size() + b.size() - 1, 0.0);
    for (std::size_t i = 0; i < a.size(); ++i)
        for (std::size_t j = 0; j < b.size(); ++j)
            out[i + j] += a[i] * b[j];
    return out;
}

Polynomial x_polynomial() {
    Polynomial x;
    x.c[1] = 1.0;
    return x;
}

} // namespace

double average(std::span<const Factor> factors, const Eigen::MatrixXd& C) {
    // One polynomial per distinct field (the product of its factors).
    std::vector<int> fields;
    std::vector<std::vector<double>> P;
    for (const Factor& f : factors) {
        check(C, f.field);
        std::size_t at = 0;
        while (at < fields.size() && fields[at] != f.field)
            ++at;
        if (at == fields.size()) {
            fields.push_back(f.field);
            P.push_back(coefficients(f.p));
        } else {
            P[at] = multiply(P[at], coefficients(f.p));
        }
    }
    // Constant factors leave the average as numbers.
    double constant = 1.0;
    for (std::size_t f = 0; f < P.size();) {
        if (P[f].size() == 1) {
            constant *= P[f][0];
            P.erase(P.begin() + static_cast<std::ptrdiff_t>(f));
            fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(f));
        } else {
            ++f;
        }
    }
    const std::size_t r = P.size();
    if (r == 0 || constant == 0.0)
        return constant;

    // The moment table m(k), 0 <= k_f <= deg P_f, field 0 varying fastest.
    std::vector<std::size_t> stride(r);
    std::size_t size = 1;
    for (std::size_t f = 0; f < r; ++f) {
        stride[f] = size;
        if (size > max_moments / P[f].size())
            throw std::invalid_argument(
                "plateau::polynomial_averages: too many moments (degrees too high)");
        size *= P[f].size();
    }
    std::vector<double> c(r * r);
    for (std::size_t i = 0; i < r; ++i)
        for (std::size_t j = 0; j < r; ++j)
            c[i * r + j] = C(fields[i], fields[j]);

    std::vector<double> m(size, 0.0);
    std::vector<std::size_t> k(r, 0); // the multi-index of `at`
    std::size_t order = 0;            // sum_f k_f
    double sum = 0.0;
    m[0] = 1.0;
    for (std::size_t at = 0; at < size; ++at) {
        if (at > 0) {
            // Odometer step from at - 1 to at.
            std::size_t f = 0;
            while (k[f] + 1 == P[f].size()) {
                order -= k[f];
                k[f] = 0;
                ++f;
            }
            ++k[f];
            ++order;
            if (order % 2 == 0) {
                // Eq. (9b.1) with i the first field with k_i > 0.
                std::size_t i = 0;
                while (k[i] == 0)
                    ++i;
                const std::size_t less_i = at - stride[i];
                double value = 0.0;
                if (k[i] >= 2)
                    value += static_cast<double>(k[i] - 1) * c[i * r + i] * m[less_i - stride[i]];
                for (std::size_t j = 0; j < r; ++j)
                    if (j != i && k[j] > 0)
                        value += static_cast<double>(k[j]) * c[i * r + j] * m[less_i - stride[j]];
                m[at] = value;
            }
        }
        if (m[at] != 0.0) {
            double term = m[at];
            for (std::size_t f = 0; f < r; ++f)
                term *= P[f][k[f]];
            sum += term;
        }
    }
    return constant * sum;
}

double average(std::span<const Factor> factors, std::span<const Term> terms,
               const Eigen::MatrixXd& C) {
    std::vector<Factor> all(factors.begin(), factors.end());
    double sum = 0.0;
    for (const Term& t : terms) {
        all.resize(factors.size());
        all.insert(all.end(), t.factors.begin(), t.factors.end());
        sum += t.coefficient * average(all, C);
    }
    return sum;
}

double average_of_square(std::span<const Factor> factors, std::span<const Term> terms,
                         const Eigen::MatrixXd& C) {
    std::vector<Factor> all(factors.begin(), factors.end());
    double sum = 0.0;
    for (std::size_t t = 0; t < terms.size(); ++t)
        for (std::size_t r = t; r < terms.size(); ++r) {
            all.resize(factors.size());
            all.insert(all.end(), terms[t].factors.begin(), terms[t].factors.end());
            all.insert(all.end(), terms[r].factors.begin(), terms[r].factors.end());
            const double pair = (t == r ? 1.0 : 2.0) * terms[t].coefficient * terms[r].coefficient;
            sum += pair * average(all, C);
        }
    return sum;
}

double I2(const Polynomial& g, const Eigen::MatrixXd& C, int a, int b) {
    const std::array<Factor, 2> f{{{a, g}, {b, g}}};
    return average(f, C);
}

double I3(const Polynomial& g, const Eigen::MatrixXd& C, int a, int b, int c) {
    const std::array<Factor, 3> f{{{a, g.derivative()}, {b, x_polynomial()}, {c, g}}};
    return average(f, C);
}

double I4(const Polynomial& g, const Eigen::MatrixXd& C, int a, int b, int c, int d) {
    const Polynomial dg = g.derivative();
    const std::array<Factor, 4> f{{{a, dg}, {b, dg}, {c, g}, {d, g}}};
    return average(f, C);
}

double J2(const Polynomial& g, const Eigen::MatrixXd& C, int a, int b) {
    const Polynomial dg = g.derivative();
    const std::array<Factor, 2> f{{{a, dg}, {b, dg}}};
    return average(f, C);
}

namespace {

const Polynomial& of(std::span<const Polynomial> g, const Eigen::MatrixXd& C, int field) {
    check(C, field);
    if (g.size() != static_cast<std::size_t>(C.rows()))
        throw std::invalid_argument(
            "plateau::polynomial_averages: one polynomial per field of the covariance matrix");
    return g[static_cast<std::size_t>(field)];
}

} // namespace

double I2(std::span<const Polynomial> g, const Eigen::MatrixXd& C, int a, int b) {
    const std::array<Factor, 2> f{{{a, of(g, C, a)}, {b, of(g, C, b)}}};
    return average(f, C);
}

double I3(std::span<const Polynomial> g, const Eigen::MatrixXd& C, int a, int b, int c) {
    check(C, b);
    const std::array<Factor, 3> f{
        {{a, of(g, C, a).derivative()}, {b, x_polynomial()}, {c, of(g, C, c)}}};
    return average(f, C);
}

double I4(std::span<const Polynomial> g, const Eigen::MatrixXd& C, int a, int b, int c, int d) {
    const std::array<Factor, 4> f{{{a, of(g, C, a).derivative()},
                                   {b, of(g, C, b).derivative()},
                                   {c, of(g, C, c)},
                                   {d, of(g, C, d)}}};
    return average(f, C);
}

double J2(std::span<const Polynomial> g, const Eigen::MatrixXd& C, int a, int b) {
    const std::array<Factor, 2> f{{{a, of(g, C, a).derivative()}, {b, of(g, C, b).derivative()}}};
    return average(f, C);
}

} // namespace plateau::polynomial_averages
