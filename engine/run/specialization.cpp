#include "engine/run/specialization.hpp"

#include <algorithm>
#include <cmath>

namespace plateau {

bool sign_symmetric_units(const ModelParams& model) noexcept {
    switch (model.student.g.parity()) {
    case activations::Parity::even:
        return true;
    case activations::Parity::odd:
        return model.student.widths.size() > 1 ? layer_value(model.learn_layers, 0) : model.learn_v;
    case activations::Parity::none:
        return false;
    }
    return false;
}

Specialization assess_specialization(const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R,
                                     const Eigen::MatrixXd& T,
                                     const SpecializationThresholds& thresholds,
                                     bool sign_symmetric) {
    const Eigen::Index K = R.rows();
    const Eigen::Index M = R.cols();
    Specialization out;
    out.units.resize(static_cast<std::size_t>(K));
    if (K == 0 || M == 0 || !Q.allFinite() || !R.allFinite() || !T.allFinite())
        return out;
    const double q_max = Q.diagonal().maxCoeff();
    for (Eigen::Index j = 0; j < K; ++j) {
        auto& unit = out.units[static_cast<std::size_t>(j)];
        if (!(Q(j, j) > thresholds.dead_fraction * q_max)) {
            unit.state = UnitState::dead;
            continue;
        }
        // Normalized overlaps r_jn = R_jn / sqrt(Q_jj T_nn) (docs/theory.md §1).
        Eigen::VectorXd r(M);
        for (Eigen::Index n = 0; n < M; ++n)
            r(n) = R(j, n) / std::sqrt(Q(j, j) * T(n, n));
        if (sign_symmetric)
            r = r.cwiseAbs();
        if (!r.allFinite())
            continue; // T_nn <= 0: no direction to compare with
        Eigen::Index best = 0;
        for (Eigen::Index n = 1; n < M; ++n)
            if (r(n) > r(best))
                best = n;    // the first of equal maxima, as numpy.argmax
        double second = 0.0; // M = 1: compared with an orthogonal direction
        if (M > 1) {
            second = -std::numeric_limits<double>::infinity();
            for (Eigen::Index n = 0; n < M; ++n)
                if (n != best)
                    second = std::max(second, r(n));
        }
        unit.overlap = r(best);
        unit.lead = r(best) - second;
        if (r(best) >= thresholds.min_overlap && unit.lead >= thresholds.margin) {
            unit.state = UnitState::assigned; // shared if another unit claims `best` (below)
            unit.teacher = best;
        } else if (M > 1 && second >= thresholds.min_overlap) {
            unit.state = UnitState::split;
        }
    }
    std::vector<int> claims(static_cast<std::size_t>(M), 0);
    for (const auto& unit : out.units)
        if (unit.state == UnitState::assigned)
            ++claims[static_cast<std::size_t>(unit.teacher)];
    Eigen::Index assigned = 0;
    bool clean = true;
    for (auto& unit : out.units) {
        if (unit.state == UnitState::assigned && claims[static_cast<std::size_t>(unit.teacher)] > 1)
            unit.state = UnitState::shared;
        if (unit.state == UnitState::assigned)
            ++assigned;
        else if (unit.state != UnitState::dead)
            clean = false;
    }
    out.specialized = clean && assigned == std::min(K, M);
    return out;
}

} // namespace plateau
