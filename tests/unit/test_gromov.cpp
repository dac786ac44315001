// Entropic (fused) Gromov-Wasserstein: the tensor product against its
// definition, invariance to rigid motions and permutations, and the fused
// limits.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>

#include "orbit/core/random.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/geometry/sampling.hpp"
#include "orbit/io/formats.hpp"
#include "orbit/ot/gromov.hpp"
#include "orbit/ot/sinkhorn.hpp"
#include "orbit/registration/register.hpp"

using namespace orbit;
using namespace orbit::ot;

namespace {

// An anisotropic, asymmetric cloud: no isometry of it maps it onto itself.
Points blob(int n, std::uint64_t seed) {
    Rng r(seed);
    Points p(n, 3);
    for (int i = 0; i < n; ++i) {
        p(i, 0) = 2.0 * r.uniform(), p(i, 1) = r.uniform(), p(i, 2) = 0.5 * r.uniform();
        p(i, 1) += 0.6 * p(i, 0) * p(i, 0);  // bends it
    }
    return p;
}

Points moved(const Points& x, const Eigen::Matrix3d& R, const Eigen::Vector3d& t, const std::vector<int>& perm) {
    Points y(x.rows(), 3);
    for (Eigen::Index i = 0; i < x.rows(); ++i) y.row(i) = (R * x.row(perm[i]).transpose() + t).transpose();
    return y;
}

Eigen::Matrix3d rotation(double ax, double ay, double az) {
    return (Eigen::AngleAxisd(az, Eigen::Vector3d::UnitZ()) * Eigen::AngleAxisd(ay, Eigen::Vector3d::UnitY()) *
            Eigen::AngleAxisd(ax, Eigen::Vector3d::UnitX()))
        .toRotationMatrix();
}

}  // namespace

TEST_CASE("the square-loss tensor product equals its definition", "[ot][gromov]") {
    const Points x = blob(6, 1), y = blob(5, 2);
    const Matrix c1 = distance_matrix(x), c2 = distance_matrix(y);
    Rng r(3);
    Matrix T(6, 5);
    for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 5; ++j) T(i, j) = r.uniform();
    const Vector p = T.rowwise().sum(), q = T.colwise().sum().transpose();
    const Matrix L = gromov_tensor(c1, c2, p, q, T);
    double value = 0;
    for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 5; ++j) {
            double s = 0;
            for (int k = 0; k < 6; ++k)
                for (int l = 0; l < 5; ++l) s += std::pow(c1(i, k) - c2(j, l), 2) * T(k, l);
            CHECK(L(i, j) == Approx(s).epsilon(1e-12));
            value += s * T(i, j);
        }
    CHECK(gromov_value(c1, c2, p, q, T) == Approx(value).epsilon(1e-12));
}

TEST_CASE("entropic GW is invariant to rigid motions and permutations, and finds the identity", "[ot][gromov]") {
    const int n = 60;
    const Points x = blob(n, 4);
    std::vector<int> id(n), perm(n);
    std::iota(id.begin(), id.end(), 0);
    perm = id;
    Rng r(5);
    for (int i = n - 1; i > 0; --i) std::swap(perm[i], perm[int(r.uniform() * (i + 1)) % (i + 1)]);
    const Points xr = moved(x, rotation(0.3, -1.1, 2.0), Eigen::Vector3d(1, -2, 0.5), id);
    const Points y = moved(x, rotation(-2.4, 0.7, 0.2), Eigen::Vector3d(-3, 0, 4), perm);
    const Vector p = Vector::Constant(n, 1.0 / n);
    GromovOptions o;
    o.eps = 2e-3;
    o.eps_start = 0.1;
    o.tol = 1e-10;
    const Matrix cx = distance_matrix(x), cxr = distance_matrix(xr), cy = distance_matrix(y);
    const GromovResult self = entropic_gromov_wasserstein(cx, cx, p, p, o);
    const GromovResult rigid = entropic_gromov_wasserstein(cxr, cy, p, p, o);
    REQUIRE(self.converged);
    REQUIRE(rigid.converged);
    // Same problem up to a permutation of the second space: the same plan, permuted.
    double diff = 0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) diff = std::max(diff, std::abs(rigid.plan(i, j) - self.plan(i, perm[j])));
    CHECK(diff < 1e-8);
    CHECK(rigid.value == Approx(self.value).epsilon(1e-8));
    // Marginals, and the correspondence: row i's mass goes to the copy of point i.
    CHECK((rigid.plan.rowwise().sum() - p).cwiseAbs().sum() < 1e-8);
    int right = 0;
    for (int i = 0; i < n; ++i) {
        Eigen::Index j;
        rigid.plan.row(i).maxCoeff(&j);
        right += perm[j] == i;
    }
    CHECK(right >= int(0.9 * n));
}

TEST_CASE("fused GW: alpha = 0 is Sinkhorn on the feature cost; alpha = 1 is GW", "[ot][gromov]") {
    const Points x = blob(25, 6), y = blob(20, 7);
    const Matrix c1 = distance_matrix(x), c2 = distance_matrix(y);
    const Vector p = Vector::Constant(25, 1.0 / 25), q = Vector::Constant(20, 1.0 / 20);
    Matrix M(25, 20);
    for (int i = 0; i < 25; ++i)
        for (int j = 0; j < 20; ++j) M(i, j) = std::abs(x(i, 2) - y(j, 2));
    GromovOptions o;
    o.eps = 0.01;
    o.alpha = 0;
    const GromovResult f0 = entropic_fused_gromov_wasserstein(M, c1, c2, p, q, o);
    SinkhornOptions so;
    so.eps = 0.01;
    so.tol = 1e-11;
    so.plan = PlanKind::Dense;
    const SinkhornResult s = sinkhorn(M, p, q, so);
    CHECK((f0.plan - *s.plan).cwiseAbs().maxCoeff() < 1e-8);
    o.alpha = 1;
    const GromovResult f1 = entropic_fused_gromov_wasserstein(M, c1, c2, p, q, o);
    const GromovResult g = entropic_gromov_wasserstein(c1, c2, p, q, o);
    CHECK((f1.plan - g.plan).cwiseAbs().maxCoeff() < 1e-12);
    CHECK_THROWS(entropic_gromov_wasserstein(c1, c2, q, p, o));
}

namespace {

// FPS samples of a real shape, or the synthetic blob when the data set is absent.
Points shape_sample(const char* name, int n) {
    const char* dir = std::getenv("ORBIT_DATA");
    const std::string path = dir ? std::string(dir) + "/meshes/" + name : "";
    if (path.empty() || !std::filesystem::exists(path)) return blob(n, 8);
    const Points v = io::formats::read_shape(path).vertices;
    const auto idx = geometry::farthest_point_sample(v, n);
    Points s(n, 3);
    for (int i = 0; i < n; ++i) s.row(i) = v.row(idx[i]);
    return s;
}

}  // namespace

TEST_CASE("GW on two rotated copies of a shape recovers the identity correspondence", "[ot][gromov]") {
    const int n = 200;
    const Points x = shape_sample("armadillo.off", n);
    std::vector<int> id(n);
    std::iota(id.begin(), id.end(), 0);
    const Points a = moved(x, rotation(0.4, 1.2, -0.8), Eigen::Vector3d(0, 0, 0), id);
    const Points b = moved(x, rotation(-2.0, 0.3, 2.5), Eigen::Vector3d(5, 1, 0), id);
    Matrix ca = distance_matrix(a), cb = distance_matrix(b);
    const double scale = ca.maxCoeff();
    ca /= scale, cb /= scale;
    const Vector p = Vector::Constant(n, 1.0 / n);
    GromovOptions o;
    o.eps = 2e-3, o.eps_start = 0.1, o.tol = 1e-7, o.inner_tol = 1e-7;
    const GromovResult g = entropic_gromov_wasserstein(ca, cb, p, p, o);
    int right = 0;
    for (int i = 0; i < n; ++i) {
        Eigen::Index j;
        g.plan.row(i).maxCoeff(&j);
        right += j == i;
    }
    CHECK(right >= int(0.9 * n));
}

TEST_CASE("orbit-register's gw method aligns a shape rotated far beyond ICP's reach", "[ot][gromov][registration]") {
    const Points x = shape_sample("armadillo.off", 600);
    const Eigen::Matrix3d R = rotation(2.0, -0.9, 1.4);
    Transform truth = Transform::Identity();
    truth.topLeftCorner<3, 3>() = R;
    truth.topRightCorner<3, 1>() = Eigen::Vector3d(0.3, -0.2, 0.1);
    Points y(x.rows(), 3);
    for (Eigen::Index i = 0; i < x.rows(); ++i) y.row(i) = (R * x.row(i).transpose() + truth.topRightCorner<3, 1>()).transpose();
    registration::Options o;
    o.method = registration::parse_method("gw");
    CHECK(registration::method_name(o.method) == "gw");
    Rng rng(1);
    const registration::Result r = registration::register_pair(x, y, o, rng);
    const registration::Errors e = registration::evaluate(x, y, r.transform, truth);
    CHECK(e.rre_deg < 1.0);
}
