// Wasserstein barycenters: the 1-D closed form (quantile averaging) and two
// Diracs for the free-support method; the optimality condition of the
// entropic barycenter checked by independent Sinkhorn solves; the debiased
// barycenter of copies of one measure is that measure; the file round trip.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/ot/barycenter.hpp"
#include "orbit/ot/result_file.hpp"

#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::ot;

namespace {

Measure uniform_measure(const Points& p) { return {p, Vector::Constant(p.rows(), 1.0 / double(p.rows()))}; }

Points sorted_column(Points p) {
    std::sort(p.data(), p.data() + p.size());
    return p;
}

}  // namespace

TEST_CASE("free-support barycenter: two Diracs meet halfway, 1-D sets average their quantiles", "[ot][barycenter]") {
    // POT's test_free_support_barycenter: Diracs at -1 and 1, start at -12.
    Measure left{Points::Constant(1, 1, -1.0), Vector::Ones(1)}, right{Points::Constant(1, 1, 1.0), Vector::Ones(1)};
    BarycenterOptions o;
    o.method = BarycenterMethod::Free;
    o.tol = 1e-12;
    const BarycenterResult d = wasserstein_barycenter({left, right}, {1, 1}, {Points::Constant(1, 1, -12.0), Vector::Ones(1)}, o);
    REQUIRE(d.converged);
    REQUIRE(std::abs(d.barycenter.points(0, 0)) < 1e-14);
    // In 1-D the W2 barycenter of n-point uniform sets is the weighted average of their sorted points.
    const int n = 40;
    const Points x1 = sorted_column(test::unit_cube_cloud(n, 1, 3)), x2 = sorted_column(test::unit_cube_cloud(n, 1, 4, 2.0));
    const Points start = test::unit_cube_cloud(n, 1, 5, 0.5);
    const BarycenterResult r = wasserstein_barycenter({uniform_measure(x1), uniform_measure(x2)}, {0.3, 0.7}, uniform_measure(start), o);
    REQUIRE(r.converged);
    const Points want = 0.3 * x1 + 0.7 * x2;
    REQUIRE((sorted_column(r.barycenter.points) - want).cwiseAbs().maxCoeff() < 1e-12);
    // Its cost: sum_k w_k W2^2, with W2^2 between sorted sets the mean squared gap.
    const double w1 = (want - x1).squaredNorm() / n, w2 = (want - x2).squaredNorm() / n;
    REQUIRE(r.cost == Approx(0.3 * w1 + 0.7 * w2).epsilon(1e-10));
    // The weights are normalized: (3, 7) is (0.3, 0.7).
    const BarycenterResult scaled = wasserstein_barycenter({uniform_measure(x1), uniform_measure(x2)}, {3, 7}, uniform_measure(start), o);
    REQUIRE((scaled.barycenter.points - r.barycenter.points).cwiseAbs().maxCoeff() == 0);
}

TEST_CASE("entropic barycenter: the optimality condition holds for independent Sinkhorn potentials", "[ot][barycenter]") {
    const Points y = test::unit_cube_cloud(60, 2, 11);
    const Measure m1{test::unit_cube_cloud(50, 2, 12), test::random_weights(50, 1)};
    const Measure m2{test::unit_cube_cloud(45, 2, 13, 0.4), test::random_weights(45, 2)};
    const Measure m3{test::unit_cube_cloud(55, 2, 14, -0.3), test::random_weights(55, 3)};
    BarycenterOptions o;
    o.eps = 0.05;
    o.tol = 1e-12;
    o.max_iter = 20000;
    const std::vector<double> w{0.2, 0.3, 0.5};
    const BarycenterResult r = wasserstein_barycenter({m1, m2, m3}, w, uniform_measure(y), o);
    REQUIRE(r.converged);
    REQUIRE(r.barycenter.weights.sum() == Approx(1).epsilon(1e-10));
    // b minimizes sum_k w_k OT_eps(b, a_k) (entropy without reference measure):
    // with F_k = f_k + eps log b, the first-order condition is sum_k w_k F_k = const.
    SinkhornOptions s;
    s.eps = o.eps;
    s.tol = 1e-13;
    s.max_iter = 100000;
    Vector total = Vector::Zero(y.rows());
    int k = 0;
    for (const Measure& m : {m1, m2, m3}) {
        const SinkhornResult t = sinkhorn(y, r.barycenter.weights, m.points, m.weights, CostSpec{}, s);
        REQUIRE(t.converged);
        total += w[std::size_t(k++)] * (t.f + o.eps * r.barycenter.weights.array().log().matrix());
    }
    REQUIRE(total.maxCoeff() - total.minCoeff() < 1e-9);
    // Same bits with one thread or two.
    set_threads(1);
    const BarycenterResult r1 = wasserstein_barycenter({m1, m2, m3}, w, uniform_measure(y), o);
    set_threads(2);
    REQUIRE((r1.barycenter.weights - r.barycenter.weights).cwiseAbs().maxCoeff() == 0);
}

TEST_CASE("debiased barycenter of copies of one measure is that measure; the plain one blurs it", "[ot][barycenter]") {
    const Points y = test::unit_cube_cloud(40, 2, 21);
    const Measure m{y, test::random_weights(40, 4)};
    BarycenterOptions o;
    o.eps = 0.005;  // the debiased iteration converges slowly at larger eps (as POT's)
    o.tol = 1e-13;
    o.max_iter = 20000;
    o.method = BarycenterMethod::Debiased;
    const BarycenterResult d = wasserstein_barycenter({m, m}, {0.4, 0.6}, uniform_measure(y), o);
    REQUIRE(d.converged);
    REQUIRE((d.barycenter.weights - m.weights).cwiseAbs().maxCoeff() < 1e-9);
    o.method = BarycenterMethod::Entropic;
    const BarycenterResult e = wasserstein_barycenter({m, m}, {0.4, 0.6}, uniform_measure(y), o);
    REQUIRE(e.converged);
    INFO("plain barycenter's largest change of a weight " << (e.barycenter.weights - m.weights).cwiseAbs().maxCoeff());
    REQUIRE((e.barycenter.weights - m.weights).cwiseAbs().maxCoeff() > 1e-4);
}

TEST_CASE("barycenter: bad inputs are refused; the file layout reads back", "[ot][barycenter]") {
    const Measure m1 = uniform_measure(test::unit_cube_cloud(10, 2, 1));
    Measure heavy = m1;
    heavy.weights *= 2;
    REQUIRE_THROWS_AS(wasserstein_barycenter({m1, heavy}, {1, 1}, m1), Error);
    REQUIRE_THROWS_AS(wasserstein_barycenter({m1, m1}, {1}, m1), Error);
    REQUIRE_THROWS_AS(wasserstein_barycenter({m1, m1}, {1, -1}, m1), Error);
    REQUIRE_THROWS_AS(wasserstein_barycenter({m1, uniform_measure(test::unit_cube_cloud(10, 3, 2))}, {1, 1}, m1), Error);
    BarycenterOptions free;
    free.method = BarycenterMethod::Free;
    free.cost.p = 1;
    REQUIRE_THROWS_AS(wasserstein_barycenter({m1, m1}, {1, 1}, m1, free), Error);

    BarycenterOptions o;
    o.tol = 1e-10;
    const BarycenterResult r = wasserstein_barycenter({m1, uniform_measure(test::unit_cube_cloud(12, 2, 3))}, {1, 2}, m1, o);
    h5::File f = h5::File::create_in_memory("barycenter");
    write_barycenter(f, r, o, 0.5);
    const BarycenterResult back = read_barycenter(f);
    REQUIRE((back.barycenter.points - r.barycenter.points).cwiseAbs().maxCoeff() == 0);
    REQUIRE((back.barycenter.weights - r.barycenter.weights).cwiseAbs().maxCoeff() == 0);
    REQUIRE(back.cost == r.cost);
    REQUIRE(back.iterations == r.iterations);
    REQUIRE(back.converged == r.converged);
    REQUIRE(back.marginal_error == r.marginal_error);
}
