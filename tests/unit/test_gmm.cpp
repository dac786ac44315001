// Gaussian mixtures: parameters from posteriors, posteriors, EM.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>

#include "orbit/core/error.hpp"
#include "orbit/gmm/gmm.hpp"

using namespace orbit;

TEST_CASE("mixture parameters from hard assignments are cluster statistics", "[gmm]") {
    Points x(4, 3);
    x << 0, 0, 0, 2, 0, 0, 10, 10, 10, 10, 10, 13;
    Matrix g = Matrix::Zero(4, 2);
    g(0, 0) = g(1, 0) = g(2, 1) = g(3, 1) = 1;
    gmm::Mixture m = gmm::from_posteriors(x, g);
    CHECK(m.weights[0] == Approx(0.5));
    CHECK((m.means.row(0) - Eigen::RowVector3d(1, 0, 0)).norm() < 1e-12);
    CHECK((m.means.row(1) - Eigen::RowVector3d(10, 10, 11.5)).norm() < 1e-12);
    CHECK(m.variances[0] == Approx(1.0 / 3.0));      // (1 + 1) / (3 * 2)
    CHECK(m.variances[1] == Approx(2.25 * 2 / 6.0));
    CHECK_THROWS_AS(gmm::from_posteriors(x, Matrix::Zero(3, 2)), Error);
}

TEST_CASE("posteriors follow Bayes' rule and survive far points", "[gmm]") {
    gmm::Mixture m;
    m.means = Points(2, 1);
    m.means << 0, 3;
    m.weights = Vector(2);
    m.weights << 0.3, 0.7;
    m.variances = Vector(2);
    m.variances << 1.0, 0.5;
    Points x(3, 1);
    x << 1.0, 2.5, 1e4;
    Matrix g = gmm::posteriors(x, m);
    auto pdf = [](double v, double mu, double s2) { return std::exp(-(v - mu) * (v - mu) / (2 * s2)) / std::sqrt(2 * std::numbers::pi * s2); };
    for (int i = 0; i < 2; ++i) {
        double a = 0.3 * pdf(x(i, 0), 0, 1.0), b = 0.7 * pdf(x(i, 0), 3, 0.5);
        CHECK(g(i, 0) == Approx(a / (a + b)).epsilon(1e-12));
    }
    CHECK(std::isfinite(g(2, 0)));
    CHECK(g.row(2).sum() == Approx(1.0));
}

TEST_CASE("EM recovers well separated clusters", "[gmm]") {
    Rng rng(4);
    Points x(600, 3);
    const Eigen::RowVector3d c[3] = {{0, 0, 0}, {5, 0, 0}, {0, 5, 1}};
    for (Eigen::Index i = 0; i < 600; ++i)
        x.row(i) = c[i % 3] + 0.3 * Eigen::RowVector3d(rng.normal(), rng.normal(), rng.normal());
    gmm::FitOptions o;
    o.components = 3;
    gmm::FitResult r = gmm::fit(x, o, rng);
    for (const auto& cc : c) {
        double best = 1e9;
        for (int k = 0; k < 3; ++k) best = std::min(best, (r.mixture.means.row(k) - cc).norm());
        CHECK(best < 0.1);
    }
    for (int k = 0; k < 3; ++k) {
        CHECK(r.mixture.weights[k] == Approx(1.0 / 3).margin(0.02));
        CHECK(r.mixture.variances[k] == Approx(0.09).margin(0.015));
    }
    CHECK((r.gamma.rowwise().sum().array() - 1).abs().maxCoeff() < 1e-12);
}
