// The central-difference Jacobian that the theory's linearizations share: the fixed points'
// Newton steps and stability (fixed_point.cpp), the escape prediction (escape.cpp) and the
// fluctuations' dSigma/dalpha = J Sigma + Sigma J^T + C (fluctuations.cpp).
#pragma once

#include <Eigen/Core>

#include <cmath>

namespace plateau {

/// J(:, i) = (f(x + h_i e_i) - f(x - h_i e_i)) / ((x_i + h_i) - (x_i - h_i)), the denominator the
/// rounded difference of the two points actually evaluated. f(x, out) returns false where it is
/// not defined (then so does this, with J incomplete). on_column(i + 1, n) after each column.
template <class F, class OnColumn>
bool numerical_jacobian(F&& f, const Eigen::VectorXd& x, const Eigen::VectorXd& h,
                        Eigen::MatrixXd& J, OnColumn&& on_column) {
    const Eigen::Index n = x.size();
    J.resize(n, n);
    Eigen::VectorXd xp = x, xm = x, fp, fm;
    for (Eigen::Index i = 0; i < n; ++i) {
        xp(i) = x(i) + h(i);
        xm(i) = x(i) - h(i);
        if (!f(xp, fp) || !f(xm, fm))
            return false;
        J.col(i) = (fp - fm) / (xp(i) - xm(i));
        xp(i) = xm(i) = x(i);
        on_column(i + 1, n);
    }
    return true;
}

template <class F>
bool numerical_jacobian(F&& f, const Eigen::VectorXd& x, const Eigen::VectorXd& h,
                        Eigen::MatrixXd& J) {
    return numerical_jacobian(f, x, h, J, [](Eigen::Index, Eigen::Index) {});
}

/// Steps `relative` max(1, |x_i|). 1e-7 (the fixed points, the escape): truncation error ~1e-14,
/// rounding ~1e-16 |f| / 1e-7 ~ 1e-9 relative.
[[nodiscard]] inline Eigen::VectorXd jacobian_steps(const Eigen::VectorXd& x, double relative) {
    return relative * x.cwiseAbs().cwiseMax(1.0);
}

} // namespace plateau
