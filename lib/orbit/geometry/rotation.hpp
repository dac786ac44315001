#pragma once
// Rotations and rigid transforms: construction, random sampling, errors.
//
// Sampling draws from a caller-owned Rng so results follow --seed.
//   random_rotation       uniform (Haar) on SO(3), from a normalized Gaussian quaternion
//   random_euler_rotation R = Rx(a) Ry(b) Rz(c), each angle uniform in [0, max]
//                         (the RPM-Net / ModelNet benchmark protocol)
#include <Eigen/Geometry>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"

namespace orbit::geometry {

using Rotation = Eigen::Matrix3d;

Rotation random_rotation(Rng& rng);
Rotation random_euler_rotation(Rng& rng, double max_angle_rad);
Rotation axis_angle(const Eigen::Vector3d& axis, double angle_rad);
Rotation euler_xyz(double ax, double ay, double az);  // Rx(ax) * Ry(ay) * Rz(az)
Eigen::Vector3d random_translation(Rng& rng, double half_extent);  // uniform in [-h, h]^3

Transform make_transform(const Rotation& r, const Eigen::Vector3d& t, double scale = 1.0);
// Inverse of a similarity transform [sR t; 0 1].
Transform invert(const Transform& t);

// Applies T to each row of an N x 3 point matrix; rotate_vectors ignores the translation
// (for normals) and keeps them unit length when T carries a scale.
Points apply(const Transform& t, const Points& points);
Points rotate_vectors(const Transform& t, const Points& vectors);

// Relative rotation error in degrees: arccos((tr(Ra^T Rb) - 1) / 2), clamped.
double rotation_error_deg(const Rotation& a, const Rotation& b);
// Two poses within max_deg degrees of rotation and max_shift of translation of
// each other (strictly): the test that merges near-duplicate hypotheses.
bool poses_close(const Transform& a, const Transform& b, double max_deg, double max_shift);
// Nearest rotation (polar factor through SVD), used to clean up accumulated products.
Rotation project_to_rotation(const Eigen::Matrix3d& m);

}  // namespace orbit::geometry
