// Geometry building blocks of registration: kd-tree, Kabsch/Umeyama, normals,
// voxels, FPFH, metrics. Each checked against brute force or an analytic case.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>

#include "orbit/core/error.hpp"
#include "orbit/core/random.hpp"
#include "orbit/geometry/features.hpp"
#include "orbit/geometry/kabsch.hpp"
#include "orbit/geometry/kdtree.hpp"
#include "orbit/geometry/metrics.hpp"
#include "orbit/geometry/rotation.hpp"
#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::geometry;

using orbit::test::blob;
using orbit::test::uniform_points;

TEST_CASE("kd-tree agrees with brute force", "[geometry][kdtree]") {
    Rng rng(7);
    Points p = uniform_points(rng, 500), q = uniform_points(rng, 50);
    KdTree tree(p);
    REQUIRE(tree.size() == 500);
    for (Eigen::Index k = 0; k < q.rows(); ++k) {
        Eigen::VectorXd d2 = (p.rowwise() - q.row(k)).rowwise().squaredNorm();
        Eigen::Index arg;
        double best = d2.minCoeff(&arg);
        Neighbor nb = tree.nearest(q.row(k).data());
        CHECK(nb.index == arg);
        CHECK(nb.dist2 == Approx(best).margin(1e-15));
        auto knn = tree.knn(q.row(k).data(), 5);
        REQUIRE(knn.size() == 5);
        for (std::size_t i = 1; i < knn.size(); ++i) CHECK(knn[i - 1].dist2 <= knn[i].dist2);
        std::vector<double> sorted(d2.data(), d2.data() + d2.size());
        std::sort(sorted.begin(), sorted.end());
        CHECK(knn[4].dist2 == Approx(sorted[4]));
        auto rad = tree.radius(q.row(k).data(), 0.3);
        CHECK(static_cast<Eigen::Index>(rad.size()) == (d2.array() <= 0.09).count());
        // bounded nearest: the nearest when it lies within the radius, else none
        for (double r : {0.5 * std::sqrt(best), 2 * std::sqrt(best), 10.0}) {
            Neighbor w = tree.nearest_within(q.row(k).data(), r);
            if (best <= r * r) {
                CHECK(w.index == arg);
                CHECK(w.dist2 == nb.dist2);
            } else {
                CHECK(w.index == -1);
            }
        }
        // hybrid: the k nearest among the points within r, nearest first
        for (double r : {0.05, 0.2, 0.4, 5.0}) {
            auto h = tree.hybrid(q.row(k).data(), r, 12);
            auto all = tree.knn(q.row(k).data(), 12);
            std::size_t within = 0;
            while (within < all.size() && all[within].dist2 <= r * r) ++within;
            REQUIRE(h.size() == within);
            for (std::size_t i = 0; i < within; ++i) {
                CHECK(h[i].index == all[i].index);
                CHECK(h[i].dist2 == all[i].dist2);
            }
        }
    }
    // 33-d trees (descriptors) work the same way.
    Points f = uniform_points(rng, 200, 33);
    KdTree ft(f);
    CHECK(ft.nearest(f.row(17).data()).index == 17);
}

TEST_CASE("Kabsch recovers rigid and similarity transforms exactly", "[geometry][kabsch]") {
    Rng rng(3);
    Points x = uniform_points(rng, 40);
    Rotation r = random_rotation(rng);
    Eigen::Vector3d t(0.3, -1.2, 2.0);
    Points y = apply(make_transform(r, t), x);
    Transform est = kabsch(x, y);
    CHECK((est - make_transform(r, t)).norm() < 1e-10);
    SECTION("scale (Umeyama)") {
        Points ys = apply(make_transform(r, t, 2.5), x);
        KabschOptions o;
        o.with_scale = true;
        Transform e = kabsch(ys.rows() ? x : x, ys, Vector(), o);
        CHECK((e - make_transform(r, t, 2.5)).norm() < 1e-9);
    }
    SECTION("zero weights ignore outliers") {
        Points yo = y;
        Vector w = Vector::Ones(40);
        for (int i = 0; i < 10; ++i) {
            yo.row(i) += Eigen::RowVector3d(5, -3, 1);
            w[i] = 0;
        }
        CHECK((kabsch(x, yo, w) - make_transform(r, t)).norm() < 1e-10);
    }
    SECTION("a mirror image still gives a proper rotation") {
        Points m = x;
        m.col(2) *= -1;
        Transform e = kabsch(x, m);
        CHECK(e.topLeftCorner<3, 3>().determinant() == Approx(1.0).margin(1e-12));
    }
    SECTION("bad input") {
        CHECK_THROWS_AS(kabsch(x, y.topRows(10)), Error);
        CHECK_THROWS_AS(kabsch(x, y, Vector::Zero(40)), Error);
    }
}

TEST_CASE("normals are perpendicular and point away from the centroid", "[geometry][normals]") {
    Rng rng(5);
    Points s(400, 3);
    for (Eigen::Index i = 0; i < 400; ++i) {
        Eigen::Vector3d v(rng.normal(), rng.normal(), rng.normal());
        s.row(i) = v.normalized().transpose();
    }
    KdTree tree(s);
    Points n = estimate_normals(s, tree, 0.4, 30);
    for (Eigen::Index i = 0; i < 400; ++i) CHECK(n.row(i).dot(s.row(i)) > 0.97);
}

TEST_CASE("voxel downsampling averages each occupied cell", "[geometry][voxel]") {
    Points p(4, 3);
    p << 0.1, 0.1, 0.1, 0.3, 0.3, 0.3, 1.6, 0.1, 0.1, 1.8, 0.1, 0.1;
    std::vector<std::int64_t> idx;
    Points d = voxel_downsample(p, 1.0, &idx);
    REQUIRE(d.rows() == 2);
    CHECK((d.row(0) - Eigen::RowVector3d(0.2, 0.2, 0.2)).norm() < 1e-12);
    CHECK((d.row(1) - Eigen::RowVector3d(1.7, 0.1, 0.1)).norm() < 1e-12);
    CHECK(idx == std::vector<std::int64_t>{0, 2});
    CHECK_THROWS_AS(voxel_downsample(p, 0.0), Error);
}

TEST_CASE("FPFH is rotation invariant and normalised", "[geometry][fpfh]") {
    Rng rng(11);
    Points p = blob(rng, 600);
    Transform t = make_transform(random_rotation(rng), Eigen::Vector3d(1, 2, 3));
    Points q = apply(t, p);
    KdTree tp(p), tq(q);
    Points np = estimate_normals(p, tp, 0.3, 30), nq = estimate_normals(q, tq, 0.3, 30);
    Points fp = compute_fpfh(p, np, tp, 0.5, 100), fq = compute_fpfh(q, nq, tq, 0.5, 100);
    REQUIRE(fp.cols() == 33);
    // Exactly invariant in exact arithmetic. In floating point, pairs with opposite
    // normals (the far side of a thin part inside the radius) sit on the +-pi edge
    // of the alpha histogram and may change bin, as in every FPFH implementation;
    // so: most rows identical, and small differences on average.
    int same = 0;
    double rel = 0;
    for (Eigen::Index i = 0; i < fp.rows(); ++i) {
        double d = (fp.row(i) - fq.row(i)).norm() / fp.row(i).norm();
        same += d < 1e-6;
        rel += d / static_cast<double>(fp.rows());
    }
    INFO("rows agreeing: " << same << ", mean relative difference " << rel);
    CHECK(same >= 0.75 * static_cast<double>(fp.rows()));
    CHECK(rel < 0.02);
    // Each 11-bin block: SPFH sums to 100 and the weighted neighbour part to 100.
    for (int b = 0; b < 3; ++b) CHECK(fp.block(0, 11 * b, 1, 11).sum() == Approx(200.0).epsilon(1e-9));
}

TEST_CASE("FPFH with local orientation ignores the signs of the given normals", "[geometry][fpfh]") {
    Rng rng(12);
    Points p = blob(rng, 500);
    KdTree tree(p);
    Points n = estimate_normals(p, tree, 0.3, 30);
    // Flip a random third of the normals, as a different crop centroid would.
    Points flipped = n;
    for (Eigen::Index i = 0; i < n.rows(); ++i)
        if (rng.uniform(0, 1) < 1.0 / 3) flipped.row(i) = -n.row(i);
    Points a = compute_fpfh(p, n, tree, 0.5, 100, true), b = compute_fpfh(p, flipped, tree, 0.5, 100, true);
    CHECK((a - b).cwiseAbs().maxCoeff() == 0.0);
    // Centroid-oriented descriptors do change, which is the point of the option.
    Points c = compute_fpfh(p, n, tree, 0.5, 100), d = compute_fpfh(p, flipped, tree, 0.5, 100);
    CHECK((c - d).cwiseAbs().maxCoeff() > 1.0);
    // Still rotation invariant (same caveat on the +-pi bin edge as above).
    Transform t = make_transform(random_rotation(rng), Eigen::Vector3d(-1, 0.5, 2));
    Points q = apply(t, p);
    KdTree tq(q);
    Points e = compute_fpfh(q, estimate_normals(q, tq, 0.3, 30), tq, 0.5, 100, true);
    double rel = 0;
    for (Eigen::Index i = 0; i < a.rows(); ++i) rel += (a.row(i) - e.row(i)).norm() / a.row(i).norm() / static_cast<double>(a.rows());
    CHECK(rel < 0.02);
}

TEST_CASE("metrics match their definitions", "[geometry][metrics]") {
    Transform a = make_transform(axis_angle(Eigen::Vector3d(0, 0, 1), 0.1), Eigen::Vector3d(0, 0, 0));
    Transform b = make_transform(Rotation::Identity(), Eigen::Vector3d(0.3, 0.4, 0));
    CHECK(rre_deg(a, b) == Approx(0.1 * 180 / std::numbers::pi));
    CHECK(rte(a, b) == Approx(0.5));
    Rng rng(2);
    Points p = uniform_points(rng, 100);
    KdTree tp(p);
    Fit f = evaluate_fit(p, tp, Transform::Identity(), 0.01);
    CHECK(f.fitness == 1.0);
    CHECK(f.inlier_rmse == 0.0);
    Fit g = evaluate_fit(p, tp, make_transform(Rotation::Identity(), Eigen::Vector3d(10, 0, 0)), 0.5);
    CHECK(g.fitness == 0.0);
    Transform truth = make_transform(random_rotation(rng), Eigen::Vector3d(0.1, 0.2, 0.3));
    Points q = apply(truth, p);
    CHECK(modified_chamfer(p, q, q, truth, truth) < 1e-20);
    CHECK(modified_chamfer(p, q, q, a * truth, truth) > 1e-4);
}
