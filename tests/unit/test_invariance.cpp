// Invariance evaluation: groups, metrics against analytic cases, wrapped models, external commands.
#include <catch2/catch.hpp>
#include <Eigen/LU>
#include <algorithm>
#include <cmath>

#include "orbit/canon/pca.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/invariance/evaluate.hpp"
#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::invariance;

namespace {

std::vector<Points> blobs(int count, int n, std::uint64_t seed) {
    std::vector<Points> out;
    Rng r(seed);
    for (int b = 0; b < count; ++b) {
        Points p(n, 3);
        const double sx = 2 + b, sy = 1 + 0.3 * b;
        for (int i = 0; i < n; ++i) {
            const double u = r.normal(), v = r.normal(), w = r.normal();
            p.row(i) << sx * u + 0.4 * u * u, sy * v + 0.2 * v * v * v, 0.5 * w + 0.1 * w * w;
        }
        out.push_back(p);
    }
    return out;
}

// Invariant under E(3) and permutations: sorted distances to the centroid.
FunctionModel centroid_distances(int n) {
    return FunctionModel("centroid distances", {static_cast<std::size_t>(n)}, [](const Points& x) {
        std::vector<double> d = test::squared_centroid_distances(x);
        for (double& v : d) v = std::sqrt(v);
        std::sort(d.begin(), d.end());
        return d;
    });
}

FunctionModel first_point() {
    return FunctionModel("first point", {3}, [](const Points& x) {
        return std::vector<double>{x(0, 0), x(0, 1), x(0, 2)};
    });
}

// The setting of the canonicalization and frame-averaging tests: clouds, `samples`
// group elements, the first-point model and the canonicalizer's group.
struct WrappedCase {
    std::vector<Points> clouds;
    EvalOptions opt;
    FunctionModel fp = first_point();
    canon::Options co;
    WrappedCase(int count, int n, std::uint64_t seed, int samples, canon::Group group) : clouds(blobs(count, n, seed)) {
        opt.samples = samples;
        co.group = group;
    }
};

}  // namespace

TEST_CASE("group samples are group elements with the right distribution") {
    Group so3 = parse_group("SO3");
    double angle_sum = 0;
    const int n = 20000;
    for (int k = 0; k < n; ++k) {
        Element e = sample(so3, 1, static_cast<std::uint64_t>(k));
        const Eigen::Matrix3d a = e.t.topLeftCorner<3, 3>();
        REQUIRE((a * a.transpose() - Eigen::Matrix3d::Identity()).norm() < 1e-12);
        REQUIRE(a.determinant() == Approx(1.0));
        angle_sum += e.angle_deg;
    }
    // Haar measure: the angle has density (1 - cos t)/pi on [0, pi], mean pi/2 + 2/pi = 126.48 degrees.
    CHECK(angle_sum / n == Approx((M_PI / 2 + 2 / M_PI) * 180 / M_PI).margin(1.0));

    Group o3 = parse_group("O3");
    int reflections = 0;
    for (int k = 0; k < 2000; ++k) reflections += sample(o3, 2, static_cast<std::uint64_t>(k)).reflection ? 1 : 0;
    CHECK(std::abs(reflections - 1000) < 120);

    GroupOptions go;
    go.axis = Eigen::Vector3d(1, 1, 0);
    Group so2 = parse_group("SO2", go);
    for (int k = 0; k < 20; ++k) {
        Element e = sample(so2, 3, static_cast<std::uint64_t>(k));
        CHECK((e.t.topLeftCorner<3, 3>() * go.axis.normalized() - go.axis.normalized()).norm() < 1e-12);
    }
    go.max_translation = 0.5;
    go.max_scale = 3;
    Group se = parse_group("SE3+scaling+perm", go);
    for (int k = 0; k < 50; ++k) {
        Element e = sample(se, 4, static_cast<std::uint64_t>(k));
        CHECK(e.t.topRightCorner<3, 1>().cwiseAbs().maxCoeff() <= 0.5);
        CHECK(std::abs(e.log_scale) <= std::log(3.0) + 1e-12);
        CHECK(e.permute);
    }
    // The same seed gives the same elements; another seed does not.
    CHECK(sample(so3, 7, 3).t == sample(so3, 7, 3).t);
    CHECK(sample(so3, 7, 3).t != sample(so3, 8, 3).t);
}

TEST_CASE("cyclic groups are enumerated exhaustively") {
    Group c6 = parse_group("C6");
    REQUIRE(c6.finite());
    auto all = enumerate(c6);
    REQUIRE(all.size() == 6);
    Transform g = all[1].t, p = Transform::Identity();
    for (int k = 0; k < 6; ++k) {
        CHECK((p - all[static_cast<std::size_t>(k)].t).norm() < 1e-12);
        p = g * p;
    }
    CHECK((p - Transform::Identity()).norm() < 1e-12);
    CHECK(all[3].angle_deg == Approx(180.0));
    CHECK_THROWS_AS(enumerate(parse_group("SO3")), UsageError);
    CHECK_THROWS_AS(parse_group("SO4"), UsageError);
    CHECK_THROWS_AS(parse_group("SO3+O3"), UsageError);
    CHECK_THROWS_AS(parse_group("C0"), UsageError);
}

TEST_CASE("generators exponentiate to the group's one-parameter subgroups") {
    Group g = parse_group("SE3+scaling");
    auto gens = generators(g);
    REQUIRE(gens.size() == 7);
    CHECK(gens[2].name == "rotate_z");
    CHECK((gens[2].exp(0.3).topLeftCorner<3, 3>() - geometry::axis_angle(Eigen::Vector3d::UnitZ(), 0.3)).norm() < 1e-12);
    CHECK((gens[4].exp(0.7).topRightCorner<3, 1>() - Eigen::Vector3d(0, 0.7, 0)).norm() < 1e-12);
    CHECK(gens[6].exp(0.2)(1, 1) == Approx(std::exp(0.2)));
}

TEST_CASE("an invariant model passes and a non-invariant one fails, with the right magnitudes") {
    auto clouds = blobs(4, 200, 1);
    EvalOptions opt;
    opt.samples = 12;
    Group g = parse_group("E3+perm");
    auto inv = centroid_distances(200);
    EvalReport a = evaluate(inv, g, clouds, opt);
    CHECK(a.passed);
    CHECK(a.max_abs < 1e-12);
    CHECK(a.normalized_variance >= 0);
    CHECK(a.normalized_variance < 1e-12);
    for (auto& s : a.lie) CHECK(s.max < 1e-6);
    CHECK(a.evaluations == 4 * (1 + 12 + 12));

    auto fp = first_point();
    EvalReport b = evaluate(fp, g, clouds, opt);
    CHECK_FALSE(b.passed);
    CHECK(b.max_abs > 0.5);
    CHECK(b.normalized_variance > 0.1);
    CHECK(b.json()["verdict"] == "not invariant");
}

TEST_CASE("Lie derivatives match the analytic derivative") {
    // f(x) = first point. Under rotation about z, d/dt f(exp(tLz) x) = Lz x0 = (-y0, x0, 0);
    // along translations it is the unit vector. |L f| per cloud is known exactly.
    auto clouds = blobs(3, 50, 2);
    EvalOptions opt;
    opt.samples = 2;
    auto fp = first_point();
    EvalReport r = evaluate(fp, parse_group("SE3"), clouds, opt);
    REQUIRE(r.lie.size() == 6);
    for (std::size_t b = 0; b < clouds.size(); ++b) {
        const Eigen::Vector3d x0 = clouds[b].row(0).transpose();
        CHECK(r.lie[2].per_cloud[b] == Approx(std::hypot(x0[0], x0[1])).epsilon(1e-6));   // rotate_z
        CHECK(r.lie[0].per_cloud[b] == Approx(std::hypot(x0[1], x0[2])).epsilon(1e-6));   // rotate_x
        CHECK(r.lie[3].per_cloud[b] == Approx(1.0).epsilon(1e-6));                        // translate_x
    }
    // Declared as points, the first point is exactly equivariant: zero error and zero Lie derivative.
    opt.type = OutputType::points;
    EvalReport e = evaluate(fp, parse_group("SE3"), clouds, opt);
    CHECK(e.passed);
    for (auto& s : e.lie) CHECK(s.max < 1e-8);
}

TEST_CASE("equivariant outputs: points, per-point rows, transforms") {
    auto clouds = blobs(3, 100, 3);
    EvalOptions opt;
    opt.samples = 8;
    opt.type = OutputType::points;
    FunctionModel centroid("centroid", {1, 3}, [](const Points& x) {
        Eigen::RowVector3d c = x.colwise().mean();
        return std::vector<double>{c[0], c[1], c[2]};
    });
    CHECK(evaluate(centroid, parse_group("E3+perm+scaling"), clouds, opt).passed);
    FunctionModel identity("identity", {100, 3}, [](const Points& x) { return std::vector<double>(x.data(), x.data() + x.size()); });
    opt.per_point = true;
    CHECK(evaluate(identity, parse_group("SE3+perm"), clouds, opt).passed);
    opt.per_point = false;  // without it the rows do not follow the permutation
    CHECK_FALSE(evaluate(identity, parse_group("SE3+perm"), clouds, opt).passed);
    // A pose from PCA (canonical -> input) moves by left multiplication.
    canon::Options co;
    co.group = canon::Group::SE3;
    FunctionModel pose("pca pose", {4, 4}, [&](const Points& x) {
        Transform p = canon::pca_canonical(x, co).transform.inverse();
        std::vector<double> v;
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c) v.push_back(p(r, c));
        return v;
    });
    opt.type = OutputType::transform;
    EvalReport r = evaluate(pose, parse_group("SE3"), clouds, opt);
    CHECK(r.passed);
    CHECK(r.max_abs < 1e-9);
}

TEST_CASE("class labels: consistency") {
    auto clouds = blobs(5, 60, 4);
    EvalOptions opt;
    opt.samples = 16;
    opt.type = OutputType::labels;
    // Scores = first point coordinates: the argmax changes under rotations.
    auto fp = first_point();
    EvalReport a = evaluate(fp, parse_group("SO3"), clouds, opt);
    CHECK(a.consistency < 0.9);
    CHECK_FALSE(a.passed);
    // Label = number of points farther than 2 from the centroid, mod 3: invariant.
    FunctionModel lab("label", {}, [](const Points& x) {
        const Eigen::RowVector3d c = x.colwise().mean();
        int k = 0;
        for (Eigen::Index i = 0; i < x.rows(); ++i) k += (x.row(i) - c).norm() > 2 ? 1 : 0;
        return std::vector<double>{static_cast<double>(k % 3)};
    });
    EvalReport b = evaluate(lab, parse_group("SE3+perm"), clouds, opt);
    CHECK(b.consistency == 1.0);
    CHECK(b.passed);
}

TEST_CASE("canonicalization and frame averaging make a non-invariant model invariant") {
    WrappedCase w(4, 150, 5, 10, canon::Group::SO3);
    auto& [clouds, opt, fp, co] = w;
    CanonicalizedModel cm(fp, co, OutputType::invariant);
    EvalReport a = evaluate(cm, parse_group("SO3"), clouds, opt);
    CHECK(a.passed);
    CHECK(a.max_abs < 1e-9);
    co.group = canon::Group::E3;
    FrameAveragedModel fa(fp, co, OutputType::points);
    opt.type = OutputType::points;
    EvalReport b = evaluate(fa, parse_group("E3"), clouds, opt);
    CHECK(b.passed);
    CHECK(b.max_abs < 1e-9);
    // Equivariant under scaling too (frames ignore scale, the map back restores it) ...
    CHECK(evaluate(fa, parse_group("scaling"), clouds, opt).passed);
    // ... but an invariant average is not invariant under scaling, which the frames do not cover.
    // (The first point itself would average to exactly 0 over the sign flips; its square does not.)
    FunctionModel sq("first point squared", {3}, [](const Points& x) {
        return std::vector<double>{x(0, 0) * x(0, 0), x(0, 1) * x(0, 1), x(0, 2) * x(0, 2)};
    });
    FrameAveragedModel fai(sq, co, OutputType::invariant);
    opt.type = OutputType::invariant;
    EvalReport c = evaluate(fai, parse_group("scaling"), clouds, opt);
    CHECK_FALSE(c.passed);
    EvalReport d = evaluate(fai, parse_group("E3"), clouds, opt);
    CHECK(d.passed);
    CHECK(d.mean_abs < 1e-9);
    CHECK_FALSE(evaluate(sq, parse_group("E3"), clouds, opt).passed);
}

TEST_CASE("external commands: results, streams and every failure as one line") {
    auto clouds = blobs(3, 20, 6);
    CommandOptions co;
    co.command = "cp {in} {out}";
    co.output_dataset = "/points";
    CommandModel copy(co);
    h5::Array<double> y = copy.evaluate(clouds);
    REQUIRE(y.shape == std::vector<std::size_t>{3, 20, 3});
    CHECK(y.data[5] == clouds[0].data()[5]);
    // Streams: no {in}/{out} means stdin and stdout; small batches mean several calls.
    co.command = "cat";
    co.batch_size = 2;
    CommandModel cat(co);
    CHECK(cat.evaluate(clouds).shape[0] == 3);
    CHECK(cat.calls() == 2);

    auto fails = [&](const std::string& cmd, const std::string& needle, double timeout = 30) {
        CommandOptions c;
        c.command = cmd;
        c.timeout_s = timeout;
        CommandModel m(c);
        INFO(cmd);
        CHECK_THROWS_WITH(m.evaluate(clouds), Catch::Contains(needle));
    };
    fails("echo 'it broke here' >&2; exit 3", "exit status 3: echo 'it broke here' >&2; exit 3 :: it broke here");
    fails("true", "wrote no output to stdout");
    fails("true {in} {out}", "wrote no output to {out}");
    fails("echo hello > {out}", "is not an HDF5 file");
    fails("sleep 5", "timed out after", 0.3);
    fails("kill -9 $$", "killed by signal 9");
    CommandOptions bad;
    bad.command = "  ";
    CHECK_THROWS_AS(CommandModel(bad), UsageError);
}

TEST_CASE("results do not depend on the thread count") {
    WrappedCase w(3, 80, 7, 6, canon::Group::O3);
    auto& [clouds, opt, fp, co] = w;
    FrameAveragedModel fa(fp, co, OutputType::invariant);
    set_threads(1);
    EvalReport a = evaluate(fa, parse_group("O3+perm"), clouds, opt);
    set_threads(2);
    EvalReport b = evaluate(fa, parse_group("O3+perm"), clouds, opt);
    set_threads(0);
    CHECK(a.abs_max == b.abs_max);
    CHECK(a.rel == b.rel);
}
