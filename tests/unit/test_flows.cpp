// Coupling flows, flow matching, ODE integrators and the model container:
// round trips, log-determinants against numerical Jacobians, the spline at
// its knots and tails, training on a Gaussian against its analytic
// log-likelihood, determinism, resuming, and bad inputs.
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>

#include "orbit/core/parallel.hpp"
#include "orbit/flows/model.hpp"
#include "orbit/flows/interpolant.hpp"
#include "orbit/flows/ode.hpp"
#include "nn_fixtures.hpp"

using namespace orbit;
using namespace orbit::flows;

namespace {

ModelSpec spec(const std::string& kind, int hidden, int blocks, int layers = 8) {
    ModelSpec s;
    s.kind = kind;
    s.coupling.hidden = s.cfm.hidden = hidden;
    s.coupling.blocks = s.cfm.blocks = blocks;
    s.coupling.layers = layers;
    return s;
}

template <class T>
void jitter(nn::ParamList<T> ps, Rng& rng, double scale) {
    for (auto* p : ps)
        for (Eigen::Index i = 0; i < p->value.size(); ++i) p->value.data()[i] += T(rng.uniform(-scale, scale));
}

template <class T>
Mat<T> randn(int r, int c, Rng& rng, double s = 1.0) {
    Mat<T> m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = T(s * rng.normal());
    return m;
}

CouplingConfig config(const std::string& transform, int dim, bool extras) {
    CouplingConfig c;
    c.transform = transform;
    c.dim = dim;
    c.layers = 4;
    c.hidden = 16;
    c.blocks = 1;
    c.bins = 6;
    c.permutation = extras ? "random" : "reverse";
    c.actnorm = extras;
    c.lu = extras;
    return c;
}

// Points of a correlated Gaussian and its exact mean log-density (minus the entropy).
Points gaussian(std::int64_t n, std::uint64_t seed, double& entropy) {
    Eigen::Matrix2d L;
    L << 1.5, 0, 0.9, 0.6;
    Rng rng(seed);
    Points x(n, 2);
    for (std::int64_t i = 0; i < n; ++i) {
        Eigen::Vector2d z(rng.normal(), rng.normal());
        x.row(i) = (L * z).transpose() + Eigen::RowVector2d(3.0, -1.0);
    }
    const double logdet = 2 * std::log(L.diagonal().prod());
    entropy = 0.5 * (2 * (1 + std::log(2 * std::numbers::pi)) + logdet);
    return x;
}

}  // namespace

TEST_CASE("flows: coupling round trips x -> z -> x in float64 and float32", "[flows]") {
    for (std::string tr : {"spline", "affine"})
        for (bool extras : {false, true}) {
            Rng rng(1);
            CouplingFlow<double> fd(config(tr, 3, extras), rng);
            jitter(fd.params(), rng, 0.1);
            Mat<double> x = randn<double>(64, 3, rng, 1.2);
            x(0, 0) = 4.5;  // in a tail
            nn::Tape<double> t(false);
            auto [z, ld] = fd.forward(t, t.constant(x));
            Mat<double> ldi;
            Mat<double> back = fd.inverse(t.value(z), &ldi);
            INFO(tr << " extras " << extras);
            CHECK((back - x).cwiseAbs().maxCoeff() < 1e-10);
            CHECK((ldi + t.value(ld)).cwiseAbs().maxCoeff() < 1e-9);

            Rng rng2(1);
            CouplingFlow<float> ff(config(tr, 3, extras), rng2);
            jitter(ff.params(), rng2, 0.1);
            Mat<float> xf = x.cast<float>();
            nn::Tape<float> tf(false);
            Mat<float> zf = tf.value(ff.forward(tf, tf.constant(xf)).first);
            INFO(tr << " extras " << extras);
            CHECK((ff.inverse(zf) - xf).cwiseAbs().maxCoeff() < 1e-5);
        }
}

TEST_CASE("flows: log-determinants match numerical Jacobians", "[flows]") {
    for (std::string tr : {"spline", "affine"}) {
        Rng rng(2);
        CouplingFlow<double> f(config(tr, 3, true), rng);
        jitter(f.params(), rng, 0.3);
        Mat<double> x = randn<double>(6, 3, rng);
        nn::Tape<double> t(false);
        const Mat<double> ld = t.value(f.forward(t, t.constant(x)).second);
        for (int i = 0; i < 6; ++i) {
            Eigen::Matrix3d J;
            const double h = 1e-6;
            for (int j = 0; j < 3; ++j) {
                Mat<double> xp = x.row(i), xm = x.row(i);
                xp(0, j) += h;
                xm(0, j) -= h;
                nn::Tape<double> a(false), b(false);
                Mat<double> zp = a.value(f.forward(a, a.constant(xp)).first);
                Mat<double> zm = b.value(f.forward(b, b.constant(xm)).first);
                J.col(j) = ((zp - zm) / (2 * h)).transpose();
            }
            CHECK(std::log(std::abs(J.determinant())) == Approx(ld(i, 0)).margin(1e-6));
        }
    }
}

TEST_CASE("flows: spline inverse at knots, bounds and in the tails", "[flows][spline]") {
    const int K = 5;
    const double B = 2.0;
    Rng rng(3);
    Mat<double> th = randn<double>(1, 3 * K - 1, rng, 1.5);
    // knots of the forward spline: x = -B + cumulative widths; probe them and the bounds
    std::vector<double> probes = {-B, B, -B - 1e-9, B + 1e-9, -7.0, 9.0, 0.0};
    {
        Eigen::VectorXd w = th.leftCols(K).transpose().array().exp();
        w /= w.sum();
        w = (1e-3 + (1 - K * 1e-3) * w.array()).matrix();
        double acc = -B;
        for (int k = 0; k < K - 1; ++k) probes.push_back(acc += 2 * B * w(k));
    }
    Mat<double> x(static_cast<int>(probes.size()), 1);
    for (std::size_t i = 0; i < probes.size(); ++i) x(static_cast<int>(i), 0) = probes[i];
    Mat<double> thb = th.replicate(x.rows(), 1);
    nn::Tape<double> t(false);
    auto [y, ld] = t.rq_spline(t.constant(x), t.constant(thb), K, B);
    auto [xb, ldi] = t.rq_spline(t.constant(t.value(y)), t.constant(thb), K, B, true);
    CHECK((t.value(xb) - x).cwiseAbs().maxCoeff() < 1e-12);
    CHECK((t.value(ld) + t.value(ldi)).cwiseAbs().maxCoeff() < 1e-9);
    for (int i = 0; i < x.rows(); ++i) {
        CHECK(std::isfinite(t.value(y)(i, 0)));
        if (std::abs(x(i, 0)) > B) {
            CHECK(t.value(y)(i, 0) == x(i, 0));
            CHECK(t.value(ld)(i, 0) == 0.0);
        }
    }
    CHECK(t.value(y)(0, 0) == Approx(-B).margin(1e-12));
    CHECK(t.value(y)(1, 0) == Approx(B).margin(1e-12));
    // a dense sweep of the inverse in float32 never gives NaN and stays monotone
    Mat<float> ys(2001, 1);
    for (int i = 0; i < 2001; ++i) ys(i, 0) = float(-B + 2 * B * i / 2000.0);
    nn::Tape<float> tf(false);
    Mat<float> thf = th.cast<float>().replicate(2001, 1);
    const Mat<float> xs = tf.value(tf.rq_spline(tf.constant(ys), tf.constant(thf), K, float(B), true).first);
    for (int i = 0; i < 2001; ++i) {
        CHECK(std::isfinite(xs(i, 0)));
        if (i) CHECK(xs(i, 0) >= xs(i - 1, 0));
    }
}

TEST_CASE("flows: ODE integrators on dy/dt = A y against the matrix exponential", "[flows][ode]") {
    Eigen::Matrix2d A;
    A << -0.5, 2.0, -2.0, -0.5;  // a damped rotation: y(t) = exp(At) y0
    Mat<double> y0(3, 2);
    y0 << 1, 0, 0, 1, 0.5, -2;
    auto f = [&](double, const Mat<double>& y, Mat<double>& dy) { dy = y * A.transpose(); };
    // exact: exp(At) via eigen decomposition of the 2x2 (complex pair -0.5 +- 2i)
    const double t1 = 1.3, e = std::exp(-0.5 * t1), c = std::cos(2 * t1), s = std::sin(2 * t1);
    Eigen::Matrix2d E;
    E << e * c, e * s, -e * s, e * c;
    Mat<double> exact = y0 * E.transpose();
    struct Case {
        OdeMethod m;
        int steps;
        double tol;
    };
    for (Case k : {Case{OdeMethod::euler, 2000, 3e-3}, Case{OdeMethod::midpoint, 200, 1e-4}, Case{OdeMethod::rk4, 50, 1e-6},
                   Case{OdeMethod::dopri5, 0, 1e-7}}) {
        Mat<double> y = y0;
        OdeOptions o;
        o.method = k.m;
        o.steps = k.steps;
        o.rtol = o.atol = 1e-9;
        auto st = integrate(f, y, 0.0, t1, o);
        CHECK((y - exact).cwiseAbs().maxCoeff() < k.tol);
        CHECK(st.nfe > 0);
        // and back again
        integrate(f, y, t1, 0.0, o);
        CHECK((y - y0).cwiseAbs().maxCoeff() < 2 * k.tol / e);
    }
    // convergence orders: halving the step divides the error by ~2, ~4, ~16
    auto err = [&](OdeMethod m, int steps) {
        Mat<double> y = y0;
        OdeOptions o;
        o.method = m;
        o.steps = steps;
        integrate(f, y, 0.0, t1, o);
        return (y - exact).cwiseAbs().maxCoeff();
    };
    CHECK(err(OdeMethod::euler, 100) / err(OdeMethod::euler, 200) == Approx(2).margin(0.3));
    CHECK(err(OdeMethod::midpoint, 100) / err(OdeMethod::midpoint, 200) == Approx(4).margin(0.5));
    CHECK(err(OdeMethod::rk4, 20) / err(OdeMethod::rk4, 40) == Approx(16).margin(2.5));
}

TEST_CASE("flows: training on a Gaussian recovers its analytic log-likelihood", "[flows][train]") {
    double H = 0;
    Points x = gaussian(4096, 11, H), test = gaussian(4096, 12, H);
    for (std::string kind : {"realnvp", "nsf"}) {
        auto m = Model::create(spec(kind, 32, 1, 4), x, 5);
        const TrainOptions o{.epochs = 12, .batch = 256, .lr = 3e-3, .seed = 5};
        m.train(x, Points(), o);
        const double ll = m.log_prob(test).mean();
        INFO(kind << " held-out LL " << ll << " vs analytic " << -H);
        // the analytic optimum is -H; a fitted model lies within a few hundredths
        CHECK(std::abs(ll + H) < 0.03);
    }
}

TEST_CASE("flows: flow matching learns a Gaussian; density and latent map are consistent", "[flows][cfm]") {
    double H = 0;
    Points x = gaussian(4096, 21, H), test = gaussian(1024, 22, H);
    for (std::string kind : {"cfm", "ot-cfm"}) {
        auto m = Model::create(spec(kind, 64, 1), x, 3);
        const TrainOptions o{.epochs = 15, .batch = 256, .lr = 2e-3};
        m.train(x, Points(), o);
        InferOptions io;
        io.ode.rtol = io.ode.atol = 1e-5;
        const double ll = m.log_prob(test, io).mean();
        INFO(kind << " held-out LL " << ll << " vs analytic " << -H);
        CHECK(std::abs(ll + H) < 0.1);
        Points z = m.to_latent(test.topRows(200), io);
        Points back = m.from_latent(z, io);
        CHECK((back - test.topRows(200)).cwiseAbs().maxCoeff() < 1e-3);
        // latents are close to standard normal
        CHECK(z.colwise().mean().cwiseAbs().maxCoeff() < 0.25);
    }
}

TEST_CASE("flows: same seed gives the same model for 1 and 2 threads; resuming continues exactly", "[flows][train]") {
    Points x = toy_data("moons", 1024, 4), train, val;
    split_rows(x, 0.25, 9, train, val);
    TrainOptions o;
    o.epochs = 4;
    o.batch = 128;
    o.seed = 9;
    auto run = [&](int threads, const std::string& kind) {
        set_threads(threads);
        auto m = Model::create(spec(kind, 32, 1), train, 9);
        m.train(train, val, o);
        auto samples = m.sample(5000, 3);
        set_threads(0);
        return std::make_pair(m.log_prob(val), samples);
    };
    for (std::string kind : {"nsf", "ot-cfm"}) {
        if (kind == "ot-cfm") o.epochs = 2;
        auto a = run(1, kind), b = run(2, kind);
        CHECK(a.first == b.first);
        CHECK(a.second == b.second);
    }
    // 4 epochs in one go == 2 epochs, save, load, 2 more
    o.epochs = 4;
    auto full = Model::create(spec("nsf", 32, 1), train, 9);
    full.train(train, val, o);
    auto part = Model::create(spec("nsf", 32, 1), train, 9);
    TrainOptions half = o;
    half.stop_after = 2;
    part.train(train, val, half);
    CHECK(part.epochs_done() == 2);
    auto f = h5::File::create_in_memory("ck.h5");
    part.save(f);
    auto resumed = Model::load(f);
    resumed.train(train, val, o);
    CHECK(resumed.epochs_done() == 4);
    CHECK(resumed.log_prob(val) == full.log_prob(val));
}

TEST_CASE("flows: bad inputs are one-line errors", "[flows]") {
    Points x = toy_data("8gaussians", 300, 1);
    Points bad = x;
    bad(7, 1) = std::nan("");
    CHECK_THROWS_WITH(check_training_data(bad, 64, "d.h5"), Catch::Contains("row 7 column 1"));
    Points cst = x;
    cst.col(0).setConstant(2.0);
    CHECK_THROWS_WITH(check_training_data(cst, 64, "d.h5"), Catch::Contains("column 0 is constant"));
    CHECK_THROWS_WITH(check_training_data(x, 512, "d.h5"), Catch::Contains("fewer than the batch"));
    auto m = Model::create(spec("realnvp", 8, 0, 2), x, 1);
    Points three(5, 3);
    three.setOnes();
    CHECK_THROWS_WITH(m.log_prob(three), Catch::Contains("model was trained on 2-dimensional"));
    ModelSpec cfm_pairs = spec("cfm", 8, 0);
    cfm_pairs.cfm.coupling = "exact";
    CHECK_THROWS_AS(Model::create(cfm_pairs, x, 1), UsageError);
    CHECK_THROWS_AS(Model::create(spec("glow", 8, 0), x, 1), UsageError);
    auto f = h5::File::create_in_memory("empty.h5");
    CHECK_THROWS_WITH(Model::load(f), Catch::Contains("not an orbit flow model"));
}

TEST_CASE("flows: the sampling temperature scales the latents of the same stream", "[flows]") {
    const Points x = toy_data("moons", 500, 2);
    const auto m = Model::create(spec("nsf", 8, 0, 2), x, 1);  // every coupling starts as the identity
    InferOptions cold;
    cold.temperature = 0.5;
    const Points a = m.sample(3000, 3), b = m.sample(3000, 3, cold);
    const Eigen::RowVectorXd mean = x.colwise().mean();
    CHECK(((b.rowwise() - mean) - 0.5 * (a.rowwise() - mean)).cwiseAbs().maxCoeff() < 1e-5);
    cold.temperature = 0;
    CHECK_THROWS_WITH(m.sample(10, 3, cold), Catch::Contains("temperature"));
}

namespace {

// Pairs of a linear-Gaussian degradation: x1 ~ N(m, I), source = x1 + s N(0, I);
// x1 given the source is N(m + (source - m) / (1 + s^2), s^2 / (1 + s^2) I).
Dataset noisy_pairs(std::int64_t n, double s, std::uint64_t seed) {
    Rng rng(seed);
    Dataset d;
    d.x.resize(n, 2);
    d.context.resize(n, 2);
    for (std::int64_t i = 0; i < n; ++i)
        for (int j = 0; j < 2; ++j) {
            d.x(i, j) = (j == 0 ? 1.0 : -2.0) + rng.normal();
            d.context(i, j) = d.x(i, j) + s * rng.normal();
        }
    return d;
}

ModelSpec interpolant_spec(const std::string& base, int hidden) {
    ModelSpec s = spec("interpolant", hidden, 1);
    s.cfm.base = base;
    s.cfm.source_noise = 0.3;
    return s;
}

}  // namespace

TEST_CASE("interpolant: I_t meets x0 at t = 0 and x1 at t = 1; dI/dt matches finite differences", "[flows][interpolant]") {
    Rng rng(3);
    const Mat<double> x0 = randn<double>(5, 3, rng), x1 = randn<double>(5, 3, rng), z = randn<double>(5, 3, rng);
    Eigen::VectorXd t(5);
    t << 0.0, 1.0, 0.25, 0.5, 0.9;
    Mat<double> it, dit;
    stochastic_interpolant<double>(x0, x1, z, t, 0.7, it, dit);
    CHECK((it.row(0) - x0.row(0)).cwiseAbs().maxCoeff() == 0.0);
    CHECK((it.row(1) - x1.row(1)).cwiseAbs().maxCoeff() < 1e-15);
    const double h = 1e-6;
    Mat<double> up, dn, unused;
    stochastic_interpolant<double>(x0, x1, z, (t.array() + h).matrix(), 0.7, up, unused);
    stochastic_interpolant<double>(x0, x1, z, (t.array() - h).matrix(), 0.7, dn, unused);
    CHECK(((up - dn) / (2 * h) - dit).cwiseAbs().maxCoeff() < 1e-8);
    // the latent noise is felt in between: gamma(1/2) = sigma / 4
    Mat<double> plain, dplain;
    stochastic_interpolant<double>(x0, x1, z, t, 0.0, plain, dplain);
    CHECK((it.row(3) - plain.row(3) - 0.7 / 4 * z.row(3)).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("interpolant: the loss's parameter gradients match finite differences, both bases", "[flows][interpolant]") {
    for (std::string base : {"source", "gaussian"}) {
        CfmConfig c;
        c.dim = c.context = 3;
        c.hidden = 8;
        c.blocks = 1;
        c.freqs = 2;
        c.sigma = 0.5;
        c.base = base;
        Rng init(2);
        VelocityField<double> field(c, init);
        const Mat<double> x1 = randn<double>(6, 3, init), src = randn<double>(6, 3, init);
        const double err = test::grad_error_params(field.params(), [&](nn::Tape<double>& t) {
            Rng rng(11);  // the same pairs, times and noise for every evaluation
            return field.loss(t, x1, rng, src);
        });
        INFO(base);
        CHECK(err < 1e-6);
    }
}

TEST_CASE("interpolant: learns a linear-Gaussian denoiser; same bits for 1 and 2 threads", "[flows][interpolant]") {
    const double s = 0.5, v = s * s / (1 + s * s);
    const Dataset train = noisy_pairs(4096, s, 1), test = noisy_pairs(1024, s, 2);
    const TrainOptions o{.epochs = 40, .batch = 256, .lr = 2e-3};
    InferOptions io;
    io.ode.rtol = io.ode.atol = 1e-5;
    for (std::string base : {"source", "gaussian"}) {
        INFO(base);
        auto m = Model::create(interpolant_spec(base, 64), train, 3);
        m.train(train, Dataset{}, o);
        // held-out log p(x1 | source) against the analytic conditional entropy
        const double ll = m.log_prob(test.x, io, test.context).mean();
        const double exact = -(1 + std::log(2 * std::numbers::pi * v));
        INFO("held-out LL " << ll << " vs analytic " << exact);
        CHECK(std::abs(ll - exact) < 0.12);
        // mapped sources scatter around the posterior mean with the posterior variance
        const Points y = m.sample(test.x.rows(), 5, io, test.context);
        Points mean = test.context;
        mean.col(0) = (mean.col(0).array() - 1.0) / (1 + s * s) + 1.0;
        mean.col(1) = (mean.col(1).array() + 2.0) / (1 + s * s) - 2.0;
        const Points r = y - mean;
        CHECK(r.colwise().mean().cwiseAbs().maxCoeff() < 0.06);
        INFO("variance " << r.array().square().mean() << " vs " << v);
        CHECK(std::abs(r.array().square().mean() / v - 1.0) < 0.3);
        // the map inverts: targets back to the base and forward again
        const Points z = m.to_latent(test.x.topRows(100), io, test.context.topRows(100));
        CHECK((m.from_latent(z, io, test.context.topRows(100)) - test.x.topRows(100)).cwiseAbs().maxCoeff() < 1e-3);
    }
    auto run = [&](int threads) {
        set_threads(threads);
        TrainOptions shortrun = o;
        shortrun.epochs = 2;
        auto m = Model::create(interpolant_spec("source", 16), train, 4);
        m.train(train, test, shortrun);
        const Points y = m.sample(1500, 8, InferOptions{}, noisy_pairs(1500, s, 6).context);
        set_threads(0);
        return y;
    };
    CHECK(run(1) == run(2));
    // the pairs are checked
    Dataset bad = train;
    bad.context = Points(bad.context.leftCols(1));  // a copy: assigning a block of itself would read freed memory
    CHECK_THROWS_WITH(Model::create(interpolant_spec("source", 8), bad, 1), Catch::Contains("source (degraded view) of 2 columns"));
    auto m = Model::create(interpolant_spec("source", 8), train, 1);
    CHECK_THROWS_WITH(m.sample(10, 1), Catch::Contains("needs a source of 2 columns"));
    ModelSpec cfm_base = spec("cfm", 8, 0);
    cfm_base.cfm.base = "source";
    CHECK_THROWS_AS(Model::create(cfm_base, train, 1), UsageError);
}
