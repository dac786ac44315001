#include "orbit/flows/manifolds.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <numbers>

#include "orbit/core/error.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::flows {

Eigen::Matrix3d so3_hat(const Eigen::Vector3d& w) {
    Eigen::Matrix3d W;
    W << 0, -w(2), w(1), w(2), 0, -w(0), -w(1), w(0), 0;
    return W;
}

Eigen::Vector3d so3_vee(const Eigen::Matrix3d& W) { return {W(2, 1), W(0, 2), W(1, 0)}; }

Eigen::Matrix3d so3_exp(const Eigen::Vector3d& w) {
    const double th = w.norm();
    const Eigen::Matrix3d W = so3_hat(w), I = Eigen::Matrix3d::Identity();
    if (th < 1e-6) return I + W + 0.5 * W * W;  // the next term is O(th^3)
    return I + (std::sin(th) / th) * W + ((1 - std::cos(th)) / (th * th)) * W * W;
}

Eigen::Vector4d matrix_to_quaternion(const Eigen::Matrix3d& R) {
    // Shepperd's method: divide by the largest of the four candidate components.
    const double tr = R.trace();
    Eigen::Vector4d q;  // x y z w
    if (tr > R(0, 0) && tr > R(1, 1) && tr > R(2, 2)) {
        const double s = 2 * std::sqrt(std::max(0.0, 1 + tr));
        q << (R(2, 1) - R(1, 2)) / s, (R(0, 2) - R(2, 0)) / s, (R(1, 0) - R(0, 1)) / s, s / 4;
    } else if (R(0, 0) >= R(1, 1) && R(0, 0) >= R(2, 2)) {
        const double s = 2 * std::sqrt(std::max(0.0, 1 + R(0, 0) - R(1, 1) - R(2, 2)));
        q << s / 4, (R(0, 1) + R(1, 0)) / s, (R(0, 2) + R(2, 0)) / s, (R(2, 1) - R(1, 2)) / s;
    } else if (R(1, 1) >= R(2, 2)) {
        const double s = 2 * std::sqrt(std::max(0.0, 1 - R(0, 0) + R(1, 1) - R(2, 2)));
        q << (R(0, 1) + R(1, 0)) / s, s / 4, (R(1, 2) + R(2, 1)) / s, (R(0, 2) - R(2, 0)) / s;
    } else {
        const double s = 2 * std::sqrt(std::max(0.0, 1 - R(0, 0) - R(1, 1) + R(2, 2)));
        q << (R(0, 2) + R(2, 0)) / s, (R(1, 2) + R(2, 1)) / s, s / 4, (R(1, 0) - R(0, 1)) / s;
    }
    q.normalize();
    if (q(3) < 0) q = -q;
    return q;
}

Eigen::Matrix3d quaternion_to_matrix(const Eigen::Vector4d& xyzw) {
    const Eigen::Vector4d q = xyzw.normalized();
    const double x = q(0), y = q(1), z = q(2), w = q(3);
    Eigen::Matrix3d R;
    R << 1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),  //
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),    //
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y);
    return R;
}

Eigen::Vector3d so3_log(const Eigen::Matrix3d& R) {
    // Through the quaternion: atan2 of its vector and scalar parts stays
    // accurate at small angles and near pi, where acos((tr R - 1) / 2) does not.
    const Eigen::Vector4d q = matrix_to_quaternion(R);
    const Eigen::Vector3d v = q.head<3>();
    const double s = v.norm();
    if (s < 1e-12) return 2 * v / q(3);  // 2 atan(s / w) / s -> 2 / w
    return (2 * std::atan2(s, q(3)) / s) * v;
}

namespace {

Eigen::Matrix3d as_matrix(const RowVec& x) {
    return Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(x.data());
}

RowVec as_row(const Eigen::Matrix3d& R) {
    RowVec x(9);
    Eigen::Map<Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(x.data()) = R;
    return x;
}

class Sphere final : public Manifold {
public:
    explicit Sphere(int d) : d_(d) {
        if (d < 1) throw Error("a sphere needs dimension >= 1 (points with at least 2 coordinates)");
    }
    std::string name() const override { return "sphere"; }
    int ambient() const override { return d_ + 1; }
    int dim() const override { return d_; }
    int tangent_width() const override { return d_ + 1; }

    RowVec exp(const RowVec& x, const RowVec& v) const override {
        const double th = v.norm();
        if (th < 1e-12) return project(x + v);
        return std::cos(th) * x + (std::sin(th) / th) * v;
    }
    RowVec log(const RowVec& x, const RowVec& y) const override {
        const double c = x.dot(y);
        RowVec u = y - c * x;
        const double s = u.norm();
        if (s < 1e-15) return RowVec::Zero(x.size());  // y = x (or -x, where every direction is shortest)
        return (std::atan2(s, c) / s) * u;
    }
    void geodesic(const RowVec& x0, const RowVec& x1, double t, RowVec& xt, RowVec& ut) const override {
        const RowVec v = log(x0, x1);
        const double th = v.norm();
        if (th < 1e-12) {
            xt = x0;
            ut = v;
            return;
        }
        xt = std::cos(t * th) * x0 + (std::sin(t * th) / th) * v;
        ut = -th * std::sin(t * th) * x0 + std::cos(t * th) * v;
    }
    RowVec to_ambient(const RowVec&, const RowVec& v) const override { return v; }
    RowVec project(const RowVec& x) const override {
        const double n = x.norm();
        if (!(n > 0)) throw Error("cannot project the origin onto the sphere");
        return x / n;
    }
    RowVec uniform(Rng& rng) const override {
        RowVec x(d_ + 1);
        do {
            for (int j = 0; j <= d_; ++j) x(j) = rng.normal();
        } while (x.norm() < 1e-12);
        return x / x.norm();
    }
    double log_volume() const override {
        // |S^d| = 2 pi^((d+1)/2) / Gamma((d+1)/2)
        const double h = 0.5 * (d_ + 1);
        return std::log(2.0) + h * std::log(std::numbers::pi) - std::lgamma(h);
    }
    double defect(const RowVec& x) const override { return std::abs(x.norm() - 1); }

private:
    int d_;
};

class SO3 final : public Manifold {
public:
    std::string name() const override { return "so3"; }
    int ambient() const override { return 9; }
    int dim() const override { return 3; }
    int tangent_width() const override { return 3; }

    RowVec exp(const RowVec& x, const RowVec& v) const override {
        return as_row(as_matrix(x) * so3_exp(v.transpose()));
    }
    RowVec log(const RowVec& x, const RowVec& y) const override {
        return so3_log(as_matrix(x).transpose() * as_matrix(y)).transpose();
    }
    void geodesic(const RowVec& x0, const RowVec& x1, double t, RowVec& xt, RowVec& ut) const override {
        // R_t = R0 Exp(t w) with w = Log(R0^T R1): the body-frame velocity is w all along.
        ut = log(x0, x1);
        xt = exp(x0, t * ut);
    }
    RowVec to_ambient(const RowVec& x, const RowVec& v) const override {
        return as_row(as_matrix(x) * so3_hat(v.transpose()));
    }
    RowVec project(const RowVec& x) const override { return as_row(geometry::project_to_rotation(as_matrix(x))); }
    RowVec uniform(Rng& rng) const override {
        Eigen::Vector4d q;
        do {
            for (int j = 0; j < 4; ++j) q(j) = rng.normal();
        } while (q.norm() < 1e-12);
        return as_row(quaternion_to_matrix(q));
    }
    double log_volume() const override { return 0.0; }  // the Haar probability measure
    double defect(const RowVec& x) const override {
        const Eigen::Matrix3d R = as_matrix(x);
        const double orth = (R.transpose() * R - Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff();
        return std::max(orth, std::abs(R.determinant() - 1));
    }
};

}  // namespace

std::unique_ptr<Manifold> make_sphere(int d) { return std::make_unique<Sphere>(d); }
std::unique_ptr<Manifold> make_so3() { return std::make_unique<SO3>(); }

std::unique_ptr<Manifold> make_manifold(const std::string& name, int ambient) {
    if (name == "sphere") return make_sphere(ambient - 1);
    if (name == "so3") {
        if (ambient != 9) throw Error("an SO(3) model has 9 ambient coordinates, not " + std::to_string(ambient));
        return make_so3();
    }
    throw UsageError("unknown manifold '" + name + "' (expected sphere or so3)");
}

Points read_manifold_points(const std::string& arg, const std::string& manifold, int ambient) {
    io::PointSets sets = io::read_point_sets(arg);
    Points x;
    if (manifold == "so3" && sets.layout == io::PointSets::Layout::batch && sets[0].points.rows() == 3 &&
        sets[0].points.cols() == 3) {
        x.resize(static_cast<Eigen::Index>(sets.size()), 9);
        for (std::size_t i = 0; i < sets.size(); ++i) {
            const Points& R = sets[i].points;
            for (int j = 0; j < 9; ++j) x(Eigen::Index(i), j) = R(j / 3, j % 3);
        }
    } else if (sets.size() == 1) {
        x = std::move(sets.items[0].points);
    } else {
        throw Error(arg + ": expected one table of points, found " + std::to_string(sets.size()) + " sets");
    }
    if (x.rows() == 0) throw Error(arg + ": no rows");
    if (manifold == "so3") {
        if (x.cols() == 4) {  // quaternions, scalar last
            Points r(x.rows(), 9);
            for (Eigen::Index i = 0; i < x.rows(); ++i) {
                const double n = x.row(i).norm();
                if (std::abs(n - 1) > 1e-4)
                    throw Error(arg + ": quaternion " + std::to_string(i) + " has norm " + std::to_string(n) +
                                ", not 1 (scalar last, x y z w)");
                r.row(i) = as_row(quaternion_to_matrix(x.row(i).transpose()));
            }
            x = std::move(r);
        } else if (x.cols() != 9) {
            throw Error(arg + ": rotations must be [N,3,3] matrices or [N,4] quaternions, found " +
                        std::to_string(x.cols()) + " columns");
        }
    }
    if (ambient > 0 && x.cols() != ambient)
        throw Error(arg + " has " + std::to_string(x.cols()) + " columns but the model's points have " +
                    std::to_string(ambient));
    auto m = make_manifold(manifold, static_cast<int>(x.cols()));
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        const RowVec r = x.row(i);
        if (!r.allFinite()) throw Error(arg + ": row " + std::to_string(i) + " is NaN or infinite");
        const double e = m->defect(r);
        if (e > 1e-4)
            throw Error(arg + ": row " + std::to_string(i) + " is off the manifold by " + std::to_string(e) +
                        (manifold == "so3" ? " (not a rotation matrix)" : " (not a unit vector)"));
        x.row(i) = m->project(r);
    }
    return x;
}

}  // namespace orbit::flows
