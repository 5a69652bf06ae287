#include "engine/campaign/run_message.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

namespace plateau {

namespace {

class Writer {
public:
    void put(const void* data, std::size_t n) {
        const auto* p = static_cast<const std::byte*>(data);
        out.insert(out.end(), p, p + n);
    }
    void count(std::size_t n) {
        const auto x = static_cast<std::uint64_t>(n);
        put(&x, sizeof x);
    }
    void doubles(const double* data, Eigen::Index n) {
        count(static_cast<std::size_t>(n));
        put(data, static_cast<std::size_t>(n) * sizeof(double));
    }
    void matrix(const Eigen::MatrixXd& m) {
        count(static_cast<std::size_t>(m.rows()));
        doubles(m.data(), m.size());
    }
    std::vector<std::byte> out;
};

class Reader {
public:
    explicit Reader(std::span<const std::byte> b) : bytes(b) {}
    void get(void* data, std::size_t n) {
        if (n > bytes.size() - at)
            throw std::invalid_argument("decode_run: the message ends too early");
        std::memcpy(data, bytes.data() + at, n);
        at += n;
    }
    std::size_t count() {
        std::uint64_t x = 0;
        get(&x, sizeof x);
        if (x > bytes.size())
            throw std::invalid_argument("decode_run: a length beyond the message");
        return static_cast<std::size_t>(x);
    }
    Eigen::VectorXd vector() {
        Eigen::VectorXd v(static_cast<Eigen::Index>(count()));
        get(v.data(), static_cast<std::size_t>(v.size()) * sizeof(double));
        return v;
    }
    Eigen::MatrixXd matrix() {
        const auto rows = static_cast<Eigen::Index>(count());
        const Eigen::VectorXd flat = vector();
        if (rows == 0 ? flat.size() != 0 : flat.size() % rows != 0)
            throw std::invalid_argument("decode_run: a matrix of the wrong size");
        return Eigen::Map<const Eigen::MatrixXd>(flat.data(), rows,
                                                 rows == 0 ? 0 : flat.size() / rows);
    }
    std::span<const std::byte> bytes;
    std::size_t at = 0;
};

} // namespace

std::vector<std::byte> encode_run(const FinishedRun& run) {
    Writer w;
    w.put(&run.run, sizeof run.run);
    const auto status = static_cast<std::int8_t>(run.result.status);
    w.put(&status, sizeof status);
    const auto outcome = static_cast<std::int8_t>(run.result.outcome);
    w.put(&outcome, sizeof outcome);
    w.count(run.result.records.size());
    for (const Observables& o : run.result.records) {
        w.matrix(o.Q);
        w.matrix(o.R);
        w.matrix(o.T);
        w.doubles(o.v.data(), o.v.size());
        w.put(&o.eg, sizeof o.eg);
        w.put(&o.eg_stderr, sizeof o.eg_stderr);
        w.count(o.extras.size());
        for (const auto& [name, values] : o.extras) {
            w.count(name.size());
            w.put(name.data(), name.size());
            w.doubles(values.data(), values.size());
        }
    }
    return std::move(w.out);
}

FinishedRun decode_run(std::span<const std::byte> bytes) {
    Reader r(bytes);
    FinishedRun run;
    r.get(&run.run, sizeof run.run);
    std::int8_t status = 0;
    r.get(&status, sizeof status);
    if (status < 0 || status > static_cast<std::int8_t>(RunStatus::diverged))
        throw std::invalid_argument("decode_run: status " + std::to_string(status));
    run.result.status = static_cast<RunStatus>(status);
    std::int8_t outcome = 0;
    r.get(&outcome, sizeof outcome);
    if (outcome < 0 || outcome > static_cast<std::int8_t>(all_run_outcomes.back()))
        throw std::invalid_argument("decode_run: outcome " + std::to_string(outcome));
    run.result.outcome = static_cast<RunOutcome>(outcome);
    const std::size_t records = r.count();
    run.result.records.resize(records);
    for (Observables& o : run.result.records) {
        o.Q = r.matrix();
        o.R = r.matrix();
        o.T = r.matrix();
        o.v = r.vector();
        r.get(&o.eg, sizeof o.eg);
        r.get(&o.eg_stderr, sizeof o.eg_stderr);
        const std::size_t extras = r.count();
        for (std::size_t e = 0; e < extras; ++e) {
            std::string name(r.count(), '\0');
            r.get(name.data(), name.size());
            o.extras.emplace(std::move(name), r.vector());
        }
    }
    if (r.at != bytes.size())
        throw std::invalid_argument("decode_run: bytes after the run");
    return run;
}

} // namespace plateau
