// The per-example loss e(sigma, tau) of Eq. (2) (docs/theory.md §1) and its derivative in the
// network's output, the error signal that every gradient (Eqs. (3)-(5), §12), every Monte-Carlo
// eps_g, the training error and the joint rule (§10) start from: the loss seam. One evaluator
// per loss, each with its value and its derivative; `Loss` names the one every path uses.
// Squared error today; a second loss (classification, logistic) becomes a second evaluator and a
// LossKind table, with the callers below taking the kind (docs/ARCHITECTURE.md, "Seams").
#pragma once

#include <string_view>

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

/// The loss of every path (trainers, Gram chain, observer, theory).
using Loss = SquaredLoss;

} // namespace plateau
