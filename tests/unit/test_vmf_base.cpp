// Von Mises-Fisher mixtures on S^2 and the Riemannian flow that starts from
// one: the normalizer against its closed form, the density integrating to one
// by Gauss-Legendre x trapezoid quadrature over the sphere, samples on the
// sphere with the analytic mean resultant length, EM recovering a known
// mixture, the choice of K, seeded determinism, the JSON round trip, and a
// flow with a vMF base: samples on the sphere, density integrating to one,
// file round trip and the same bits for any thread count.
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/flows/manifolds.hpp"
#include "orbit/flows/model.hpp"
#include "orbit/flows/riemannian_fm.hpp"
#include "orbit/flows/vmf.hpp"

using namespace orbit;
using namespace orbit::flows;

namespace {

constexpr double kPi = std::numbers::pi;

// Gauss-Legendre nodes and weights on [-1, 1] (Newton on P_n from the Chebyshev guesses).
void gauss_legendre(int n, std::vector<double>& x, std::vector<double>& w) {
    x.resize(std::size_t(n));
    w.resize(std::size_t(n));
    for (int i = 0; i < n; ++i) {
        double z = std::cos(kPi * (i + 0.75) / (n + 0.5)), dp = 0;
        for (int it = 0; it < 100; ++it) {
            double p0 = 1, p1 = z;
            for (int k = 2; k <= n; ++k) {
                const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            dp = n * (z * p1 - p0) / (z * z - 1);
            const double dz = p1 / dp;
            z -= dz;
            if (std::abs(dz) < 1e-15) break;
        }
        x[std::size_t(i)] = z;
        w[std::size_t(i)] = 2 / ((1 - z * z) * dp * dp);
    }
}

// Quadrature points of the sphere (z = cos theta by Gauss-Legendre, phi by the
// periodic trapezoid rule) and their area weights (summing to 4 pi).
void sphere_quadrature(int nz, int nphi, Points& pts, Vector& wts) {
    std::vector<double> z, w;
    gauss_legendre(nz, z, w);
    pts.resize(nz * nphi, 3);
    wts.resize(nz * nphi);
    for (int i = 0; i < nz; ++i)
        for (int j = 0; j < nphi; ++j) {
            const double phi = 2 * kPi * (j + 0.5) / nphi, r = std::sqrt(1 - z[std::size_t(i)] * z[std::size_t(i)]);
            pts.row(i * nphi + j) << r * std::cos(phi), r * std::sin(phi), z[std::size_t(i)];
            wts(i * nphi + j) = w[std::size_t(i)] * 2 * kPi / nphi;
        }
}

VmfMixture three_components() {
    VmfMixture v;
    v.weight = {0.5, 0.3, 0.2};
    v.kappa = {8.0, 30.0, 2.0};
    v.mu.resize(3, 3);
    v.mu.row(0) = Eigen::RowVector3d(1, 2, 2).normalized();
    v.mu.row(1) = Eigen::RowVector3d(-1, 0.5, -0.2).normalized();
    v.mu.row(2) = Eigen::RowVector3d(0.1, -1, 0.3).normalized();
    return v;
}

Points draws(const VmfMixture& v, int n, std::uint64_t seed) {
    Rng rng(seed, 3);
    Points x(n, 3);
    for (int i = 0; i < n; ++i) x.row(i) = v.sample(rng);
    return x;
}

// A small Riemannian flow on S^2 over the given base.
ModelSpec small_sphere_spec(const std::string& base) {
    ModelSpec spec;
    spec.kind = "rfm";
    spec.rfm.manifold = "sphere";
    spec.rfm.hidden = 32;
    spec.rfm.blocks = 1;
    spec.rfm.freqs = 2;
    spec.rfm.base = base;
    return spec;
}

double mean_resultant(double kappa) { return 1 / std::tanh(kappa) - 1 / kappa; }  // E[mu . x] on S^2

}  // namespace

TEST_CASE("vmf: the normalizer matches kappa / (4 pi sinh kappa) and its uniform limit", "[flows][vmf]") {
    for (double k : {1e-3, 0.5, 3.0, 40.0})
        CHECK(vmf_log_normalizer(k) == Approx(std::log(k / (4 * kPi * std::sinh(k)))).epsilon(1e-12));
    CHECK(vmf_log_normalizer(1e-9) == Approx(-std::log(4 * kPi)).epsilon(1e-14));
    CHECK(vmf_log_normalizer(5e-5) == Approx(std::log(5e-5 / (4 * kPi * std::sinh(5e-5)))).epsilon(1e-13));
    CHECK(std::isfinite(vmf_log_normalizer(1e5)));
    CHECK(vmf_log_normalizer(1e5) == Approx(std::log(1e5) - std::log(2 * kPi) - 1e5).epsilon(1e-14));
}

TEST_CASE("vmf: the exact concentration inverts the mean resultant length coth k - 1 / k", "[flows][vmf]") {
    for (double k : {1e-4, 0.01, 0.3, 2.0, 15.0, 300.0, 5e4}) {
        const double r = k < 1e-3 ? k / 3 - k * k * k / 45 : 1 / std::tanh(k) - 1 / k;
        CHECK(kappa_for_resultant(r) == Approx(k).epsilon(1e-8));
    }
}

TEST_CASE("vmf: a mixture's density integrates to one over the sphere", "[flows][vmf]") {
    Points q;
    Vector w;
    sphere_quadrature(400, 400, q, w);
    const VmfMixture v = three_components();
    const Vector lp = v.log_density(q);
    CHECK(w.sum() == Approx(4 * kPi).epsilon(1e-13));
    CHECK(w.dot(lp.array().exp().matrix()) == Approx(1.0).margin(1e-9));
    // the per-row overload agrees with the batched one
    for (int i = 0; i < 50; ++i) CHECK(v.log_density_at(q.row(i * 997)) == Approx(lp(i * 997)).epsilon(1e-13));
    // a nearly uniform component is 1 / 4 pi everywhere
    VmfMixture u;
    u.weight = {1.0};
    u.kappa = {1e-7};
    u.mu = Eigen::RowVector3d(0, 0, 1);
    CHECK(u.log_density_at(q.row(5)) == Approx(-std::log(4 * kPi)).margin(2e-7));  // kappa (mu . x) off it at most
}

TEST_CASE("vmf: samples are unit vectors with the analytic mean resultant length", "[flows][vmf]") {
    for (double kappa : {1e-6, 0.7, 5.0, 200.0}) {
        VmfMixture v;
        v.weight = {1.0};
        v.kappa = {kappa};
        v.mu = Eigen::RowVector3d(0.3, -0.4, 0.5).normalized();
        const int n = 100000;
        const Points x = draws(v, n, 7);
        double worst = 0;
        for (int i = 0; i < n; ++i) worst = std::max(worst, std::abs(x.row(i).norm() - 1));
        CHECK(worst < 1e-12);
        const Vector c = x * v.mu.row(0).transpose();
        const double se = std::sqrt((c.array() - c.mean()).square().sum() / (n - 1) / n);
        INFO("kappa " << kappa << ": E[mu.x] " << c.mean() << " +- " << se);
        CHECK(std::abs(c.mean() - (kappa < 1e-3 ? kappa / 3 : mean_resultant(kappa))) < 4 * se + 1e-12);
        // the angle about the mean is uniform: the perpendicular part averages to zero
        const Points perp = x - c * v.mu.row(0);
        CHECK(perp.colwise().mean().norm() < 6 * std::sqrt(1.0 / n));
    }
    // a mixture: E[x] = sum_k w_k A(kappa_k) mu_k
    const VmfMixture v = three_components();
    const int n = 200000;
    const Points x = draws(v, n, 9);
    Eigen::RowVector3d expect = Eigen::RowVector3d::Zero();
    for (int k = 0; k < 3; ++k) expect += v.weight[std::size_t(k)] * mean_resultant(v.kappa[std::size_t(k)]) * v.mu.row(k);
    CHECK((x.colwise().mean() - expect).norm() < 4 * std::sqrt(3.0 / n));
}

TEST_CASE("vmf: EM recovers a known mixture, the same bits for the same seed", "[flows][vmf]") {
    const VmfMixture truth = three_components();
    const Points x = draws(truth, 20000, 21);
    const VmfMixture fit = fit_vmf_mixture(x, 3, 5);
    REQUIRE(fit.size() == 3);
    for (int k = 0; k < 3; ++k) {  // match each true component to the nearest fitted mean
        int j = 0;
        for (int i = 1; i < 3; ++i)
            if (fit.mu.row(i).dot(truth.mu.row(k)) > fit.mu.row(j).dot(truth.mu.row(k))) j = i;
        INFO("component " << k << " -> " << j);
        // five standard errors of a mean direction from n w_k draws: 1 / sqrt(n w kappa A(kappa))
        const double wk = truth.weight[std::size_t(k)], kk = truth.kappa[std::size_t(k)];
        CHECK(std::acos(std::min(1.0, fit.mu.row(j).dot(truth.mu.row(k)))) < 5 / std::sqrt(20000 * wk * kk * mean_resultant(kk)));
        CHECK(fit.weight[std::size_t(j)] == Approx(truth.weight[std::size_t(k)]).margin(0.015));
        CHECK(fit.kappa[std::size_t(j)] == Approx(truth.kappa[std::size_t(k)]).epsilon(0.08));
    }
    double wsum = 0;
    for (double w : fit.weight) wsum += w;
    CHECK(wsum == Approx(1.0).epsilon(1e-9));
    // the maximum-likelihood fit is at least as likely as the truth on its own data
    CHECK(fit.log_density(x).mean() >= truth.log_density(x).mean() - 1e-6);
    const VmfMixture again = fit_vmf_mixture(x, 3, 5);
    CHECK(again.mu == fit.mu);
    CHECK(again.kappa == fit.kappa);
    CHECK(again.weight == fit.weight);
    // K chosen on held-out rows: several components for this data, one for a single vMF
    int k3 = 0, k1 = 0;
    fit_vmf_mixture_auto(x.topRows(4000), 64, 3, &k3);
    VmfMixture one;
    one.weight = {1.0};
    one.kappa = {6.0};
    one.mu = Eigen::RowVector3d(0, 1, 0);
    fit_vmf_mixture_auto(draws(one, 4000, 4), 64, 3, &k1);
    CHECK(k3 >= 2);
    CHECK(k1 <= 2);
    CHECK_THROWS_AS(fit_vmf_mixture(x.leftCols(2), 2, 1), Error);
    // K chosen on validation rows of their own: the candidate fit of best validation likelihood, unchanged
    const Points val = draws(truth, 500, 6);
    int kv = 0;
    const VmfMixture chosen = fit_vmf_mixture_validated(x.topRows(2000), val, 64, 3, &kv);
    double best = -1e300;
    int best_k = 0;
    for (int K = 1; K <= 64; K *= 2) {
        const double v = fit_vmf_mixture(x.topRows(2000), K, 3).log_density(val).mean();
        if (v > best) {
            best = v;
            best_k = K;
        }
    }
    CHECK(kv == best_k);
    CHECK(kv >= 2);
    CHECK(chosen.log_density(val).mean() == best);
    CHECK_THROWS_AS(fit_vmf_mixture_validated(x, val.topRows(9), 8, 3), Error);
}

TEST_CASE("vmf: the JSON round trip keeps the density; bad parameters are refused", "[flows][vmf]") {
    const VmfMixture v = three_components();
    const VmfMixture back = VmfMixture::from_json(nlohmann::json::parse(v.to_json().dump()));
    const Points x = draws(v, 100, 2);
    CHECK(back.log_density(x) == v.log_density(x));
    auto j = v.to_json();
    j["weight"][0] = 0.9;  // no longer sums to one
    CHECK_THROWS_AS(VmfMixture::from_json(j), Error);
    j = v.to_json();
    j["kappa"][1] = -1.0;
    CHECK_THROWS_AS(VmfMixture::from_json(j), Error);
    j = v.to_json();
    j["mu"][2] = {1.0, 1.0, 0.0};  // not a unit vector
    CHECK_THROWS_AS(VmfMixture::from_json(j), Error);
}

TEST_CASE("riemannian fm: squared geodesic distances on S^2 and SO(3)", "[flows][vmf]") {
    Rng rng(5, 5);
    for (std::string name : {"sphere", "so3"}) {
        auto m = name == "sphere" ? make_sphere(2) : make_so3();
        Matrix a(7, m->ambient()), b(5, m->ambient());
        for (int i = 0; i < 7; ++i) a.row(i) = m->uniform(rng);
        for (int i = 0; i < 5; ++i) b.row(i) = m->uniform(rng);
        const Matrix d = squared_geodesic_distances(*m, a, b);
        for (int i = 0; i < 7; ++i)
            for (int j = 0; j < 5; ++j) {
                double th;
                if (name == "sphere") {
                    th = std::acos(std::clamp(a.row(i).dot(b.row(j)), -1.0, 1.0));
                } else {  // the rotation angle of R_a^T R_b: cos th = (tr - 1) / 2
                    Eigen::Matrix3d A, B;
                    for (int k = 0; k < 9; ++k) A(k / 3, k % 3) = a(i, k), B(k / 3, k % 3) = b(j, k);
                    th = std::acos(std::clamp(((A.transpose() * B).trace() - 1) / 2, -1.0, 1.0));
                }
                CHECK(d(i, j) == Approx(th * th).epsilon(1e-9));
            }
    }
}

TEST_CASE("riemannian fm with a vMF base: on the sphere, integrates to one, file round trip, any -j", "[flows][vmf]") {
  const Points data = draws(three_components(), 1024, 31);
  for (std::string coupling : {"none", "exact"}) {
    INFO("coupling " << coupling);
    ModelSpec spec = small_sphere_spec(coupling == "none" ? "vmf:3" : "vmf");
    spec.rfm.coupling = coupling;
    const TrainOptions o{.epochs = 6, .batch = 128, .lr = 3e-3, .seed = 4};
    auto train_with = [&](int threads) {
        set_threads(threads);
        auto m = Model::create(spec, data, 4);
        m.train(data, data.topRows(256), o);
        return m;
    };
    auto model = train_with(1);
    auto model2 = train_with(2);
    set_threads(0);
    REQUIRE(model.config()["architecture"]["base"] == spec.rfm.base);
    REQUIRE(model.config()["architecture"]["coupling"] == coupling);
    if (coupling == "none") REQUIRE(model.config()["architecture"]["base_mixture"]["kappa"].size() == 3);
    InferOptions io;
    io.ode.method = OdeMethod::rk4;
    io.ode.steps = 24;
    Points q;
    Vector w;
    sphere_quadrature(120, 120, q, w);
    const Vector lp = model.log_prob(q, io);
    CHECK(model2.log_prob(q, io) == lp);  // the same bits for any thread count
    const double integral = w.dot(lp.array().exp().matrix());
    INFO("integral of the flow's density " << integral);
    CHECK(integral == Approx(1.0).margin(2e-3));
    // the base carries the structure: the data are far likelier than under the uniform density
    CHECK(model.log_prob(data.topRows(300), io).mean() > 0.5 - std::log(4 * kPi));
    const Points s = model.sample(500, 2, io);
    double worst = 0;
    for (Eigen::Index i = 0; i < s.rows(); ++i) worst = std::max(worst, std::abs(s.row(i).norm() - 1));
    CHECK(worst < 1e-9);
    CHECK(model2.sample(500, 2, io) == s);
    auto f = h5::File::create_in_memory("vmf-rfm.h5");
    model.save(f);
    auto back = Model::load(f);
    CHECK(back.log_prob(q, io) == lp);
    CHECK(back.sample(500, 2, io) == s);
    CHECK(back.config() == model.config());
  }
    // a vMF base is for S^2 only, and its name is checked
    ModelSpec spec;
    spec.kind = "rfm";
    spec.rfm.hidden = 8;
    spec.rfm.base = "vmf:0";
    CHECK_THROWS_AS(Model::create(spec, data, 1), UsageError);
    spec.rfm.base = "gauss";
    CHECK_THROWS_AS(Model::create(spec, data, 1), UsageError);
    spec.rfm.base = "vmf";
    spec.rfm.manifold = "so3";
    Points rot(64, 9);
    Rng rng(1, 1);
    auto so3 = make_so3();
    for (int i = 0; i < 64; ++i) rot.row(i) = so3->uniform(rng);
    CHECK_THROWS_AS(Model::create(spec, rot, 1), UsageError);
    spec.rfm.manifold = "sphere";
    spec.rfm.base = "uniform";
    spec.rfm.coupling = "sinkhorn";
    CHECK_THROWS_AS(Model::create(spec, data, 1), UsageError);
}

TEST_CASE("riemannian fm: likelihood selection keeps the best validated epoch; a vMF base starts as itself", "[flows][vmf]") {
    const Points data = draws(three_components(), 1024, 41), val = draws(three_components(), 200, 42);
    ModelSpec spec = small_sphere_spec("vmf:3");
    // untrained, the field is zero: the flow's density is the base's, exactly
    auto fresh = Model::create(spec, data, 5);
    const VmfMixture base = VmfMixture::from_json(fresh.config()["architecture"]["base_mixture"]);
    CHECK((fresh.log_prob(val) - base.log_density(val)).cwiseAbs().maxCoeff() < 1e-12);

    // one component for three: training has something to add to the base
    spec.rfm.base = "vmf:1";
    TrainOptions o{.epochs = 6, .batch = 128, .lr = 1e-2, .cosine = false, .seed = 5};
    o.select_every = 2;
    auto m = Model::create(spec, data, 5);
    const auto rep = m.train(data, val, o);
    const auto& h = m.history();
    REQUIRE(h["select_epoch"] == nlohmann::json::array({0, 2, 4, 6}));
    REQUIRE(h["val_log_likelihood"].size() == 4);
    const VmfMixture one = VmfMixture::from_json(m.config()["architecture"]["base_mixture"]);
    CHECK(h["val_log_likelihood"][0].get<double>() == Approx(one.log_density(val).mean()).epsilon(1e-12));
    int best = 0;
    for (int k = 1; k < 4; ++k)
        if (h["val_log_likelihood"][k].get<double>() > h["val_log_likelihood"][best].get<double>()) best = k;
    REQUIRE(best > 0);  // else the comparison below is with the untrained model
    REQUIRE(best < 3);  // ... or with the last epoch
    const double kept = m.log_prob(val).mean();
    INFO("best evaluation " << best << ", log-likelihoods " << h["val_log_likelihood"].dump());
    CHECK(kept == h["val_log_likelihood"][best].get<double>());  // the kept weights are that epoch's
    CHECK(rep["best_val_log_likelihood"].get<double>() == kept);
    // ... the weights of a run stopped at that epoch (a constant learning rate: the same steps)
    auto stopped = Model::create(spec, data, 5);
    TrainOptions os = o;
    os.select_every = 0;
    os.epochs = 2 * best;
    stopped.train(data, val, os);
    CHECK(stopped.log_prob(val).mean() == kept);

    // patience counts evaluations: the run stops at the first that is not better
    auto p = Model::create(spec, data, 5);
    TrainOptions op = o;
    op.select_every = 1;
    op.patience = 1;
    p.train(data, val, op);
    const auto& ll = p.history()["val_log_likelihood"];
    for (std::size_t k = 1; k + 1 < ll.size(); ++k) CHECK(ll[k].get<double>() > ll[k - 1].get<double>());
    if (p.epochs_done() < op.epochs) CHECK(ll.back().get<double>() <= ll[ll.size() - 2].get<double>());

    // refused: no validation rows, a coupling flow, a resume under another criterion
    auto m2 = Model::create(spec, data, 5);
    CHECK_THROWS_AS(m2.train(data, Points(0, 3), o), Error);
    ModelSpec nsf;
    nsf.kind = "nsf";
    auto flat = Model::create(nsf, data, 5);
    CHECK_THROWS_AS(flat.train(data, val, o), Error);
    TrainOptions more = o;
    more.epochs = 8;
    more.select_every = 3;
    CHECK_THROWS_AS(m.train(data, val, more), UsageError);
    more.select_every = 0;
    CHECK_THROWS_AS(m.train(data, val, more), UsageError);
}
