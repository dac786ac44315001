// Canonicalization: invariance on real shapes, inverses, frames, degeneracy, MDS.
#include <catch2/catch.hpp>
#include <Eigen/LU>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "orbit/canon/canonicalizer.hpp"
#include "orbit/canon/mds.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/io/formats.hpp"
#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::canon;
using orbit::test::fibonacci_sphere;

namespace {

// Real shapes when the data set is there (every k-th vertex), else a skewed synthetic blob.
std::vector<Points> shapes() {
    std::vector<Points> out;
    const char* dir = std::getenv("ORBIT_DATA");
    for (const char* name : {"bunny00.off", "armadillo.off", "elephant.off", "cow.off"}) {
        if (!dir) break;
        std::string path = std::string(dir) + "/meshes/" + name;
        if (!std::filesystem::exists(path)) continue;
        Points v = io::formats::read_shape(path).vertices;
        const Eigen::Index step = std::max<Eigen::Index>(1, v.rows() / 1500);
        Points s(v.rows() / step, 3);
        for (Eigen::Index i = 0; i < s.rows(); ++i) s.row(i) = v.row(i * step);
        out.push_back(s);
    }
    if (out.empty()) {
        Rng r(5);
        Points p(800, 3);
        for (Eigen::Index i = 0; i < p.rows(); ++i) {
            double a = r.normal(), b = r.normal(), c = r.normal();
            p.row(i) << 3 * a + 0.5 * a * a, 1.5 * b + 0.3 * b * b * b, 0.5 * c + 0.2 * c * c;
        }
        out.push_back(p);
    }
    return out;
}

double max_diff(const Points& a, const Points& b) { return (a - b).cwiseAbs().maxCoeff(); }
double extent(const Points& a) { return (a.rowwise() - a.colwise().mean()).cwiseAbs().maxCoeff(); }

// A random element of the group as a transform.
Transform random_element(Group g, Rng& r) {
    Eigen::Matrix3d q = geometry::random_rotation(r);
    if (has_reflections(g) && r.uniform() < 0.5) q = -q;
    Eigen::Vector3d t = has_translations(g) ? geometry::random_translation(r, 5.0) : Eigen::Vector3d::Zero();
    return geometry::make_transform(q, t);
}


}  // namespace

TEST_CASE("canonical clouds are invariant under random group elements on real shapes") {
    const auto clouds = shapes();
    for (Group g : {Group::SO3, Group::O3, Group::SE3, Group::E3}) {
        Options opt;
        opt.group = g;
        Rng r(11, static_cast<std::uint64_t>(g));
        for (const Points& x : clouds) {
            Canonical c0 = pca_canonical(x, opt);
            if (c0.diag.unstable()) {
                // Only mirror-symmetric shapes (the cow) may be unstable, and only with reflections.
                CHECK(has_reflections(g));
                CHECK((c0.diag.flags & (flag_sign | flag_sign_fallback)));
                continue;
            }
            const Points y0 = transform_points(c0.transform, x);
            for (int k = 0; k < 5; ++k) {
                const Transform gk = random_element(g, r);
                const Points gx = geometry::apply(gk, x);
                Canonical ck = pca_canonical(gx, opt);
                const Points yk = transform_points(ck.transform, gx);
                INFO(group_name(g) << " element " << k);
                CHECK(max_diff(yk, y0) < 1e-9 * extent(x));
                // The element itself is equivariant: T(gx) g = T(x).
                CHECK((ck.transform * gk - c0.transform).cwiseAbs().maxCoeff() < 1e-9);
            }
        }
    }
}

TEST_CASE("the canonical frame is the principal-axis frame with the documented signs") {
    const Points x = shapes()[0];
    for (Group g : {Group::SO3, Group::O3}) {
        Options opt;
        opt.group = g;
        Canonical c = pca_canonical(x, opt);
        const Eigen::Matrix3d a = c.transform.topLeftCorner<3, 3>();
        CHECK((a * a.transpose() - Eigen::Matrix3d::Identity()).norm() < 1e-12);
        if (g == Group::SO3) CHECK(a.determinant() == Approx(1.0).margin(1e-12));
        const Points y = transform_points(c.transform, x);
        const Points yc = y.rowwise() - y.colwise().mean();
        const Eigen::Matrix3d cov = yc.transpose() * yc / static_cast<double>(y.rows());
        CHECK(std::abs(cov(0, 1)) < 1e-10 * cov(0, 0));
        CHECK(std::abs(cov(0, 2)) < 1e-10 * cov(0, 0));
        CHECK(std::abs(cov(1, 2)) < 1e-10 * cov(0, 0));
        CHECK(cov(0, 0) > cov(1, 1));
        CHECK(cov(1, 1) > cov(2, 2));
        CHECK(cov(0, 0) == Approx(c.diag.eigenvalues[0]).epsilon(1e-10));
        // Third moments along the free axes are positive.
        const int free_axes = g == Group::O3 ? 3 : 2;
        for (int k = 0; k < free_axes; ++k) CHECK(yc.col(k).array().cube().mean() > 0);
        // SO3 keeps the translation: the canonical centroid is R^T c, not 0.
        if (g == Group::SO3) CHECK(y.colwise().mean().norm() == Approx(x.colwise().mean().norm()).epsilon(1e-10));
    }
}

TEST_CASE("inverse round trips for points, vectors and transforms") {
    const Points x = shapes()[0];
    Options opt;
    opt.group = Group::SE3;
    opt.scale = true;
    std::vector<const Points*> clouds{&x, &x};
    BatchCanonical bc = canonicalize_batch(PcaCanonicalizer(opt), clouds);
    std::vector<Transform> inv;
    for (auto& t : bc.transforms) inv.push_back(t.inverse());
    // Points [B,N,3].
    h5::Array<double> pts{{2, static_cast<std::size_t>(x.rows()), 3}, {}};
    for (auto& c : bc.clouds) pts.data.insert(pts.data.end(), c.data(), c.data() + c.size());
    apply_to_array(pts, {2}, inv, Kind::points, "test");
    Eigen::Map<Points> back(pts.data.data(), x.rows(), 3);
    CHECK(max_diff(back, x) < 1e-12 * extent(x) + 1e-12);
    // One vector per cloud, [B,3]: linear part only.
    h5::Array<double> vec{{2, 3}, {1, 0, 0, 0, 1, 0}};
    apply_to_array(vec, {2}, bc.transforms, Kind::vectors, "test");
    apply_to_array(vec, {2}, inv, Kind::vectors, "test");
    CHECK(std::abs(vec.data[0] - 1) < 1e-12);
    CHECK(std::abs(vec.data[4] - 1) < 1e-12);
    // Transforms [B,4,4]: poses compose on the left.
    h5::Array<double> tr{{2, 4, 4}, {}};
    for (int i = 0; i < 2; ++i)
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c) tr.data.push_back(bc.transforms[i](r, c));
    apply_to_array(tr, {2}, inv, Kind::transform, "test");
    for (int i = 0; i < 32; ++i) CHECK(std::abs(tr.data[i] - (i % 16 % 5 == 0 ? 1.0 : 0.0)) < 1e-12);
    // Shape errors name what was expected.
    h5::Array<double> bad{{3, 3}, std::vector<double>(9, 0.0)};
    CHECK_THROWS_WITH(apply_to_array(bad, {2}, inv, Kind::points, "f.h5:/x"), Catch::Contains("f.h5:/x"));
}

TEST_CASE("frame averaging over PCA frames is invariant and the frames are a group orbit") {
    const Points x = shapes()[0];
    for (Group g : {Group::SO3, Group::O3, Group::SE3, Group::E3}) {
        Options opt;
        opt.group = g;
        auto f0 = pca_frames(x, opt);
        REQUIRE(f0.size() == static_cast<std::size_t>(frame_count(g)));
        // A function that is not invariant at all: the first point. Its frame average is.
        auto fa = [&](const Points& p) {
            Eigen::Vector3d s = Eigen::Vector3d::Zero();
            for (auto& t : pca_frames(p, opt)) s += transform_points(t, p).row(0).transpose();
            return Eigen::Vector3d(s / static_cast<double>(frame_count(g)));
        };
        Rng r(3);
        const Eigen::Vector3d v0 = fa(x);
        for (int k = 0; k < 4; ++k) {
            Transform gk = random_element(g, r);
            CHECK((fa(geometry::apply(gk, x)) - v0).norm() < 1e-9 * extent(x));
        }
        for (auto& t : f0) {
            const double det = t.topLeftCorner<3, 3>().determinant();
            CHECK(std::abs(std::abs(det) - 1) < 1e-12);
            if (!has_reflections(g)) CHECK(det > 0);
        }
    }
}

TEST_CASE("degenerate shapes are flagged, never a crash") {
    Options opt;
    SECTION("sphere: all eigenvalues equal") {
        auto c = pca_canonical(fibonacci_sphere(500), opt);
        CHECK((c.diag.flags & flag_eigen_gap));
        CHECK(c.diag.unstable());
    }
    SECTION("square grid in a plane: two equal eigenvalues") {
        Points p(121, 3);
        for (int i = 0; i < 11; ++i)
            for (int j = 0; j < 11; ++j) p.row(i * 11 + j) << i, j, 0;
        auto c = pca_canonical(p, opt);
        CHECK((c.diag.flags & flag_eigen_gap));
        CHECK(c.diag.gaps[0] < 1e-9);
    }
    SECTION("a box symmetric under reflections: no sign can be chosen") {
        Points p(8, 3);
        int k = 0;
        for (int a : {-1, 1})
            for (int b : {-1, 1})
                for (int c : {-1, 1}) p.row(k++) << 3 * a, 2 * b, 1 * c;
        opt.group = Group::O3;
        auto c = pca_canonical(p, opt);
        CHECK_FALSE((c.diag.flags & flag_eigen_gap));
        CHECK((c.diag.flags & flag_sign));
        CHECK(c.diag.sign_margins.maxCoeff() < 1e-12);
    }
    SECTION("weak skewness falls back to the extreme points") {
        // Values on a line with zero mean and zero third moment but unequal extremes:
        // {-4,1,1,1,1} has cubes -60, {5a,-2.5a,-2.5a} has 93.75 a^3; a^3 = 0.64 balances them.
        const double a = std::cbrt(0.64);
        const double v[8] = {-4, 1, 1, 1, 1, 5 * a, -2.5 * a, -2.5 * a};
        Points p = Points::Zero(8, 3);
        for (int i = 0; i < 8; ++i) p(i, 0) = v[i];
        Options o2;
        o2.group = Group::O3;
        auto c = pca_canonical(p, o2);
        CHECK((c.diag.flags & flag_sign_fallback));
        CHECK(c.diag.sign_margins[0] < 1e-12);
        // The far end (+5a) points along +x in the canonical frame.
        CHECK(transform_points(c.transform, p).col(0).maxCoeff() == Approx(5 * a + 0.0 - p.col(0).mean()));
    }
    SECTION("all points equal, and a single point") {
        Points p = Points::Constant(10, 3, 2.5);
        auto c = pca_canonical(p, opt);
        CHECK((c.diag.flags & flag_collapsed));
        CHECK(c.transform.allFinite());
        Points one(1, 3);
        one << 1, 2, 3;
        opt.scale = true;
        opt.group = Group::E3;
        auto c1 = pca_canonical(one, opt);
        CHECK((c1.diag.flags & flag_collapsed));
        CHECK(transform_points(c1.transform, one).norm() < 1e-12);
    }
    SECTION("the documented fallbacks: identity and error") {
        opt.on_unstable = Unstable::identity;
        opt.group = Group::SE3;
        auto c = pca_canonical(fibonacci_sphere(200), opt);
        CHECK((c.transform.topLeftCorner<3, 3>() - Eigen::Matrix3d::Identity()).norm() < 1e-15);
        opt.on_unstable = Unstable::error;
        CHECK_THROWS_AS(pca_canonical(fibonacci_sphere(200), opt), Error);
        std::vector<const Points*> clouds;
        Points good = shapes()[0], ball = fibonacci_sphere(100);
        clouds = {&good, &ball};
        CHECK_THROWS_WITH(canonicalize_batch(PcaCanonicalizer(opt), clouds), Catch::Contains("cloud 1"));
    }
}

TEST_CASE("SO2: planar clouds and rotations about a chosen axis") {
    const Points x3 = shapes()[0];
    Options opt;
    opt.group = Group::SO2;
    // 2-D data.
    Points x2 = x3.leftCols(2);
    Canonical c0 = pca_canonical(x2, opt);
    const Points y0 = transform_points(c0.transform, x2);
    Rng r(9);
    for (int k = 0; k < 5; ++k) {
        const double a = r.uniform(0, 2 * M_PI);
        Eigen::Matrix2d q;
        q << std::cos(a), -std::sin(a), std::sin(a), std::cos(a);
        Points gx = x2 * q.transpose();
        CHECK(max_diff(transform_points(pca_canonical(gx, opt).transform, gx), y0) < 1e-9 * extent(x2));
    }
    // 3-D data, rotations about y.
    opt.axis = Eigen::Vector3d::UnitY();
    const Points z0 = transform_points(pca_canonical(x3, opt).transform, x3);
    for (int k = 0; k < 5; ++k) {
        Transform g = geometry::make_transform(geometry::axis_angle(Eigen::Vector3d::UnitY(), r.uniform(0, 6.28)),
                                               Eigen::Vector3d::Zero());
        Points gx = geometry::apply(g, x3);
        CHECK(max_diff(transform_points(pca_canonical(gx, opt).transform, gx), z0) < 1e-9 * extent(x3));
    }
    // SO3 on 2-D data is a usage error.
    opt.group = Group::SO3;
    CHECK_THROWS_AS(pca_canonical(x2, opt), UsageError);
}

TEST_CASE("Sim(3): scale canonicalization") {
    const Points x = shapes()[0];
    Options opt;
    opt.group = Group::SE3;
    opt.scale = true;
    const Points y0 = transform_points(pca_canonical(x, opt).transform, x);
    const Points yc = y0.rowwise() - y0.colwise().mean();
    CHECK(std::sqrt(yc.rowwise().squaredNorm().mean()) == Approx(1.0).epsilon(1e-12));
    Rng r(4);
    for (double s : {0.01, 3.0, 250.0}) {
        Transform g = geometry::make_transform(geometry::random_rotation(r), geometry::random_translation(r, 10), s);
        Points gx = geometry::apply(g, x);
        CHECK(max_diff(transform_points(pca_canonical(gx, opt).transform, gx), y0) < 1e-9);
    }
}

TEST_CASE("MDS coordinates: an isometry, invariant under E(3), equivariant under permutations") {
    const Points x = shapes()[0].topRows(500);  // exact MDS (m = N) costs N^3
    const Eigen::Index n = x.rows();
    for (int m : {static_cast<int>(n), 64}) {
        MdsOptions mo;
        mo.landmarks = m;
        MdsResult r0 = mds_coordinates(x, mo);
        INFO("landmarks " << m);
        CHECK(r0.residual < 1e-9);
        // Pairwise distances are kept (Euclidean input, d = 3).
        Rng rr(1);
        for (int t = 0; t < 200; ++t) {
            auto i = static_cast<Eigen::Index>(rr.below(static_cast<std::uint64_t>(n)));
            auto j = static_cast<Eigen::Index>(rr.below(static_cast<std::uint64_t>(n)));
            CHECK(std::abs((r0.coords.row(i) - r0.coords.row(j)).norm() - (x.row(i) - x.row(j)).norm()) <
                  1e-9 * extent(x));
        }
        // Invariance under E(3).
        Rng r(8);
        for (int k = 0; k < 3; ++k) {
            Transform g = random_element(Group::E3, r);
            CHECK(max_diff(mds_coordinates(geometry::apply(g, x), mo).coords, r0.coords) < 1e-9 * extent(x));
        }
        // Permuting the points permutes the coordinates.
        auto perm = Rng(2).permutation(n);
        Points px(n, 3);
        for (Eigen::Index i = 0; i < n; ++i) px.row(i) = x.row(perm[static_cast<std::size_t>(i)]);
        Points pc = mds_coordinates(px, mo).coords;
        double worst = 0;
        for (Eigen::Index i = 0; i < n; ++i)
            worst = std::max(worst, (pc.row(i) - r0.coords.row(perm[static_cast<std::size_t>(i)])).norm());
        CHECK(worst < 1e-9 * extent(x));
    }
    // Independent reference: the centred E(3) PCA canonical form is the same set of coordinates.
    Options opt;
    opt.group = Group::E3;
    const Points e3 = transform_points(pca_canonical(x, opt).transform, x);
    CHECK(max_diff(mds_coordinates(x, MdsOptions{}).coords, e3) < 1e-9 * extent(x));
    // Lower dimension: a 2-D embedding keeps the two largest axes.
    MdsOptions two;
    two.dim = 2;
    CHECK(max_diff(mds_coordinates(x, two).coords, e3.leftCols(2)) < 1e-9 * extent(x));
}

TEST_CASE("batches give the same bits for 1 and 2 threads") {
    std::vector<Points> many;
    for (auto& s : shapes()) {
        Rng r(21);
        for (int k = 0; k < 4; ++k) many.push_back(geometry::apply(random_element(Group::E3, r), s));
    }
    std::vector<const Points*> ptrs;
    for (auto& m : many) ptrs.push_back(&m);
    Options opt;
    opt.group = Group::O3;
    set_threads(1);
    auto a = canonicalize_batch(PcaCanonicalizer(opt), ptrs);
    auto ma = mds_batch(MdsOptions{}, ptrs);
    set_threads(2);
    auto b = canonicalize_batch(PcaCanonicalizer(opt), ptrs);
    auto mb = mds_batch(MdsOptions{}, ptrs);
    set_threads(0);
    for (std::size_t i = 0; i < many.size(); ++i) {
        CHECK(a.clouds[i] == b.clouds[i]);
        CHECK(a.transforms[i] == b.transforms[i]);
        CHECK(ma[i].coords == mb[i].coords);
    }
}

TEST_CASE("bad input is refused with a clear message") {
    Options opt;
    CHECK_THROWS_WITH(pca_canonical(Points(0, 3), opt), Catch::Contains("empty"));
    CHECK_THROWS_WITH(pca_canonical(Points::Zero(5, 4), opt), Catch::Contains("2 or 3 coordinates, found 4"));
    CHECK_THROWS_AS(parse_group("SU2"), UsageError);
    CHECK(parse_group("so(3)") == Group::SO3);
    CHECK(parse_group("E3") == Group::E3);
    CHECK_THROWS_AS(parse_axis("0,0,0"), UsageError);
    CHECK_THROWS_AS(parse_axis("1,2"), UsageError);
    CHECK((parse_axis("0,3,4") - Eigen::Vector3d(0, 0.6, 0.8)).norm() < 1e-15);
    CHECK_THROWS_AS(parse_unstable("ignore"), UsageError);
    MdsOptions mo;
    mo.dim = 4;
    CHECK_THROWS_AS(mds_coordinates(Points::Random(10, 3), mo), UsageError);
}
