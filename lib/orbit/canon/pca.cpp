#include "orbit/canon/pca.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/Geometry>
#include <algorithm>
#include <cctype>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/core/names.hpp"

namespace orbit::canon {
namespace {

std::string normalize_word(const std::string& text) {
    std::string s;
    for (char ch : text)
        if (ch != '(' && ch != ')' && ch != '_' && ch != '-' && ch != ' ')
            s += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
}

struct Moments {
    Eigen::Vector3d centroid = Eigen::Vector3d::Zero();
    Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();  // divided by N
    double max_abs = 0;                             // largest |coordinate|, for "collapsed"
};

// Two passes (centroid, then centered products) keep the covariance accurate
// for clouds far from the origin.
Moments moments(const PointsRef& x) {
    const Eigen::Index n = x.rows(), d = x.cols();
    Moments m;
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index k = 0; k < d; ++k) {
            m.centroid[k] += x(i, k);
            m.max_abs = std::max(m.max_abs, std::abs(x(i, k)));
        }
    m.centroid /= static_cast<double>(n);
    double sxx = 0, sxy = 0, sxz = 0, syy = 0, syz = 0, szz = 0;
    if (d == 3) {
        const double cx = m.centroid[0], cy = m.centroid[1], cz = m.centroid[2];
        for (Eigen::Index i = 0; i < n; ++i) {
            const double a = x(i, 0) - cx, b = x(i, 1) - cy, c = x(i, 2) - cz;
            sxx += a * a; sxy += a * b; sxz += a * c;
            syy += b * b; syz += b * c; szz += c * c;
        }
    } else {
        const double cx = m.centroid[0], cy = m.centroid[1];
        for (Eigen::Index i = 0; i < n; ++i) {
            const double a = x(i, 0) - cx, b = x(i, 1) - cy;
            sxx += a * a; sxy += a * b; syy += b * b;
        }
    }
    m.cov << sxx, sxy, sxz, sxy, syy, syz, sxz, syz, szz;
    m.cov /= static_cast<double>(n);
    return m;
}

void check_input(const PointsRef& x, const Options& opt) {
    if (x.rows() == 0) throw Error("canonicalize: the point cloud is empty");
    if (x.cols() != 2 && x.cols() != 3)
        throw Error("canonicalize: expected points with 2 or 3 coordinates, found " + std::to_string(x.cols()));
    if (x.cols() == 2 && opt.group != Group::SO2)
        throw UsageError("canonicalize: 2-D points support only the group SO2, not " + group_name(opt.group));
    if (opt.group == Group::SO2 && x.cols() == 3 && !(opt.axis.norm() > 0))
        throw UsageError("canonicalize: the SO2 axis must be a non-zero vector");
}

// The sign of one axis: third moment first, extreme points when the skewness is weak.
struct SignChoice {
    double sign = 1, margin = 0;
    int flags = 0;
};

SignChoice choose_sign(double m3, double lo, double hi, double lambda, double lambda0, double tol) {
    SignChoice s;
    if (!(lambda > 1e-12 * lambda0)) {  // a (numerically) empty direction carries no sign
        s.flags = flag_sign;
        return s;
    }
    const double sd = std::sqrt(lambda);
    const double skew = m3 / (sd * sd * sd);
    s.margin = std::abs(skew);
    if (s.margin >= tol) {
        s.sign = skew > 0 ? 1.0 : -1.0;
        return s;
    }
    const double extreme = (hi + lo) / sd;  // > 0 when the far end points along +axis
    if (std::abs(extreme) >= tol) {
        s.sign = extreme > 0 ? 1.0 : -1.0;
        s.flags = flag_sign_fallback;
    } else {
        s.flags = flag_sign;
    }
    return s;
}

// An orthonormal pair (u, w) perpendicular to the unit axis a, with (u, w, a) right-handed.
void plane_basis(const Eigen::Vector3d& a, Eigen::Vector3d& u, Eigen::Vector3d& w) {
    Eigen::Vector3d e = Eigen::Vector3d::Zero();
    Eigen::Index k;
    a.cwiseAbs().minCoeff(&k);
    e[k] = 1;
    u = (e - a * a.dot(e)).normalized();
    w = a.cross(u);
}

struct Axes {
    Eigen::Matrix3d v;         // columns: axes, largest eigenvalue first, det +1
    Eigen::Vector3d lambda;    // descending
};

Axes principal_axes(const Moments& m) {
    Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es(m.cov);
    Axes a;
    for (int k = 0; k < 3; ++k) {
        a.v.col(k) = es.eigenvectors().col(2 - k);
        a.lambda[k] = std::max(0.0, es.eigenvalues()[2 - k]);
    }
    if (a.v.determinant() < 0) a.v.col(2) = -a.v.col(2);
    return a;
}

Transform assemble(const Eigen::Matrix3d& rot_t, const Eigen::Vector3d& centroid, double scale, bool translate) {
    Transform t = Transform::Identity();
    t.topLeftCorner<3, 3>() = rot_t / scale;
    if (translate) t.topRightCorner<3, 1>() = -(rot_t / scale) * centroid;
    return t;
}

// The SO(2) frame: rotation about the axis that turns the principal in-plane direction onto u.
struct PlaneFrame {
    Eigen::Vector3d axis, u, w;
    double theta = 0;  // angle of the principal direction from u, sign not yet fixed
    double l0 = 0, l1 = 0, m3 = 0, lo = 0, hi = 0;
};

PlaneFrame plane_frame(const PointsRef& x, const Moments& m, const Eigen::Vector3d& axis3) {
    PlaneFrame f;
    f.axis = x.cols() == 2 ? Eigen::Vector3d::UnitZ() : axis3.normalized();
    plane_basis(f.axis, f.u, f.w);
    // In-plane covariance from the 3-D one: P^T C P with P = [u w].
    Eigen::Matrix<double, 3, 2> p;
    p << f.u, f.w;
    Eigen::Matrix2d c2 = p.transpose() * m.cov * p;
    Eigen::SelfAdjointEigenSolver<Eigen::Matrix2d> es(c2);
    f.l0 = std::max(0.0, es.eigenvalues()[1]);
    f.l1 = std::max(0.0, es.eigenvalues()[0]);
    Eigen::Vector2d e = es.eigenvectors().col(1);
    f.theta = std::atan2(e[1], e[0]);
    const Eigen::Vector3d dir = std::cos(f.theta) * f.u + std::sin(f.theta) * f.w;
    f.lo = INFINITY;
    f.hi = -INFINITY;
    const Eigen::Index d = x.cols();
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        double s = 0;
        for (Eigen::Index k = 0; k < d; ++k) s += (x(i, k) - m.centroid[k]) * dir[k];
        f.m3 += s * s * s;
        f.lo = std::min(f.lo, s);
        f.hi = std::max(f.hi, s);
    }
    f.m3 /= static_cast<double>(x.rows());
    return f;
}

double rms_scale(const Moments& m, int& flags) {
    double s = std::sqrt(m.cov.trace());
    if (!(s > 1e-12 * std::max(m.max_abs, 1e-300))) {
        flags |= flag_collapsed;
        return 1.0;
    }
    return s;
}

bool collapsed(const Moments& m) {
    const double l = m.cov.trace();
    return !(l > 1e-24 * std::max(m.max_abs * m.max_abs, 1e-300));
}

}  // namespace

constexpr Spelling<Group> kGroups[] = {{Group::SO2, "SO2"}, {Group::SO3, "SO3"}, {Group::O3, "O3"}, {Group::SE3, "SE3"},
                                       {Group::E3, "E3"}};

Group parse_group(const std::string& text) {
    return parse_spelling(kGroups, normalize_word(text), "unknown canonicalization group '" + text + "' (expected SO2, SO3, O3, SE3 or E3)");
}

std::string group_name(Group g) { return spelling_of(kGroups, g); }

bool has_reflections(Group g) { return g == Group::O3 || g == Group::E3; }
bool has_translations(Group g) { return g == Group::SE3 || g == Group::E3; }

Unstable parse_unstable(const std::string& text) {
    if (text == "keep") return Unstable::keep;
    if (text == "identity") return Unstable::identity;
    if (text == "error") return Unstable::error;
    throw UsageError("expected keep, identity or error, found '" + text + "'");
}

std::string describe_flags(int flags) {
    std::string s;
    auto add = [&](const char* w) { s += (s.empty() ? "" : ", ") + std::string(w); };
    if (flags & flag_collapsed) add("all points coincide");
    if (flags & flag_eigen_gap) add("nearly equal eigenvalues");
    if (flags & flag_sign) add("axis sign undetermined (symmetric along an axis)");
    if (flags & flag_sign_fallback) add("weak skewness, sign from extreme points");
    return s.empty() ? "stable" : s;
}

int frame_count(Group g) {
    switch (g) {
        case Group::SO2: return 2;
        case Group::SO3:
        case Group::SE3: return 4;
        case Group::O3:
        case Group::E3: return 8;
    }
    return 0;
}

Canonical pca_canonical(const PointsRef& x, const Options& opt) {
    check_input(x, opt);
    const Moments m = moments(x);
    Canonical out;
    Diagnostics& dg = out.diag;
    const double scale = opt.scale ? rms_scale(m, dg.flags) : 1.0;
    dg.scale = scale;
    const bool translate = has_translations(opt.group);
    if (collapsed(m)) {
        dg.flags |= flag_collapsed;
        if (opt.on_unstable == Unstable::error) throw Error("canonical form is unstable: " + describe_flags(dg.flags));
        out.transform = assemble(Eigen::Matrix3d::Identity(), m.centroid, scale, translate);
        return out;
    }

    Eigen::Matrix3d rot;  // columns: canonical axes in original coordinates
    if (opt.group == Group::SO2) {
        PlaneFrame f = plane_frame(x, m, opt.axis);
        dg.eigenvalues = Eigen::Vector3d(f.l0, f.l1, 0);
        dg.gaps = Eigen::Vector2d(f.l0 > 0 ? (f.l0 - f.l1) / f.l0 : 0, 0);
        if (dg.gaps[0] < opt.gap_tol) dg.flags |= flag_eigen_gap;
        SignChoice s = choose_sign(f.m3, f.lo, f.hi, f.l0, f.l0, opt.sign_tol);
        dg.sign_margins = Eigen::Vector3d(s.margin, 0, 0);
        dg.flags |= s.flags;
        const double theta = f.theta + (s.sign < 0 ? M_PI : 0.0);
        const Eigen::Matrix3d r = Eigen::AngleAxisd(theta, f.axis).toRotationMatrix();
        rot = r;  // r maps u onto the principal direction; r^T undoes it
    } else {
        Axes a = principal_axes(m);
        dg.eigenvalues = a.lambda;
        const double l0 = a.lambda[0];
        dg.gaps = Eigen::Vector2d((a.lambda[0] - a.lambda[1]) / l0, (a.lambda[1] - a.lambda[2]) / l0);
        if (dg.gaps.minCoeff() < opt.gap_tol) dg.flags |= flag_eigen_gap;
        // Third moments and extremes along each axis in one pass.
        Eigen::Vector3d m3 = Eigen::Vector3d::Zero(), lo = Eigen::Vector3d::Constant(INFINITY),
                        hi = Eigen::Vector3d::Constant(-INFINITY);
        const Eigen::Matrix3d vt = a.v.transpose();
        for (Eigen::Index i = 0; i < x.rows(); ++i) {
            const Eigen::Vector3d y = vt * (Eigen::Vector3d(x(i, 0), x(i, 1), x(i, 2)) - m.centroid);
            m3 += y.cwiseProduct(y).cwiseProduct(y);
            lo = lo.cwiseMin(y);
            hi = hi.cwiseMax(y);
        }
        m3 /= static_cast<double>(x.rows());
        const int free_axes = has_reflections(opt.group) ? 3 : 2;
        Eigen::Vector3d sign = Eigen::Vector3d::Ones();
        for (int k = 0; k < free_axes; ++k) {
            SignChoice s = choose_sign(m3[k], lo[k], hi[k], a.lambda[k], l0, opt.sign_tol);
            sign[k] = s.sign;
            dg.sign_margins[k] = s.margin;
            dg.flags |= s.flags;
        }
        if (free_axes == 2) sign[2] = sign[0] * sign[1];  // keeps det +1
        rot = a.v * sign.asDiagonal();
    }

    if (dg.unstable()) {
        if (opt.on_unstable == Unstable::error) throw Error("canonical form is unstable: " + describe_flags(dg.flags));
        if (opt.on_unstable == Unstable::identity) rot.setIdentity();
    }
    out.transform = assemble(rot.transpose(), m.centroid, scale, translate);
    return out;
}

std::vector<Transform> pca_frames(const PointsRef& x, const Options& opt, Diagnostics* diag) {
    check_input(x, opt);
    const Moments m = moments(x);
    Diagnostics dg;
    const double scale = opt.scale ? rms_scale(m, dg.flags) : 1.0;
    dg.scale = scale;
    const bool translate = has_translations(opt.group);
    std::vector<Transform> frames;
    if (collapsed(m)) {
        dg.flags |= flag_collapsed;
        for (int f = 0; f < frame_count(opt.group); ++f)
            frames.push_back(assemble(Eigen::Matrix3d::Identity(), m.centroid, scale, translate));
    } else if (opt.group == Group::SO2) {
        PlaneFrame pf = plane_frame(x, m, opt.axis);
        dg.eigenvalues = Eigen::Vector3d(pf.l0, pf.l1, 0);
        dg.gaps = Eigen::Vector2d(pf.l0 > 0 ? (pf.l0 - pf.l1) / pf.l0 : 0, 0);
        for (int f = 0; f < 2; ++f) {
            Eigen::Matrix3d r = Eigen::AngleAxisd(pf.theta + f * M_PI, pf.axis).toRotationMatrix();
            frames.push_back(assemble(r.transpose(), m.centroid, scale, translate));
        }
    } else {
        Axes a = principal_axes(m);
        dg.eigenvalues = a.lambda;
        dg.gaps = Eigen::Vector2d((a.lambda[0] - a.lambda[1]) / a.lambda[0], (a.lambda[1] - a.lambda[2]) / a.lambda[0]);
        const bool reflect = has_reflections(opt.group);
        for (int mask = 0; mask < (reflect ? 8 : 4); ++mask) {
            Eigen::Vector3d s(mask & 1 ? -1 : 1, mask & 2 ? -1 : 1, 1);
            s[2] = reflect ? (mask & 4 ? -1 : 1) : s[0] * s[1];
            Eigen::Matrix3d r = a.v * s.asDiagonal();
            frames.push_back(assemble(r.transpose(), m.centroid, scale, translate));
        }
    }
    if (dg.gaps[0] < opt.gap_tol || (opt.group != Group::SO2 && dg.gaps[1] < opt.gap_tol)) dg.flags |= flag_eigen_gap;
    if (dg.unstable() && opt.on_unstable == Unstable::error)
        throw Error("frames are unstable: " + describe_flags(dg.flags));
    if (diag) *diag = dg;
    return frames;
}

void transform_points_in_place(const Transform& t, Eigen::Ref<Points> x) {
    const Eigen::Matrix3d a = t.topLeftCorner<3, 3>();
    const Eigen::Vector3d b = t.topRightCorner<3, 1>();
    if (x.cols() == 3) {
        for (Eigen::Index i = 0; i < x.rows(); ++i) {
            const Eigen::Vector3d p = a * Eigen::Vector3d(x(i, 0), x(i, 1), x(i, 2)) + b;
            x(i, 0) = p[0]; x(i, 1) = p[1]; x(i, 2) = p[2];
        }
    } else if (x.cols() == 2) {
        for (Eigen::Index i = 0; i < x.rows(); ++i) {
            const double u = x(i, 0), v = x(i, 1);
            x(i, 0) = a(0, 0) * u + a(0, 1) * v + b[0];
            x(i, 1) = a(1, 0) * u + a(1, 1) * v + b[1];
        }
    } else {
        throw Error("transform: expected points with 2 or 3 coordinates, found " + std::to_string(x.cols()));
    }
}

Points transform_points(const Transform& t, const PointsRef& x) {
    Points y = x;
    transform_points_in_place(t, y);
    return y;
}

Points transform_vectors(const Transform& t, const PointsRef& v) {
    Transform lin = t;
    lin.topRightCorner<3, 1>().setZero();
    return transform_points(lin, v);
}

}  // namespace orbit::canon
