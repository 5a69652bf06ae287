// The per-example loss e(sigma, tau) of Eq. (2) (docs/theory.md §1) and its derivative in the
// network's output, the error signal that every gradient (Eqs. (3)-(5), §12), every Monte-Carlo
// eps_g, the training error and the joint rule (§10) start from: the loss seam. One evaluator
// per loss, each with its value and its derivative, listed once in `LossKind` and its table;
// `Loss` is the one object every path holds (the run's `loss` key, docs/theory.md §15a).
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <string_view>
#include <utility>

namespace plateau {

/// e = (sigma - tau)^2 / 2, Eq. (2).
struct SquaredLoss {
    static constexpr std::string_view name = "squared";
    /// e(sigma, tau) = (sigma - tau)^2 / 2, Eq. (2).
    [[nodiscard]] static constexpr double value(double sigma, double tau) noexcept {
        const double d = sigma - tau;
        return 0.5 * d * d;
    }
    /// de/dsigma = sigma - tau: the delta of Eq. (3) before the factor h'(a).
    [[nodiscard]] static constexpr double error(double sigma, double tau) noexcept {
        return sigma - tau;
    }
};

/// e = log(1 + exp(-tau sigma)) on labels tau = +-1, Eq. (15.3) of docs/theory.md §15a.
struct LogisticLoss {
    static constexpr std::string_view name = "logistic";
    /// e(sigma, tau) = log(1 + exp(-tau sigma)), Eq. (15.3), without overflow for large
    /// |tau sigma|: max(0, -m) + log1p(exp(-|m|)) with m = tau sigma.
    [[nodiscard]] static double value(double sigma, double tau) noexcept {
        const double m = tau * sigma;
        return std::max(0.0, -m) + std::log1p(std::exp(-std::abs(m)));
    }
    /// de/dsigma = -tau / (1 + exp(tau sigma)), Eq. (15.3).
    [[nodiscard]] static double error(double sigma, double tau) noexcept {
        const double m = tau * sigma;
        // -tau sigmoid(-m), written so that neither branch overflows.
        if (m >= 0.0) {
            const double q = std::exp(-m);
            return -tau * q / (1.0 + q);
        }
        return -tau / (1.0 + std::exp(m));
    }
};

/// The losses, in the order of their table.
enum class LossKind {
    squared,  ///< SquaredLoss, Eq. (2): every closed form and the theory
    logistic, ///< LogisticLoss, Eq. (15.3): classification on +-1 labels (simulation only)
};

/// The names of the losses (the `loss` key and the file's `loss` attribute). models/ is below
/// engine/core/enum_table.hpp, so the table is a plain array of pairs (as for ActivationKind).
inline constexpr std::array<std::pair<LossKind, std::string_view>, 2> loss_names{
    {{LossKind::squared, SquaredLoss::name}, {LossKind::logistic, LogisticLoss::name}}};

[[nodiscard]] constexpr std::string_view loss_name(LossKind k) noexcept {
    for (const auto& [kind, name] : loss_names)
        if (kind == k)
            return name;
    return {};
}
[[nodiscard]] constexpr std::optional<LossKind> parse_loss(std::string_view text) noexcept {
    for (const auto& [kind, name] : loss_names)
        if (name == text)
            return kind;
    return std::nullopt;
}

/// The loss of a run: its value and its error signal de/dsigma, dispatched on the kind.
class Loss {
public:
    constexpr Loss() noexcept = default;
    constexpr explicit Loss(LossKind kind) noexcept : kind_(kind) {}

    [[nodiscard]] constexpr LossKind kind() const noexcept { return kind_; }

    /// e(sigma, tau): Eq. (2) or Eq. (15.3).
    [[nodiscard]] double value(double sigma, double tau) const noexcept {
        return kind_ == LossKind::squared ? SquaredLoss::value(sigma, tau)
                                          : LogisticLoss::value(sigma, tau);
    }
    /// de/dsigma, the error signal of Eqs. (3)-(5).
    [[nodiscard]] double error(double sigma, double tau) const noexcept {
        return kind_ == LossKind::squared ? SquaredLoss::error(sigma, tau)
                                          : LogisticLoss::error(sigma, tau);
    }

    friend constexpr bool operator==(const Loss&, const Loss&) = default;

private:
    LossKind kind_ = LossKind::squared;
};

} // namespace plateau
