#pragma once
// The manifolds of Riemannian flow matching: the unit sphere S^d in R^(d+1)
// and the rotation group SO(3), with closed-form exponential and logarithm
// maps, geodesic paths, projections back onto the manifold and the uniform
// base distribution.
//
// A point is a row of `ambient()` numbers: the unit vector itself for S^d,
// the nine entries of R in row-major order for SO(3). A tangent vector is a
// row of `tangent_width()` numbers: an ambient vector orthogonal to x on the
// sphere; on SO(3) the body-frame angular velocity w, meaning the tangent
// vector R [w]x (so exp_R(w) = R Exp(w) and a geodesic has constant w).
//
// Measures: densities on S^d are with respect to the surface (area) measure,
// so the uniform density is 1 / |S^d| (1 / 4 pi on S^2); densities on SO(3)
// are with respect to the Haar probability measure (total volume 1, the
// uniform density is 1). Under the angle metric <A, B> = tr(A^T B) / 2, for
// which a unit-speed rotation turns one radian per unit time, the volume of
// SO(3) is 8 pi^2: subtract log(8 pi^2) from a log-density to get it per
// unit of that Riemannian volume.
//
// Quaternions are stored scalar last, (x, y, z, w), as scipy's Rotation does.
#include <Eigen/Core>
#include <memory>
#include <string>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"

namespace orbit::flows {

using RowVec = Eigen::RowVectorXd;

// SO(3) in closed form: hat/vee, Rodrigues' exponential, the logarithm
// (stable at 0 and near pi), and the scalar-last quaternion conversions.
Eigen::Matrix3d so3_hat(const Eigen::Vector3d& w);
Eigen::Vector3d so3_vee(const Eigen::Matrix3d& W);
Eigen::Matrix3d so3_exp(const Eigen::Vector3d& w);
Eigen::Vector3d so3_log(const Eigen::Matrix3d& R);
Eigen::Matrix3d quaternion_to_matrix(const Eigen::Vector4d& xyzw);  // normalizes first
Eigen::Vector4d matrix_to_quaternion(const Eigen::Matrix3d& R);     // w >= 0

class Manifold {
public:
    virtual ~Manifold() = default;
    // "sphere" or "so3"
    virtual std::string name() const = 0;
    virtual int ambient() const = 0;        // numbers per point
    virtual int dim() const = 0;            // intrinsic dimension
    virtual int tangent_width() const = 0;  // numbers per tangent vector
    // exp_x(v) and log_x(y) (the tangent vector at x of the shortest geodesic to y).
    virtual RowVec exp(const RowVec& x, const RowVec& v) const = 0;
    virtual RowVec log(const RowVec& x, const RowVec& y) const = 0;
    // The geodesic from x0 to x1 at time t, x_t = exp_x0(t log_x0(x1)), and its
    // velocity d x_t / dt as a tangent vector at x_t.
    virtual void geodesic(const RowVec& x0, const RowVec& x1, double t, RowVec& xt, RowVec& ut) const = 0;
    // The tangent vector v at x as an ambient velocity dx/dt.
    virtual RowVec to_ambient(const RowVec& x, const RowVec& v) const = 0;
    // The nearest point of the manifold (normalization, polar factor).
    virtual RowVec project(const RowVec& x) const = 0;
    // A draw from the uniform distribution.
    virtual RowVec uniform(Rng& rng) const = 0;
    // log of the total volume of the reference measure (see above).
    virtual double log_volume() const = 0;
    // Distance of x from the manifold (| |x| - 1 |, or max |R^T R - I| and |det R - 1|).
    virtual double defect(const RowVec& x) const = 0;
};

// S^d embedded in R^(d+1), d >= 1.
std::unique_ptr<Manifold> make_sphere(int d);
std::unique_ptr<Manifold> make_so3();
// By name: "sphere" (with the ambient dimension, d + 1) or "so3".
std::unique_ptr<Manifold> make_manifold(const std::string& name, int ambient);

// Reads points of a manifold from FILE, FILE:/dataset or '-': unit vectors [N, d+1]
// for the sphere; for SO(3) rotation matrices [N,3,3] or quaternions [N,4]
// (scalar last). Rows off the manifold by more than 1e-4 are an error; the
// rest are projected onto it. `ambient` is 0 for "any sphere dimension".
Points read_manifold_points(const std::string& arg, const std::string& manifold, int ambient = 0);

}  // namespace orbit::flows
