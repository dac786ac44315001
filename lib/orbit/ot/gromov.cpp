#include "orbit/ot/gromov.hpp"

#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"

namespace orbit::ot {
namespace {

void check_space(const Matrix& c, const Vector& w, const char* which) {
    require(c.rows() == c.cols() && c.rows() > 0, std::string("gromov-wasserstein: expected a square, non-empty ") +
                                                      which + " distance matrix, found " + std::to_string(c.rows()) +
                                                      "x" + std::to_string(c.cols()));
    require(c.allFinite(), std::string("gromov-wasserstein: the ") + which + " distance matrix is not finite");
    require(w.size() == c.rows(), std::string("gromov-wasserstein: expected ") + std::to_string(c.rows()) + " " +
                                      which + " weights, found " + std::to_string(w.size()));
}

void check_options(const GromovOptions& o) {
    require(std::isfinite(o.eps) && o.eps > 0, "gromov-wasserstein: eps must be a positive number");
    require(o.alpha >= 0 && o.alpha <= 1, "gromov-wasserstein: alpha must lie in [0, 1]");
    require(o.max_iter >= 1 && o.inner_max_iter >= 1, "gromov-wasserstein: iteration limits must be at least 1");
    require(o.tol > 0 && o.inner_tol > 0, "gromov-wasserstein: tolerances must be positive");
    require(o.eps_start == 0 || (std::isfinite(o.eps_start) && o.eps_start > 0 && o.scaling > 0 && o.scaling < 1),
            "gromov-wasserstein: eps_start must be positive with a scaling ratio in (0, 1)");
}

// Mirror descent over Sinkhorn solves; feature_cost may be empty (plain GW).
GromovResult solve(const Matrix* feature_cost, const Matrix& c1, const Matrix& c2, const Vector& p, const Vector& q,
                   const GromovOptions& o) {
    check_options(o);
    check_space(c1, p, "first");
    check_space(c2, q, "second");
    if (feature_cost)
        require(feature_cost->rows() == c1.rows() && feature_cost->cols() == c2.rows() && feature_cost->allFinite(),
                "fused gromov-wasserstein: expected a finite " + std::to_string(c1.rows()) + "x" +
                    std::to_string(c2.rows()) + " feature cost");
    const double alpha = feature_cost ? o.alpha : 1.0;
    GromovResult r;
    r.plan = p * q.transpose();
    SinkhornOptions so;
    so.tol = o.inner_tol;
    so.max_iter = o.inner_max_iter;
    so.plan = PlanKind::Dense;
    so.memory_budget = std::size_t(1) << 40;  // the plan is dense by nature here
    double eps = o.eps_start > 0 ? std::max(o.eps_start, o.eps) : o.eps;
    Matrix grad;
    for (int it = 1; it <= o.max_iter; ++it) {
        grad = (2 * alpha) * gromov_tensor(c1, c2, p, q, r.plan);
        if (feature_cost) grad += (1 - alpha) * *feature_cost;
        so.eps = eps;
        // Inexact inner solves while the plan still moves a lot: the marginal
        // tolerance follows the last outer change down to inner_tol.
        so.tol = it == 1 ? std::max(o.inner_tol, 1e-4) : std::max(o.inner_tol, std::min(1e-4, r.change));
        SinkhornResult s = sinkhorn(grad, p, q, so);
        require(s.finite, "gromov-wasserstein: the inner Sinkhorn solve failed numerically; use a larger eps");
        r.inner_iterations += s.iterations;
        so.f_init = s.f, so.g_init = s.g;
        r.change = (*s.plan - r.plan).norm();
        r.plan = std::move(*s.plan);
        r.iterations = it;
        const bool annealing = eps > o.eps;
        eps = std::max(o.eps, eps * o.scaling);
        if (!annealing && r.change < o.tol) {
            r.converged = true;
            break;
        }
    }
    r.value = alpha * gromov_value(c1, c2, p, q, r.plan);
    if (feature_cost) r.value += (1 - alpha) * feature_cost->cwiseProduct(r.plan).sum();
    return r;
}

}  // namespace

Matrix gromov_tensor(const Matrix& c1, const Matrix& c2, const Vector& p, const Vector& q, const Matrix& plan) {
    const Vector r1 = c1.array().square().matrix() * p, r2 = c2.array().square().matrix() * q;
    Matrix t = -2.0 * (c1 * plan * c2.transpose());
    t.colwise() += r1;
    t.rowwise() += r2.transpose();
    return t;
}

double gromov_value(const Matrix& c1, const Matrix& c2, const Vector& p, const Vector& q, const Matrix& plan) {
    return gromov_tensor(c1, c2, p, q, plan).cwiseProduct(plan).sum();
}

GromovResult entropic_gromov_wasserstein(const Matrix& c1, const Matrix& c2, const Vector& p, const Vector& q,
                                         const GromovOptions& options) {
    return solve(nullptr, c1, c2, p, q, options);
}

GromovResult entropic_fused_gromov_wasserstein(const Matrix& feature_cost, const Matrix& c1, const Matrix& c2,
                                               const Vector& p, const Vector& q, const GromovOptions& options) {
    return solve(&feature_cost, c1, c2, p, q, options);
}

Matrix distance_matrix(const Points& x) {
    const Eigen::Index n = x.rows();
    Matrix d(n, n);
    for (Eigen::Index j = 0; j < n; ++j)
        for (Eigen::Index i = 0; i < n; ++i) d(i, j) = (x.row(i) - x.row(j)).norm();
    return d;
}

}  // namespace orbit::ot
