// The specialization rule (engine/run/specialization.hpp, analysis/SCHEMA.md "Specialization") on
// hand-built weight vectors: Q = W W^T, R = W B^T, T = B B^T of explicit student rows W and
// teacher rows B, so every case is a geometrically possible state.
#include "engine/run/specialization.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>

using namespace plateau;

namespace {

/// Rows of a matrix from vectors in a small input space of dimension `n`.
Eigen::MatrixXd rows(Eigen::Index n, std::initializer_list<Eigen::VectorXd> vectors) {
    Eigen::MatrixXd out(static_cast<Eigen::Index>(vectors.size()), n);
    Eigen::Index i = 0;
    for (const auto& v : vectors)
        out.row(i++) = v.transpose();
    return out;
}

/// Unit vector e_i of dimension n.
Eigen::VectorXd e(Eigen::Index n, Eigen::Index i) {
    return Eigen::VectorXd::Unit(n, i);
}

Specialization assess(const Eigen::MatrixXd& W, const Eigen::MatrixXd& B,
                      const SpecializationThresholds& t = {}) {
    return assess_specialization(W * W.transpose(), W * B.transpose(), B * B.transpose(), t);
}

std::string states(const Specialization& s) {
    std::string out;
    for (const auto& u : s.units)
        out += std::string(out.empty() ? "" : " ") + std::string(name(u.state));
    return out;
}

constexpr Eigen::Index dim = 8; // input dimension of the hand-built vectors

} // namespace

TEST_CASE("Specialization K equal M: one teacher unit each in any order", "[specialization]") {
    // Student 0 learned teacher 1 and student 1 teacher 0, with small errors and unequal norms.
    const auto B = rows(dim, {e(dim, 0), e(dim, 1)});
    const auto W =
        rows(dim, {1.2 * e(dim, 1) + 0.1 * e(dim, 0), 0.9 * e(dim, 0) - 0.05 * e(dim, 5)});
    const auto s = assess(W, B);
    CHECK(states(s) == "assigned assigned");
    CHECK(s.units[0].teacher == 1);
    CHECK(s.units[1].teacher == 0);
    CHECK(s.units[0].overlap == Approx(1.2 / std::hypot(1.2, 0.1)));
    CHECK(s.units[0].lead == Approx((1.2 - 0.1) / std::hypot(1.2, 0.1)));
    CHECK(s.specialized);
}

TEST_CASE("Specialization K equal M: the symmetric plateau is split and not specialized",
          "[specialization]") {
    // On the plateau every unit overlaps both teacher units (r ~ 0.7 each). A tiny asymmetry
    // makes each unit's largest overlap point at a different teacher: an argmax rule would
    // call this specialized.
    const auto B = rows(dim, {e(dim, 0), e(dim, 1)});
    const auto W = rows(dim, {0.4 * (e(dim, 0) + e(dim, 1)) + 0.01 * e(dim, 0) + 0.3 * e(dim, 2),
                              0.4 * (e(dim, 0) + e(dim, 1)) + 0.01 * e(dim, 1) + 0.3 * e(dim, 3)});
    const auto s = assess(W, B);
    CHECK(states(s) == "split split");
    CHECK(s.units[0].teacher == -1);
    CHECK(s.units[0].lead < 0.05);
    CHECK_FALSE(s.specialized);
}

TEST_CASE("Specialization K less than M: stuck with each unit on two teacher units",
          "[specialization]") {
    // K = 2, M = 4: student 0 ~ B0 + B1, student 1 ~ B2 + B3 (largest overlaps distinct).
    const auto B = rows(dim, {e(dim, 0), e(dim, 1), e(dim, 2), e(dim, 3)});
    const auto W = rows(dim, {e(dim, 0) + 0.95 * e(dim, 1), e(dim, 2) + 0.9 * e(dim, 3)});
    const auto s = assess(W, B);
    CHECK(states(s) == "split split");
    CHECK_FALSE(s.specialized);
}

TEST_CASE("Specialization K less than M: every unit on its own teacher unit", "[specialization]") {
    const auto B = rows(dim, {e(dim, 0), e(dim, 1), e(dim, 2)});
    const auto W = rows(dim, {e(dim, 2) + 0.1 * e(dim, 0), e(dim, 0) + 0.2 * e(dim, 6)});
    const auto s = assess(W, B);
    CHECK(states(s) == "assigned assigned");
    CHECK(s.units[0].teacher == 2);
    CHECK(s.units[1].teacher == 0);
    CHECK(s.specialized);
    // A dead unit: only one of the min(K, M) = 2 teacher units is learned.
    const auto dead = rows(dim, {e(dim, 2), 1e-3 * e(dim, 0)});
    const auto d = assess(dead, B);
    CHECK(states(d) == "assigned dead");
    CHECK_FALSE(d.specialized);
}

TEST_CASE("Specialization K greater than M: a dead surplus unit is specialized",
          "[specialization]") {
    // K = 3, M = 2: unit 2 died (Q_22 -> 0) but still points at teacher 0, the direction unit
    // 1 learned; an argmax rule sees two units on teacher 0.
    const auto B = rows(dim, {e(dim, 0), e(dim, 1)});
    const auto W =
        rows(dim, {e(dim, 1), 0.98 * e(dim, 0) + 0.1 * e(dim, 4), 1e-4 * (e(dim, 0) + e(dim, 5))});
    const auto s = assess(W, B);
    CHECK(states(s) == "assigned assigned dead");
    CHECK(s.units[2].teacher == -1);
    CHECK(std::isnan(s.units[2].overlap));
    CHECK(s.specialized);
    // Dead is relative to the largest Q_jj: just above the threshold the unit is live.
    const double q = 1.0; // Q_11 = 0.98^2 + 0.1^2 < 1 = Q_00
    const auto live =
        rows(dim, {e(dim, 1), 0.98 * e(dim, 0) + 0.1 * e(dim, 4), std::sqrt(2e-3 * q) * e(dim, 5)});
    const auto l = assess(live, B);
    CHECK(states(l) == "assigned assigned unassigned");
    CHECK_FALSE(l.specialized);
}

TEST_CASE("Specialization K greater than M: two live units on one teacher unit are shared",
          "[specialization]") {
    const auto B = rows(dim, {e(dim, 0), e(dim, 1)});
    const auto W = rows(dim, {e(dim, 0), e(dim, 1), 0.5 * e(dim, 0) + 0.05 * e(dim, 3)});
    const auto s = assess(W, B);
    CHECK(states(s) == "shared assigned shared");
    CHECK(s.units[0].teacher == 0);
    CHECK(s.units[2].teacher == 0);
    CHECK_FALSE(s.specialized);
}

TEST_CASE("Specialization thresholds: overlap and margin", "[specialization]") {
    const auto B = rows(dim, {e(dim, 0), e(dim, 1)});
    // r = (0.8, 0.35): above min_overlap, lead 0.45 < margin 0.5: not assigned, not split.
    const double c = std::sqrt(1.0 - 0.8 * 0.8 - 0.35 * 0.35);
    const auto W = rows(dim, {0.8 * e(dim, 0) + 0.35 * e(dim, 1) + c * e(dim, 2), e(dim, 1)});
    CHECK(states(assess(W, B)) == "unassigned assigned");
    SpecializationThresholds looser;
    looser.margin = 0.4;
    CHECK(states(assess(W, B, looser)) == "assigned assigned");
    CHECK(assess(W, B, looser).specialized);
    // Anti-aligned with every teacher unit: lead large, overlap negative.
    const auto anti = rows(dim, {-e(dim, 0) - 0.2 * e(dim, 1), e(dim, 1)});
    CHECK(states(assess(anti, B)) == "unassigned assigned");
}

TEST_CASE("Specialization normalizes by the teacher norms", "[specialization]") {
    // Teacher units of norms 3 and 0.5 (T not the identity): R alone would point unit 1 at
    // teacher 0, r_jn = R_jn / sqrt(Q_jj T_nn) at teacher 1.
    const auto B = rows(dim, {3.0 * e(dim, 0), 0.5 * e(dim, 1)});
    const auto W = rows(dim, {e(dim, 0), 0.2 * e(dim, 0) + e(dim, 1)});
    const auto s = assess(W, B);
    CHECK(states(s) == "assigned assigned");
    CHECK(s.units[1].teacher == 1);
    CHECK(s.specialized);
}

TEST_CASE("Specialization with one teacher unit", "[specialization]") {
    const auto B = rows(dim, {e(dim, 0)});
    CHECK(assess(rows(dim, {e(dim, 0) + 0.1 * e(dim, 1)}), B).specialized);
    CHECK_FALSE(assess(rows(dim, {-e(dim, 0)}), B).specialized);
    // K = 2, M = 1: the second unit must be dead.
    CHECK(assess(rows(dim, {e(dim, 0), 1e-3 * e(dim, 1)}), B).specialized);
    CHECK(states(assess(rows(dim, {e(dim, 0), 0.7 * e(dim, 0)}), B)) == "shared shared");
}

TEST_CASE("Specialization of non-finite order parameters", "[specialization]") {
    const auto B = rows(dim, {e(dim, 0), e(dim, 1)});
    const auto W = rows(dim, {e(dim, 0), e(dim, 1)});
    Eigen::MatrixXd Q = W * W.transpose();
    Q(1, 1) = std::numeric_limits<double>::quiet_NaN();
    const auto s = assess_specialization(Q, W * B.transpose(), B * B.transpose());
    CHECK(states(s) == "unassigned unassigned");
    CHECK_FALSE(s.specialized);
}

TEST_CASE("Specialization unit state names are distinct", "[specialization]") {
    std::set<std::string_view> names;
    for (const auto s : all_unit_states)
        names.insert(name(s));
    CHECK(names.size() == all_unit_states.size());
}

TEST_CASE("Specialization reads |r| only where a unit's sign is a symmetry", "[specialization]") {
    // Student 1 learned -B_0: the same function as +B_0 for an even g, or an odd g whose
    // upper weights flipped with it (analysis/SCHEMA.md, "Sign symmetry").
    const auto B = rows(dim, {e(dim, 0), e(dim, 1)});
    const auto W = rows(dim, {e(dim, 1) + 0.05 * e(dim, 4), -e(dim, 0) + 0.05 * e(dim, 3)});
    const Eigen::MatrixXd Q = W * W.transpose();
    const Eigen::MatrixXd R = W * B.transpose();
    const Eigen::MatrixXd T = B * B.transpose();
    CHECK(states(assess_specialization(Q, R, T)) == "assigned unassigned");
    const auto s = assess_specialization(Q, R, T, {}, true);
    CHECK(states(s) == "assigned assigned");
    CHECK(s.units[1].teacher == 0);
    CHECK(s.specialized);

    ModelParams m;
    CHECK_FALSE(sign_symmetric_units(m)); // erf, v fixed: -w_j is another function
    m.learn_v = true;
    CHECK(sign_symmetric_units(m)); // erf with learned v: (w_j, v_j) -> (-w_j, -v_j)
    m.student.g = Activation{ActivationKind::sigmoid};
    CHECK_FALSE(sign_symmetric_units(m)); // neither odd nor even
    m.student.g = Activation{ActivationKind::square};
    m.learn_v = false;
    CHECK(sign_symmetric_units(m)); // even: -w_j changes nothing
    // poly: the parity of its coefficients (x + x^3 odd, 1 + x^2 even, x + x^2 neither)
    m.student.g = Activation{ActivationKind::poly, 1.0, Polynomial{{1.0, 0.0, 1.0}}};
    CHECK(sign_symmetric_units(m));
    m.student.g = Activation{ActivationKind::poly, 1.0, Polynomial{{0.0, 1.0, 1.0}}};
    m.learn_v = true;
    CHECK_FALSE(sign_symmetric_units(m));
    m.student.g = Activation{ActivationKind::poly, 1.0, Polynomial{{0.0, 1.0, 0.0, 1.0}}};
    CHECK(sign_symmetric_units(m));
    m.student.g = Activation{ActivationKind::he2};
    m.learn_v = false;
    CHECK(sign_symmetric_units(m));
    m.student.g = Activation{ActivationKind::he3};
    CHECK_FALSE(sign_symmetric_units(m));
    ModelParams deep;
    deep.student.widths = {4, 2};
    deep.learn_layers = {false, true};
    CHECK_FALSE(sign_symmetric_units(deep)); // W_2 fixed
    deep.learn_layers = {true, false};
    CHECK(sign_symmetric_units(deep)); // W_2 learned flips with the unit
}
