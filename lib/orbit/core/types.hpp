#pragma once
// Matrix types used across modules. Point sets are N x D, row-major, so a
// row is a point and the memory layout matches HDF5's C order.
#include <Eigen/Core>
#include <cstdint>

namespace orbit {

using Points = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using PointsF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;
using Transform = Eigen::Matrix4d;  // homogeneous, maps source coordinates to target coordinates
// Triangles of a mesh as rows of three vertex indices (0-based).
using Faces = Eigen::Matrix<std::int64_t, Eigen::Dynamic, 3, Eigen::RowMajor>;

}  // namespace orbit
