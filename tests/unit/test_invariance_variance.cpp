// The normalized variance is defined only when the clouds' outputs really
// differ: for copies of one shape under an invariant model it is null, even
// when the model is invariant only up to rounding, instead of a ratio of noise to noise.
#include <catch2/catch.hpp>
#include <algorithm>

#include "orbit/geometry/rotation.hpp"
#include "orbit/invariance/evaluate.hpp"

using namespace orbit;
using namespace orbit::invariance;

namespace {
// Sorted distances to the centroid, invariant up to a pose-dependent error of
// 1e-9 (well inside the verdict's tolerance), as a model computing in lower
// precision or iteratively would be.
FunctionModel nearly_invariant_distances(int n) {
    return FunctionModel("nearly invariant distances", {static_cast<std::size_t>(n)}, [](const Points& x) {
        const Eigen::RowVector3d c = x.colwise().mean();
        std::vector<double> d;
        for (Eigen::Index i = 0; i < x.rows(); ++i) d.push_back((x.row(i) - c).norm() + 1e-9 * x(0, 0));
        std::sort(d.begin(), d.end());
        return d;
    });
}

Points blob(int n, Rng& r) {
    Points p(n, 3);
    for (int i = 0; i < n; ++i) {
        const double u = r.normal(), v = r.normal(), w = r.normal();
        p.row(i) << 2 * u + 0.4 * u * u, v + 0.2 * v * v * v, 0.5 * w;
    }
    return p;
}
}  // namespace

TEST_CASE("normalized variance: null for copies of one shape, defined for different shapes") {
    const int n = 150;
    Rng r(7);
    Points shape = blob(n, r);
    std::vector<Points> copies, different;
    for (int b = 0; b < 4; ++b) {
        // The same shape in four poses.
        Eigen::Matrix3d R = geometry::random_rotation(r);
        copies.push_back(shape * R.transpose());
        different.push_back(blob(n, r));
    }
    EvalOptions opt;
    opt.samples = 6;
    Group g = parse_group("SO3");
    auto model = nearly_invariant_distances(n);
    EvalReport same = evaluate(model, g, copies, opt);
    CHECK(same.passed);
    CHECK(same.normalized_variance < 0);  // undefined
    CHECK(same.json()["normalized_variance"].is_null());
    EvalReport diff = evaluate(model, g, different, opt);
    CHECK(diff.passed);
    CHECK(diff.normalized_variance >= 0);
    CHECK(diff.normalized_variance < 1e-9);
}
