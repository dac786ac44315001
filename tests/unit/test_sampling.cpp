// Surface sampling: samples lie on the surface, faces are chosen by area,
// points are uniform inside a triangle, normals are the unit face normals,
// and the result depends on the seed only (not on the thread count).
#include <catch2/catch.hpp>

#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/geometry/sampling.hpp"

using orbit::Points;
using orbit::Faces;

namespace {

// The cube [-0.5, 0.5]^3 as 12 triangles wound counter-clockwise seen from outside.
void unit_cube(Points& v, Faces& f) {
    v.resize(8, 3);
    for (int i = 0; i < 8; ++i) v.row(i) << (i & 1 ? 0.5 : -0.5), (i & 2 ? 0.5 : -0.5), (i & 4 ? 0.5 : -0.5);
    f.resize(12, 3);
    f << 0, 2, 1, 1, 2, 3,  // z = -0.5
        4, 5, 6, 5, 7, 6,   // z = +0.5
        0, 1, 4, 1, 5, 4,   // y = -0.5
        2, 6, 3, 3, 6, 7,   // y = +0.5
        0, 4, 2, 2, 4, 6,   // x = -0.5
        1, 3, 5, 3, 7, 5;   // x = +0.5
}

}  // namespace

TEST_CASE("samples lie on the cube surface with outward unit normals") {
    Points v;
    Faces f;
    unit_cube(v, f);
    auto s = orbit::geometry::sample_surface(v, f, 20000, orbit::Rng(7));
    REQUIRE(s.points.rows() == 20000);
    int counts[6] = {0, 0, 0, 0, 0, 0};
    for (Eigen::Index i = 0; i < s.points.rows(); ++i) {
        Eigen::RowVector3d p = s.points.row(i), n = s.normals.row(i);
        CHECK(std::abs(p.cwiseAbs().maxCoeff() - 0.5) < 1e-12);  // on the surface
        CHECK(std::abs(n.norm() - 1.0) < 1e-12);
        // The normal is the outward axis of the face the point lies on.
        Eigen::Index axis;
        n.cwiseAbs().maxCoeff(&axis);
        CHECK(std::abs(p[axis] * 2 - n[axis]) < 1e-12);
        counts[s.face[static_cast<std::size_t>(i)] / 2]++;
    }
    // Six equal sides: each gets 1/6 of the samples within 5 binomial standard deviations.
    const double sd = std::sqrt(20000 * (1.0 / 6) * (5.0 / 6));
    for (int c : counts) CHECK(std::abs(c - 20000.0 / 6) < 5 * sd);
}

TEST_CASE("faces are chosen in proportion to their area; degenerate faces never") {
    // Two disjoint triangles of areas 0.5 and 4.5, and one of zero area.
    Points v(9, 3);
    v << 0, 0, 0, 1, 0, 0, 0, 1, 0,  //
        5, 0, 0, 8, 0, 0, 5, 3, 0,   //
        0, 0, 9, 1, 1, 9, 2, 2, 9;   // collinear
    Faces f(3, 3);
    f << 0, 1, 2, 3, 4, 5, 6, 7, 8;
    const int n = 50000;
    auto s = orbit::geometry::sample_surface(v, f, n, orbit::Rng(11));
    int small = 0;
    for (auto face : s.face) {
        REQUIRE(face != 2);
        small += face == 0;
    }
    const double p = 0.1, sd = std::sqrt(n * p * (1 - p));
    CHECK(std::abs(small - n * p) < 5 * sd);
    CHECK(orbit::geometry::face_areas(v, f).isApprox(Eigen::Vector3d(0.5, 4.5, 0.0)));
}

TEST_CASE("points are uniform inside a triangle") {
    Points v(3, 3);
    v << 0, 0, 0, 1, 0, 0, 0, 1, 0;
    Faces f(1, 3);
    f << 0, 1, 2;
    const int n = 40000;
    auto s = orbit::geometry::sample_surface(v, f, n, orbit::Rng(3));
    // Mean at the centroid (1/3, 1/3); the corner triangle x + y < 1/2 holds a quarter of the area.
    Eigen::RowVector3d mean = s.points.colwise().mean();
    const double sd_mean = std::sqrt(1.0 / 18 / n);  // var(x) = 1/18 on this triangle
    CHECK(std::abs(mean[0] - 1.0 / 3) < 5 * sd_mean);
    CHECK(std::abs(mean[1] - 1.0 / 3) < 5 * sd_mean);
    int corner = 0, inside = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        double x = s.points(i, 0), y = s.points(i, 1);
        inside += x >= 0 && y >= 0 && x + y <= 1 + 1e-15 && s.points(i, 2) == 0;
        corner += x + y < 0.5;
    }
    CHECK(inside == n);
    const double sd = std::sqrt(n * 0.25 * 0.75);
    CHECK(std::abs(corner - n * 0.25) < 5 * sd);
    // The normal follows the winding: (b - a) x (c - a) = +z.
    CHECK(s.normals(0, 2) == 1.0);
}

TEST_CASE("same seed, same samples, whatever the thread count") {
    Points v;
    Faces f;
    unit_cube(v, f);
    orbit::set_threads(1);
    auto a = orbit::geometry::sample_surface(v, f, 30000, orbit::Rng(5));
    orbit::set_threads(2);
    auto b = orbit::geometry::sample_surface(v, f, 30000, orbit::Rng(5));
    auto c = orbit::geometry::sample_surface(v, f, 30000, orbit::Rng(6));
    orbit::set_threads(0);
    CHECK(a.points == b.points);
    CHECK(a.normals == b.normals);
    CHECK(a.face == b.face);
    CHECK(a.points != c.points);
}

TEST_CASE("degenerate meshes and bad arguments are clear errors") {
    Points v(3, 3);
    v << 0, 0, 0, 1, 0, 0, 2, 0, 0;
    Faces none(0, 3), line(1, 3), bad(1, 3);
    line << 0, 1, 2;
    bad << 0, 1, 3;
    orbit::Rng rng(1);
    CHECK_THROWS_WITH(orbit::geometry::sample_surface(v, none, 10, rng), Catch::Contains("no faces"));
    CHECK_THROWS_WITH(orbit::geometry::sample_surface(v, line, 10, rng), Catch::Contains("zero surface area"));
    CHECK_THROWS_WITH(orbit::geometry::sample_surface(v, bad, 10, rng), Catch::Contains("vertex 3"));
    Faces ok(1, 3);
    ok << 0, 1, 2;
    Points tri(3, 3);
    tri << 0, 0, 0, 1, 0, 0, 0, 1, 0;
    CHECK_THROWS_AS(orbit::geometry::sample_surface(tri, ok, 0, rng), orbit::Error);
    Points nan = tri;
    nan(1, 1) = std::nan("");
    CHECK_THROWS_WITH(orbit::geometry::sample_surface(nan, ok, 10, rng), Catch::Contains("non-finite"));
}

TEST_CASE("normalisation to the unit sphere") {
    Points p = Points::Random(100, 3) * 7;
    p.col(0).array() += 40;
    orbit::geometry::normalize_to_unit_sphere(p);
    CHECK(p.colwise().mean().norm() < 1e-12);
    CHECK(std::abs(p.rowwise().norm().maxCoeff() - 1.0) < 1e-12);
}
