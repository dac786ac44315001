// Gradients of transport values (envelope theorem) against central finite
// differences, and a point set descending a Sinkhorn divergence.
#include <catch2/catch.hpp>
#include <cmath>

#include "orbit/core/random.hpp"
#include "orbit/ot/divergence.hpp"
#include "orbit/ot/gradient.hpp"
#include "orbit/ot/sinkhorn.hpp"

#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::ot;

namespace {

// The shared clouds and weights of the test fixtures, under the names these tests use.
Points cloud(int n, int d, std::uint64_t seed, double shift = 0) { return test::unit_cube_cloud(n, d, seed, shift); }
Vector weights(int n, std::uint64_t seed) { return test::random_weights(n, seed); }

SinkhornOptions tight(double eps) {
    SinkhornOptions o;
    o.eps = eps;
    o.tol = 1e-13;
    o.max_iter = 100000;
    o.norm = Norm::L1;
    return o;
}

// Central difference of value(x) along coordinate (i, d).
template <class F>
double central(F value, Points x, int i, int d, double h) {
    x(i, d) += h;
    const double up = value(x);
    x(i, d) -= 2 * h;
    return (up - value(x)) / (2 * h);
}

}  // namespace

TEST_CASE("Sinkhorn value gradient in the positions matches finite differences", "[ot][gradient]") {
    const Points x = cloud(14, 3, 1), y = cloud(11, 3, 2, 0.3);
    const Vector a = weights(14, 3), b = weights(11, 4);
    for (const CostSpec c : {CostSpec{2, true}, CostSpec{2, false}, CostSpec{1, false}}) {
        for (double rho : {infinity, 0.7}) {
            SinkhornOptions o = tight(0.05);
            o.rho_a = o.rho_b = rho;
            const SinkhornResult r = sinkhorn(x, a, y, b, c, o);
            REQUIRE(r.converged);
            const TransportGradient g = sinkhorn_gradient(x, a, y, b, c, o, r);
            auto vx = [&](const Points& p) { return sinkhorn(p, a, y, b, c, o).dual; };
            auto vy = [&](const Points& p) { return sinkhorn(x, a, p, b, c, o).dual; };
            for (int i : {0, 5, 13})
                for (int d = 0; d < 3; ++d)
                    CHECK(g.grad_x(i, d) == Approx(central(vx, x, i, d, 1e-5)).margin(1e-8));
            for (int j : {0, 10})
                for (int d = 0; d < 3; ++d)
                    CHECK(g.grad_y(j, d) == Approx(central(vy, y, j, d, 1e-5)).margin(1e-8));
        }
    }
}

TEST_CASE("Sinkhorn value gradient in the weights matches finite differences", "[ot][gradient]") {
    const Points x = cloud(12, 2, 5), y = cloud(9, 2, 6);
    const Vector a = weights(12, 7), b = weights(9, 8);
    const CostSpec c{2, false};
    SECTION("unbalanced: every weight moves freely") {
        SinkhornOptions o = tight(0.05);
        o.rho_a = 0.5, o.rho_b = 2.0;
        const TransportGradient g = sinkhorn_gradient(x, a, y, b, c, o, sinkhorn(x, a, y, b, c, o));
        for (int i : {0, 4, 11}) {
            Vector up = a, dn = a;
            up[i] += 1e-6, dn[i] -= 1e-6;
            const double fd = (sinkhorn(x, up, y, b, c, o).dual - sinkhorn(x, dn, y, b, c, o).dual) / 2e-6;
            CHECK(g.grad_a[i] == Approx(fd).margin(1e-7));
        }
        for (int j : {0, 8}) {
            Vector up = b, dn = b;
            up[j] += 1e-6, dn[j] -= 1e-6;
            const double fd = (sinkhorn(x, a, y, up, c, o).dual - sinkhorn(x, a, y, dn, c, o).dual) / 2e-6;
            CHECK(g.grad_b[j] == Approx(fd).margin(1e-7));
        }
    }
    SECTION("balanced: mass moved between two points (the total stays fixed)") {
        const SinkhornOptions o = tight(0.05);
        const TransportGradient g = sinkhorn_gradient(x, a, y, b, c, o, sinkhorn(x, a, y, b, c, o));
        for (auto [i, k] : {std::pair{0, 3}, {5, 11}}) {
            Vector up = a, dn = a;
            up[i] += 1e-6, up[k] -= 1e-6, dn[i] -= 1e-6, dn[k] += 1e-6;
            const double fd = (sinkhorn(x, up, y, b, c, o).dual - sinkhorn(x, dn, y, b, c, o).dual) / 2e-6;
            CHECK(g.grad_a[i] - g.grad_a[k] == Approx(fd).margin(1e-7));
        }
    }
}

TEST_CASE("divergence gradient matches finite differences, vanishes at equal inputs", "[ot][gradient]") {
    const Points x = cloud(13, 2, 9), y = cloud(10, 2, 10, 0.4);
    const Vector a = weights(13, 11), b = weights(10, 12);
    const CostSpec c{2, true};
    const SinkhornOptions o = tight(0.04);
    const DivergenceLoss l = sinkhorn_divergence_loss(x, a, y, b, c, o);
    REQUIRE(l.converged);
    auto vx = [&](const Points& p) { return sinkhorn_divergence(p, a, y, b, c, o).value; };
    auto vy = [&](const Points& p) { return sinkhorn_divergence(x, a, p, b, c, o).value; };
    for (int i : {0, 6, 12})
        for (int d = 0; d < 2; ++d)
            CHECK(l.gradient.grad_x(i, d) == Approx(central(vx, x, i, d, 1e-5)).margin(1e-8));
    for (int j : {1, 9})
        for (int d = 0; d < 2; ++d)
            CHECK(l.gradient.grad_y(j, d) == Approx(central(vy, y, j, d, 1e-5)).margin(1e-8));
    for (auto [i, k] : {std::pair{0, 7}, {3, 12}}) {
        Vector up = a, dn = a;
        up[i] += 1e-6, up[k] -= 1e-6, dn[i] -= 1e-6, dn[k] += 1e-6;
        const double fd = (sinkhorn_divergence(x, up, y, b, c, o).value - sinkhorn_divergence(x, dn, y, b, c, o).value) / 2e-6;
        CHECK(l.gradient.grad_a[i] - l.gradient.grad_a[k] == Approx(fd).margin(1e-7));
    }
    const DivergenceLoss zero = sinkhorn_divergence_loss(x, a, x, a, c, o);
    CHECK(zero.value == 0.0);
    CHECK(zero.gradient.grad_x.cwiseAbs().maxCoeff() < 1e-9);
}

TEST_CASE("a point set descending the Sinkhorn divergence converges onto its target", "[ot][gradient]") {
    // Target: 60 points on a circle; start: a square blob beside it.
    const int n = 60;
    Points y(n, 2);
    for (int j = 0; j < n; ++j) y(j, 0) = 0.5 + 0.3 * std::cos(2 * M_PI * j / n), y(j, 1) = 0.5 + 0.3 * std::sin(2 * M_PI * j / n);
    Points x = cloud(n, 2, 21);
    x = 0.3 * x;
    const Vector a = Vector::Constant(n, 1.0 / n), b = a;
    SinkhornOptions o;
    o.eps = 0.05 * 0.05;  // blur 0.05 on |x-y|^2/2
    o.tol = 1e-9;
    o.max_iter = 20000;
    const CostSpec c{2, true};
    const double start = sinkhorn_divergence_loss(x, a, y, b, c, o).value;
    double value = start, previous = start;
    int increases = 0;
    for (int step = 0; step < 40; ++step) {
        const DivergenceLoss l = sinkhorn_divergence_loss(x, a, y, b, c, o);
        REQUIRE(l.converged);
        value = l.value;
        increases += value > previous * (1 + 1e-9);
        previous = value;
        // GeomLoss' scaling: the gradient per unit mass, a step of 0.5.
        x -= 0.5 * (a.cwiseInverse().asDiagonal() * l.gradient.grad_x);
    }
    CHECK(increases == 0);
    CHECK(value < 1e-3 * start);
    // Every point ends close to the circle.
    for (int i = 0; i < n; ++i) CHECK(std::abs((x.row(i).array() - 0.5).matrix().norm() - 0.3) < 0.03);
}

TEST_CASE("float32 passes agree with float64 and stay finite down to eps = 1e-3 of the cost scale", "[ot][float32]") {
    const Points x = cloud(300, 3, 31), y = cloud(280, 3, 32, 0.2);
    const Vector a = weights(300, 33), b = weights(280, 34);
    for (const CostSpec c : {CostSpec{2, false}, CostSpec{1, false}}) {
        SinkhornOptions o;
        o.eps = 0.05;
        o.tol = 1e-5;
        const SinkhornResult r64 = sinkhorn(x, a, y, b, c, o);
        o.precision = Precision::Float32;
        const SinkhornResult r32 = sinkhorn(x, a, y, b, c, o);
        REQUIRE(r32.converged);
        CHECK(r32.storage == "online-float32");
        CHECK(r32.cost == Approx(r64.cost).epsilon(1e-5));
        CHECK(r32.dual == Approx(r64.dual).epsilon(1e-5));
    }
    // eps = 1e-3 of the largest cost, with annealing: finite, and the marginals meet 1e-4.
    SinkhornOptions o;
    o.precision = Precision::Float32;
    const double scale = 3 * 1.2 * 1.2;  // diameter^2 bound of the two boxes
    o.eps = 1e-3 * scale;
    o.tol = 1e-4;
    o.eps_scaling = true;
    o.max_iter = 5000;
    const SinkhornResult r = sinkhorn(x, a, y, b, CostSpec{2, false}, o);
    CHECK(r.finite);
    CHECK(r.converged);
    CHECK(r.f.allFinite());
    CHECK(r.marginal_error <= 1e-4);
}
