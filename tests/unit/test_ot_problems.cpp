// Tests of the derived OT problems: debiased divergence, sliced Wasserstein, partial transport.
#include <catch2/catch.hpp>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/random.hpp"
#include "orbit/ot/divergence.hpp"
#include "orbit/ot/exact.hpp"
#include "orbit/ot/partial.hpp"
#include "orbit/ot/sinkhorn.hpp"
#include "orbit/ot/sliced.hpp"

#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::ot;

namespace {

// The shared clouds and weights of the test fixtures, under the names these tests use.
Points cloud(int n, int d, std::uint64_t seed, double shift = 0) { return test::unit_cube_cloud(n, d, seed, shift); }
Vector weights(int n, std::uint64_t seed) { return test::random_weights(n, seed); }

Matrix sqdist(const Points& x, const Points& y, double scale = 1) {
    Matrix c(x.rows(), y.rows());
    for (int i = 0; i < x.rows(); ++i)
        for (int j = 0; j < y.rows(); ++j) c(i, j) = scale * (x.row(i) - y.row(j)).squaredNorm();
    return c;
}

}  // namespace

TEST_CASE("debiased divergence: zero on identical inputs, positive otherwise, OT at small eps", "[ot][divergence]") {
    const Points x = cloud(80, 3, 1), y = cloud(70, 3, 2, 0.2);
    const Vector a = weights(80, 1), b = weights(70, 2);
    SinkhornOptions o;
    o.eps = 0.01;
    o.tol = 1e-9;
    const CostSpec half{2, true};
    REQUIRE(sinkhorn_divergence(x, a, x, a, half, o).value == 0.0);
    const DivergenceResult d = sinkhorn_divergence(x, a, y, b, half, o);
    REQUIRE(d.converged());
    REQUIRE(d.value > 0);
    // Moving y toward x lowers the divergence.
    const DivergenceResult closer = sinkhorn_divergence(x, a, cloud(70, 3, 2, 0.1), b, half, o);
    REQUIRE(closer.value < d.value);
    REQUIRE(closer.value > 0);
    // eps -> 0: S tends to the exact transport cost.
    const double exact = emd_cost(a, b, sqdist(x, y, 0.5));
    SinkhornOptions s = o;
    s.eps = 1e-4;
    s.eps_scaling = true;
    s.scaling = 0.8;
    s.max_iter = 20000;
    const DivergenceResult small = sinkhorn_divergence(x, a, y, b, half, s);
    REQUIRE(small.converged());
    REQUIRE(small.value == Approx(exact).epsilon(1e-2));
    // Matrix form agrees with the point form.
    const DivergenceResult m = sinkhorn_divergence(sqdist(x, y, 0.5), sqdist(x, x, 0.5), sqdist(y, y, 0.5), a, b, o);
    REQUIRE(m.value == Approx(d.value).epsilon(1e-7));
}

TEST_CASE("sliced Wasserstein: exact in 1-D, below W2, thread independent", "[ot][sliced]") {
    const Points x = cloud(60, 1, 3), y = cloud(45, 1, 4, 0.25);
    const Vector a = weights(60, 3), b = weights(45, 4);
    SlicedOptions so;
    so.projections = 1;
    const double w2 = std::sqrt(emd_cost(a, b, sqdist(x, y)));
    // In 1-D every direction is +-1, so SW is W.
    REQUIRE(sliced_wasserstein(x, a, y, b, so) == Approx(w2).epsilon(1e-10));
    REQUIRE(wasserstein_1d(x.col(0), a, y.col(0), b, 2) == Approx(w2 * w2).epsilon(1e-10));
    const Points x3 = cloud(50, 3, 5), y3 = cloud(40, 3, 6, 0.3);
    const Vector a3 = weights(50, 5), b3 = weights(40, 6);
    so.projections = 64;
    set_threads(1);
    const double s1 = sliced_wasserstein(x3, a3, y3, b3, so);
    set_threads(2);
    const double s2 = sliced_wasserstein(x3, a3, y3, b3, so);
    REQUIRE(s1 == s2);
    REQUIRE(s1 <= std::sqrt(emd_cost(a3, b3, sqdist(x3, y3))) + 1e-12);
    // A pure translation t projects to <t, theta>; E <t,theta>^2 = |t|^2 / d.
    Points xt = x3;
    xt.rowwise() += Eigen::RowVector3d(0.3, 0.3, 0.3);
    so.projections = 4000;
    const double st = sliced_wasserstein(x3, a3, xt, a3, so);
    REQUIRE(st * st == Approx(0.27 / 3).epsilon(0.05));
    REQUIRE_THROWS_AS(sliced_wasserstein(x3, a3, x, a, so), Error);
}

TEST_CASE("partial transport: full mass is Sinkhorn, inequalities hold, small eps is the exact partial cost",
          "[ot][partial]") {
    const int n = 50, m = 40;
    const Points x = cloud(n, 2, 7), y = cloud(m, 2, 8, 0.3);
    const Vector a = Vector::Constant(n, 1.0 / n), b = Vector::Constant(m, 1.0 / m);
    const Matrix c = sqdist(x, y);
    SinkhornOptions o;
    o.eps = 0.01;
    o.tol = 1e-10;
    o.max_iter = 20000;
    o.plan = PlanKind::Dense;
    // Uniform weights: the plain entropy and KL(P | a b^T) differ by a constant.
    const SinkhornResult full = partial(c, a, b, 1.0, o);
    const SinkhornResult bal = sinkhorn(c, a, b, o);
    REQUIRE(full.converged);
    REQUIRE((*full.plan - *bal.plan).cwiseAbs().maxCoeff() < 1e-8);
    const SinkhornResult half = partial(c, a, b, 0.5, o);
    REQUIRE(half.converged);
    REQUIRE(half.mass == Approx(0.5).epsilon(1e-10));
    REQUIRE((half.row_marginal - a).maxCoeff() < 1e-9);
    REQUIRE((half.col_marginal - b).maxCoeff() < 1e-9);
    // Exact partial OT: balanced OT with a dummy point on each side absorbing the
    // mass that is not moved (free to reach, forbidden between the dummies).
    Matrix big = Matrix::Zero(n + 1, m + 1);
    big.topLeftCorner(n, m) = c;
    big(n, m) = 1e3;
    Vector A(n + 1), B(m + 1);
    A << a, 0.5;
    B << b, 0.5;
    const double exact = emd_cost(A, B, big);
    SinkhornOptions s = o;
    s.eps = 5e-4;
    s.max_iter = 50000;
    s.tol = 1e-7;
    s.plan = PlanKind::None;
    const SinkhornResult sm = partial(c, a, b, 0.5, s);
    REQUIRE(sm.converged);
    REQUIRE(sm.cost >= exact - 1e-12);
    REQUIRE(sm.cost == Approx(exact).epsilon(1e-2));
    // Epsilon scaling (honoured, not ignored) reaches the same solution; here the
    // final eps's slow linear rate dominates, so it saves no iterations.
    SinkhornOptions sc = s;
    sc.eps_scaling = true;
    sc.scaling = 0.5;
    const SinkhornResult scaled = partial(c, a, b, 0.5, sc);
    INFO("plain " << sm.iterations << " iterations, scaled " << scaled.iterations);
    REQUIRE(scaled.converged);
    REQUIRE(scaled.iterations != sm.iterations);
    REQUIRE(scaled.cost == Approx(sm.cost).epsilon(1e-4));
    REQUIRE(scaled.mass == Approx(0.5).epsilon(1e-9));
    REQUIRE_THROWS_AS(partial(c, a, b, 1.5, o), Error);
    REQUIRE_THROWS_AS(partial(c, a, b, 0.0, o), Error);
}
