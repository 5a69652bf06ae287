// The Python module's engine side, `_plateau` (the package is python/plateau/__init__.py):
// `plateau run` and `plateau ode` run in this process through the command line's own parsing
// and checks (cli/), so that keys, messages and files are the command line's. The GIL is
// released while a command runs; its progress and the check for KeyboardInterrupt come back to
// Python on the calling thread (cli::CommandHooks), and an error of either is raised again once
// the command has stopped (the runs in flight written, the file closed).
#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/fixed_point_report.hpp"

#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <complex>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace py = pybind11;

namespace {

using plateau::cli::CommandHooks;

/// A Python error raised inside a hook (KeyboardInterrupt from the signal check, an exception of
/// the progress callback), held while the command unwinds and raised again after it.
/// Every member is called with the GIL held.
class PendingError {
public:
    PendingError() = default;
    PendingError(const PendingError&) = delete;
    PendingError& operator=(const PendingError&) = delete;
    PendingError(PendingError&&) = delete;
    PendingError& operator=(PendingError&&) = delete;
    ~PendingError() {
        Py_XDECREF(type_);
        Py_XDECREF(value_);
        Py_XDECREF(trace_);
    }

    /// Takes the error indicator of the current thread.
    void fetch() noexcept { PyErr_Fetch(&type_, &value_, &trace_); }
    [[nodiscard]] bool pending() const noexcept { return type_ != nullptr; }
    /// Raises the held error (as py::error_already_set) if there is one.
    void raise_if_pending() {
        if (!pending())
            return;
        PyErr_Restore(type_, value_, trace_);
        type_ = value_ = trace_ = nullptr;
        throw py::error_already_set();
    }

private:
    PyObject* type_ = nullptr;
    PyObject* value_ = nullptr;
    PyObject* trace_ = nullptr;
};

/// Runs `plateau <command> args...` with `hooks` completed by the error line, the interruption
/// check and the progress callback; raises ValueError (exit status 2: bad input) or
/// RuntimeError (1) with the command line's one-line message, or the pending Python error.
void run_cli(const std::string& command, const std::vector<std::string>& args,
             const std::string& command_line, const py::object& progress, CommandHooks hooks) {
    std::vector<std::string> words{command};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    argv.reserve(words.size() + 1);
    for (std::string& w : words)
        argv.push_back(w.data());
    argv.push_back(nullptr);
    const int argc = static_cast<int>(words.size());

    std::string error;
    PendingError pending;
    hooks.error = [&error](const std::string& line) {
        error = line;
    };
    hooks.interrupted = [&pending] {
        const py::gil_scoped_acquire gil;
        if (!pending.pending() && PyErr_CheckSignals() != 0)
            pending.fetch();
        return pending.pending();
    };
    if (!progress.is_none())
        hooks.progress = [&pending, &progress](double done, double total, std::string_view unit) {
            const py::gil_scoped_acquire gil;
            if (pending.pending())
                return;
            try {
                progress(done, total, std::string(unit));
            } catch (py::error_already_set& e) {
                e.restore();
                pending.fetch();
            }
        };
    int status = 0;
    bool interrupted = false;
    {
        const py::gil_scoped_release release;
        try {
            status = command == "run"
                         ? plateau::cli::run_command(argc, argv.data(), command_line, hooks)
                         : plateau::cli::ode_command(argc, argv.data(), command_line, hooks);
        } catch (const plateau::cli::Interrupted&) {
            interrupted = true;
        }
    }
    pending.raise_if_pending();
    if (interrupted) // (the interruption is always a pending Python error)
        throw py::error_already_set();
    if (status == 2)
        throw py::value_error(error);
    if (status != 0)
        throw std::runtime_error(error);
}

py::dict coordinates_of(const std::vector<plateau::Coordinate>& coordinates) {
    py::dict d;
    for (const plateau::Coordinate& c : coordinates) {
        if (!c.text.empty())
            d[py::str(c.key)] = c.text;
        else if (c.is_integer)
            d[py::str(c.key)] = static_cast<std::int64_t>(c.number);
        else
            d[py::str(c.key)] = c.number;
    }
    return d;
}

py::dict fixed_point_dict(const plateau::FixedPoint& f) {
    py::dict d;
    d["Q"] = f.op.Q;
    d["R"] = f.op.R;
    d["v"] = f.op.v;
    d["eps_g"] = f.eg;
    d["escape_rate"] = f.escape_rate;
    std::vector<std::complex<double>> eigenvalues(f.eigenvalues.data(),
                                                  f.eigenvalues.data() + f.eigenvalues.size());
    d["eigenvalues"] = eigenvalues;
    d["residual"] = f.residual;
    d["kind"] = std::string(plateau::name(f.kind));
    d["alpha"] = f.alpha;
    return d;
}

/// One grid point's results of `plateau ode --fixed-point`, as the command line prints them.
py::dict report_dict(const plateau::cli::FixedPointReport& r) {
    py::dict d;
    d["point"] = r.point;
    d["coordinates"] = coordinates_of(r.coordinates);
    d["converged"] = r.symmetric.converged;
    d["why"] = r.symmetric.converged ? py::object(py::none()) : py::object(py::str(r.why));
    d["plateau"] = fixed_point_dict(r.symmetric);
    py::list trajectory;
    for (const plateau::FixedPoint& f : r.trajectory)
        trajectory.append(fixed_point_dict(f));
    d["trajectory"] = trajectory;
    d["trajectory_alpha_end"] = r.trajectory_alpha_end;
    if (r.escape) {
        const plateau::EscapePrediction& e = *r.escape;
        const auto N = static_cast<double>(r.N);
        py::dict esc;
        esc["N"] = N;
        esc["mean"] = plateau::predicted_mean_escape(e, N);
        esc["sd"] = plateau::predicted_escape_sd(e, N);
        py::dict quantiles;
        for (const double q : plateau::cli::escape_law_quantiles)
            quantiles[py::float_(q)] = plateau::predicted_escape_quantile(e, N, q);
        esc["quantiles"] = quantiles;
        esc["rate"] = e.rate;
        esc["A"] = e.A;
        esc["fit_slope"] = e.fit_slope;
        esc["alpha_plateau"] = e.alpha_plateau;
        esc["c"] = e.c;
        esc["sigma_initial"] = e.sigma_initial;
        esc["sigma_noise"] = e.sigma_noise;
        esc["dimension"] = e.dimension;
        esc["threshold"] = e.threshold;
        d["escape"] = esc;
        d["escape_why"] = py::none();
    } else {
        d["escape"] = py::none();
        d["escape_why"] =
            r.symmetric.converged ? py::object(py::str(r.escape_why)) : py::object(py::none());
    }
    d["eta_max"] =
        r.eta_max.found ? py::object(py::float_(r.eta_max.eta_max)) : py::object(py::none());
    d["eta_max_why"] = r.eta_max.found || !r.symmetric.converged
                           ? py::object(py::none())
                           : py::object(py::str(std::string(r.eta_max.why)));
    return d;
}

py::list key_list() {
    py::list out;
    for (const plateau::cli::KeyInfo& k : plateau::cli::keys()) {
        py::dict d;
        d["name"] = std::string(k.name);
        d["default"] = std::string(k.default_value);
        d["follows"] = std::string(k.follows);
        d["unit"] = std::string(k.unit);
        d["help"] = std::string(k.help);
        d["allowed"] = k.allowed_values();
        d["sweepable"] = k.sweepable;
        out.append(d);
    }
    return out;
}

} // namespace

PYBIND11_MODULE(_plateau, m) {
    m.doc() = "The engine of the plateau package (python/plateau): use `import plateau`.";
    m.def(
        "command",
        [](const std::string& command, const std::vector<std::string>& args,
           const std::string& command_line, const py::object& progress, bool summary) {
            if (command != "run" && command != "ode")
                throw py::value_error("command '" + command + "': allowed are run, ode");
            CommandHooks hooks;
            hooks.summary = summary;
            run_cli(command, args, command_line, progress, std::move(hooks));
        },
        py::arg("command"), py::arg("args"), py::arg("command_line"),
        py::arg("progress") = py::none(), py::arg("summary") = false,
        "Runs `plateau <command> args...` in this process (command: run or ode).");
    m.def(
        "fixed_points",
        [](const std::vector<std::string>& args, const std::string& command_line) {
            std::vector<plateau::cli::FixedPointReport> reports;
            CommandHooks hooks;
            hooks.fixed_point = [&reports](const plateau::cli::FixedPointReport& r) {
                reports.push_back(r);
            };
            std::vector<std::string> all = args;
            all.emplace_back("--fixed-point");
            run_cli("ode", all, command_line, py::none(), std::move(hooks));
            py::list out;
            for (const auto& r : reports)
                out.append(report_dict(r));
            return out;
        },
        py::arg("args"), py::arg("command_line"),
        "`plateau ode --fixed-point args...`: one dict per grid point.");
    m.def("keys", &key_list, "Every configuration key, in registry order.");
    m.def("version", &plateau::cli::version_text, "The engine's version text.");
}
