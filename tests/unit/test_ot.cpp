// Tests of lib/orbit/ot: exact solvers, the SIMD exponential and log-domain Sinkhorn.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/random.hpp"
#include "orbit/ot/exact.hpp"
#include "orbit/ot/kernels.hpp"
#include "orbit/ot/simd.hpp"
#include "orbit/ot/sinkhorn.hpp"

#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::ot;

namespace {

// The shared clouds and weights of the test fixtures, under the names these tests use.
Points cloud(int n, int d, std::uint64_t seed, double shift = 0) { return test::unit_cube_cloud(n, d, seed, shift); }
Vector weights(int n, std::uint64_t seed) { return test::random_weights(n, seed); }
SinkhornOptions options(double eps, double tol) {
    SinkhornOptions o;
    o.eps = eps;
    o.tol = tol;
    return o;
}

Matrix sqdist(const Points& x, const Points& y) {
    Matrix c(x.rows(), y.rows());
    for (int i = 0; i < x.rows(); ++i)
        for (int j = 0; j < y.rows(); ++j) c(i, j) = (x.row(i) - y.row(j)).squaredNorm();
    return c;
}

// Exact 1-D OT between sorted weighted points for a convex cost: the
// monotone (north-west corner) coupling.
double monotone_cost(std::vector<std::pair<double, double>> xa, std::vector<std::pair<double, double>> yb) {
    std::sort(xa.begin(), xa.end());
    std::sort(yb.begin(), yb.end());
    std::size_t i = 0, j = 0;
    double ra = xa[0].second, rb = yb[0].second, cost = 0;
    while (i < xa.size() && j < yb.size()) {
        const double m = std::min(ra, rb);
        const double d = xa[i].first - yb[j].first;
        cost += m * d * d;
        ra -= m, rb -= m;
        if (ra <= 1e-15) { if (++i < xa.size()) ra = xa[i].second; }
        if (rb <= 1e-15) { if (++j < yb.size()) rb = yb[j].second; }
    }
    return cost;
}

}  // namespace

TEST_CASE("vectorized exp matches std::exp", "[ot]") {
    double worst = 0;
    for (double x = -700; x <= 700; x += 0.0137) worst = std::max(worst, std::abs(detail::vexp(x) / std::exp(x) - 1));
    REQUIRE(worst < 5e-13);
    REQUIRE(detail::vexp(-1e6) < 1e-300);
    REQUIRE(detail::vexp(1e6) > 1e300);
    REQUIRE(std::isnan(detail::vexp(std::nan(""))));
}

TEST_CASE("SIMD exp matches std::exp lane by lane", "[ot]") {
    namespace s = detail::simd;
    double worst = 0;
    for (double x = -700; x <= 700; x += 0.0137 * s::W) {
        s::vd v;
        for (int t = 0; t < s::W; ++t) v[t] = x + 0.0137 * t;
        const s::vd e = s::exp(v);
        for (int t = 0; t < s::W; ++t) worst = std::max(worst, std::abs(e[t] / std::exp(v[t]) - 1));
    }
    REQUIRE(worst < 5e-13);
    const s::vd big = s::exp(s::splat(1e6)), tiny = s::exp(s::splat(-1e6));
    REQUIRE(big[0] > 1e300);
    REQUIRE(tiny[s::W - 1] < 1e-300);
    REQUIRE(s::hsum(s::keep_first(s::splat(1.0), 1)) == 1.0);
}

TEST_CASE("kernel passes match a plain reference in every dimension, exponent and size", "[ot]") {
    // Sizes that are not whole vectors, and one that spans several cache tiles.
    const int shapes[][2] = {{1, 1}, {7, 5}, {37, 53}, {2100, 13}, {13, 2100}};
    for (int d : {1, 2, 3, 5})
        for (int p : {1, 2})
            for (bool half : {false, true})
                for (auto& sh : shapes) {
                    const int n = sh[0], m = sh[1];
                    const Points x = cloud(n, d, 100 + d), y = cloud(m, d, 200 + d, 0.1);
                    Matrix c(n, m);
                    for (int i = 0; i < n; ++i)
                        for (int j = 0; j < m; ++j) {
                            const double q = (x.row(i) - y.row(j)).squaredNorm();
                            c(i, j) = (half ? 0.5 : 1.0) * (p == 1 ? std::sqrt(q) : q);
                        }
                    auto online = detail::point_kernel(x, y, p, half);
                    auto dense = detail::dense_kernel(c);
                    const double inv_eps = 1 / 0.07;
                    for (int side : {0, 1}) {
                        const int na = side == 0 ? n : m, nb = side == 0 ? m : n;
                        Vector h(nb), shift(na);
                        Rng r(7, side);
                        for (int l = 0; l < nb; ++l) h[l] = 0.1 * r.uniform();
                        for (int k = 0; k < na; ++k) shift[k] = 0.1 * r.uniform();
                        for (auto* K : {online.get(), dense.get()}) {
                            Vector s(na), w(na), s2(na);
                            K->sums(side, h.data(), shift.data(), inv_eps, s.data(), w.data());
                            K->sums(side, h.data(), shift.data(), inv_eps, s2.data(), nullptr);
                            for (int k = 0; k < na; ++k) {
                                double rs = 0, rw = 0;
                                for (int l = 0; l < nb; ++l) {
                                    const double ckl = side == 0 ? c(k, l) : c(l, k);
                                    const double e = std::exp((h[l] - ckl + shift[k]) * inv_eps);
                                    rs += e;
                                    rw += ckl * e;
                                }
                                INFO(K->name() << " d=" << d << " p=" << p << " half=" << half << " " << n << "x"
                                               << m << " side " << side << " k=" << k);
                                REQUIRE(s[k] == Approx(rs).epsilon(1e-11));
                                REQUIRE(s2[k] == s[k]);
                                REQUIRE(w[k] == Approx(rw).epsilon(1e-11).margin(1e-300));
                            }
                        }
                    }
                }
}

TEST_CASE("assignment is optimal against brute force", "[ot][exact]") {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        const int n = 1 + int(seed % 7);
        Rng r(seed);
        Matrix c(n, n);
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) c(i, j) = r.uniform(-1, 3);
        std::vector<int> perm(n);
        std::iota(perm.begin(), perm.end(), 0);
        double best = 1e300;
        do {
            double s = 0;
            for (int i = 0; i < n; ++i) s += c(i, perm[i]);
            best = std::min(best, s);
        } while (std::next_permutation(perm.begin(), perm.end()));
        const std::vector<int> got = assignment(c);
        std::vector<int> sorted = got;
        std::sort(sorted.begin(), sorted.end());
        for (int i = 0; i < n; ++i) REQUIRE(sorted[i] == i);
        double s = 0;
        for (int i = 0; i < n; ++i) s += c(i, got[i]);
        REQUIRE(s == Approx(best).margin(1e-12));
    }
}

TEST_CASE("assignment handles a 400 x 400 problem like the exact plan", "[ot][exact]") {
    const Points x = cloud(60, 2, 3), y = cloud(60, 2, 4);
    const Matrix c = sqdist(x, y);
    const std::vector<int> perm = assignment(c);
    double s = 0;
    for (int i = 0; i < 60; ++i) s += c(i, perm[i]);
    const Vector u = Vector::Constant(60, 1.0 / 60);
    REQUIRE(s / 60 == Approx(emd_cost(u, u, c)).epsilon(1e-10));
    Rng r(5);
    Matrix big(400, 400);
    for (int i = 0; i < 400; ++i)
        for (int j = 0; j < 400; ++j) big(i, j) = r.uniform();
    const std::vector<int> p = assignment(big);
    // Optimality certificate: no 2-swap improves it.
    for (int t = 0; t < 2000; ++t) {
        const int i = int(r.below(400)), k = int(r.below(400));
        REQUIRE(big(i, p[i]) + big(k, p[k]) <= big(i, p[k]) + big(k, p[i]) + 1e-12);
    }
}

TEST_CASE("emd equals the monotone coupling in 1-D and has the right marginals", "[ot][exact]") {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        const int n = 7 + int(seed), m = 5 + 2 * int(seed);
        const Points x = cloud(n, 1, seed), y = cloud(m, 1, seed + 100);
        const Vector a = weights(n, seed), b = weights(m, seed + 7);
        const Matrix c = sqdist(x, y);
        const Matrix P = emd(a, b, c);
        REQUIRE((P.rowwise().sum() - a).cwiseAbs().maxCoeff() < 1e-12);
        REQUIRE((P.colwise().sum().transpose() - b).cwiseAbs().maxCoeff() < 1e-12);
        REQUIRE(P.minCoeff() >= 0);
        std::vector<std::pair<double, double>> xa, yb;
        for (int i = 0; i < n; ++i) xa.emplace_back(x(i, 0), a[i]);
        for (int j = 0; j < m; ++j) yb.emplace_back(y(j, 0), b[j]);
        REQUIRE(P.cwiseProduct(c).sum() == Approx(monotone_cost(xa, yb)).epsilon(1e-10));
    }
}

TEST_CASE("exact solvers reject bad input", "[ot][exact]") {
    REQUIRE_THROWS_AS(assignment(Matrix(2, 3)), Error);
    REQUIRE_THROWS_AS(assignment(Matrix(0, 0)), Error);
    Matrix c = Matrix::Ones(2, 2);
    c(0, 0) = std::nan("");
    REQUIRE_THROWS_AS(assignment(c), Error);
    REQUIRE_THROWS_AS(emd(Vector::Ones(2), Vector::Ones(2) * 2, Matrix::Ones(2, 2)), Error);
    REQUIRE_THROWS_AS(emd(Vector::Ones(3), Vector::Ones(2), Matrix::Ones(2, 2)), Error);
}

TEST_CASE("Sinkhorn between Diracs: f + g = C and the cost is C", "[ot][sinkhorn]") {
    Points x(1, 3), y(1, 3);
    x << 0.1, 0.2, 0.3;
    y << 1.0, -0.5, 2.0;
    const Vector a = Vector::Ones(1), b = Vector::Ones(1);
    SinkhornOptions o;
    o.eps = 1e-3;
    const SinkhornResult r = sinkhorn(x, a, y, b, CostSpec{}, o);
    const double c = (x.row(0) - y.row(0)).squaredNorm();
    REQUIRE(r.converged);
    REQUIRE(r.cost == Approx(c).epsilon(1e-12));
    REQUIRE(r.f[0] + r.g[0] == Approx(c).epsilon(1e-12));
    REQUIRE(r.mass == Approx(1).epsilon(1e-12));
}

TEST_CASE("Sinkhorn marginals meet the tolerance and primal equals dual", "[ot][sinkhorn]") {
    const Points x = cloud(150, 3, 1), y = cloud(120, 3, 2);
    const Vector a = weights(150, 1), b = weights(120, 2);
    auto norm_of = [](const Vector& v, Norm nm) {
        return nm == Norm::L1 ? v.lpNorm<1>() : nm == Norm::L2 ? v.norm() : v.lpNorm<Eigen::Infinity>();
    };
    for (double omega : {1.0, 0.0, 1.5})
        for (Norm nm : {Norm::L1, Norm::L2, Norm::Linf}) {
            SinkhornOptions o = options(0.01, 1e-9);
            o.norm = nm;
            o.overrelax = omega;
            const SinkhornResult r = sinkhorn(x, a, y, b, CostSpec{}, o);
            REQUIRE(r.converged);
            REQUIRE(r.finite);
            REQUIRE(r.marginal_error <= 1e-9);
            // Plain alternating updates meet the b-marginal exactly; over-relaxed
            // ones within the tolerance (the stop certifies both).
            if (omega == 1) REQUIRE((r.col_marginal - b).cwiseAbs().maxCoeff() < 1e-12);
            REQUIRE(norm_of(r.col_marginal - b, nm) <= 1e-9);
            REQUIRE(norm_of(r.row_marginal - a, nm) <= 1e-9);
            REQUIRE(r.primal == Approx(r.dual).epsilon(1e-7));
        }
}

TEST_CASE("Sinkhorn approaches the exact cost as eps goes to 0", "[ot][sinkhorn]") {
    const Points x = cloud(40, 2, 11), y = cloud(40, 2, 12);
    const Vector a = weights(40, 3), b = weights(40, 4);
    const Matrix c = sqdist(x, y);
    const double exact = emd_cost(a, b, c);
    double prev_gap = 1e9;
    for (double eps : {1e-1, 1e-2, 1e-3, 1e-4}) {
        SinkhornOptions o = options(eps, 1e-10);
        o.max_iter = 100000;
        o.eps_scaling = true;
        const SinkhornResult r = sinkhorn(c, a, b, o);
        REQUIRE(r.finite);
        REQUIRE(r.converged);
        const double gap = std::abs(r.cost - exact);
        REQUIRE(gap < prev_gap + 1e-12);
        prev_gap = gap;
    }
    REQUIRE(prev_gap < 2e-4 * exact);
}

TEST_CASE("1-D Sinkhorn at small eps matches sorting", "[ot][sinkhorn]") {
    const int n = 100;
    const Points x = cloud(n, 1, 21), y = cloud(n, 1, 22, 0.3);
    const Vector u = Vector::Constant(n, 1.0 / n);
    std::vector<double> xs(n), ys(n);
    for (int i = 0; i < n; ++i) xs[i] = x(i, 0), ys[i] = y(i, 0);
    std::sort(xs.begin(), xs.end());
    std::sort(ys.begin(), ys.end());
    double w2 = 0;
    for (int i = 0; i < n; ++i) w2 += (xs[i] - ys[i]) * (xs[i] - ys[i]) / n;
    double prev = 1;
    for (double eps : {1e-3, 5e-4}) {
        SinkhornOptions o = options(eps, 1e-6);
        o.max_iter = 20000;
        o.eps_scaling = true;
        o.scaling = 0.7;
        const SinkhornResult r = sinkhorn(x, u, y, u, CostSpec{}, o);
        REQUIRE(r.converged);
        // The entropic bias shrinks with eps (0.3% of the cost at eps = 1e-3).
        const double gap = r.cost / w2 - 1;
        REQUIRE(gap > 0);
        REQUIRE(gap < 4e-3);
        REQUIRE(gap < prev);
        prev = gap;
    }
}

TEST_CASE("online, dense and kernel storage agree; threads do not change the bits", "[ot][sinkhorn]") {
    // Large enough (> 2^20 pairs) for the passes to run on both threads.
    const Points x = cloud(1100, 3, 31), y = cloud(1000, 3, 32);
    const Vector a = weights(1100, 5), b = weights(1000, 6);
    SinkhornOptions o = options(0.05, 1e-9);
    set_threads(1);
    const SinkhornResult r1 = sinkhorn(x, a, y, b, CostSpec{}, o);
    set_threads(2);
    const SinkhornResult r2 = sinkhorn(x, a, y, b, CostSpec{}, o);
    REQUIRE(r1.storage == "online");
    REQUIRE(r1.iterations == r2.iterations);
    REQUIRE((r1.f - r2.f).cwiseAbs().maxCoeff() == 0);
    REQUIRE((r1.g - r2.g).cwiseAbs().maxCoeff() == 0);
    REQUIRE(r1.cost == r2.cost);
    const Matrix c = sqdist(x, y);
    const SinkhornResult rd = sinkhorn(c, a, b, o);
    REQUIRE(rd.storage == "dense");
    REQUIRE((rd.f - r1.f).cwiseAbs().maxCoeff() < 1e-10);
    REQUIRE(rd.cost == Approx(r1.cost).epsilon(1e-10));
    SinkhornOptions k = o;
    k.log_domain = false;
    const SinkhornResult rk = sinkhorn(c, a, b, k);
    REQUIRE(rk.storage == "kernel");
    REQUIRE(rk.converged);
    REQUIRE((rk.f - r1.f).cwiseAbs().maxCoeff() < 1e-8);
    set_threads(1);
    const SinkhornResult rd1 = sinkhorn(c, a, b, o);
    set_threads(2);
    REQUIRE((rd1.f - rd.f).cwiseAbs().maxCoeff() == 0);
}

TEST_CASE("translating both clouds leaves cost and plan unchanged", "[ot][sinkhorn]") {
    const Points x = cloud(100, 3, 41), y = cloud(90, 3, 42);
    const Vector a = weights(100, 1), b = weights(90, 2);
    SinkhornOptions o = options(0.01, 1e-10);
    o.plan = PlanKind::Dense;
    const SinkhornResult r = sinkhorn(x, a, y, b, CostSpec{}, o);
    Points xt = x, yt = y;
    xt.rowwise() += Eigen::RowVector3d(100, -50, 7);
    yt.rowwise() += Eigen::RowVector3d(100, -50, 7);
    const SinkhornResult t = sinkhorn(xt, a, yt, b, CostSpec{}, o);
    REQUIRE(t.cost == Approx(r.cost).epsilon(1e-9));
    REQUIRE((*t.plan - *r.plan).cwiseAbs().maxCoeff() < 1e-9);
}

TEST_CASE("small eps stays finite: 1e-4 of the cost scale", "[ot][sinkhorn]") {
    const Points x = cloud(200, 3, 51), y = cloud(200, 3, 52);
    const Vector u = Vector::Constant(200, 1.0 / 200);
    SinkhornOptions o;
    o.eps = 1e-4 * 3;  // diameter^2 of the unit cube is 3
    o.max_iter = 300;
    const SinkhornResult r = sinkhorn(x, u, y, u, CostSpec{}, o);
    REQUIRE(r.finite);
    REQUIRE(r.f.allFinite());
    REQUIRE(r.g.allFinite());
    REQUIRE(std::isfinite(r.cost));
}

TEST_CASE("unbalanced Dirac problem matches its closed form", "[ot][sinkhorn]") {
    // One point each: minimize c p + eps KL(p|ab) + rho KL(p|a) + rho KL(p|b).
    const double a = 2.0, b = 0.5, eps = 0.1, rho = 0.7;
    Matrix c(1, 1);
    c(0, 0) = 0.3;
    SinkhornOptions o;
    o.eps = eps;
    o.rho_a = o.rho_b = rho;
    o.tol = 1e-13;
    const SinkhornResult r = sinkhorn(c, Vector::Constant(1, a), Vector::Constant(1, b), o);
    const double p = std::exp((-0.3 + (eps + rho) * (std::log(a) + std::log(b))) / (eps + 2 * rho));
    REQUIRE(r.converged);
    REQUIRE(r.mass == Approx(p).epsilon(1e-10));
    REQUIRE(r.primal == Approx(r.dual).epsilon(1e-9));
    // Semi-relaxed: hard on a, soft on b -> all of a is transported.
    o.rho_a = infinity;
    const SinkhornResult s = sinkhorn(c, Vector::Constant(1, a), Vector::Constant(1, b), o);
    REQUIRE(s.mass == Approx(a).epsilon(1e-10));
}

TEST_CASE("epsilon scaling and warm starts reach the same solution", "[ot][sinkhorn]") {
    const Points x = cloud(200, 2, 61), y = cloud(180, 2, 62);
    const Vector a = weights(200, 1), b = weights(180, 2);
    SinkhornOptions o = options(0.005, 1e-9);
    o.max_iter = 20000;
    o.overrelax = 1;  // compare annealing with plain iterations
    const SinkhornResult plain = sinkhorn(x, a, y, b, CostSpec{}, o);
    SinkhornOptions s = o;
    s.eps_scaling = true;
    s.scaling = 0.7;
    const SinkhornResult scaled = sinkhorn(x, a, y, b, CostSpec{}, s);
    REQUIRE(plain.converged);
    REQUIRE(scaled.converged);
    // Potentials are defined up to f + k, g - k.
    const double k = plain.f[0] - scaled.f[0];
    REQUIRE((plain.f.array() - scaled.f.array() - k).abs().maxCoeff() < 1e-7);
    REQUIRE(scaled.iterations < plain.iterations);
    SinkhornOptions w = o;
    w.f_init = plain.f;
    w.g_init = plain.g;
    const SinkhornResult warm = sinkhorn(x, a, y, b, CostSpec{}, w);
    REQUIRE(warm.iterations <= 2);
    REQUIRE(warm.cost == Approx(plain.cost).epsilon(1e-9));
}

TEST_CASE("over-relaxation reaches the plain solution in fewer iterations", "[ot][sinkhorn]") {
    const Points x = cloud(300, 3, 71), y = cloud(280, 3, 72);
    const Vector a = weights(300, 3), b = weights(280, 4);
    for (double rho : {infinity, 0.5}) {
        SinkhornOptions o = options(0.005, 1e-10);
        o.max_iter = 20000;
        o.rho_a = o.rho_b = rho;
        o.overrelax = 1;
        const SinkhornResult plain = sinkhorn(x, a, y, b, CostSpec{}, o);
        o.overrelax = 0;
        const SinkhornResult automatic = sinkhorn(x, a, y, b, CostSpec{}, o);
        o.overrelax = 1.6;
        const SinkhornResult fixed = sinkhorn(x, a, y, b, CostSpec{}, o);
        INFO("rho " << rho << ": plain " << plain.iterations << ", auto " << automatic.iterations << " (omega "
                    << automatic.overrelax << "), fixed " << fixed.iterations);
        REQUIRE(plain.converged);
        REQUIRE(automatic.converged);
        REQUIRE(fixed.converged);
        REQUIRE(plain.overrelax == 1);
        REQUIRE(automatic.overrelax > 1.2);
        REQUIRE(fixed.overrelax == 1.6);
        REQUIRE(automatic.iterations * 2 < plain.iterations);
        REQUIRE(fixed.iterations < plain.iterations);
        for (const SinkhornResult* r : {&automatic, &fixed}) {
            const double k = plain.f[0] - r->f[0];
            REQUIRE((plain.f.array() - r->f.array() - k).abs().maxCoeff() < 1e-6);
            REQUIRE(r->cost == Approx(plain.cost).epsilon(1e-7));
            REQUIRE(r->marginal_error <= 1e-10);
        }
    }
    // Not for the symmetric updates or a test on marginal B alone.
    SinkhornOptions s;
    s.symmetric = true;
    REQUIRE(sinkhorn(x, a, y, b, CostSpec{}, s).overrelax == 1);
    s.symmetric = false;
    s.check = Marginal::B;
    REQUIRE(sinkhorn(x, a, y, b, CostSpec{}, s).overrelax == 1);
    s.overrelax = 2.0;
    REQUIRE_THROWS_WITH(sinkhorn(x, a, y, b, CostSpec{}, s), Catch::Contains("over-relaxation"));
}

TEST_CASE("Sinkhorn rejects bad input with one-line errors", "[ot][sinkhorn]") {
    const Points x = cloud(5, 3, 1), y = cloud(4, 3, 2);
    const Vector a = Vector::Constant(5, 0.2), b = Vector::Constant(4, 0.25);
    SinkhornOptions o;
    REQUIRE_THROWS_AS(sinkhorn(x, -a, y, b, CostSpec{}, o), Error);
    REQUIRE_THROWS_AS(sinkhorn(x, Vector::Zero(5), y, b, CostSpec{}, o), Error);
    REQUIRE_THROWS_AS(sinkhorn(x, a, y, Vector::Ones(3), CostSpec{}, o), Error);
    REQUIRE_THROWS_AS(sinkhorn(x, a, cloud(4, 2, 3), b, CostSpec{}, o), Error);
    REQUIRE_THROWS_AS(sinkhorn(Points(0, 3), Vector(0), y, b, CostSpec{}, o), Error);
    Points bad = x;
    bad(2, 1) = std::nan("");
    REQUIRE_THROWS_AS(sinkhorn(bad, a, y, b, CostSpec{}, o), Error);
    SinkhornOptions e = o;
    e.eps = 0;
    REQUIRE_THROWS_AS(sinkhorn(x, a, y, b, CostSpec{}, e), Error);
    e.eps = -1;
    REQUIRE_THROWS_AS(sinkhorn(x, a, y, b, CostSpec{}, e), Error);
    REQUIRE_THROWS_AS(sinkhorn(x, a, y, b, CostSpec{3, false}, o), Error);
    try {
        sinkhorn(x, -a, y, b, CostSpec{}, o);
    } catch (const Error& err) {
        REQUIRE(std::string(err.what()).find('\n') == std::string::npos);
    }
}
