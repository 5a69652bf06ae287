#include "engine/campaign/resources.hpp"

#include "engine/simulation/gram_dynamics.hpp"
#include "engine/simulation/make_trainer.hpp"
#include "engine/theory/flow.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace plateau {

namespace {

/// Weights of the layers beyond the first: sum of w_l w_(l+1) over adjacent widths.
double deep_weights(const NetworkSpec& net) noexcept {
    double n = 0.0;
    for (std::size_t l = 0; l + 1 < net.widths.size(); ++l)
        n += static_cast<double>(net.widths[l]) * static_cast<double>(net.widths[l + 1]);
    return n;
}

/// The numbers one record holds: the order parameters Q (K x K), R (K x M), T (M x M) and the
/// per-record values of the file (eps_g, eps_train, v, ...), about 4 (K+M).
double record_values(double K, double M) noexcept {
    return K * K + K * M + M * M + 4.0 * (K + M) + 8.0;
}

} // namespace

RunMemory run_memory(const RunParams& p, RunKind kind, std::int64_t records) noexcept {
    const auto N = static_cast<double>(p.model.N);
    const auto K = static_cast<double>(p.model.student.hidden());
    // The state and the flow hold every teacher's rows (several teachers: teachers x M).
    const auto M = static_cast<double>(teacher_units(p.model));
    const double units = K + M;
    const double layers = deep_weights(p.model.student) + deep_weights(p.model.teacher);
    constexpr double d = 8.0; // bytes per double
    RunMemory m;
    // The initial state: the teacher's M x N and student's K x N blocks and the (K+M) x N
    // weights they are copied into (engine/simulation/state.cpp), so twice the weights at its
    // peak; the theory samples its initial order parameters from the same state (or the Gram
    // chain's Wishart matrices, no term in N).
    if (p.dynamics == DynamicsKind::full)
        m.weights = d * (2.0 * units * N + layers + 2.0 * N); // + the example xi and the next one
    else
        m.weights = d * layers;
    // Hidden-manifold inputs (docs/theory.md §16): the run's feature matrix F (D x N) and the
    // teacher's rows in R^D, once per run in the state.
    if (p.model.inputs == InputKind::hidden_manifold)
        m.weights += d * static_cast<double>(latent_dimension(p.model)) * (N + M);
    // The Gram chain's r x r matrices (G, L, the Wishart factor, a product) or the Monte-Carlo
    // eps_g's field covariance and its factors: about four r^2 (measured for r = 1200), r =
    // K + M, for the chain + the velocity rows (docs/theory.md §6c) + the means' D axes (§15d,
    // Eq. (15d.1)).
    const double rows =
        p.dynamics == DynamicsKind::gram ? static_cast<double>(gram_rows(p)) : units;
    m.chain = d * 4.0 * rows * rows;
    if (kind == RunKind::simulation) {
        m.training = trainer_memory_bytes(p);
    } else {
        // The integrator's stages (Dormand-Prince: 7, plus the state, error and step copies) of
        // the (K+M)^2 order parameters, and the joint rule's (K+M) x points coordinates.
        m.chain += d * 12.0 * (units * units + units);
        if (flow_method(p.model) == FlowMethod::joint)
            m.chain += d * 2.0 * units * static_cast<double>(p.observer.joint_points);
    }
    m.records = d * static_cast<double>(records) * record_values(K, M);
    return m;
}

double saved_weights_bytes(const ModelParams& m, SaveWeights save, std::size_t records) noexcept {
    if (save == SaveWeights::none)
        return 0.0;
    const auto units = static_cast<double>(m.student.hidden() + teacher_units(m));
    const double N = static_cast<double>(m.N);
    const double every_record =
        save == SaveWeights::records
            ? static_cast<double>(records) * static_cast<double>(m.student.hidden()) * (N + 1.0)
            : 0.0;
    return 8.0 * (units * (N + 1.0) + 1.0 + every_record);
}

namespace {

/// A number read from the first line of `path`, or nullopt ("max" is none).
std::optional<double> read_number(const char* path) {
    std::ifstream in(path);
    double x = 0.0;
    if (in >> x)
        return x;
    return std::nullopt;
}

} // namespace

std::optional<MemoryLimit> available_memory() {
    std::optional<MemoryLimit> best;
    const auto offer = [&best](double bytes, const char* source) {
        if (!(bytes >= 0.0) || (best && static_cast<double>(best->bytes) <= bytes))
            return;
        best = MemoryLimit{static_cast<std::uint64_t>(std::min(bytes, 1.8e19)), source};
    };
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);) {
        if (line.starts_with("MemAvailable:")) {
            std::istringstream fields(line.substr(13));
            double kb = 0.0;
            if (fields >> kb)
                offer(kb * 1024.0, "MemAvailable of /proc/meminfo");
        }
    }
    const auto max2 = read_number("/sys/fs/cgroup/memory.max"); // "max": no limit, not read
    const auto current2 = read_number("/sys/fs/cgroup/memory.current");
    if (max2 && current2)
        offer(*max2 - *current2, "the cgroup's memory.max - memory.current");
    const auto max1 = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    const auto usage1 = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    if (max1 && usage1 && *max1 < 1e18)
        offer(*max1 - *usage1, "the cgroup's memory limit - usage");
    return best;
}

std::string format_bytes(double bytes) {
    constexpr std::array<const char*, 5> units{"B", "kB", "MB", "GB", "TB"};
    std::size_t u = 0;
    while (u + 1 < units.size() && std::abs(bytes) >= 1000.0) {
        bytes /= 1000.0;
        ++u;
    }
    std::array<char, 48> buf{};
    std::snprintf(buf.data(), buf.size(), "%.3g %s", bytes, units[u]);
    return buf.data();
}

} // namespace plateau
