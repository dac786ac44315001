#include "orbit/registration/cpd.hpp"

#include <Eigen/LU>
#include <Eigen/SVD>
#include <cmath>
#include <numbers>

#include "orbit/core/error.hpp"

namespace orbit::registration {

CpdResult cpd(const Points& source, const Points& target, const Transform& init, const CpdOptions& o) {
    require(o.outlier_weight >= 0 && o.outlier_weight < 1, "cpd: the outlier weight must lie in [0, 1)");
    CpdResult res;
    res.transform = init;
    const Eigen::Index m = source.rows(), n = target.rows();
    if (m == 0 || n == 0) return res;
    const double d = 3;
    Eigen::Matrix3d r0 = init.topLeftCorner<3, 3>();
    double s = std::cbrt(r0.determinant());
    Eigen::Matrix3d r = r0 / s;
    Eigen::Vector3d t = init.topRightCorner<3, 1>();
    const Points& x = target;
    // Initial variance: mean squared distance over all pairs, as in the paper.
    Points y = (source * (s * r).transpose()).rowwise() + t.transpose();
    double sigma2 = 0;
    {
        Eigen::RowVector3d mx = x.colwise().mean(), my = y.colwise().mean();
        double vx = (x.rowwise() - mx).squaredNorm() / n, vy = (y.rowwise() - my).squaredNorm() / m;
        sigma2 = (vx + vy + (mx - my).squaredNorm()) / d;
    }
    Eigen::VectorXd p1(m), pt1(n), col(m);
    Points px(m, 3);  // P X
    double prev = std::numeric_limits<double>::infinity();
    for (int it = 0; it < o.max_iterations; ++it) {
        res.iterations = it + 1;
        // E step: column-wise normalisation with the uniform outlier term c.
        double c = std::pow(2 * std::numbers::pi * sigma2, d / 2) * o.outlier_weight / (1 - o.outlier_weight) *
                   static_cast<double>(m) / static_cast<double>(n);
        p1.setZero();
        pt1.setZero();
        px.setZero();
        double objective = 0, np = 0;
        for (Eigen::Index j = 0; j < n; ++j) {
            double den = c;
            for (Eigen::Index i = 0; i < m; ++i) {
                double e = std::exp(-(y.row(i) - x.row(j)).squaredNorm() / (2 * sigma2));
                col[i] = e;
                den += e;
            }
            if (den <= 0) continue;
            objective -= std::log(den);
            for (Eigen::Index i = 0; i < m; ++i) {
                double pij = col[i] / den;
                if (pij == 0) continue;
                p1[i] += pij;
                pt1[j] += pij;
                px.row(i) += pij * x.row(j);
            }
        }
        np = p1.sum();
        if (!(np > 1e-12)) break;
        // M step on the original source coordinates.
        Eigen::Vector3d mux = (x.transpose() * pt1) / np;
        Eigen::Vector3d muy = (source.transpose() * p1) / np;
        Eigen::Matrix3d a = px.transpose() * source - np * mux * muy.transpose();  // X^T P^T Y centred
        Eigen::JacobiSVD<Eigen::Matrix3d> svd(a, Eigen::ComputeFullU | Eigen::ComputeFullV);
        Eigen::Vector3d cdiag(1, 1, (svd.matrixU() * svd.matrixV().transpose()).determinant() < 0 ? -1 : 1);
        r = svd.matrixU() * cdiag.asDiagonal() * svd.matrixV().transpose();
        double tr_ar = (a.transpose() * r).trace();
        double yy = (source.array().square().rowwise().sum().matrix().dot(p1)) - np * muy.squaredNorm();
        double xx = (x.array().square().rowwise().sum().matrix().dot(pt1)) - np * mux.squaredNorm();
        s = o.with_scale ? tr_ar / yy : 1.0;
        t = mux - s * r * muy;
        sigma2 = std::max((xx - s * tr_ar) / (np * d), 1e-12);
        y = (source * (s * r).transpose()).rowwise() + t.transpose();
        objective += np * d / 2 * std::log(sigma2);
        res.transform = Transform::Identity();
        res.transform.topLeftCorner<3, 3>() = s * r;
        res.transform.topRightCorner<3, 1>() = t;
        res.sigma2 = sigma2;
        if (std::abs(prev - objective) <= o.tolerance * std::abs(objective)) {
            res.converged = true;
            break;
        }
        prev = objective;
        if (sigma2 <= 1e-10) {
            res.converged = true;
            break;
        }
    }
    return res;
}

}  // namespace orbit::registration
