// Registration methods: exact recovery, seeded partial pairs, degenerate input,
// thread-count independence.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <numbers>

#include "orbit/core/parallel.hpp"
#include "orbit/core/error.hpp"
#include "orbit/core/random.hpp"
#include "orbit/geometry/features.hpp"
#include "orbit/geometry/kdtree.hpp"
#include "orbit/geometry/metrics.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/geometry/sampling.hpp"
#include "orbit/io/formats.hpp"
#include "orbit/registration/aligned_file.hpp"
#include "orbit/registration/cpd.hpp"
#include "orbit/registration/global.hpp"
#include "orbit/registration/gmm_ot.hpp"
#include "orbit/registration/icp.hpp"
#include "orbit/registration/ppf.hpp"
#include "orbit/registration/register.hpp"
#include "orbit/registration/score.hpp"
#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::geometry;
namespace reg = orbit::registration;

using orbit::test::blob;
using orbit::test::fibonacci_sphere;

namespace {
Points crop(const Points& p, double keep, Rng& rng) {
    Eigen::Vector3d d(rng.normal(), rng.normal(), rng.normal());
    d.normalize();
    Eigen::RowVector3d c = p.colwise().mean();
    std::vector<std::pair<double, Eigen::Index>> s;
    for (Eigen::Index i = 0; i < p.rows(); ++i) s.push_back({(p.row(i) - c).dot(d.transpose()), i});
    std::sort(s.begin(), s.end());
    auto k = static_cast<Eigen::Index>(keep * static_cast<double>(p.rows()));
    Points out(k, 3);
    for (Eigen::Index i = 0; i < k; ++i) out.row(i) = p.row(s[static_cast<std::size_t>(p.rows() - k + i)].second);
    return out;
}
Points jitter(const Points& p, double sigma, Rng& rng) {
    Points q = p;
    for (Eigen::Index i = 0; i < q.rows(); ++i)
        for (int j = 0; j < 3; ++j) q(i, j) += std::clamp(sigma * rng.normal(), -5 * sigma, 5 * sigma);
    return q;
}
struct Pair {
    Points src, ref;
    Transform truth;  // source -> reference
};
// RPM-Net style: independent crops, source moved by Euler angles up to max_deg.
Pair make_pair(std::uint64_t seed, double keep, double max_deg, double noise = 0.005) {
    Rng rng(seed);
    Points raw = blob(rng, 1500);
    Points s = crop(raw, keep, rng), r = crop(raw, keep, rng);
    Transform g = make_transform(random_euler_rotation(rng, max_deg * std::numbers::pi / 180), random_translation(rng, 0.5));
    Pair p;
    p.src = jitter(apply(g, s), noise, rng);
    p.ref = jitter(r, noise, rng);
    p.truth = invert(g);
    return p;
}
}  // namespace


TEST_CASE("support hull: inside, outside and the margin", "[registration][score]") {
    reg::SupportHull hull(fibonacci_sphere(2000, 1.0));
    CHECK(hull.contains(Eigen::Vector3d(0, 0, 0), 0.1));
    CHECK(hull.contains(Eigen::Vector3d(0.3, -0.2, 0.3), 0.1));
    CHECK_FALSE(hull.contains(Eigen::Vector3d(0, 1.2, 0), 0.0));
    CHECK_FALSE(hull.contains(Eigen::Vector3d(-0.9, -0.9, 0.0), 0.0));
    // radius 0.85: inside with margin 0.1, outside with margin 0.2 (the
    // nearest of the 64 directions is within 0.25 rad of any point)
    Eigen::Vector3d x = 0.85 * Eigen::Vector3d(1, 2, -2).normalized();
    CHECK(hull.contains(x, 0.1));
    CHECK_FALSE(hull.contains(x, 0.2));
}

TEST_CASE("pose scores: surface agreement and free-space violations", "[registration][score]") {
    const Points target = fibonacci_sphere(1500, 1.0);
    KdTree tree(target);
    reg::SupportHull hull(target);
    const double tau = 0.05;
    // the cloud on itself: all of it on the surface, nothing in free space
    reg::SideScore same = reg::score_side(target, tree, &hull, Transform::Identity(), tau, tau);
    CHECK(same.agreement == Approx(1.0));
    CHECK(same.violation == 0.0);
    // a smaller sphere inside: all of it in the hull's free space
    reg::SideScore inner = reg::score_side(fibonacci_sphere(300, 0.5), tree, &hull, Transform::Identity(), tau, tau);
    CHECK(inner.agreement == 0.0);
    CHECK(inner.violation == 1.0);
    // moved outside the hull: no agreement, no violation; without a hull: no violation either
    Transform far = Transform::Identity();
    far(0, 3) = 3.0;
    reg::SideScore outside = reg::score_side(fibonacci_sphere(300, 0.5), tree, &hull, far, tau, tau);
    CHECK(outside.agreement == 0.0);
    CHECK(outside.violation == 0.0);
    CHECK(reg::score_side(fibonacci_sphere(300, 0.5), tree, nullptr, Transform::Identity(), tau, tau).violation == 0.0);
    // one point at half of tau from its nearest neighbour scores 1 - 1/4
    Points one(1, 3);
    one.row(0) = target.row(7) * (1 + 0.5 * tau);
    CHECK(reg::score_side(one, tree, &hull, Transform::Identity(), tau, tau).agreement == Approx(0.75).margin(1e-9));
    // the same transform applied to the cloud and to its copy moved by the inverse
    Rng rng(3);
    Transform g = make_transform(random_euler_rotation(rng, 0.7), random_translation(rng, 0.5));
    Points moved = apply(invert(g), target);
    reg::SideScore back = reg::score_side(moved, tree, &hull, g, tau, tau);
    CHECK(back.agreement == Approx(1.0).margin(1e-9));
    CHECK(back.violation == 0.0);
    // descriptor consistency: weighted count of the pairs the pose keeps close
    std::vector<std::pair<std::int64_t, std::int64_t>> corr{{0, 0}, {1, 1}, {2, 700}};
    CHECK(reg::consistent_correspondences(moved, target, corr, g, tau) == Approx(2.0).margin(1e-9));
}

TEST_CASE("ICP recovers a small motion exactly on noise-free full overlap", "[registration][icp]") {
    Rng rng(1);
    Points ref = blob(rng, 800);
    Transform truth = make_transform(axis_angle(Eigen::Vector3d(1, 2, 3), 10 * std::numbers::pi / 180), Eigen::Vector3d(0.05, -0.03, 0.02));
    Points src = apply(invert(truth), ref);
    KdTree tree(ref);
    for (bool plane : {false, true}) {
        reg::IcpOptions o;
        o.point_to_plane = plane;
        o.max_distance = 0.3;
        o.max_iterations = 200;
        o.tolerance = 1e-12;
        Points normals;
        if (plane) {
            reg::Options ro;  // normals via the public path: register_pair with icp-plane below
            normals = Points::Zero(ref.rows(), 3);
            for (Eigen::Index i = 0; i < ref.rows(); ++i) normals.row(i) = ref.row(i).normalized();  // rough, fine for GN
        }
        reg::IcpResult r = reg::icp(src, ref, tree, normals, Transform::Identity(), o);
        // arccos limits RRE's resolution to ~1e-6 degrees: compare matrices too.
        if (!plane) {
            CHECK(rre_deg(r.transform, truth) < 1e-5);
            CHECK((r.transform - truth).norm() < 1e-9);
        }
    }
    reg::Options o;
    o.method = reg::Method::icp_plane;
    o.max_iterations = 100;
    Rng r2(0);
    reg::Result res = reg::register_pair(src, ref, o, r2);
    CHECK(rre_deg(res.transform, truth) < 1e-5);
    CHECK(rte(res.transform, truth) < 1e-6);
    CHECK(res.fitness == Approx(1.0));
}

TEST_CASE("CPD recovers rotation, translation and scale", "[registration][cpd]") {
    Rng rng(2);
    Points ref = blob(rng, 300);
    Transform truth = make_transform(axis_angle(Eigen::Vector3d(0, 1, 1), 0.4), Eigen::Vector3d(0.1, 0.2, -0.1));
    Points src = apply(invert(truth), ref);
    reg::CpdOptions o;
    o.outlier_weight = 0.0;
    o.max_iterations = 300;
    o.tolerance = 1e-10;
    reg::CpdResult r = reg::cpd(src, ref, Transform::Identity(), o);
    // EM converges linearly as sigma shrinks: close, not to the last bit.
    CHECK(rre_deg(r.transform, truth) < 0.05);
    CHECK(rte(r.transform, truth) < 1e-3);
    Transform scaled = make_transform(axis_angle(Eigen::Vector3d(0, 1, 1), 0.3), Eigen::Vector3d(0.1, 0, 0), 1.3);
    Points src2 = apply(invert(scaled), ref);
    o.with_scale = true;
    reg::CpdResult r2 = reg::cpd(src2, ref, Transform::Identity(), o);
    CHECK(std::cbrt(r2.transform.topLeftCorner<3, 3>().determinant()) == Approx(1.3).epsilon(1e-3));
    CHECK(rre_deg(r2.transform, scaled) < 1e-2);
}

TEST_CASE("global methods recover seeded partial pairs", "[registration][global]") {
    // Tolerances: noise 0.005 on a shape of radius ~1 allows about 1 degree and 0.02.
    int solved_auto = 0, solved_global = 0, solved_gmm = 0;
    const int pairs = 6;
    for (int k = 0; k < pairs; ++k) {
        Pair p = make_pair(100 + static_cast<std::uint64_t>(k), 0.7, 45);
        for (reg::Method m : {reg::Method::automatic, reg::Method::global, reg::Method::gmm_ot}) {
            reg::Options o;
            o.method = m;
            Rng rng(9, static_cast<std::uint64_t>(k));
            reg::Result r = reg::register_pair(p.src, p.ref, o, rng);
            bool ok = rre_deg(r.transform, p.truth) < 2.0 && rte(r.transform, p.truth) < 0.04;
            if (ok) CHECK(r.fitness > 0.5);
            (m == reg::Method::automatic ? solved_auto : m == reg::Method::global ? solved_global : solved_gmm) += ok;
        }
    }
    CHECK(solved_auto == pairs);
    CHECK(solved_global >= pairs - 1);
    CHECK(solved_gmm >= pairs - 2);
}

TEST_CASE("ranked correspondences: the nearest-descriptor matches, distinctive ones first", "[registration][global]") {
    Rng rng(21);
    Points sf(40, 5), tf(50, 5);
    for (Eigen::Index i = 0; i < sf.rows(); ++i)
        for (int j = 0; j < 5; ++j) sf(i, j) = rng.uniform(0, 1);
    for (Eigen::Index i = 0; i < tf.rows(); ++i)
        for (int j = 0; j < 5; ++j) tf(i, j) = rng.uniform(0, 1);
    // Source row 7 has an exact twin in the target: ratio 0, so it comes first.
    tf.row(30) = sf.row(7);
    reg::Correspondences ranked = reg::ranked_correspondences(sf, tf);
    reg::Correspondences plain = reg::feature_correspondences(sf, tf, false);
    REQUIRE(!ranked.empty());
    CHECK(ranked.front() == std::pair<std::int64_t, std::int64_t>{7, 30});
    std::sort(ranked.begin(), ranked.end());
    std::sort(plain.begin(), plain.end());
    CHECK(ranked == plain);
}

TEST_CASE("consistency hypotheses find a rigid motion among 90% outliers, without random draws", "[registration][global]") {
    Rng rng(22);
    Points s(300, 3);
    for (Eigen::Index i = 0; i < s.rows(); ++i)
        for (int j = 0; j < 3; ++j) s(i, j) = rng.uniform(-1, 1);
    Transform g = make_transform(random_rotation(rng), Eigen::Vector3d(0.3, -0.2, 0.5));
    Points t = apply(g, s);
    for (Eigen::Index i = 0; i < t.rows(); ++i)
        for (int j = 0; j < 3; ++j) t(i, j) += 0.003 * rng.normal();
    // 30 true correspondences hidden among 270 wrong ones.
    reg::Correspondences corr;
    for (std::int64_t i = 0; i < 300; ++i)
        corr.push_back({i, i % 10 == 0 ? i : static_cast<std::int64_t>(rng.below(300))});
    reg::ConsistencyOptions o;
    o.distance = 0.03;
    std::vector<reg::Hypothesis> hs = reg::sc2_pcr_hypotheses(s, t, corr, o);
    REQUIRE(!hs.empty());
    CHECK(rre_deg(hs.front().transform, g) < 1.0);
    CHECK(rte(hs.front().transform, g) < 0.02);
    CHECK(hs.front().inliers >= 30);
    // Deterministic: the same input gives the same bits.
    std::vector<reg::Hypothesis> again = reg::sc2_pcr_hypotheses(s, t, corr, o);
    REQUIRE(again.size() == hs.size());
    for (std::size_t k = 0; k < hs.size(); ++k) CHECK(again[k].transform == hs[k].transform);
}

namespace {
Points normals_of(const Points& p) {
    KdTree tree(p);
    return estimate_normals(p, tree, 4 * mean_spacing(p, tree), 30);
}
}  // namespace

TEST_CASE("point-pair-feature voting recovers partial pairs without descriptor matches", "[registration][ppf]") {
    int found = 0;
    const int pairs = 4;
    for (int k = 0; k < pairs; ++k) {
        Pair p = make_pair(500 + static_cast<std::uint64_t>(k), 0.7, 45);
        Points sn = normals_of(p.src), tn = normals_of(p.ref);
        // Normal signs are arbitrary: flipping some of them must not matter.
        for (Eigen::Index i = 0; i < sn.rows(); i += 3) sn.row(i) *= -1;
        reg::PpfOptions o;
        std::vector<reg::Hypothesis> hs = reg::drost_ppf_hypotheses(p.src, sn, p.ref, tn, o);
        REQUIRE(!hs.empty());
        CHECK(static_cast<int>(hs.size()) <= o.hypotheses);
        for (std::size_t h = 1; h < hs.size(); ++h) CHECK(hs[h - 1].inliers >= hs[h].inliers);
        // Poses come from bin centres (rotation bins of 12 degrees): close, not exact.
        bool near = false;
        for (auto& h : hs) near = near || (rre_deg(h.transform, p.truth) < 10 && rte(h.transform, p.truth) < 0.15);
        found += near;
    }
    CHECK(found >= pairs - 1);
}

TEST_CASE("point-pair-feature voting is deterministic and symmetric voting agrees", "[registration][ppf]") {
    Pair p = make_pair(510, 0.7, 45);
    Points sn = normals_of(p.src), tn = normals_of(p.ref);
    reg::PpfOptions o;
    std::vector<reg::Hypothesis> a = reg::drost_ppf_hypotheses(p.src, sn, p.ref, tn, o);
    std::vector<reg::Hypothesis> b = reg::drost_ppf_hypotheses(p.src, sn, p.ref, tn, o);
    REQUIRE(a.size() == b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
        CHECK(a[k].transform == b[k].transform);
        CHECK(a[k].inliers == b[k].inliers);
    }
    o.symmetric = true;
    std::vector<reg::Hypothesis> c = reg::drost_ppf_hypotheses(p.src, sn, p.ref, tn, o);
    REQUIRE(!c.empty());
    bool near = false;
    for (auto& h : c) near = near || (rre_deg(h.transform, p.truth) < 10 && rte(h.transform, p.truth) < 0.15);
    CHECK(near);
}

TEST_CASE("point-pair-feature voting rejects degenerate inputs", "[registration][ppf]") {
    Rng rng(31);
    Points p = blob(rng, 200);
    Points n = normals_of(p);
    // Too few points, or no usable normals: no hypotheses.
    CHECK(reg::drost_ppf_hypotheses(p.topRows(2), n.topRows(2), p, n).empty());
    CHECK(reg::drost_ppf_hypotheses(p, Points::Zero(p.rows(), 3), p, n).empty());
    // Normals that do not match the points, or 2-d points: errors.
    CHECK_THROWS_AS(reg::drost_ppf_hypotheses(p, n.topRows(10), p, n), Error);
    CHECK_THROWS_AS(reg::drost_ppf_hypotheses(Points(p.leftCols(2)), Points(n.leftCols(2)), p, n), Error);
    reg::PpfOptions bad;
    bad.samples = 2;
    CHECK_THROWS_AS(reg::drost_ppf_hypotheses(p, n, p, n, bad), Error);
    // Farthest-point sampling: distinct rows, the first farthest from the centroid, all when asked for more.
    std::vector<std::int64_t> idx = geometry::farthest_point_sample(p, 50);
    REQUIRE(idx.size() == 50);
    std::vector<std::int64_t> sorted = idx;
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    Eigen::Index far;
    (p.rowwise() - Eigen::RowVector3d(p.colwise().mean())).rowwise().squaredNorm().maxCoeff(&far);
    CHECK(idx.front() == far);
    CHECK(geometry::farthest_point_sample(p, 1000).size() == static_cast<std::size_t>(p.rows()));
    CHECK(geometry::farthest_point_sample(Points(0, 3), 5).empty());
}

TEST_CASE("auto recovers seeded pairs at 50% overlap", "[registration][global]") {
    // Independent 50% crops: the shared part is a fraction of either cloud, where
    // centroid-oriented descriptors and RANSAC alone often failed.
    int solved = 0;
    const int pairs = 6;
    for (int k = 0; k < pairs; ++k) {
        Pair p = make_pair(300 + static_cast<std::uint64_t>(k), 0.5, 45);
        reg::Options o;
        Rng rng(9, static_cast<std::uint64_t>(k));
        reg::Result r = reg::register_pair(p.src, p.ref, o, rng);
        solved += rre_deg(r.transform, p.truth) < 2.0 && rte(r.transform, p.truth) < 0.04;
    }
    CHECK(solved >= pairs - 1);
}

TEST_CASE("ICP keeps a close start at partial overlap", "[registration][icp]") {
    // A small motion that a fixed-threshold ICP solves: the wide annealed start
    // alone drifted towards the target's centroid on such pairs; the narrow start
    // keeps them.
    int solved = 0;
    const int pairs = 6;
    for (int k = 0; k < pairs; ++k) {
        Pair p = make_pair(400 + static_cast<std::uint64_t>(k), 0.6, 10);
        for (reg::Method m : {reg::Method::icp, reg::Method::icp_plane}) {
            reg::Options o;
            o.method = m;
            Rng rng(1);
            reg::Result r = reg::register_pair(p.src, p.ref, o, rng);
            solved += rre_deg(r.transform, p.truth) < 2.0 && rte(r.transform, p.truth) < 0.04;
        }
    }
    CHECK(solved >= 2 * pairs - 2);
}

TEST_CASE("gmm-ot matches components with the mixing weights as marginals", "[registration][gmm-ot]") {
    Pair p = make_pair(7, 1.0, 30, 0.0);
    Rng rng(3);
    Points fs = Points::Ones(p.src.rows(), 4), ft = Points::Ones(p.ref.rows(), 4);  // uninformative descriptors
    reg::GmmOtOptions o;
    o.components = 8;
    reg::ComponentMatch m = reg::match_components(p.src, fs, p.ref, ft, o, rng);
    REQUIRE(m.plan.rows() == 9);
    REQUIRE(m.plan.cols() == 9);
    Vector rows = m.plan.rowwise().sum();
    CHECK((rows.head(8) - m.source.weights).cwiseAbs().maxCoeff() < 1e-4);
    CHECK(rows[8] == Approx(1.0).margin(1e-4));
}

TEST_CASE("batches give the same bits for 1 and 2 threads", "[registration][threads]") {
    std::vector<Points> s, t;
    for (int k = 0; k < 4; ++k) {
        Pair p = make_pair(300 + static_cast<std::uint64_t>(k), 0.7, 45);
        s.push_back(p.src);
        t.push_back(p.ref);
    }
    reg::Options o;
    set_threads(1);
    auto a = reg::register_batch(s, t, o, 42);
    set_threads(2);
    auto b = reg::register_batch(s, t, o, 42);
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].transform == b[i].transform);
        CHECK(a[i].fitness == b[i].fitness);
    }
    // Sharding keeps the per-pair streams: pairs 2..3 alone give the same result.
    auto c = reg::register_batch({s[2], s[3]}, {t[2], t[3]}, o, 42, 2);
    CHECK(c[0].transform == a[2].transform);
    CHECK(c[1].transform == a[3].transform);
}

TEST_CASE("degenerate inputs give errors or flags, never crashes", "[registration][degenerate]") {
    Rng rng(5);
    Points good = blob(rng, 200);
    reg::Options o;
    Rng r(0);
    SECTION("fewer than 3 points") {
        CHECK_THROWS_WITH(reg::register_pair(good.topRows(2), good, o, r), Catch::Contains("at least 3 points"));
    }
    SECTION("collinear and coincident points") {
        Points line(50, 3);
        for (int i = 0; i < 50; ++i) line.row(i) = Eigen::RowVector3d(i * 0.1, i * 0.2, -i * 0.1);
        CHECK_THROWS_WITH(reg::register_pair(line, good, o, r), Catch::Contains("collinear"));
        Points same = Points::Ones(20, 3);
        CHECK_THROWS_WITH(reg::register_pair(good, same, o, r), Catch::Contains("coincide"));
    }
    SECTION("NaN and wrong dimension") {
        Points bad = good;
        bad(3, 1) = std::nan("");
        CHECK_THROWS_WITH(reg::register_pair(bad, good, o, r), Catch::Contains("NaN"));
        CHECK_THROWS_AS(reg::register_pair(Points::Ones(10, 2), good, o, r), Error);
    }
    SECTION("planar clouds are flagged and still registered") {
        Points plane(400, 3);
        for (int i = 0; i < 400; ++i) {
            double x = rng.uniform(-1, 1), y = rng.uniform(-1, 1);
            plane.row(i) = Eigen::RowVector3d(x, y * (1 + 0.5 * x), 0);
        }
        Transform truth = make_transform(axis_angle(Eigen::Vector3d(0, 0, 1), 0.1), Eigen::Vector3d(0.02, 0, 0));
        for (auto m : {reg::Method::icp, reg::Method::automatic, reg::Method::cpd}) {
            o.method = m;
            reg::Result res = reg::register_pair(apply(invert(truth), plane), plane, o, r);
            CHECK(std::find(res.flags.begin(), res.flags.end(), "planar") != res.flags.end());
            CHECK(res.transform.allFinite());
        }
    }
    SECTION("identical clouds give the identity") {
        for (auto m : {reg::Method::icp, reg::Method::icp_plane, reg::Method::cpd, reg::Method::global, reg::Method::gmm_ot,
                       reg::Method::automatic}) {
            o.method = m;
            reg::Result res = reg::register_pair(good, good, o, r);
            CHECK(rre_deg(res.transform, Transform::Identity()) < 1e-3);
            CHECK(res.fitness == Approx(1.0));
        }
    }
    SECTION("no overlap is flagged low fitness") {
        // Local methods from the identity cannot reach a cloud 100 units away.
        // (Global methods would find it: it is the same shape, moved.)
        Points far = good;
        far.col(0).array() += 100.0;
        for (auto m : {reg::Method::icp, reg::Method::icp_plane}) {
            o.method = m;
            o.anneal = false;
            reg::Result res = reg::register_pair(good, far, o, r);
            CHECK(std::find(res.flags.begin(), res.flags.end(), "low_fitness") != res.flags.end());
        }
    }
}

TEST_CASE("errors against ground truth", "[registration][metrics]") {
    Pair p = make_pair(11, 0.7, 30, 0.0);
    reg::Errors e = reg::evaluate(p.src, p.ref, p.truth, p.truth);
    CHECK(e.rre_deg < 1e-6);
    CHECK(e.rte < 1e-12);
    CHECK(e.chamfer < 1e-20);
    CHECK(reg::parse_method("gmm-ot") == reg::Method::gmm_ot);
    CHECK_THROWS_AS(reg::parse_method("nope"), UsageError);
}

TEST_CASE("hypotheses: the scored candidates, best first, without changing the result", "[registration][hypotheses]") {
    Pair p = make_pair(301, 0.7, 45);
    for (reg::Method m : {reg::Method::global, reg::Method::icp}) {
        reg::Options o;
        o.method = m;
        o.hypotheses = 4;
        Rng rng_a(9, 1), rng_b(9, 1);
        const reg::Result plain = reg::register_pair(p.src, p.ref, o, rng_a);
        o.keep_hypotheses = true;
        const reg::Result kept = reg::register_pair(p.src, p.ref, o, rng_b);
        CHECK(plain.hypotheses.empty());
        CHECK(kept.transform == plain.transform);  // recording does not change the answer
        REQUIRE(!kept.hypotheses.empty());
        for (std::size_t k = 1; k < kept.hypotheses.size(); ++k) CHECK(kept.hypotheses[k - 1].score >= kept.hypotheses[k].score);
        if (m == reg::Method::icp) {
            REQUIRE(kept.hypotheses.size() == 1);
            CHECK(kept.hypotheses[0].transform == kept.transform);
            CHECK(kept.hypotheses[0].score == kept.fitness);
            CHECK(reg::hypothesis_score_name(m) == "fitness");
        } else {
            // RANSAC's 4 and the consistency graph's 4 hypotheses, each verified.
            CHECK(kept.hypotheses.size() == 8);
            CHECK(reg::hypothesis_score_name(m) == "verification");
            // The best hypothesis is the pose the final ICP refined: close to the truth, as the answer is.
            CHECK(rre_deg(kept.hypotheses[0].transform, p.truth) < 2.0);
            CHECK(rre_deg(kept.transform, p.truth) < 2.0);
        }
    }
}

TEST_CASE("aligned clouds: one PLY of moved sources and references, coloured, with the pair of each vertex", "[registration][aligned]") {
    orbit::test::TempDir dir;
    reg::Run run;
    run.first_pair = 5;
    std::vector<Points> src, ref;
    for (std::uint64_t k = 0; k < 2; ++k) {
        Pair p = make_pair(400 + k, 0.7, 30);
        src.push_back(p.src.topRows(40 + 10 * static_cast<Eigen::Index>(k)));
        ref.push_back(p.ref.topRows(30));
        run.results.emplace_back();
        run.results.back().transform = p.truth;
    }
    const std::string path = dir / "aligned.ply";
    reg::write_aligned_ply(path, src, ref, run);
    // The coordinates through the library's reader: the moved source is the transform applied.
    const auto shape = orbit::io::formats::read_ply(path);
    REQUIRE(shape.vertices.rows() == 40 + 30 + 50 + 30);
    CHECK(shape.vertices.topRows(40) == apply(run.results[0].transform, src[0]));
    CHECK(shape.vertices.middleRows(40, 30) == ref[0]);
    CHECK(shape.vertices.middleRows(70, 50) == apply(run.results[1].transform, src[1]));
    CHECK(shape.vertices.bottomRows(30) == ref[1]);
    // Colours and pair indices from the bytes: x y z double, red green blue uchar, pair int.
    const std::string bytes = orbit::test::slurp(path);
    const std::string end = "end_header\n";
    const std::size_t body = bytes.find(end) + end.size();
    const std::string header = bytes.substr(0, body);
    CHECK(header.find("property uchar red\nproperty uchar green\nproperty uchar blue\nproperty int pair\n") != std::string::npos);
    REQUIRE(bytes.size() == body + 150 * 31);
    for (std::size_t v = 0; v < 150; ++v) {
        const char* rec = bytes.data() + body + 31 * v;
        const bool source = v < 40 || (v >= 70 && v < 120);
        const auto& color = source ? reg::kSourceColor : reg::kReferenceColor;
        for (int j = 0; j < 3; ++j) CHECK(static_cast<std::uint8_t>(rec[24 + j]) == color[static_cast<std::size_t>(j)]);
        std::int32_t pair;
        std::memcpy(&pair, rec + 27, 4);
        CHECK(pair == (v < 70 ? 5 : 6));
    }
    CHECK_THROWS_AS(reg::check_aligned_path(dir / "aligned.h5"), UsageError);
    CHECK_NOTHROW(reg::check_aligned_path(dir / "a.PLY"));
}

TEST_CASE("iterations count the final refinement, so --max-iterations bounds them", "[registration][iterations]") {
    // The short ICP runs that verify candidates and the RANSAC draws once made
    // auto report over a thousand iterations with a limit of 60.
    Pair p = make_pair(302, 0.7, 45);
    for (reg::Method m : {reg::Method::automatic, reg::Method::global, reg::Method::icp, reg::Method::icp_plane, reg::Method::cpd}) {
        for (int limit : {60, 4}) {
            reg::Options o;
            o.method = m;
            o.max_iterations = limit;
            Rng rng(9, 2);
            const reg::Result r = reg::register_pair(p.src, p.ref, o, rng);
            INFO(reg::method_name(m) << " limit " << limit);
            CHECK(r.iterations >= 1);
            CHECK(r.iterations <= limit);
            if (limit == 4 && (m == reg::Method::icp || m == reg::Method::cpd)) CHECK(r.iterations == 4);  // far from converged in 4
        }
    }
}
