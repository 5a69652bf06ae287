#include "engine/run_params.hpp"

#include "engine/errors.hpp"

#include <cmath>
#include <sstream>

namespace plateau {

namespace {

template <class T>
std::string to_text(T x) {
    std::ostringstream os;
    os.precision(17);
    os << x;
    return os.str();
}

void require(bool ok, std::string_view key, auto value, std::string_view allowed) {
    if (!ok)
        throw ConfigError(std::string(key), to_text(value), std::string(allowed));
}

void check_positive(std::string_view key, double x) {
    require(std::isfinite(x) && x > 0.0, key, x, "a finite number > 0");
}
void check_non_negative(std::string_view key, double x) {
    require(std::isfinite(x) && x >= 0.0, key, x, "a finite number >= 0");
}
void check_finite(std::string_view key, double x) {
    require(std::isfinite(x), key, x, "a finite number");
}

void check_output(std::string_view key, const Activation& h) {
    require(is_output_kind(h.kind), key, name(h.kind), "identity or tanh");
}

} // namespace

void validate(const RunParams& p) {
    const auto& m = p.model;
    require(m.N >= 1, "N", m.N, "an integer >= 1");
    require(m.student.hidden >= 1, "K", m.student.hidden, "an integer >= 1");
    require(m.teacher.hidden >= 1, "M", m.teacher.hidden, "an integer >= 1");
    require(m.teacher_init != TeacherInit::orthonormal || m.teacher.hidden <= m.N, "M",
            m.teacher.hidden, "an integer <= N for an orthonormal teacher");
    check_output("output-activation", m.student.h);
    check_output("teacher-output-activation", m.teacher.h);
    check_positive("gamma", m.student.h.gamma);
    check_positive("gamma", m.student.g.gamma);
    check_positive("gamma", m.teacher.h.gamma);
    check_positive("gamma", m.teacher.g.gamma);
    check_finite("v0", m.v0);
    check_finite("v-star", m.v_star);
    check_non_negative("q0", m.q0);
    check_non_negative("noise", m.noise);

    check_positive("eta", p.training.eta);
    check_positive("eta-v", p.training.eta_v);

    const auto& s = p.schedule;
    check_positive("alpha-max", s.alpha_max);
    require(s.records >= 2, "records", s.records, "an integer >= 2");
    check_positive("alpha-min", s.alpha_min);
    require(s.kind != ScheduleKind::log || s.alpha_min < s.alpha_max, "alpha-min", s.alpha_min,
            "a number < alpha-max for the log schedule");

    require(p.observer.eg_samples >= 100, "eg-samples", p.observer.eg_samples, "an integer >= 100");
    check_positive("divergence-q", p.observer.divergence_q);
}

} // namespace plateau
