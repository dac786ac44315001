#include "orbit/geometry/kabsch.hpp"

#include <Eigen/LU>
#include <Eigen/SVD>
#include <cmath>
#include <string>
#include <vector>

#include "orbit/core/error.hpp"

namespace orbit::geometry {

namespace {
// Two passes (means, then centred moments) so far-from-origin clouds lose no precision.
template <class X, class Y, class W>
Transform solve(std::int64_t n, X x, Y y, W w, bool with_scale) {
    double sw = 0;
    Eigen::Vector3d mx = Eigen::Vector3d::Zero(), my = Eigen::Vector3d::Zero();
    for (std::int64_t i = 0; i < n; ++i) {
        double wi = w(i);
        require(wi >= 0 && std::isfinite(wi), "kabsch: weights must be finite and non-negative");
        sw += wi;
        mx += wi * x(i);
        my += wi * y(i);
    }
    require(sw > 0 && std::isfinite(sw), "kabsch: the weights sum to zero (no usable pairs)");
    mx /= sw;
    my /= sw;
    Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();  // sum w (y - my)(x - mx)^T / sw
    double varx = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        double wi = w(i);
        if (wi == 0) continue;
        Eigen::Vector3d dx = x(i) - mx;
        cov += wi * (y(i) - my) * dx.transpose();
        varx += wi * dx.squaredNorm();
    }
    cov /= sw;
    varx /= sw;
    Eigen::JacobiSVD<Eigen::Matrix3d> svd(cov, Eigen::ComputeFullU | Eigen::ComputeFullV);
    Eigen::Matrix3d u = svd.matrixU(), v = svd.matrixV();
    Eigen::Vector3d s(1, 1, (u.determinant() * v.determinant() < 0) ? -1.0 : 1.0);
    Eigen::Matrix3d r = u * s.asDiagonal() * v.transpose();
    double scale = 1.0;
    if (with_scale) {
        require(varx > 0, "kabsch: cannot estimate a scale, the source points coincide");
        scale = svd.singularValues().dot(s) / varx;
    }
    Transform t = Transform::Identity();
    t.topLeftCorner<3, 3>() = scale * r;
    t.topRightCorner<3, 1>() = my - scale * r * mx;
    return t;
}
}  // namespace

Transform kabsch(const Points& src, const Points& dst, const Vector& weights, const KabschOptions& options) {
    require(src.cols() == 3 && dst.cols() == 3, "kabsch: expected 3-d points, found " + std::to_string(src.cols()) +
                                                    " and " + std::to_string(dst.cols()) + " columns");
    require(src.rows() == dst.rows(), "kabsch: expected paired points, found " + std::to_string(src.rows()) + " and " +
                                          std::to_string(dst.rows()) + " rows");
    require(src.rows() > 0, "kabsch: no points");
    require(weights.size() == 0 || weights.size() == src.rows(), "kabsch: expected one weight per pair");
    return solve(
        src.rows(), [&](std::int64_t i) -> Eigen::Vector3d { return src.row(i).transpose(); },
        [&](std::int64_t i) -> Eigen::Vector3d { return dst.row(i).transpose(); },
        [&](std::int64_t i) { return weights.size() ? weights[i] : 1.0; }, options.with_scale);
}

Transform kabsch_pairs(const Points& src, const Points& dst, const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs,
                       const std::vector<double>& weights, const KabschOptions& options) {
    require(!pairs.empty(), "kabsch: no pairs");
    require(weights.empty() || weights.size() == pairs.size(), "kabsch: expected one weight per pair");
    return solve(
        static_cast<std::int64_t>(pairs.size()),
        [&](std::int64_t k) -> Eigen::Vector3d { return src.row(pairs[k].first).transpose(); },
        [&](std::int64_t k) -> Eigen::Vector3d { return dst.row(pairs[k].second).transpose(); },
        [&](std::int64_t k) { return weights.empty() ? 1.0 : weights[k]; }, options.with_scale);
}

}  // namespace orbit::geometry
