// Riemannian flow matching and conditional flows: exp/log round trips on the
// sphere and SO(3), geodesic velocities against finite differences, the
// Riemannian divergence against finite differences, samples that stay on the
// manifold, densities that integrate to one, context encodings, and
// class-conditional sampling end to end.
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>

#include "orbit/flows/manifolds.hpp"
#include "orbit/flows/model.hpp"
#include "orbit/flows/pipeline.hpp"
#include "orbit/flows/riemannian_fm.hpp"
#include "orbit/flows/so3_modes.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/geometry/rotation.hpp"

using namespace orbit;
using namespace orbit::flows;

namespace {

Eigen::Vector3d random_vector(Rng& rng, double scale) { return {scale * rng.normal(), scale * rng.normal(), scale * rng.normal()}; }

// Points concentrated around a few centers of a manifold (for densities with structure).
Points clustered(const Manifold& m, int n, std::uint64_t seed, double spread) {
    Rng rng(seed, 1);
    std::vector<RowVec> centers;
    for (int k = 0; k < 3; ++k) centers.push_back(m.uniform(rng));
    Points x(n, m.ambient());
    for (int i = 0; i < n; ++i) {
        RowVec v(m.tangent_width());
        for (int j = 0; j < v.size(); ++j) v(j) = spread * rng.normal();
        const RowVec& c = centers[std::size_t(i % 3)];
        if (m.name() == "sphere") v -= v.dot(c) * c;  // tangent at c
        x.row(i) = m.exp(c, v);
    }
    return x;
}

ModelSpec rfm_spec(const std::string& manifold, int hidden) {
    ModelSpec s;
    s.kind = "rfm";
    s.rfm.manifold = manifold;
    s.rfm.hidden = hidden;
    s.rfm.blocks = 1;
    s.rfm.freqs = 2;
    return s;
}

}  // namespace

TEST_CASE("manifolds: SO(3) exp and log invert each other, also near 0 and pi; quaternions are x y z w", "[flows][manifold]") {
    Rng rng(3, 0);
    for (int k = 0; k < 200; ++k) {
        Eigen::Vector3d w = random_vector(rng, 1.0);
        const double th = std::fmod(w.norm(), std::numbers::pi - 1e-3);
        w = w.normalized() * th;
        CHECK((so3_log(so3_exp(w)) - w).norm() < 1e-12);
        const Eigen::Matrix3d R = so3_exp(random_vector(rng, 2.0));
        CHECK((so3_exp(so3_log(R)) - R).cwiseAbs().maxCoeff() < 1e-12);
        CHECK((quaternion_to_matrix(matrix_to_quaternion(R)) - R).cwiseAbs().maxCoeff() < 1e-12);
    }
    for (double th : {1e-10, 1e-7, 1e-4, std::numbers::pi - 1e-6, std::numbers::pi - 1e-9}) {
        const Eigen::Vector3d w = th * Eigen::Vector3d(1, -2, 0.5).normalized();
        CHECK((so3_log(so3_exp(w)) - w).norm() < 1e-9 * std::max(1.0, th));
    }
    // Rodrigues against an independent construction
    const Eigen::Vector3d axis = Eigen::Vector3d(0.3, -0.2, 0.9).normalized();
    CHECK((so3_exp(0.7 * axis) - Eigen::AngleAxisd(0.7, axis).toRotationMatrix()).cwiseAbs().maxCoeff() < 1e-14);
    // a quarter turn about z is (0, 0, sin 45, cos 45), scalar last
    const Eigen::Vector4d q = matrix_to_quaternion(so3_exp(Eigen::Vector3d(0, 0, std::numbers::pi / 2)));
    CHECK((q - Eigen::Vector4d(0, 0, std::sqrt(0.5), std::sqrt(0.5))).norm() < 1e-14);
}

TEST_CASE("manifolds: exp/log round trips and geodesic velocities on S^2, S^4 and SO(3)", "[flows][manifold]") {
    for (int which = 0; which < 3; ++which) {
        const auto m = which == 0 ? make_sphere(2) : which == 1 ? make_sphere(4) : make_so3();
        Rng rng(5, std::uint64_t(m->ambient()));
        for (int k = 0; k < 100; ++k) {
            const RowVec x = m->uniform(rng), y = m->uniform(rng);
            CHECK(m->defect(x) < 1e-12);
            const RowVec v = m->log(x, y);
            CHECK((m->exp(x, v) - y).cwiseAbs().maxCoeff() < 1e-10);
            CHECK(v.norm() <= std::numbers::pi + 1e-12);
            // velocity of the geodesic against a central difference of its positions
            RowVec xt, ut, xa, xb, unused;
            const double t = rng.uniform(0.1, 0.9), h = 1e-6;
            m->geodesic(x, y, t, xt, ut);
            m->geodesic(x, y, t + h, xa, unused);
            m->geodesic(x, y, t - h, xb, unused);
            CHECK(((xa - xb) / (2 * h) - m->to_ambient(xt, ut)).cwiseAbs().maxCoeff() < 1e-6);
            m->geodesic(x, y, 1.0, xa, unused);
            CHECK((xa - y).cwiseAbs().maxCoeff() < 1e-10);
        }
    }
    CHECK(make_sphere(2)->log_volume() == Approx(std::log(4 * std::numbers::pi)).epsilon(1e-14));
}

TEST_CASE("riemannian fm: the divergence matches finite differences on S^2 and SO(3)", "[flows][manifold]") {
    for (std::string name : {"sphere", "so3"}) {
        RfmConfig c;
        c.manifold = name;
        c.dim = name == "sphere" ? 3 : 9;
        c.hidden = 16;
        c.blocks = 1;
        c.freqs = 2;
        c.context = 2;
        Rng rng(7, 0);
        RiemannianField<double> field(c, rng);
        const Manifold& m = field.manifold();
        const int B = 6;
        Matrix x(B, c.dim);
        for (int i = 0; i < B; ++i) x.row(i) = m.uniform(rng);
        Mat<double> ctx(B, 2);
        for (Eigen::Index i = 0; i < ctx.size(); ++i) ctx.data()[i] = rng.normal();
        Vector div;
        const double t = 0.37;
        const Matrix v = field.velocity_div(x, t, ctx, div);
        CHECK((v - field.velocity(x, t, ctx)).cwiseAbs().maxCoeff() < 1e-12);
        const double h = 1e-5;
        for (int i = 0; i < B; ++i) {
            const Matrix xi = x.row(i);
            const Mat<double> ci = ctx.row(i);
            double fd = 0;
            if (name == "sphere") {
                // v extended constant along rays: its ambient divergence is the sphere's
                CHECK(std::abs(v.row(i).dot(x.row(i))) < 1e-12);  // tangent
                for (int j = 0; j < 3; ++j) {
                    Matrix a = xi, b = xi;
                    a(0, j) += h;
                    b(0, j) -= h;
                    a /= a.norm();
                    b /= b.norm();
                    fd += (field.velocity(a, t, ci)(0, j) - field.velocity(b, t, ci)(0, j)) / (2 * h);
                }
            } else {
                // d/ds of the body velocity w_k along R Exp(s e_k): the divergence in exponential coordinates
                auto body = [&](const Matrix& r) {
                    const Eigen::Matrix3d R = Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(r.data());
                    const Matrix vv = field.velocity(r, t, ci);
                    const Eigen::Matrix3d V = Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(vv.data());
                    return so3_vee(R.transpose() * V);
                };
                for (int k = 0; k < 3; ++k) {
                    const Matrix a = m.exp(xi.row(0), h * Eigen::RowVector3d::Unit(k)),
                                 b = m.exp(xi.row(0), -h * Eigen::RowVector3d::Unit(k));
                    fd += (body(a)(k) - body(b)(k)) / (2 * h);
                }
            }
            INFO(name << " row " << i << " div " << div(i) << " fd " << fd);
            CHECK(std::abs(div(i) - fd) < 1e-6 * std::max(1.0, std::abs(fd)));
        }
    }
}

TEST_CASE("riemannian fm: samples stay on the manifold and densities integrate to one", "[flows][manifold]") {
    for (std::string name : {"sphere", "so3"}) {
        auto m = name == "sphere" ? make_sphere(2) : make_so3();
        const Points data = clustered(*m, 768, 11, 0.3);
        auto model = Model::create(rfm_spec(name, 32), data, 4);
        const TrainOptions o{.epochs = 6, .batch = 128, .lr = 3e-3};
        model.train(data, Points(), o);
        InferOptions io;
        io.ode.method = OdeMethod::rk4;
        io.ode.steps = 24;
        const Points s = model.sample(300, 2, io);
        double worst = 0;
        for (Eigen::Index i = 0; i < s.rows(); ++i) worst = std::max(worst, m->defect(s.row(i)));
        CHECK(worst < 1e-9);
        // uniform Monte Carlo: |M| E_uniform[p] = 1 (|M| = 4 pi, or 1 for the Haar probability measure)
        Rng rng(13, 0);
        const int n = 6000;
        Points u(n, m->ambient());
        for (int i = 0; i < n; ++i) u.row(i) = m->uniform(rng);
        const Vector p = model.log_prob(u, io).array().exp().matrix();
        const double mean = p.mean() * std::exp(m->log_volume());
        const double se = std::sqrt((p.array() - p.mean()).square().sum() / (n - 1) / n) * std::exp(m->log_volume());
        INFO(name << ": integral " << mean << " +- " << se << ", max density " << p.maxCoeff());
        CHECK(std::abs(mean - 1) < 4 * se + 2e-3);
        CHECK(p.maxCoeff() * std::exp(m->log_volume()) > 2);  // the model learned something non-uniform
        // the trained density prefers the data to uniform points
        CHECK(model.log_prob(data.topRows(300), io).mean() > 0.3 - m->log_volume());
        // round trip through the file
        auto f = h5::File::create_in_memory("rfm.h5");
        model.save(f);
        auto back = Model::load(f);
        CHECK(back.manifold() == name);
        CHECK(back.log_prob(u.topRows(20), io) == model.log_prob(u.topRows(20), io));
    }
}

TEST_CASE("context: integer labels are one-hot, real values standardized; unknown labels are errors", "[flows][context]") {
    Points labels(6, 1);
    labels << 3, 1, 3, 7, 1, 1;
    const auto e = ContextEncoding::fit(labels);
    REQUIRE(e.kind == ContextEncoding::Kind::onehot);
    CHECK(e.classes == std::vector<std::int64_t>{1, 3, 7});
    const auto enc = e.encode(labels);
    CHECK(enc.rows() == 6);
    CHECK(enc(0, 1) == 1.0f);
    CHECK(enc(3, 2) == 1.0f);
    CHECK(enc.sum() == 6.0f);
    Points other(1, 1);
    other << 4;
    CHECK_THROWS_WITH(e.encode(other), Catch::Contains("label 4"));
    Points real(4, 2);
    real << 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 5;
    const auto r = ContextEncoding::fit(real);
    REQUIRE(r.kind == ContextEncoding::Kind::standardized);
    const auto re = r.encode(real);
    CHECK(std::abs(re.col(0).mean()) < 1e-6f);
    CHECK(ContextEncoding::from_json(r.to_json()).encode(real) == re);
    CHECK(repeat_context("3", 4).col(0).sum() == 12);
    CHECK_THROWS_AS(repeat_context("3,x", 2), UsageError);
}

TEST_CASE("conditional flows: class-conditional sampling and densities, NSF, Real NVP and CFM", "[flows][context]") {
    // two classes: Gaussians at (-2, -2) and (2, 2)
    const int n = 2048;
    Rng rng(21, 0);
    Dataset d;
    d.x.resize(n, 2);
    d.context.resize(n, 1);
    for (int i = 0; i < n; ++i) {
        const int c = i % 2;
        d.context(i, 0) = c;
        for (int j = 0; j < 2; ++j) d.x(i, j) = (c ? 2.0 : -2.0) + 0.5 * rng.normal();
    }
    for (std::string kind : {"nsf", "realnvp", "cfm"}) {
        ModelSpec s;
        s.kind = kind;
        s.coupling.layers = 4;
        s.coupling.hidden = s.cfm.hidden = 32;
        s.coupling.blocks = s.cfm.blocks = 1;
        auto m = Model::create(s, d, 6);
        REQUIRE(m.conditional());
        const TrainOptions o{.epochs = kind == "cfm" ? 12 : 6, .batch = 128, .lr = 3e-3};
        m.train(d, Dataset{}, o);
        InferOptions io;
        io.ode.method = OdeMethod::rk4;
        io.ode.steps = 20;
        for (int c : {0, 1}) {
            const Points sc = m.sample(400, 3, io, repeat_context(std::to_string(c), 400));
            const double mean = sc.mean(), want = c ? 2.0 : -2.0;
            INFO(kind << " class " << c << " sample mean " << mean);
            CHECK(std::abs(mean - want) < 0.25);
        }
        // a point of class 1 is far likelier under its own label
        Points x1(1, 2);
        x1 << 2, 2;
        const double l1 = m.log_prob(x1, io, repeat_context("1", 1))(0), l0 = m.log_prob(x1, io, repeat_context("0", 1))(0);
        INFO(kind << " log p(x|1) " << l1 << " log p(x|0) " << l0);
        CHECK(l1 > l0 + 5);
        CHECK_THROWS_WITH(m.log_prob(x1, io), Catch::Contains("needs a context"));
        auto f = h5::File::create_in_memory("c.h5");
        m.save(f);
        auto back = Model::load(f);
        CHECK(back.context().classes == std::vector<std::int64_t>{0, 1});
        CHECK(back.log_prob(x1, io, repeat_context("1", 1))(0) == l1);
    }
}

TEST_CASE("so3 modes: mean shift finds two weighted poses, stationary, the same for any thread count", "[flows][modes]") {
    Rng rng(4);
    const Eigen::Matrix3d A = so3_exp(Eigen::Vector3d(0.3, -0.5, 0.8));
    const Eigen::Matrix3d B = A * so3_exp(Eigen::Vector3d(0, 0, std::numbers::pi));  // a half turn away
    std::vector<Eigen::Matrix3d> R;
    std::vector<double> w;
    for (int i = 0; i < 60; ++i) {  // 40 around A (weight 1), 20 around B (weight 2): equal masses
        R.push_back((i < 40 ? A : B) * so3_exp(random_vector(rng, 0.03)));
        w.push_back(i < 40 ? 1.0 : 2.0);
    }
    for (int i = 0; i < 10; ++i) {  // clutter of low weight
        R.push_back(so3_exp(random_vector(rng, 2.0)));
        w.push_back(0.05);
    }
    const Vector wv = Eigen::Map<const Vector>(w.data(), Eigen::Index(w.size()));
    So3ModeOptions o;
    o.bandwidth_deg = 8;
    set_threads(1);
    const auto one = so3_mean_shift_modes(R, wv, o);
    set_threads(2);
    const auto two = so3_mean_shift_modes(R, wv, o);
    set_threads(0);
    REQUIRE(one.size() >= 2);
    REQUIRE(one.size() == two.size());
    for (std::size_t i = 0; i < one.size(); ++i) CHECK(one[i].rotation == two[i].rotation);
    const double total = wv.sum();
    for (const Eigen::Matrix3d& pose : {A, B}) {
        const auto it = std::min_element(one.begin(), one.end(), [&](const So3Mode& a, const So3Mode& b) {
            return geometry::rotation_error_deg(a.rotation, pose) < geometry::rotation_error_deg(b.rotation, pose);
        });
        CHECK(geometry::rotation_error_deg(it->rotation, pose) < 1.0);
        CHECK(std::abs(it->mass - 40.0 / total) < 0.02);
        CHECK(it - one.begin() < 2);  // the two poses carry the most mass
        // stationary: M^T S(M) is symmetric, the Riemannian gradient of the kernel density is zero
        const double kappa = 1 / std::pow(8 * std::numbers::pi / 180, 2);
        Eigen::Matrix3d S = Eigen::Matrix3d::Zero();
        for (std::size_t i = 0; i < R.size(); ++i)
            S += w[i] * std::exp(0.5 * kappa * ((it->rotation.transpose() * R[i]).trace() - 3)) * R[i];
        const Eigen::Matrix3d G = it->rotation.transpose() * S;
        CHECK((G - G.transpose()).cwiseAbs().maxCoeff() < 1e-4 * G.cwiseAbs().maxCoeff());
    }
    double mass = 0;
    for (const auto& m : one) mass += m.mass;
    CHECK(std::abs(mass - 1.0) < 1e-12);
    // a lone rotation is its own mode of density 1
    const auto lone = so3_mean_shift_modes({A}, Vector(), o);
    REQUIRE(lone.size() == 1);
    CHECK(geometry::rotation_error_deg(lone[0].rotation, A) < 1e-6);
    CHECK(std::abs(lone[0].density - 1.0) < 1e-12);
    Vector bad = wv;
    bad(3) = -1;
    CHECK_THROWS_WITH(so3_mean_shift_modes(R, bad, o), Catch::Contains("weight 3"));
    CHECK_THROWS_WITH(so3_mean_shift_modes(R, Vector::Zero(wv.size()), o), Catch::Contains("all weights are 0"));
}

TEST_CASE("weights: rows are redrawn in proportion to their weights, with their context", "[flows][modes]") {
    Dataset d;
    d.x.resize(3, 1);
    d.x << 0, 1, 2;
    d.context = d.x * 10;
    Points w(3, 1);
    w << 1, 0, 3;
    const Dataset r = resample_by_weight(d, w, 40000, 5, "w.h5");
    REQUIRE(r.x.rows() == 40000);
    CHECK((r.context - 10 * r.x).cwiseAbs().maxCoeff() == 0);
    CHECK((r.x.array() == 1).count() == 0);
    CHECK(std::abs(double((r.x.array() == 2).count()) / 40000 - 0.75) < 0.01);
    CHECK(resample_by_weight(d, w, 100, 5, "w.h5").x == resample_by_weight(d, w, 100, 5, "w.h5").x);
    w(1) = std::nan("");
    CHECK_THROWS_WITH(resample_by_weight(d, w, 0, 5, "w.h5"), Catch::Contains("w.h5: weight 1"));
    CHECK_THROWS_WITH(resample_by_weight(d, Points::Ones(2, 1), 0, 5, "w.h5"), Catch::Contains("one weight per row"));
}
