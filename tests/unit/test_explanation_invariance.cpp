// Explanation invariance (Crabbe and van der Schaar 2023): per-point
// attributions of an invariant model should follow the points under the group.
#include <catch2/catch.hpp>
#include <cmath>

#include "orbit/invariance/evaluate.hpp"
#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::invariance;

namespace {
std::vector<Points> clouds(int count, int n) {
    std::vector<Points> out;
    Rng r(11);
    for (int b = 0; b < count; ++b) {
        Points p(n, 3);
        for (int i = 0; i < n; ++i) p.row(i) << (2 + b) * r.normal(), r.normal(), 0.5 * r.normal();
        out.push_back(p);
    }
    return out;
}
// Attribution of each point: its squared distance to the centroid (invariant under E(3), follows permutations).
FunctionModel distance_saliency(int n) {
    return FunctionModel("distance saliency", {static_cast<std::size_t>(n)}, test::squared_centroid_distances);
}
// Attribution: the height of each point (not invariant under rotations).
FunctionModel height_saliency(int n) {
    return FunctionModel("height saliency", {static_cast<std::size_t>(n)}, [](const Points& x) {
        std::vector<double> e;
        for (Eigen::Index i = 0; i < x.rows(); ++i) e.push_back(x(i, 2) + 3.0);
        return e;
    });
}
}  // namespace

TEST_CASE("explanation outputs: invariant attributions follow the points, others do not") {
    const int n = 60;
    auto xs = clouds(3, n);
    EvalOptions opt;
    opt.samples = 8;
    opt.type = OutputType::explanation;
    Group g = parse_group("E3+perm");
    auto good = distance_saliency(n);
    EvalReport a = evaluate(good, g, xs, opt);
    CHECK(a.passed);
    CHECK(a.explanation_equivariance == Approx(1.0).margin(1e-12));
    // Without following the permutation the attributions no longer match point by point.
    CHECK(a.explanation_invariance < 0.95);
    CHECK(a.json()["explanation_equivariance"].get<double>() == Approx(1.0).margin(1e-12));
    CHECK(a.json()["verdict"] == "invariant");

    auto bad = height_saliency(n);
    EvalReport b = evaluate(bad, g, xs, opt);
    CHECK_FALSE(b.passed);
    CHECK(b.explanation_equivariance < 0.99);
    CHECK(b.explanation_equivariance > -1.0);

    // Under rotations alone (no permutation) both cosines agree for invariant attributions.
    EvalReport c = evaluate(good, parse_group("SO3"), xs, opt);
    CHECK(c.explanation_invariance == Approx(1.0).margin(1e-12));
    CHECK(c.explanation_equivariance == Approx(1.0).margin(1e-12));
    // Attributions must have a row per point.
    FunctionModel wrong("one value", {1}, [](const Points&) { return std::vector<double>{1.0}; });
    CHECK_THROWS_AS(evaluate(wrong, g, xs, opt), Error);
}
