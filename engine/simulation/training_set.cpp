#include "engine/simulation/training_set.hpp"

#include <stdexcept>

namespace plateau {

FiniteTrainingSet::FiniteTrainingSet(std::uint64_t size, std::uint64_t seed, std::uint64_t run)
    : size_(size), base_(key_hash(StreamKey{seed, run, StreamPurpose::training_set})) {
    if (size == 0)
        throw std::invalid_argument("a finite training set needs at least one example");
}

NormalStream FiniteTrainingSet::stream_of(std::uint64_t mu) const noexcept {
    // A two-level key: the hash of (seed, run, training_set) takes the place of the master seed
    // and mu that of the run index. Distinct mu give distinct keys, and a collision with the
    // stream of another (seed, run) needs a 64-bit hash to equal a master seed.
    return NormalStream(StreamKey{base_, mu, StreamPurpose::training_set});
}

void FiniteTrainingSet::example(std::uint64_t mu, std::span<double> out) const noexcept {
    NormalStream s = stream_of(mu);
    s.fill(out);
}

RowMatrix FiniteTrainingSet::matrix(std::int64_t N, Eigen::VectorXd& extra) const {
    const auto P = static_cast<Eigen::Index>(size_);
    RowMatrix X(P, N);
    extra.resize(P);
    for (Eigen::Index mu = 0; mu < P; ++mu) {
        NormalStream s = stream_of(static_cast<std::uint64_t>(mu));
        s.fill({X.row(mu).data(), static_cast<std::size_t>(N)});
        extra(mu) = s.next();
    }
    return X;
}

} // namespace plateau
