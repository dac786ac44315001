#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "orbit/geometry/perturb.hpp"
#include "orbit/geometry/rotation.hpp"
#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::geometry;

using orbit::test::anisotropic_gaussian;

TEST_CASE("the recorded transform maps the kept input points to the output") {
    Points x = anisotropic_gaussian(500, 1);
    PerturbOptions o;
    o.normalize = true;
    o.keep_fraction = 0.7;
    o.euler_max_deg = 45;
    o.translation = 0.5;
    o.resample = 300;
    o.shuffle = true;
    Rng rng(5, 0);
    Perturbed p = perturb(x, Points(), o, rng);
    REQUIRE(p.points.rows() == 300);
    REQUIRE(p.indices.size() == 300);
    std::set<std::int64_t> unique(p.indices.begin(), p.indices.end());
    CHECK(unique.size() == 300);  // without replacement
    for (std::size_t i = 0; i < p.indices.size(); ++i) {
        Eigen::Vector4d h;
        h << x.row(p.indices[i]).transpose(), 1.0;
        Eigen::Vector4d y = p.transform * h;
        CHECK((y.head<3>().transpose() - p.points.row(static_cast<Eigen::Index>(i))).norm() < 1e-12);
    }
}

TEST_CASE("normalisation puts the cloud in the unit sphere, centred") {
    Points x = anisotropic_gaussian(1000, 2);
    x.rowwise() += Eigen::RowVector3d(5, -3, 2);
    PerturbOptions o;
    o.normalize = true;
    Rng rng(1);
    Perturbed p = perturb(x, Points(), o, rng);
    CHECK(p.points.colwise().mean().norm() < 1e-12);
    CHECK(std::abs(p.points.rowwise().norm().maxCoeff() - 1.0) < 1e-12);
}

TEST_CASE("a plane crop keeps the requested fraction on one side of a plane through the centroid") {
    Points x = anisotropic_gaussian(1000, 3);
    Rng rng(7);
    auto kept = crop_plane(x, 0.7, rng);
    CHECK(kept.size() == 700);
    // Separability: some direction puts every kept point above every dropped point.
    // We recover it the way the crop drew it: same seed, same first normal draw.
    Rng again(7);
    Eigen::Vector3d d(again.normal(), again.normal(), again.normal());
    d.normalize();
    std::set<std::int64_t> in(kept.begin(), kept.end());
    double min_kept = 1e9, max_dropped = -1e9;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        double s = x.row(i).dot(d.transpose());
        if (in.count(i)) min_kept = std::min(min_kept, s);
        else max_dropped = std::max(max_dropped, s);
    }
    CHECK(min_kept >= max_dropped);
}

TEST_CASE("noise is clipped and Euler rotations stay within their bound") {
    Points x = Points::Zero(2000, 3);
    PerturbOptions o;
    o.noise = 0.5;
    o.noise_clip = 0.05;
    Rng rng(11);
    Perturbed p = perturb(x, Points(), o, rng);
    CHECK(p.points.cwiseAbs().maxCoeff() <= 0.05 + 1e-15);
    CHECK(p.points.cwiseAbs().maxCoeff() > 0.049);
    for (int k = 0; k < 200; ++k) {
        Rng r(13, static_cast<std::uint64_t>(k));
        Rotation R = random_euler_rotation(r, 45.0 * M_PI / 180.0);
        CHECK(rotation_error_deg(R, Rotation::Identity()) <= 3 * 45.0 + 1e-9);
        CHECK(std::abs(R.determinant() - 1.0) < 1e-12);
    }
}

TEST_CASE("uniform rotations are uniform: the rotation angle follows (1 - cos t) / pi") {
    // P(angle <= pi/2) for Haar measure on SO(3) is (pi/2 - 1)/pi = 0.18169...
    Rng r(17);
    int below = 0, n = 20000;
    double trace_mean = 0;
    for (int k = 0; k < n; ++k) {
        Rotation R = random_rotation(r);
        if (rotation_error_deg(R, Rotation::Identity()) <= 90.0) ++below;
        trace_mean += R.trace() / n;
    }
    CHECK(std::abs(below / static_cast<double>(n) - (M_PI / 2 - 1) / M_PI) < 0.01);
    CHECK(std::abs(trace_mean) < 0.03);  // E[tr R] = 0 under Haar
}

TEST_CASE("transform inversion and application round-trip") {
    Rng r(19);
    Transform t = make_transform(random_rotation(r), Eigen::Vector3d(1, 2, 3), 2.5);
    CHECK((invert(t) * t - Transform::Identity()).norm() < 1e-12);
    Points x = anisotropic_gaussian(10, 4);
    CHECK((apply(invert(t), apply(t, x)) - x).norm() < 1e-12);
}
