#include "orbit/ot/partial.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/ot/exact.hpp"
#include "orbit/ot/sinkhorn_distributed.hpp"
#include "orbit/ot/solver.hpp"

namespace orbit::ot {
namespace {

using detail::CostKernel;
using Index = Eigen::Index;

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

double norm_of(const Vector& v, Norm n) {
    return n == Norm::L1 ? v.lpNorm<1>() : n == Norm::L2 ? v.norm() : v.lpNorm<Eigen::Infinity>();
}

// KKT residual of P1 <= a with multiplier f <= 0: equality where f < 0.
Vector residual(const Vector& sums, const Vector& cap, const Vector& f) {
    Vector r(sums.size());
    for (Index i = 0; i < sums.size(); ++i)
        r[i] = f[i] < 0 ? sums[i] - cap[i] : std::max(0.0, sums[i] - cap[i]);
    return r;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

// Zero-weight points take no mass: their potentials are -inf (P_ij = 0 exactly).
bool finite_where(const Vector& f, const Vector& w) {
    for (Index i = 0; i < f.size(); ++i)
        if (w[i] > 0 && !std::isfinite(f[i])) return false;
    return true;
}

// sum_i v_i f_i over the points of positive weight w_i (0 * -inf counts as 0).
double dot_where(const Vector& w, const Vector& v, const Vector& f) {
    if (w.minCoeff() > 0) return v.dot(f);
    double s = 0;
    for (Index i = 0; i < f.size(); ++i)
        if (w[i] > 0) s += v[i] * f[i];
    return s;
}

SinkhornResult solve_partial(const CostKernel& K, const Vector& a, const Vector& b, double mass,
                             const SinkhornOptions& opt) {
    detail::validate(opt);
    const Index N = K.n(), M = K.m();
    require(N > 0 && M > 0, "partial: expected non-empty inputs");
    require(a.size() == N && b.size() == M, "partial: the weights do not match the inputs");
    require(a.allFinite() && b.allFinite() && a.minCoeff() >= 0 && b.minCoeff() >= 0,
            "partial: expected finite non-negative weights");
    require(a.sum() > 0 && b.sum() > 0, "partial: the weights must have positive sums");
    const double cap = std::min(a.sum(), b.sum());
    require(std::isfinite(mass) && mass > 0 && mass <= cap * (1 + 1e-12),
            "partial: the mass must lie in (0, min(|a|,|b|)] = (0, " + num(cap) + "], found " + num(mass));
    // Epsilon scaling (opt.eps_scaling): a few iterations at each larger eps
    // warm-start the potentials, which are in cost units and carry over.
    const std::vector<double> schedule = detail::eps_schedule(opt, K.max_cost());
    double eps = schedule.front(), inv = 1.0 / eps;
    Vector la(N), lb(M);
    for (Index i = 0; i < N; ++i) la[i] = a[i] > 0 ? std::log(a[i]) : -std::numeric_limits<double>::infinity();
    for (Index j = 0; j < M; ++j) lb[j] = b[j] > 0 ? std::log(b[j]) : -std::numeric_limits<double>::infinity();
    SinkhornResult r;
    r.storage = K.name();
    Vector f = Vector::Zero(N), g = Vector::Zero(M), sm, ratio, h, rows(N), cols(M);
    double k = 0;
    Vector sk = Vector::Zero(N), sk_new;  // previous row log-sums: the fast pass's shift
    // k from f, g: total mass = mass. Row log-sums first, then a stable sum over rows.
    auto update_k = [&]() {
        detail::softmin(K, 0, g, sk, eps, sk_new, ratio);  // sk_i = -eps LSE_j((g_j - C_ij)/eps)
        sk = sk_new;
        double mx = -std::numeric_limits<double>::infinity();
        for (Index i = 0; i < N; ++i) mx = std::max(mx, (f[i] - sk[i]) * inv);
        double s = 0;
        for (Index i = 0; i < N; ++i) s += std::exp((f[i] - sk[i]) * inv - mx);
        k = eps * std::log(mass) - eps * (mx + std::log(s));
    };
    auto totals = [&]() {
        const Vector F = f.array() + k;
        K.sums(0, g.data(), F.data(), inv, rows.data(), nullptr);
        K.sums(1, F.data(), g.data(), inv, cols.data(), nullptr);
    };
    // One sweep: f, g (each capped at 0: the inequality constraints), then k.
    // On a non-finite result the previous iterate is restored.
    auto sweep = [&]() {
        const Vector f_old = f, g_old = g;
        const double k_old = k;
        h = g.array() + k;
        detail::softmin(K, 0, h, f, eps, sm, ratio);
        for (Index i = 0; i < N; ++i) f[i] = a[i] > 0 ? std::min(0.0, eps * la[i] + sm[i]) : -kInf;
        h = f.array() + k;
        detail::softmin(K, 1, h, g, eps, sm, ratio);
        for (Index j = 0; j < M; ++j) g[j] = b[j] > 0 ? std::min(0.0, eps * lb[j] + sm[j]) : -kInf;
        update_k();
        ++r.iterations;
        if (finite_where(f, a) && finite_where(g, b) && std::isfinite(k)) return true;
        f = f_old, g = g_old, k = k_old;
        r.finite = false;
        return false;
    };
    update_k();
    for (std::size_t level = 0; level + 1 < schedule.size() && r.finite; ++level) {
        eps = schedule[level], inv = 1.0 / eps;
        for (int it = 0; it < opt.iters_per_level; ++it)
            if (!sweep()) break;
    }
    eps = schedule.back(), inv = 1.0 / eps;
    if (schedule.size() > 1) update_k();
    double err = std::numeric_limits<double>::infinity();
    for (int it = 1; it <= opt.max_iter && r.finite && sweep(); ++it) {
        if (it % opt.check_every == 0 || it == opt.max_iter) {
            totals();
            err = std::max(norm_of(residual(rows, a, f), opt.norm), norm_of(residual(cols, b, g), opt.norm));
            if (err <= opt.tol) {
                r.converged = true;
                break;
            }
        }
    }
    totals();
    Vector F = f.array() + k, wrows(N);
    K.sums(0, g.data(), F.data(), inv, rows.data(), wrows.data());
    detail::clear_unweighted(a, b, rows, wrows, cols);
    r.f = F;
    r.g = g;
    r.eps = eps;
    r.row_marginal = rows;
    r.col_marginal = cols;
    r.mass = deterministic_sum(N, [&](std::int64_t i) { return rows[i]; });
    r.cost = deterministic_sum(N, [&](std::int64_t i) { return wrows[i]; });
    // sum P (log P - 1) = <P, (f + g + k - C)/eps> - mass
    const bool all_positive = a.minCoeff() > 0 && b.minCoeff() > 0;
    r.primal = all_positive ? rows.dot(F) + cols.dot(g) - eps * r.mass
                            : dot_where(a, rows, F) + dot_where(b, cols, g) - eps * r.mass;
    r.dual = dot_where(a, a, f) + dot_where(b, b, g) + k * mass - eps * r.mass;
    r.marginal_error = std::max(norm_of(residual(rows, a, f), opt.norm), norm_of(residual(cols, b, g), opt.norm));
    r.finite = r.finite && std::isfinite(r.cost) && std::isfinite(r.primal);
    // Plans: extract_plan multiplies by a_i b_j; divide it out through the potentials.
    if (opt.plan != PlanKind::None) {
        SinkhornResult tmp;
        tmp.f = F - eps * la;
        tmp.g = g - eps * lb;
        for (Index i = 0; i < N; ++i)
            if (!(a[i] > 0)) tmp.f[i] = 0;
        for (Index j = 0; j < M; ++j)
            if (!(b[j] > 0)) tmp.g[j] = 0;
        detail::extract_plan(K, a.cwiseMax(0.0), b.cwiseMax(0.0), opt, eps, tmp);
        r.plan = std::move(tmp.plan);
        r.sparse_plan = std::move(tmp.sparse_plan);
    }
    return r;
}

}  // namespace

SinkhornResult partial(const Matrix& cost, const Vector& a, const Vector& b, double mass, const SinkhornOptions& opt) {
    require(cost.rows() == a.size() && cost.cols() == b.size() && cost.size() > 0,
            "partial: expected a cost matrix of " + std::to_string(a.size()) + "x" + std::to_string(b.size()));
    detail::check_forbidden_pairs(cost);
    auto K = detail::dense_kernel(cost);
    return solve_partial(*K, a, b, mass, opt);
}

SinkhornResult partial(const Points& x, const Vector& a, const Points& y, const Vector& b, const CostSpec& c,
                       double mass, const SinkhornOptions& opt) {
    require(x.rows() > 0 && y.rows() > 0 && x.cols() == y.cols(), "partial: expected non-empty point sets of one dimension");
    require(x.allFinite() && y.allFinite(), "partial: the points contain NaN or infinite values");
    const auto K = detail::distributed_point_kernel(x, y, c, opt.distributed, [&](const Points& xs, const Points& ys) {
        return detail::point_kernel(xs, ys, c.p, c.half);
    });
    return solve_partial(*K, a, b, mass, opt);
}

SinkhornResult exact_partial(const Matrix& cost, const Vector& a, const Vector& b, double mass,
                             const SinkhornOptions& opt) {
    const Index N = a.size(), M = b.size();
    require(cost.rows() == N && cost.cols() == M && cost.size() > 0,
            "partial: expected a cost matrix of " + std::to_string(N) + "x" + std::to_string(M));
    require(mass > 0 && mass <= std::min(a.sum(), b.sum()) * (1 + 1e-12),
            "partial: the mass must lie in (0, min(|a|, |b|)], found " + num(mass));
    detail::check_forbidden_pairs(cost);
    // One dummy point on each side absorbs the mass that stays: a's dummy
    // sends |b| - m, b's receives |a| - m, and dummy to dummy costs more than
    // any real pair, so exactly m moves between real points (POT's construction).
    double top = 0;
    for (Index t = 0; t < cost.size(); ++t)
        if (std::isfinite(cost.data()[t])) top = std::max(top, cost.data()[t]);
    Matrix C = Matrix::Zero(N + 1, M + 1);
    C.topLeftCorner(N, M) = cost;
    C(N, M) = 2 * top;
    Vector ae(N + 1), be(M + 1);
    ae << a, std::max(0.0, b.sum() - mass);
    be << b, std::max(0.0, a.sum() - mass);
    Vector f, g;
    const Matrix P = emd(ae, be, C, &f, &g);
    const double dual = f.dot(ae) + g.dot(be);
    return detail::exact_result(P.topLeftCorner(N, M), cost, f.head(N), g.head(M), dual, opt);
}

}  // namespace orbit::ot
