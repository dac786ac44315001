#include "orbit/registration/score.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace orbit::registration {

SupportHull::SupportHull(const Points& points, int directions) : directions_(directions, 3), support_(directions) {
    // Fibonacci sphere: nearly uniform directions, the same for every cloud.
    const double golden = 3.14159265358979323846 * (3.0 - std::sqrt(5.0));
    for (int k = 0; k < directions; ++k) {
        double z = 1.0 - (2.0 * k + 1.0) / directions;
        double r = std::sqrt(std::max(0.0, 1.0 - z * z));
        directions_.row(k) << r * std::cos(golden * k), r * std::sin(golden * k), z;
    }
    support_.setConstant(-std::numeric_limits<double>::infinity());
    for (Eigen::Index i = 0; i < points.rows(); ++i) {
        Eigen::Vector3d p = points.row(i).transpose();
        support_ = support_.cwiseMax(directions_ * p);
    }
}

bool SupportHull::contains(const Eigen::Vector3d& x, double margin) const {
    for (Eigen::Index k = 0; k < directions_.rows(); ++k)
        if (directions_.row(k).dot(x) > support_[k] - margin) return false;
    return true;
}

SideScore score_side(const Points& moving, const geometry::KdTree& fixed_tree, const SupportHull* fixed_hull,
                     const Transform& t, double tau, double margin) {
    SideScore s;
    if (moving.rows() == 0) return s;
    const Eigen::Matrix3d r = t.topLeftCorner<3, 3>();
    const Eigen::Vector3d tr = t.topRightCorner<3, 1>();
    const double t2 = tau * tau;
    std::int64_t inside_free = 0;
    for (Eigen::Index i = 0; i < moving.rows(); ++i) {
        Eigen::Vector3d p = r * moving.row(i).transpose() + tr;
        double d2 = fixed_tree.nearest_within(p.data(), tau).dist2;
        if (d2 < t2)
            s.agreement += 1 - d2 / t2;
        else if (fixed_hull && fixed_hull->contains(p, margin))
            ++inside_free;
    }
    const auto n = static_cast<double>(moving.rows());
    s.agreement /= n;
    s.violation = static_cast<double>(inside_free) / n;
    return s;
}

double consistent_correspondences(const Points& source, const Points& target,
                                  const std::vector<std::pair<std::int64_t, std::int64_t>>& corr, const Transform& t,
                                  double tau) {
    const Eigen::Matrix3d r = t.topLeftCorner<3, 3>();
    const Eigen::Vector3d tr = t.topRightCorner<3, 1>();
    const double t2 = tau * tau;
    double s = 0;
    for (auto& [i, j] : corr) {
        double d2 = (r * source.row(i).transpose() + tr - target.row(j).transpose()).squaredNorm();
        if (d2 < t2) s += 1 - d2 / t2;
    }
    return s;
}

}  // namespace orbit::registration
