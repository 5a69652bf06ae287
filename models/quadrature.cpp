// Gaussian averages by nested one-dimensional quadrature; see quadrature.hpp and docs/theory.md §9.
#include "models/quadrature.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <numbers>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace plateau::quadrature {
namespace {

constexpr double pi = std::numbers::pi;
constexpr int max_fields = 4; // distinct fields carrying a factor (I4)

// ---------------------------------------------------------------------------------------------
// One-dimensional rules.
// ---------------------------------------------------------------------------------------------

constexpr int max_gh = 64;

/// Gauss-Hermite rules 1..max_gh, built once.
const Rule1d& gauss_hermite(int n) {
    static const std::vector<Rule1d> rules = [] {
        std::vector<Rule1d> r(static_cast<std::size_t>(max_gh) + 1);
        for (int k = 1; k <= max_gh; ++k)
            r[static_cast<std::size_t>(k)] = make_gauss_hermite(k);
        return r;
    }();
    return rules[static_cast<std::size_t>(std::clamp(n, 1, max_gh))];
}

constexpr int max_gl = 32;

const Rule1d& gauss_legendre(int n) {
    static const std::vector<Rule1d> rules = [] {
        std::vector<Rule1d> r(static_cast<std::size_t>(max_gl) + 1);
        for (int k = 1; k <= max_gl; ++k)
            r[static_cast<std::size_t>(k)] = make_gauss_legendre(k);
        return r;
    }();
    return rules[static_cast<std::size_t>(std::clamp(n, 1, max_gl))];
}

// ---------------------------------------------------------------------------------------------
// Node counts (chosen by measured error, docs/theory.md §9; see tests/test_quadrature.cpp).
// ---------------------------------------------------------------------------------------------

/// Gauss-Hermite nodes per level for a polynomial g (linear: integrands of degree <= 2 per
/// variable, exact; the smallest rule used, see gauss_hermite_nodes).
constexpr int polynomial_nodes = 4;
/// erf, tanh, sigmoid: trapezoid rule z_k = k h, |z_k| <= trapezoid_range, weights h phi(z_k).
/// For phi(z) f(z) with f analytic in the strip |Im z| < d and |f(x + iy)| <~ exp(b y^2 / 2) its
/// error is ~exp(-2 pi d / h + (1 + b) d^2 / 2), plus the tail exp(-Z^2 / 2). With L = log(1/eps)
/// (Rule::log_eps):
///  * erf(sigma z / sqrt 2) is entire with b = sigma^2: the best d gives h = pi sqrt(2 / (L (1 +
///    sigma^2)));
///  * tanh(kappa sigma z) (sigmoid: kappa = 1/2) is bounded (b = 0) up to its poles at
///    d = pi / (2 kappa sigma): h = 2 pi d / (L + d^2 / 2) when d < sqrt(2 L), else pi sqrt(2 / L).
/// sigma is the largest slope of a factor on the level's variable.
/// L defaults: erf 30 (the closed-form comparison, 1e-10 relative), tanh and sigmoid 17 (~1e-7,
/// the speed of the ODE; measured errors in docs/theory.md §9). Range Z = sqrt(2 (L + 3)).
constexpr double erf_log_eps = 30.0;
/// tanh and sigmoid: the strip used is this fraction of the distance d to the poles (measured,
/// docs/theory.md §9: the production rule's error against a refined rule fell from 2.4e-5 to
/// 1.8e-6 for tanh(2x), at 1.25x the nodes per level).
constexpr double pole_margin = 0.8;
constexpr double smooth_log_eps = 17.0;
constexpr int max_trapezoid = 2 * 200 + 1;
/// relu: composite Gauss-Legendre on [z*, z_hi] (z_hi where phi(z_hi) / phi(max(z*, 0)) = e^-37)
/// in panels of length <= relu_panel.
constexpr double relu_range = 8.6;
constexpr double relu_tail = 74.0; // 2 * 37
constexpr double relu_panel = 4.5;
constexpr int relu_nodes = 24;

// ---------------------------------------------------------------------------------------------
// The integrand: a product over distinct fields of g'(u)^p g(u)^q u^r.
// ---------------------------------------------------------------------------------------------

struct Power {
    int p = 0; ///< power of g'
    int q = 0; ///< power of g
    int r = 0; ///< power of u (the linear factor of I3)
};

double ipow(double x, int k) {
    double out = 1.0;
    for (int i = 0; i < k; ++i)
        out *= x;
    return out;
}

/// g'(x)^p g(x)^q x^r for the evaluator E (models/activations/): value and slope together where
/// E computes them so (tanh: one expm1), otherwise only the powers that are used.
template <activations::Evaluator E>
double factor(const activations::Parameters& g, const Power& pw, double x) {
    double value = 1.0, slope = 1.0;
    if constexpr (activations::HasValueSlope<E>) {
        const activations::ValueSlope vs = E::value_and_slope(x, g);
        value = vs.value;
        slope = vs.slope;
    } else {
        value = pw.q > 0 ? E::value(x, g) : 0.0;
        slope = pw.p > 0 ? E::derivative(x, g) : 0.0;
    }
    return ipow(slope, pw.p) * ipow(value, pw.q) * ipow(x, pw.r);
}

/// Gauss-Hermite nodes per level for a polynomial g of degree d: the integrand on one variable
/// is a polynomial of degree <= 4d - 2 (I4: g'^2 g^2), which n nodes integrate exactly when
/// 2n - 1 >= 4d - 2; at least polynomial_nodes.
constexpr int gauss_hermite_nodes(int degree) {
    return std::max(polynomial_nodes, 2 * degree);
}

/// The integral for the evaluator E; its rule per level follows E::quadrature.
template <activations::Evaluator E>
class Integral {
public:
    Integral(const activations::Parameters& g, Rule rule)
        : g_(g), refine_(std::max(rule.refine, 1)),
          log_eps_(rule.log_eps > 0.0                                      ? rule.log_eps
                   : E::quadrature == activations::QuadratureShape::entire ? erf_log_eps
                                                                           : smooth_log_eps),
          range_(std::sqrt(2.0 * (log_eps_ + 3.0))), window_start_(std::sqrt(2.0 * log_eps_)) {}

    /// Adds a factor on field `index` of C.
    void add(int index, int p, int q, int r) {
        for (int i = 0; i < n_; ++i)
            if (index_[static_cast<std::size_t>(i)] == index) {
                auto& pw = power_[static_cast<std::size_t>(i)];
                pw.p += p;
                pw.q += q;
                pw.r += r;
                return;
            }
        index_[static_cast<std::size_t>(n_)] = index;
        power_[static_cast<std::size_t>(n_)] = Power{p, q, r};
        ++n_;
    }

    double evaluate(const Eigen::MatrixXd& C) {
        // A field carrying only the linear factor (r = 1, p = q = 0) is integrated analytically:
        // it goes last and contributes its conditional mean.
        int linear_only = -1;
        for (int i = 0; i < n_; ++i) {
            const auto& pw = power_[static_cast<std::size_t>(i)];
            if (pw.p == 0 && pw.q == 0 && pw.r == 1)
                linear_only = i;
        }
        factorize(C, linear_only);
        setup_rules();
        std::array<double, max_fields + 1> z{};
        return level(0, z);
    }

private:
    /// Semi-definite Cholesky of the fields in a FIXED order: the order in which the factors were
    /// added (the integral's roles a, b, c, d), the linear-only field (if any) last. Rows with zero
    /// conditional variance (at rounding level of the variance) get L_ii = 0.
    /// Why not pivot on the largest conditional variance: the pivot order would then change where
    /// two variances cross (Q_11 = Q_22, Q_jj = T_nn: near every specialized point), and with it
    /// the quadrature error, so the flow would jump there (by ~1e-5 for tanh at L = 17); the
    /// jumps of student 1's and student 2's terms point towards the crossing from both sides and
    /// the ODE integrator stalls on it (docs/theory.md §9, "Smoothness").
    void factorize(const Eigen::MatrixXd& C, int linear_only) {
        m_ = 0;
        extra_ = linear_only >= 0;
        for (int i = 0; i < n_; ++i)
            if (i != linear_only)
                order_[static_cast<std::size_t>(m_++)] = i; // integration levels
        if (extra_)
            order_[static_cast<std::size_t>(m_)] = linear_only;
        for (auto& row : L_)
            row.fill(0.0);
        const int total = m_ + (extra_ ? 1 : 0);
        for (int k = 0; k < total; ++k) {
            const auto uk = static_cast<std::size_t>(k);
            const int f = index_[static_cast<std::size_t>(order_[uk])];
            for (int l = 0; l < k; ++l) {
                const auto ul = static_cast<std::size_t>(l);
                if (L_[ul][ul] <= 0.0)
                    continue;
                double s = C(f, index_[static_cast<std::size_t>(order_[ul])]);
                for (int j = 0; j < l; ++j)
                    s -= L_[uk][static_cast<std::size_t>(j)] * L_[ul][static_cast<std::size_t>(j)];
                L_[uk][ul] = s / L_[ul][ul];
            }
            double d = std::max(C(f, f), 0.0);
            for (int l = 0; l < k; ++l)
                d -= L_[uk][static_cast<std::size_t>(l)] * L_[uk][static_cast<std::size_t>(l)];
            // conditional variance at rounding level of the variance: the field is a function of
            // the previous ones (collinear, or zero variance)
            L_[uk][uk] = d > 1e-13 * std::max(C(f, f), 0.0) && d > 0.0 ? std::sqrt(d) : 0.0;
        }
    }

    /// Per level: the nodes and weights of its one-dimensional rule (relu: chosen per call of
    /// level(), since the interval starts at the kink).
    /// The trapezoid step for a level whose factors have slope <= sigma and (erf) growth
    /// exponent b = sum over the factors of (p + q) L_ji^2 (see trapezoid_range).
    double trapezoid_step(double sigma, double b) const {
        const double L = log_eps_;
        const double h_gauss = pi * std::sqrt(2.0 / L);
        if constexpr (E::quadrature == activations::QuadratureShape::entire) {
            return h_gauss / std::sqrt(1.0 + b);
        } else if constexpr (E::quadrature != activations::QuadratureShape::strip) {
            return h_gauss; // not called: the other shapes have no trapezoid rule
        } else {
            const double ks = E::sharpness(g_.gamma) * sigma;
            if (!(ks > 0.0))
                return h_gauss;
            // the rule's strip: pole_margin of the distance to the poles, so that the integrand
            // stays bounded on it (g'^2 g^2 of I4 has poles of order 6 there; at the full distance
            // the error was ~1e-4 for tanh, gamma = 1, not e^-L)
            const double d = pole_margin * pi / (2.0 * ks);
            return d < std::sqrt(2.0 * L) ? 2.0 * pi * d / (L + 0.5 * d * d) : h_gauss;
        }
    }

    /// The trapezoid rules' window: 1 up to |z| = window_start_, 0 from the range Z on, smooth
    /// (C-infinity) in between. A node that enters or leaves the range as h changes then carries
    /// weight 0 with all its derivatives, so the sum is a smooth function of h and C (a plain
    /// cut-off jumps by ~h phi(Z) ~ 4e-10 each time the node count changes); the window costs
    /// ~phi(window_start_) / window_start_ of the integral (e^-L / Z, below the rule's error).
    [[nodiscard]] double edge_window(double az) const {
        if (az <= window_start_)
            return 1.0;
        if (az >= range_)
            return 0.0;
        const double t = (az - window_start_) / (range_ - window_start_);
        const double rise = std::exp(-1.0 / (1.0 - t)); // -> 0 at t = 1
        const double fall = std::exp(-1.0 / t);         // -> 0 at t = 0
        return rise / (rise + fall);
    }

    void setup_rules() {
        using activations::QuadratureShape;
        for (int i = 0; i < m_; ++i) {
            const auto ui = static_cast<std::size_t>(i);
            // the largest slope of a factor on z_i (the linear-only field is a polynomial), as the
            // 8-norm of the slopes: within 19% of the largest and, unlike the largest, a smooth
            // function of C (a kink where two slopes cross would be a kink of the flow)
            double s8 = 0.0, b = 0.0;
            for (int j = i; j < m_; ++j) {
                const auto uj = static_cast<std::size_t>(j);
                const Power& pw = power_[static_cast<std::size_t>(order_[uj])];
                const double l2 = L_[uj][ui] * L_[uj][ui];
                s8 += l2 * l2 * l2 * l2;
                b += (pw.p + pw.q) * l2;
            }
            const double sigma = std::sqrt(std::sqrt(std::sqrt(s8)));
            auto& nodes = nodes_[ui];
            auto& weights = weights_[ui];
            count_[ui] = 0;
            if (L_[ui][ui] <= 0.0)
                continue;
            switch (E::quadrature) {
            case QuadratureShape::entire:
            case QuadratureShape::strip: {
                const double h = trapezoid_step(sigma, b) / refine_;
                const int half = std::min(static_cast<int>(range_ / h), (max_trapezoid - 1) / 2);
                int c = 0;
                const double norm = h / std::sqrt(2.0 * pi);
                for (int k = -half; k <= half; ++k) {
                    const double z = k * h;
                    const double w = norm * std::exp(-0.5 * z * z) * edge_window(std::abs(z));
                    if (!(w > 0.0))
                        continue;
                    nodes[static_cast<std::size_t>(c)] = z;
                    weights[static_cast<std::size_t>(c)] = w;
                    ++c;
                }
                count_[ui] = c;
                break;
            }
            case QuadratureShape::polynomial: {
                const Rule1d& r = gauss_hermite(gauss_hermite_nodes(polynomial_degree()) * refine_);
                const auto c = r.x.size();
                std::copy(r.x.begin(), r.x.end(), nodes.begin());
                std::copy(r.w.begin(), r.w.end(), weights.begin());
                count_[ui] = static_cast<int>(c);
                break;
            }
            case QuadratureShape::kink_at_zero:
                break; // per call, from the kink
            }
        }
    }

    double mean(int i, const std::array<double, max_fields + 1>& z) const {
        const auto ui = static_cast<std::size_t>(i);
        double mu = 0.0;
        for (int l = 0; l < std::min(i, max_fields); ++l)
            mu += L_[ui][static_cast<std::size_t>(l)] * z[static_cast<std::size_t>(l)];
        return mu;
    }

    double level(int i, std::array<double, max_fields + 1>& z) const {
        if (i >= m_ || i >= max_fields)
            return extra_ ? mean(m_, z) : 1.0; // E[u_b | z]: the noise part averages to 0
        const auto ui = static_cast<std::size_t>(i);
        const Power& pw = power_[static_cast<std::size_t>(order_[ui])];
        const double mu = mean(i, z);
        const double s = L_[ui][ui];
        if (s <= 0.0) { // no variable of its own: the factor at the conditional mean
            z[ui] = 0.0;
            const double f = factor<E>(g_, pw, mu);
            return f == 0.0 ? 0.0 : f * level(i + 1, z);
        }
        if constexpr (E::quadrature == activations::QuadratureShape::kink_at_zero)
            return relu_level(i, z, pw, mu, s);
        double sum = 0.0;
        const int n = count_[ui];
        const auto& nodes = nodes_[ui];
        const auto& weights = weights_[ui];
        if (i + 1 == m_ && !extra_) { // innermost level: no deeper integral
            for (int k = 0; k < n; ++k) {
                const auto uk = static_cast<std::size_t>(k);
                sum += weights[uk] * factor<E>(g_, pw, mu + s * nodes[uk]);
            }
            return sum;
        }
        for (int k = 0; k < n; ++k) {
            const auto uk = static_cast<std::size_t>(k);
            z[ui] = nodes[uk];
            const double f = factor<E>(g_, pw, mu + s * nodes[uk]);
            if (f != 0.0)
                sum += weights[uk] * f * level(i + 1, z);
        }
        return sum;
    }

    /// relu: the factor vanishes for mu + s z < 0, i.e. below the kink z* = -mu / s; integrate
    /// phi(z) * factor * inner over [z*, z_hi] by composite Gauss-Legendre.
    double relu_level(int i, std::array<double, max_fields + 1>& z, const Power& pw, double mu,
                      double s) const {
        const auto ui = static_cast<std::size_t>(i);
        const double lo = std::max(-mu / s, -relu_range);
        const double top = std::max(lo, 0.0);
        const double hi = std::sqrt(top * top + relu_tail);
        const int panels = std::max(1, static_cast<int>(std::ceil((hi - lo) / relu_panel)));
        const double width = (hi - lo) / panels;
        const Rule1d& r = gauss_legendre(relu_nodes * refine_);
        const double norm = 1.0 / std::sqrt(2.0 * pi);
        double sum = 0.0;
        for (int p = 0; p < panels; ++p) {
            const double a = lo + p * width;
            for (std::size_t k = 0; k < r.x.size(); ++k) {
                const double zz = a + width * r.x[k];
                z[ui] = zz;
                const double f = factor<E>(g_, pw, mu + s * zz);
                if (f != 0.0)
                    sum += r.w[k] * norm * std::exp(-0.5 * zz * zz) * f * level(i + 1, z);
            }
        }
        return sum * width;
    }

    /// The degree of a polynomial g (E::polynomial), else 0 (unused).
    [[nodiscard]] int polynomial_degree() const noexcept {
        if constexpr (E::quadrature == activations::QuadratureShape::polynomial)
            return E::polynomial(g_).degree();
        else
            return 0;
    }

    activations::Parameters g_; // the Activation's parameters
    int refine_;
    double log_eps_;      // L = log(1/eps) of the trapezoid rules
    double range_;        // their range |z| <= Z
    double window_start_; // where their edge window starts (edge_window)
    int n_ = 0;           // distinct fields
    std::array<int, max_fields + 1> index_{};
    std::array<Power, max_fields + 1> power_{};
    int m_ = 0;          // integration levels
    bool extra_ = false; // a linear-only field, last
    std::array<int, max_fields + 1> order_{};
    std::array<std::array<double, max_fields + 1>, max_fields + 1> L_{};
    std::array<std::array<double, max_trapezoid>, max_fields> nodes_{};
    std::array<std::array<double, max_trapezoid>, max_fields> weights_{};
    std::array<int, max_fields> count_{};
};

void check(const Eigen::MatrixXd& C, std::initializer_list<int> idx) {
    if (C.rows() != C.cols())
        throw std::invalid_argument("plateau::quadrature: covariance matrix must be square");
    for (const int i : idx)
        if (i < 0 || i >= C.rows())
            throw std::out_of_range("plateau::quadrature: index " + std::to_string(i) +
                                    " outside a covariance matrix of size " +
                                    std::to_string(C.rows()));
}

/// The integral of g's evaluator with the factors that `factors` adds, over N(0, C).
template <class AddFactors>
double integrate(const Activation& g, Rule rule, const Eigen::MatrixXd& C,
                 const AddFactors& factors) {
    return visit_activation(g.kind, [&]<class E>(std::type_identity<E>) {
        Integral<E> in(g, rule);
        factors(in);
        return in.evaluate(C);
    });
}

} // namespace

double I2(const Activation& g, const Eigen::MatrixXd& C, int a, int b, Rule rule) {
    check(C, {a, b});
    return integrate(g, rule, C, [&](auto& in) {
        in.add(a, 0, 1, 0);
        in.add(b, 0, 1, 0);
    });
}

double I3(const Activation& g, const Eigen::MatrixXd& C, int a, int b, int c, Rule rule) {
    check(C, {a, b, c});
    return integrate(g, rule, C, [&](auto& in) {
        in.add(a, 1, 0, 0);
        in.add(c, 0, 1, 0);
        in.add(b, 0, 0, 1);
    });
}

double I4(const Activation& g, const Eigen::MatrixXd& C, int a, int b, int c, int d, Rule rule) {
    check(C, {a, b, c, d});
    return integrate(g, rule, C, [&](auto& in) {
        in.add(a, 1, 0, 0);
        in.add(b, 1, 0, 0);
        in.add(c, 0, 1, 0);
        in.add(d, 0, 1, 0);
    });
}

double J2(const Activation& g, const Eigen::MatrixXd& C, int a, int b, Rule rule) {
    check(C, {a, b});
    return integrate(g, rule, C, [&](auto& in) {
        in.add(a, 1, 0, 0);
        in.add(b, 1, 0, 0);
    });
}

Rule1d make_gauss_legendre(int n) {
    Rule1d r;
    const auto un = static_cast<std::size_t>(n);
    r.x.resize(un);
    r.w.resize(un);
    for (int i = 0; i < n; ++i) {
        double z = std::cos(pi * (i + 0.75) / (n + 0.5));
        double dp = 0.0;
        for (int it = 0; it < 100; ++it) {
            double p0 = 1.0, p1 = 0.0;
            for (int j = 1; j <= n; ++j) {
                const double p2 = p1;
                p1 = p0;
                p0 = ((2.0 * j - 1.0) * z * p1 - (j - 1.0) * p2) / j;
            }
            dp = n * (z * p0 - p1) / (z * z - 1.0);
            const double dz = p0 / dp;
            z -= dz;
            if (std::abs(dz) < 1e-16)
                break;
        }
        const auto ui = static_cast<std::size_t>(i);
        r.x[ui] = 0.5 * (1.0 - z);
        r.w[ui] = 1.0 / ((1.0 - z * z) * dp * dp);
    }
    return r;
}

// Gauss-Hermite for the standard normal weight (probabilists'), sum w = 1: nodes are the
// eigenvalues of the Jacobi matrix (off-diagonal sqrt k), polished by Newton on the orthonormal
// recurrence; weights by the Christoffel function w_i = 1 / sum_k p_k(x_i)^2 (stable for n <=
// 200).
Rule1d make_gauss_hermite(int n) {
    Rule1d r;
    const auto un = static_cast<std::size_t>(n);
    r.x.resize(un);
    r.w.resize(un);
    if (n == 1) {
        r.x[0] = 0.0;
        r.w[0] = 1.0;
        return r;
    }
    Eigen::VectorXd diag = Eigen::VectorXd::Zero(n), sub(n - 1);
    for (int k = 1; k < n; ++k)
        sub(k - 1) = std::sqrt(static_cast<double>(k));
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es;
    es.computeFromTridiagonal(diag, sub, Eigen::EigenvaluesOnly);
    for (int i = 0; i < n; ++i) {
        double x = es.eigenvalues()(i);
        double sum = 0.0;
        for (int it = 0; it < 3; ++it) {
            // orthonormal p_k = He_k / sqrt(k!): p_{k+1} = (x p_k - sqrt(k) p_{k-1}) / sqrt(k+1)
            double p0 = 1.0, pm = 0.0;
            sum = 1.0;
            for (int k = 0; k + 1 < n; ++k) {
                const double p1 = (x * p0 - std::sqrt(static_cast<double>(k)) * pm) /
                                  std::sqrt(static_cast<double>(k + 1));
                pm = p0;
                p0 = p1;
                sum += p0 * p0;
            }
            // p_n and p_n' = sqrt(n) p_{n-1}
            const double pn = (x * p0 - std::sqrt(static_cast<double>(n - 1)) * pm) /
                              std::sqrt(static_cast<double>(n));
            const double dpn = std::sqrt(static_cast<double>(n)) * p0;
            x -= pn / dpn;
        }
        const auto ui = static_cast<std::size_t>(i);
        r.x[ui] = x;
        r.w[ui] = 1.0 / sum;
    }
    return r;
}

} // namespace plateau::quadrature
