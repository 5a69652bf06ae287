// The macroscopic state of a run and what one record measures: the order parameters
//     Q_jk = w^(j).w^(k),  R_jn = w^(j).B_n,  T_nm = B_n.B_m
// (docs/theory.md §1), with v, v* and, for deeper networks, the weights above the first layer;
// and the Observables a record holds. The bottom layer: the observer (simulation/), the theory
// (theory/) and the file's variable table (io/) all speak in these types.
#pragma once

#include "models/deep_network.hpp"

#include <Eigen/Core>

#include <functional>
#include <map>
#include <string>

namespace plateau {

/// The macroscopic state: everything eps_g and the ODEs depend on. T and v_star are constant
/// in time. (The theory's flow() returns the derivatives d/dalpha in the same struct.)
struct OrderParameters {
    Eigen::MatrixXd Q;      ///< K x K, Q_jk = w^(j).w^(k)
    Eigen::MatrixXd R;      ///< K x M, R_jn = w^(j).B_n
    Eigen::MatrixXd T;      ///< M x M, T_nm = B_n.B_m
    Eigen::VectorXd v;      ///< K, student second layer (K_L output weights if deeper)
    Eigen::VectorXd v_star; ///< M, teacher second layer (M_L output weights if deeper)
    /// Deeper networks (docs/theory.md §12): the weights above the first layer, which with the
    /// first layer's Q, R, T determine eps_g. Empty with one hidden layer.
    LayerWeights layers;
    LayerWeights layers_star;
};

struct Observables {
    Eigen::MatrixXd Q; ///< K x K
    Eigen::MatrixXd R; ///< K x M
    Eigen::MatrixXd T; ///< M x M
    Eigen::VectorXd v; ///< K
    double eg = 0.0;
    /// Standard error of eg: 0 for a closed form, the Monte-Carlo standard error otherwise.
    double eg_stderr = 0.0;
    /// Named extra observables: one per variable of engine/io/variables.hpp with field `extra`,
    /// row-major over that variable's dimensions after run and alpha. An extra a run never
    /// produced is absent here and NaN in the file.
    std::map<std::string, Eigen::VectorXd, std::less<>> extras{};
};

} // namespace plateau
