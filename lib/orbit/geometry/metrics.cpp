#include "orbit/geometry/metrics.hpp"
#include <Eigen/LU>

#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/geometry/rotation.hpp"

namespace orbit::geometry {

double rre_deg(const Transform& estimate, const Transform& truth) {
    Eigen::Matrix3d a = estimate.topLeftCorner<3, 3>(), b = truth.topLeftCorner<3, 3>();
    // Strip any scale so a similarity estimate is compared by its rotation.
    a /= std::cbrt(std::abs(a.determinant()));
    b /= std::cbrt(std::abs(b.determinant()));
    return rotation_error_deg(b, a);
}

double rte(const Transform& estimate, const Transform& truth) {
    return (estimate.topRightCorner<3, 1>() - truth.topRightCorner<3, 1>()).norm();
}

Fit evaluate_fit(const Points& source, const KdTree& target, const Transform& t, double max_distance) {
    Fit f;
    if (source.rows() == 0 || target.size() == 0) return f;
    Eigen::Matrix3d r = t.topLeftCorner<3, 3>();
    Eigen::Vector3d tr = t.topRightCorner<3, 1>();
    double md2 = max_distance * max_distance, sum = 0;
    for (Eigen::Index i = 0; i < source.rows(); ++i) {
        Eigen::Vector3d p = r * source.row(i).transpose() + tr;
        Neighbor nb = target.nearest(p.data());
        if (nb.dist2 <= md2) {
            ++f.inliers;
            sum += nb.dist2;
        }
    }
    f.fitness = static_cast<double>(f.inliers) / static_cast<double>(source.rows());
    f.inlier_rmse = f.inliers ? std::sqrt(sum / static_cast<double>(f.inliers)) : 0.0;
    return f;
}

namespace {
double mean_nearest_sq(const Points& from, const KdTree& to) {
    double s = 0;
    for (Eigen::Index i = 0; i < from.rows(); ++i) s += to.nearest(from.row(i).data()).dist2;
    return s / static_cast<double>(from.rows());
}
}  // namespace

double modified_chamfer(const Points& source, const Points& target, const Points& clean, const Transform& estimate,
                        const Transform& truth) {
    require(source.rows() > 0 && target.rows() > 0 && clean.rows() > 0, "chamfer: empty point set");
    KdTree clean_tree(clean);
    double a = mean_nearest_sq(apply(estimate, source), clean_tree);
    KdTree moved_clean(apply(estimate * invert(truth), clean));
    double b = mean_nearest_sq(target, moved_clean);
    return a + b;
}

}  // namespace orbit::geometry
