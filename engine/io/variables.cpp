#include "engine/io/variables.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string_view>

namespace plateau {

namespace {

using h5::ElementType;

// The data variables of schema 1.x, in the order the writer creates them (analysis/SCHEMA.md,
// "Data variables", documents each; tests/test_schema_doc.cpp checks that section against this).
// clang-format off
constexpr auto f64 = ElementType::float64;
constexpr KindSet simulation_only{true, false};
constexpr KindSet theory_only{false, true};
constexpr std::array schema_variables{
    //           name, dims, type, units,
    //           long_name,
    //           written by, since (minor), source
    VariableSpec{"eg", {Dim::run, Dim::alpha}, f64, "1",
                 "generalization error eps_g = <(sigma - tau)^2>/2",
                 every_kind, 0, ObservableField::eg},
    VariableSpec{"eg_stderr", {Dim::run, Dim::alpha}, f64, "1",
                 "Monte-Carlo standard error of eg (0 where eg is a closed form)",
                 every_kind, 0, ObservableField::eg_stderr},
    VariableSpec{"Q", {Dim::run, Dim::alpha, Dim::student, Dim::student2}, f64, "1",
                 "student overlaps Q_jk = w_j . w_k",
                 every_kind, 0, ObservableField::Q},
    VariableSpec{"R", {Dim::run, Dim::alpha, Dim::student, Dim::teacher}, f64, "1",
                 "student-teacher overlaps R_jn = w_j . B_n",
                 every_kind, 0, ObservableField::R},
    VariableSpec{"T", {Dim::run, Dim::teacher, Dim::teacher2}, f64, "1",
                 "teacher overlaps T_nm = B_n . B_m",
                 every_kind, 0, ObservableField::T},
    VariableSpec{"v", {Dim::run, Dim::alpha, Dim::student}, f64, "1",
                 "student second-layer weights v_j",
                 every_kind, 0, ObservableField::v},
    VariableSpec{"status", {Dim::run}, ElementType::int8, "",
                 "run status",
                 every_kind, 0, ObservableField::status},
    VariableSpec{"outcome", {Dim::run}, ElementType::int8, "",
                 "run outcome (analysis/SCHEMA.md, Outcomes)",
                 every_kind, 1, ObservableField::outcome},
    // Training regimes (docs/theory.md §6), schema 1.2; produced by the trainer
    // (Trainer::measure, engine/simulation/trainer.hpp).
    VariableSpec{extra_name::eps_train, {Dim::run, Dim::alpha}, f64, "1",
                 "training error eps_t = (1/P) sum_mu e^mu on the training set (NaN without one)",
                 simulation_only, 2, ObservableField::extra},
    VariableSpec{extra_name::examples, {Dim::run, Dim::alpha}, f64, "1",
                 "examples seen: updates (alpha N) x examples per update",
                 simulation_only, 2, ObservableField::extra},
    // The theory's joint rule (docs/theory.md §10), schema 1.3; produced by TheoryDynamics.
    VariableSpec{extra_name::flow_error, {Dim::run, Dim::alpha}, f64, "1",
                 "estimated relative error of the theory's flow by the joint rule (NaN without)",
                 theory_only, 3, ObservableField::extra},
    // Fixed points of the ODEs (docs/theory.md §11), schema 1.3; produced by `plateau ode`
    // (cli/ode_command.cpp), one value per run from its grid point.
    VariableSpec{extra_name::escape_rate, {Dim::run}, f64, "1",
                 "escape rate lambda: largest real part of the linearized flow's eigenvalues at "
                 "the symmetric fixed point (NaN: no fixed point found, or not computed)",
                 theory_only, 3, ObservableField::extra},
    VariableSpec{extra_name::eta_max, {Dim::run}, f64, "1",
                 "largest eta at which the specialized fixed point is linearly stable (NaN: "
                 "K != M, none found, or not computed)",
                 theory_only, 3, ObservableField::extra},
    // The plateau's height and the predicted escape (docs/theory.md §11), schema 1.5; produced
    // with escape_rate (theory_point_summary), one value per run from its grid point.
    VariableSpec{extra_name::plateau_eg, {Dim::run}, f64, "1",
                 "eps_g at the symmetric fixed point, the plateau height (NaN: no fixed point "
                 "found, or not computed)",
                 theory_only, 5, ObservableField::extra},
    VariableSpec{extra_name::escape_predicted, {Dim::run}, f64, "1",
                 "predicted mean escape time alpha at the run's N (NaN: no prediction, or not "
                 "computed)",
                 theory_only, 5, ObservableField::extra},
    // The predicted law of the escape time (docs/theory.md §11.2b), schema 1.9; produced with
    // escape_predicted, NaN where it is.
    VariableSpec{extra_name::escape_predicted_sd, {Dim::run}, f64, "1",
                 "predicted standard deviation of the escape time alpha at the run's N (NaN: "
                 "no prediction, or not computed)",
                 theory_only, 9, ObservableField::extra},
    VariableSpec{extra_name::escape_predicted_q10, {Dim::run}, f64, "1",
                 "predicted 10 % quantile of the escape time alpha at the run's N (NaN: no "
                 "prediction, or not computed)",
                 theory_only, 9, ObservableField::extra},
    VariableSpec{extra_name::escape_predicted_q50, {Dim::run}, f64, "1",
                 "predicted median escape time alpha at the run's N (NaN: no prediction, or not "
                 "computed)",
                 theory_only, 9, ObservableField::extra},
    VariableSpec{extra_name::escape_predicted_q90, {Dim::run}, f64, "1",
                 "predicted 90 % quantile of the escape time alpha at the run's N (NaN: no "
                 "prediction, or not computed)",
                 theory_only, 9, ObservableField::extra},
    // The whole predicted law (docs/theory.md §11.2b), schema 1.13; produced with
    // escape_predicted_q10 (the same quantile function at 99 levels), NaN where it is.
    VariableSpec{extra_name::escape_predicted_law, {Dim::run, Dim::escape_level}, f64, "1",
                 "predicted quantiles of the escape time alpha at the run's N, at the levels "
                 "escape_level = 0.01 ... 0.99 (NaN: no prediction, or not computed)",
                 theory_only, 13, ObservableField::extra},
    // The order parameters' fluctuations at the run's N (docs/theory.md §11.2c), schema 1.10;
    // produced by `plateau ode --fluctuations` (theory_runs), one value set per record.
    VariableSpec{extra_name::Q_sd, {Dim::run, Dim::alpha, Dim::student, Dim::student2}, f64, "1",
                 "standard deviation of Q_jk over runs at the run's N, linear-noise "
                 "approximation (NaN: not computed, or past the trajectory's end)",
                 theory_only, 10, ObservableField::extra},
    VariableSpec{extra_name::R_sd, {Dim::run, Dim::alpha, Dim::student, Dim::teacher}, f64, "1",
                 "standard deviation of R_jn over runs at the run's N, linear-noise "
                 "approximation (NaN: not computed, or past the trajectory's end)",
                 theory_only, 10, ObservableField::extra},
    VariableSpec{extra_name::v_sd, {Dim::run, Dim::alpha, Dim::student}, f64, "1",
                 "standard deviation of v_j over runs at the run's N, linear-noise "
                 "approximation (0 for a fixed second layer; NaN: not computed, or past the "
                 "trajectory's end)",
                 theory_only, 10, ObservableField::extra},
    // Deeper networks (docs/theory.md §12), schema 1.3; produced by the observer (NaN for a
    // two-layer network, and in theory files: plateau ode covers two-layer networks only).
    VariableSpec{extra_name::student_layers, {Dim::run, Dim::alpha, Dim::student_layers}, f64, "1",
                 "student weights above the first layer: W_2 row-major, ..., W_L, then v",
                 every_kind, 3, ObservableField::extra},
    VariableSpec{extra_name::teacher_layers, {Dim::run, Dim::teacher_layers}, f64, "1",
                 "teacher weights above the first layer: W*_2 row-major, ..., W*_L, then v*",
                 every_kind, 3, ObservableField::extra},
    // Gaussian-mixture inputs (docs/theory.md §15), schema 1.6; produced by the observer and,
    // in theory files, by TheoryDynamics and theory_runs (§15c) (NaN for Gaussian inputs).
    VariableSpec{extra_name::class_error, {Dim::run, Dim::alpha}, f64, "1",
                 "classification error P(sign sigma != y) on fresh inputs (NaN without mixture "
                 "inputs)",
                 every_kind, 6, ObservableField::extra},
    VariableSpec{extra_name::mean_overlaps, {Dim::run, Dim::alpha, Dim::student, Dim::cluster},
                 f64, "1", "student-mean overlaps M_jc = w_j . mu_c (NaN without mixture inputs)",
                 every_kind, 6, ObservableField::extra},
    VariableSpec{extra_name::bayes_error, {Dim::run}, f64, "1",
                 "Bayes error of the run's mixture: closed form or Monte Carlo (NaN without "
                 "mixture inputs)",
                 every_kind, 6, ObservableField::extra},
    VariableSpec{extra_name::bayes_error_stderr, {Dim::run}, f64, "1",
                 "Monte-Carlo standard error of bayes_error (0 for a closed form)",
                 every_kind, 6, ObservableField::extra},
    // Several teachers (docs/theory.md §17), schema 1.8; produced by the observer (simulation,
    // SimulationDynamics and GramDynamics for switch_alpha) and by the theory of §17b (NaN
    // with one teacher). R and T above hold the current task's and teacher 1's blocks.
    VariableSpec{extra_name::eg_tasks, {Dim::run, Dim::alpha, Dim::task}, f64, "1",
                 "generalization error on every teacher t (head t with heads = per-task)",
                 every_kind, 8, ObservableField::extra},
    VariableSpec{extra_name::current_task, {Dim::run, Dim::alpha}, f64, "1",
                 "the task (0-based teacher) the student has been learning up to this record",
                 every_kind, 8, ObservableField::extra},
    VariableSpec{extra_name::switch_alpha, {Dim::run, Dim::alpha, Dim::task}, f64, "1",
                 "alpha at which task t began, as known at this record (entry 0 is 0; NaN: not "
                 "reached yet)",
                 every_kind, 8, ObservableField::extra},
    VariableSpec{extra_name::R_teachers, {Dim::run, Dim::alpha, Dim::student, Dim::task_unit},
                 f64, "1", "student overlaps with every teacher's units, R_j(tM+n) = w_j . b^t_n",
                 every_kind, 8, ObservableField::extra},
    VariableSpec{extra_name::T_teachers, {Dim::run, Dim::task_unit, Dim::task_unit2}, f64, "1",
                 "overlaps of every teacher's units, b^s_m . b^t_n",
                 every_kind, 8, ObservableField::extra},
    // Saved weights (`save-weights`, analysis/SCHEMA.md "Saved weights"), schema 1.11; produced
    // by simulate() (engine/simulation/simulate.hpp) in the first record's extras; absent from
    // a file without saved weights (only_with_weights).
    VariableSpec{extra_name::weights_alpha, {Dim::run}, f64, "1",
                 "alpha = steps/N at which the saved weights were taken (NaN: none saved)",
                 simulation_only, 11, ObservableField::extra},
    VariableSpec{extra_name::weights_W, {Dim::run, Dim::student, Dim::input}, f64, "1",
                 "saved student first-layer weights W, row j = w_j (Q = W W^T; NaN past the "
                 "run's N)",
                 simulation_only, 11, ObservableField::extra},
    VariableSpec{extra_name::weights_v, {Dim::run, Dim::student}, f64, "1",
                 "saved student second-layer weights v_j",
                 simulation_only, 11, ObservableField::extra},
    VariableSpec{extra_name::weights_B, {Dim::run, Dim::teacher, Dim::input}, f64, "1",
                 "saved teacher first-layer weights B, row n = B_n (T = B B^T; NaN past the "
                 "run's N)",
                 simulation_only, 11, ObservableField::extra},
    VariableSpec{extra_name::weights_v_star, {Dim::run, Dim::teacher}, f64, "1",
                 "saved teacher second-layer weights v*_n",
                 simulation_only, 11, ObservableField::extra},
    // Saved weights at every record (`save-weights = records`), schema 1.12; produced by
    // simulate() in every record's extras; absent from a file with another save-weights
    // (only_with_record_weights). Chunked one record of one run per chunk.
    VariableSpec{extra_name::record_weights_W, {Dim::run, Dim::alpha, Dim::student, Dim::input},
                 f64, "1",
                 "student first-layer weights W at the record, row j = w_j (Q = W W^T; NaN past "
                 "the run's N)",
                 simulation_only, 12, ObservableField::extra},
    VariableSpec{extra_name::record_weights_v, {Dim::run, Dim::alpha, Dim::student}, f64, "1",
                 "student second-layer weights v_j at the record",
                 simulation_only, 12, ObservableField::extra},
    // Per-run checksum (engine/io/run_checksum.hpp), schema 1.4: Fletcher-32 passes zeroed
    // chunks and chunks whose index entry lost its filter mask.
    VariableSpec{"run_checksum", {Dim::run}, ElementType::int64, "",
                 "CRC-32 of the run's bytes of the variables named by its 'covers' attribute",
                 every_kind, 4, ObservableField::checksum},
};
// clang-format on

/// Row-major copy of a matrix into `out` (rows x cols).
void matrix_out(const Eigen::MatrixXd& m, std::span<double> out) {
    const auto cols = static_cast<std::size_t>(m.cols());
    for (Eigen::Index i = 0; i < m.rows(); ++i)
        for (Eigen::Index j = 0; j < m.cols(); ++j)
            out[static_cast<std::size_t>(i) * cols + static_cast<std::size_t>(j)] = m(i, j);
}

Eigen::MatrixXd matrix_in(std::span<const double> in, std::size_t rows, std::size_t cols) {
    Eigen::MatrixXd m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j)
            m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = in[i * cols + j];
    return m;
}

} // namespace

std::string to_string(SchemaVersion v) {
    return std::to_string(v.major) + "." + std::to_string(v.minor);
}

std::size_t GroupShape::length(Dim d) const noexcept {
    switch (d) {
    case Dim::run:
        return runs;
    case Dim::alpha:
        return records;
    case Dim::student:
    case Dim::student2:
        return K;
    case Dim::teacher:
    case Dim::teacher2:
        return M;
    case Dim::student_layers:
        return student_layers;
    case Dim::teacher_layers:
        return teacher_layers;
    case Dim::cluster:
        return clusters;
    case Dim::task:
        return tasks;
    case Dim::task_unit:
    case Dim::task_unit2:
        return tasks * M;
    case Dim::input:
        return inputs;
    case Dim::escape_level:
        return escape_law_levels;
    }
    return 0;
}

bool VariableSpec::per_record() const noexcept {
    return rank >= 2 && dim_storage[1] == Dim::alpha;
}

std::size_t VariableSpec::values_per_record(const GroupShape& s) const noexcept {
    std::size_t n = 1;
    for (std::size_t i = per_record() ? 2 : 1; i < rank; ++i)
        n *= s.length(dim_storage[i]);
    return n;
}

std::vector<hsize_t> VariableSpec::shape(const GroupShape& s) const {
    std::vector<hsize_t> out;
    for (const Dim d : dims())
        out.push_back(static_cast<hsize_t>(s.length(d)));
    return out;
}

bool only_with_teachers(const VariableSpec& v) noexcept {
    return v.name == extra_name::current_task ||
           std::ranges::any_of(v.dims(), [](Dim d) { return only_with_teachers(d); });
}

bool only_with_weights(const VariableSpec& v) noexcept {
    return v.name.starts_with("weights_");
}

bool only_with_record_weights(const VariableSpec& v) noexcept {
    return v.name.starts_with("record_weights_");
}

bool written_with(const VariableSpec& v, SaveWeights save) noexcept {
    if (only_with_record_weights(v))
        return save == SaveWeights::records;
    return save != SaveWeights::none || !only_with_weights(v);
}

std::span<const VariableSpec> campaign_variables() noexcept {
    return schema_variables;
}

SchemaVersion schema_version_of(std::span<const VariableSpec> table) noexcept {
    SchemaVersion v{1, 0};
    for (const auto& var : table) {
        v.minor = std::max(v.minor, var.since_minor);
        if (std::string_view(var.name) == "outcome")
            v.minor = std::max(v.minor, outcome_values_revised_minor);
    }
    return v;
}

void copy_out(const VariableSpec& v, const Observables& o, const GroupShape& s,
              std::span<double> out) {
    switch (v.field) {
    case ObservableField::eg:
        out[0] = o.eg;
        return;
    case ObservableField::eg_stderr:
        out[0] = o.eg_stderr;
        return;
    case ObservableField::Q:
        matrix_out(o.Q, out);
        return;
    case ObservableField::R:
        matrix_out(o.R, out);
        return;
    case ObservableField::T:
        matrix_out(o.T, out);
        return;
    case ObservableField::v:
        for (std::size_t j = 0; j < s.K; ++j)
            out[j] = o.v[static_cast<Eigen::Index>(j)];
        return;
    case ObservableField::status:
    case ObservableField::outcome:
    case ObservableField::checksum:
        throw std::logic_error("copy_out: '" + std::string(v.name) + "' is not an observable");
    case ObservableField::extra: {
        const auto it = o.extras.find(v.name);
        if (it == o.extras.end())
            return;
        const Eigen::VectorXd& x = it->second;
        // Weights (run[, alpha], student|teacher, input): the rows are the axis before `input`.
        const bool by_input = v.dims().back() == Dim::input;
        const std::size_t rows = by_input ? s.length(v.dims()[v.rank - 2]) : 0;
        if (by_input && rows > 0 && static_cast<std::size_t>(x.size()) < out.size() &&
            x.size() % rows == 0) {
            // Saved weights of a run whose N is below the group's: row by row, NaN after N.
            const std::size_t n = static_cast<std::size_t>(x.size()) / rows;
            for (std::size_t r = 0; r < rows; ++r)
                std::copy_n(x.data() + r * n, n, out.begin() + r * s.inputs);
            return;
        }
        if (static_cast<std::size_t>(it->second.size()) != out.size())
            throw std::logic_error("observable '" + std::string(v.name) + "' has " +
                                   std::to_string(it->second.size()) + " values, its variable " +
                                   std::to_string(out.size()));
        std::copy(it->second.begin(), it->second.end(), out.begin());
        return;
    }
    }
}

void copy_in(const VariableSpec& v, std::span<const double> in, const GroupShape& s,
             Observables& o) {
    switch (v.field) {
    case ObservableField::eg:
        o.eg = in[0];
        return;
    case ObservableField::eg_stderr:
        o.eg_stderr = in[0];
        return;
    case ObservableField::Q:
        o.Q = matrix_in(in, s.K, s.K);
        return;
    case ObservableField::R:
        o.R = matrix_in(in, s.K, s.M);
        return;
    case ObservableField::T:
        o.T = matrix_in(in, s.M, s.M);
        return;
    case ObservableField::v:
        o.v = Eigen::Map<const Eigen::VectorXd>(in.data(), static_cast<Eigen::Index>(s.K));
        return;
    case ObservableField::status:
    case ObservableField::outcome:
    case ObservableField::checksum:
        throw std::logic_error("copy_in: '" + std::string(v.name) + "' is not an observable");
    case ObservableField::extra:
        o.extras.insert_or_assign(
            std::string(v.name),
            Eigen::Map<const Eigen::VectorXd>(in.data(), static_cast<Eigen::Index>(in.size())));
        return;
    }
}

std::string group_name(int K, int M) {
    return "K" + std::to_string(K) + "_M" + std::to_string(M);
}

namespace {

/// "8x4" -> {8, 4}; nullopt unless every width is a plain decimal number.
std::optional<std::vector<int>> parse_widths(std::string_view text) {
    std::vector<int> out;
    for (;;) {
        const auto x = text.find('x');
        const std::string_view part = text.substr(0, x);
        int value = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (ec != std::errc{} || end != part.data() + part.size() || part.empty() ||
            !(part[0] >= '0' && part[0] <= '9'))
            return std::nullopt;
        out.push_back(value);
        if (x == std::string_view::npos)
            return out;
        text.remove_prefix(x + 1);
    }
}

} // namespace

std::string group_name(const std::vector<int>& student, const std::vector<int>& teacher) {
    return "K" + widths_text(student) + "_M" + widths_text(teacher);
}

std::optional<std::pair<std::vector<int>, std::vector<int>>>
parse_group_widths(std::string_view name) {
    const auto sep = name.find("_M");
    if (name.size() < 4 || name[0] != 'K' || sep == std::string_view::npos)
        return std::nullopt;
    auto K = parse_widths(name.substr(1, sep - 1));
    auto M = parse_widths(name.substr(sep + 2));
    if (!K || !M)
        return std::nullopt;
    return std::pair{std::move(*K), std::move(*M)};
}

std::optional<std::pair<int, int>> parse_group_name(std::string_view name) noexcept {
    try {
        const auto w = parse_group_widths(name);
        if (!w)
            return std::nullopt;
        return std::pair{w->first.front(), w->second.front()};
    } catch (const std::bad_alloc&) {
        return std::nullopt;
    }
}

std::size_t layer_parameters(const std::vector<int>& widths) noexcept {
    std::size_t n = widths.empty() ? 0 : static_cast<std::size_t>(widths.back());
    for (std::size_t l = 1; l < widths.size(); ++l)
        n += static_cast<std::size_t>(widths[l]) * static_cast<std::size_t>(widths[l - 1]);
    return n;
}

GroupShape group_shape(std::size_t runs, std::size_t records, const std::vector<int>& student,
                       const std::vector<int>& teacher, std::size_t clusters, std::size_t tasks,
                       std::size_t inputs) noexcept {
    GroupShape s{runs, records, static_cast<std::size_t>(student.front()),
                 static_cast<std::size_t>(teacher.front())};
    s.student_layers = layer_parameters(student);
    s.teacher_layers = layer_parameters(teacher);
    s.clusters = clusters;
    s.tasks = tasks;
    s.inputs = inputs;
    return s;
}

} // namespace plateau
