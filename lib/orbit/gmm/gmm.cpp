#include "orbit/gmm/gmm.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "orbit/core/error.hpp"

namespace orbit::gmm {

Mixture from_posteriors(const Points& x, const Matrix& gamma, double floor_variance) {
    const Eigen::Index n = x.rows(), d = x.cols(), k = gamma.cols();
    require(gamma.rows() == n, "gmm: expected posteriors with one row per point, found " + std::to_string(gamma.rows()) +
                                   " rows for " + std::to_string(n) + " points");
    require(n > 0 && k > 0, "gmm: empty point set or no components");
    Mixture m;
    Eigen::VectorXd mass = gamma.colwise().sum().transpose();
    m.weights = mass / static_cast<double>(n);
    m.means = Points(k, d);
    m.variances = Vector(k);
    Eigen::RowVectorXd centroid = x.colwise().mean();
    for (Eigen::Index c = 0; c < k; ++c) {
        if (mass[c] <= 1e-300) {
            m.means.row(c) = centroid;
            m.variances[c] = floor_variance;
            continue;
        }
        Eigen::RowVectorXd mu = (gamma.col(c).transpose() * x) / mass[c];
        double s = 0;
        for (Eigen::Index i = 0; i < n; ++i) s += gamma(i, c) * (x.row(i) - mu).squaredNorm();
        m.means.row(c) = mu;
        m.variances[c] = std::max(s / (static_cast<double>(d) * mass[c]), floor_variance);
    }
    return m;
}

Matrix posteriors(const Points& x, const Mixture& m, double* mean_loglik) {
    const Eigen::Index n = x.rows(), k = m.size(), d = x.cols();
    require(m.means.cols() == d, "gmm: the mixture and the points differ in dimension");
    Matrix g(n, k);
    double total = 0;
    Eigen::VectorXd logc(k);
    for (Eigen::Index c = 0; c < k; ++c)
        logc[c] = (m.weights[c] > 0 ? std::log(m.weights[c]) : -std::numeric_limits<double>::infinity()) -
                  0.5 * static_cast<double>(d) * std::log(2 * std::numbers::pi * m.variances[c]);
    for (Eigen::Index i = 0; i < n; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        for (Eigen::Index c = 0; c < k; ++c) {
            double v = logc[c] - (x.row(i) - m.means.row(c)).squaredNorm() / (2 * m.variances[c]);
            g(i, c) = v;
            mx = std::max(mx, v);
        }
        double s = 0;
        for (Eigen::Index c = 0; c < k; ++c) s += std::exp(g(i, c) - mx);
        for (Eigen::Index c = 0; c < k; ++c) g(i, c) = std::exp(g(i, c) - mx) / s;
        total += mx + std::log(s);
    }
    if (mean_loglik) *mean_loglik = total / static_cast<double>(n);
    return g;
}

FitResult fit(const Points& x, const FitOptions& o, Rng& rng) {
    const Eigen::Index n = x.rows();
    require(n > 0, "gmm: cannot fit a mixture to an empty point set");
    require(o.components >= 1, "gmm: at least one component is needed");
    const Eigen::Index k = std::min<Eigen::Index>(o.components, n);
    Eigen::RowVectorXd centroid = x.colwise().mean();
    double var = (x.rowwise() - centroid).squaredNorm() / static_cast<double>(n * x.cols());
    double floor = o.min_variance > 0 ? o.min_variance : std::max(1e-6 * var, 1e-300);
    // Farthest-point seeds; ties broken at random.
    std::vector<Eigen::Index> seeds;
    Eigen::VectorXd dist(n);
    for (Eigen::Index i = 0; i < n; ++i) dist[i] = (x.row(i) - centroid).squaredNorm();
    for (Eigen::Index c = 0; c < k; ++c) {
        double best = -1;
        Eigen::Index arg = 0;
        std::uint64_t ties = 0;
        for (Eigen::Index i = 0; i < n; ++i) {
            if (dist[i] > best) { best = dist[i]; arg = i; ties = 1; }
            else if (dist[i] == best && rng.below(++ties) == 0) arg = i;
        }
        seeds.push_back(arg);
        for (Eigen::Index i = 0; i < n; ++i) {
            double dd = (x.row(i) - x.row(arg)).squaredNorm();
            dist[i] = c == 0 ? dd : std::min(dist[i], dd);
        }
    }
    // Start from hard nearest-seed assignments.
    Matrix gamma = Matrix::Zero(n, k);
    for (Eigen::Index i = 0; i < n; ++i) {
        Eigen::Index arg = 0;
        double best = std::numeric_limits<double>::infinity();
        for (Eigen::Index c = 0; c < k; ++c) {
            double dd = (x.row(i) - x.row(seeds[static_cast<std::size_t>(c)])).squaredNorm();
            if (dd < best) { best = dd; arg = c; }
        }
        gamma(i, arg) = 1;
    }
    FitResult r;
    double prev = -std::numeric_limits<double>::infinity();
    for (int it = 0; it < o.max_iterations; ++it) {
        r.mixture = from_posteriors(x, gamma, floor);
        gamma = posteriors(x, r.mixture, &r.mean_loglik);
        r.iterations = it + 1;
        if (std::abs(r.mean_loglik - prev) <= o.tolerance * std::max(1.0, std::abs(r.mean_loglik))) break;
        prev = r.mean_loglik;
    }
    r.mixture = from_posteriors(x, gamma, floor);
    r.gamma = std::move(gamma);
    return r;
}

}  // namespace orbit::gmm
