// Which student unit learned which teacher unit: the one definition of "specialized" (the rule
// in words: analysis/SCHEMA.md, section "Specialization"). A pure function of the order
// parameters Q, R, T (docs/theory.md §1) and three thresholds. The Python twin is
// analysis/plateau_analysis/overlaps.py (`classify_units`, `specialization`) with the same
// thresholds as MIN_OVERLAP, MARGIN and DEAD_FRACTION; tests/python/test_specialization.py
// checks that the two agree and that the numbers below are the Python constants.
#pragma once

#include "engine/core/enum_table.hpp"
#include "engine/core/run_params.hpp"

#include <Eigen/Core>

#include <array>
#include <limits>
#include <string_view>
#include <vector>

namespace plateau {

/// The thresholds of the rule (analysis/SCHEMA.md, "Specialization").
struct SpecializationThresholds {
    /// A unit is assigned to teacher unit n only if r_jn >= min_overlap ...
    double min_overlap = 0.5;
    /// ... and r_jn >= (its second-largest normalized overlap) + margin.
    double margin = 0.5;
    /// A unit with Q_jj <= dead_fraction * max_k Q_kk is dead (|w_j| < 3 % of the longest).
    double dead_fraction = 1e-3;
};

/// What one student unit is, at one time.
enum class UnitState {
    assigned,   ///< learned one teacher unit, and no other live unit learned it
    shared,     ///< learned a teacher unit that another live unit learned too
    split,      ///< overlaps two or more teacher units by >= min_overlap, none by the margin
    unassigned, ///< live, none of the above: no overlap >= min_overlap, or one ahead by < margin
    dead,       ///< Q_jj <= dead_fraction * max_k Q_kk
};

/// The states' names, as the Python twin spells them (UNIT_STATES in overlaps.py).
[[nodiscard]] constexpr auto enum_table(UnitState) noexcept {
    return std::to_array<EnumEntry<UnitState>>({{UnitState::assigned, "assigned"},
                                                {UnitState::shared, "shared"},
                                                {UnitState::split, "split"},
                                                {UnitState::unassigned, "unassigned"},
                                                {UnitState::dead, "dead"}});
}
inline constexpr auto all_unit_states = all_values<UnitState>();

/// One student unit j.
struct UnitAssignment {
    UnitState state = UnitState::unassigned;
    /// The teacher unit n it learned (assigned or shared), -1 otherwise.
    Eigen::Index teacher = -1;
    /// Its largest normalized overlap max_n r_jn (NaN for a dead unit).
    double overlap = std::numeric_limits<double>::quiet_NaN();
    /// max_n r_jn minus the second largest (0 in place of the second for M = 1; NaN if dead).
    double lead = std::numeric_limits<double>::quiet_NaN();
};

struct Specialization {
    std::vector<UnitAssignment> units; ///< one per student unit, in order
    /// Every live unit assigned to its own teacher unit (no shared, split or unassigned unit)
    /// and min(K, M) of them: for K >= M every teacher unit has exactly one (the K - M others
    /// dead), for K < M no unit is dead.
    bool specialized = false;
};

/// Whether a student unit's sign is a symmetry of the network (analysis/SCHEMA.md, "Sign
/// symmetry"): g even (w_j -> -w_j changes nothing), or g odd and the weights the first layer
/// feeds learned (v with learn-v for one hidden layer, W_2 with learn-layers for a deeper
/// student), so that (w_j, the weights it feeds) -> (-w_j, -those) computes the same function
/// and gradient descent reaches either. The Python twin is `sign_symmetric` (overlaps.py).
[[nodiscard]] bool sign_symmetric_units(const ModelParams& model) noexcept;

/// The rule of analysis/SCHEMA.md, "Specialization", on Q (K x K), R (K x M), T (M x M):
/// normalized overlaps r_jn = R_jn / sqrt(Q_jj T_nn) (docs/theory.md §1: the cosine of the
/// angle between w_j and B_n). Any non-finite entry of Q, R or T: every unit unassigned, not
/// specialized. With `sign_symmetric` (sign_symmetric_units) the rule reads |r_jn|: r = -1 is as
/// specialized as +1.
[[nodiscard]] Specialization
assess_specialization(const Eigen::MatrixXd& Q, const Eigen::MatrixXd& R, const Eigen::MatrixXd& T,
                      const SpecializationThresholds& thresholds = {}, bool sign_symmetric = false);

} // namespace plateau
