#include "orbit/geometry/rotation.hpp"

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <numbers>

namespace orbit::geometry {

Rotation random_rotation(Rng& rng) {
    // A normalized 4-d Gaussian is uniform on S^3, hence its quaternion is Haar on SO(3).
    Eigen::Quaterniond q;
    double n = 0.0;
    do {
        q = Eigen::Quaterniond(rng.normal(), rng.normal(), rng.normal(), rng.normal());
        n = q.norm();
    } while (n < 1e-12);
    q.coeffs() /= n;
    return q.toRotationMatrix();
}

Rotation euler_xyz(double ax, double ay, double az) {
    return (Eigen::AngleAxisd(ax, Eigen::Vector3d::UnitX()) * Eigen::AngleAxisd(ay, Eigen::Vector3d::UnitY()) *
            Eigen::AngleAxisd(az, Eigen::Vector3d::UnitZ()))
        .toRotationMatrix();
}

Rotation random_euler_rotation(Rng& rng, double max_angle_rad) {
    double ax = rng.uniform(0.0, max_angle_rad);
    double ay = rng.uniform(0.0, max_angle_rad);
    double az = rng.uniform(0.0, max_angle_rad);
    return euler_xyz(ax, ay, az);
}

Rotation axis_angle(const Eigen::Vector3d& axis, double angle_rad) {
    double n = axis.norm();
    if (n == 0.0) return Rotation::Identity();
    return Eigen::AngleAxisd(angle_rad, axis / n).toRotationMatrix();
}

Eigen::Vector3d random_translation(Rng& rng, double half_extent) {
    Eigen::Vector3d t;
    for (int i = 0; i < 3; ++i) t[i] = rng.uniform(-half_extent, half_extent);
    return t;
}

Transform make_transform(const Rotation& r, const Eigen::Vector3d& t, double scale) {
    Transform m = Transform::Identity();
    m.topLeftCorner<3, 3>() = scale * r;
    m.topRightCorner<3, 1>() = t;
    return m;
}

Transform invert(const Transform& t) {
    Eigen::Matrix3d a = t.topLeftCorner<3, 3>();
    // For a similarity sR, the inverse linear part is R^T / s = A^T / s^2.
    double s2 = a.col(0).squaredNorm();
    Eigen::Matrix3d ainv = a.transpose() / s2;
    Transform m = Transform::Identity();
    m.topLeftCorner<3, 3>() = ainv;
    m.topRightCorner<3, 1>() = -ainv * t.topRightCorner<3, 1>();
    return m;
}

Points apply(const Transform& t, const Points& points) {
    Eigen::Matrix3d a = t.topLeftCorner<3, 3>();
    Eigen::RowVector3d b = t.topRightCorner<3, 1>().transpose();
    Points out = points * a.transpose();
    out.rowwise() += b;
    return out;
}

Points rotate_vectors(const Transform& t, const Points& vectors) {
    Eigen::Matrix3d a = t.topLeftCorner<3, 3>();
    double s = std::sqrt(a.col(0).squaredNorm());
    return vectors * (a / s).transpose();
}

double rotation_error_deg(const Rotation& a, const Rotation& b) {
    double c = ((a.transpose() * b).trace() - 1.0) / 2.0;
    c = std::clamp(c, -1.0, 1.0);
    return std::acos(c) * 180.0 / std::numbers::pi;
}

bool poses_close(const Transform& a, const Transform& b, double max_deg, double max_shift) {
    return rotation_error_deg(a.topLeftCorner<3, 3>(), b.topLeftCorner<3, 3>()) < max_deg &&
           (a.topRightCorner<3, 1>() - b.topRightCorner<3, 1>()).norm() < max_shift;
}

Rotation project_to_rotation(const Eigen::Matrix3d& m) {
    Eigen::JacobiSVD<Eigen::Matrix3d> svd(m, Eigen::ComputeFullU | Eigen::ComputeFullV);
    Eigen::Matrix3d d = Eigen::Matrix3d::Identity();
    if ((svd.matrixU() * svd.matrixV().transpose()).determinant() < 0) d(2, 2) = -1;
    return svd.matrixU() * d * svd.matrixV().transpose();
}

}  // namespace orbit::geometry
