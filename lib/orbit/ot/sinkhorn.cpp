#include "orbit/ot/sinkhorn.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/ot/kernels.hpp"
#include "orbit/ot/sinkhorn_distributed.hpp"
#include "orbit/ot/solver.hpp"

namespace orbit::ot {

using detail::CostKernel;
using Index = Eigen::Index;

namespace {

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

void check_weights(const Vector& w, Index n, const char* name) {
    require(w.size() == n, std::string("sinkhorn: expected ") + name + " of length " + std::to_string(n) +
                               ", found " + std::to_string(w.size()));
    require(w.allFinite(), std::string("sinkhorn: the weights ") + name + " contain NaN or infinite values");
    require(w.minCoeff() >= 0, std::string("sinkhorn: the weights ") + name + " must be non-negative, found " +
                                   num(w.minCoeff()));
    require(w.sum() > 0, std::string("sinkhorn: the weights ") + name + " must have a positive sum");
}

double lambda(double rho, double eps) { return std::isinf(rho) ? 1.0 : rho / (rho + eps); }

double norm_of(const Vector& v, Norm n) {
    switch (n) {
        case Norm::L1: return v.lpNorm<1>();
        case Norm::L2: return v.norm();
        default: return v.lpNorm<Eigen::Infinity>();
    }
}

// Norm of the residual of the marginal optimality condition: P1 = a (hard)
// or P1 = a exp(-f/rho) (KL penalty). `ratio` holds (P1)_i / a_i on entry
// and the residual on return (in place: at 10^6 points every vector counts).
double residual_norm(const Vector& a, Vector& ratio, const Vector& f, double rho, Norm n) {
    for (Index i = 0; i < a.size(); ++i) {
        const double target = std::isinf(rho) ? 1.0 : std::exp(-f[i] / rho);
        ratio[i] = a[i] * (ratio[i] - target);
    }
    return norm_of(ratio, n);
}

double kl(const Vector& p, const Vector& q) {
    double s = 0;
    for (Index i = 0; i < p.size(); ++i) {
        if (p[i] > 0) s += p[i] * std::log(p[i] / q[i]);
        s += q[i] - p[i];
    }
    return s;
}

// Chooses the over-relaxation factor from the stopping tests' violations.
// Plain Sinkhorn converges linearly near the solution, err_k ~ rate^k; the
// optimal factor for that rate is 2 / (1 + sqrt(1 - rate)) (the SOR formula,
// as Lehmann et al. 2021 derive for Sinkhorn). The rate is measured over a
// window of plain iterations once it has settled; if the violation later
// climbs well above its best value, the factor returns to 1 for good.
class OverRelaxation {
public:
    OverRelaxation(double fixed, int check_every) : fixed_(fixed), every_(check_every) {
        if (fixed_ > 0) omega_ = fixed_;
    }
    double omega() const { return omega_; }
    double final_omega() const { return used_; }

    void observe(int iteration, double err) {
        if (!std::isfinite(err)) return;
        if (omega_ != 1) {
            used_ = omega_;
            best_ = std::min(best_, err);
            if (err > 10 * best_) omega_ = 1, given_up_ = true;
            return;
        }
        if (fixed_ > 0 || given_up_ || err <= 0) return;
        history_.emplace_back(iteration, err);
        // Two consecutive windows must agree on the rate before it is trusted.
        const std::size_t n = history_.size();
        const int span = std::max(kWindow, every_);
        auto rate_between = [&](std::size_t i, std::size_t j) {
            const double its = history_[j].first - history_[i].first;
            return std::pow(history_[j].second / history_[i].second, 1.0 / its);
        };
        std::size_t mid = n, first = n;
        for (std::size_t t = n; t-- > 0;) {
            if (mid == n && history_[n - 1].first - history_[t].first >= span) mid = t;
            else if (mid != n && history_[mid].first - history_[t].first >= span) { first = t; break; }
        }
        if (first == n) return;
        const double r1 = rate_between(first, mid), r2 = rate_between(mid, n - 1);
        if (!(r1 < 1 && r2 < 1) || std::abs(r1 - r2) > 0.05 * (1 - std::min(r1, r2)) + 0.01) return;
        const double rate = std::min(0.99, std::max(r1, r2));
        omega_ = 2 / (1 + std::sqrt(1 - rate));
        best_ = err;
    }

private:
    static constexpr int kWindow = 5;
    double fixed_;
    int every_;
    double omega_ = 1, used_ = 1, best_ = std::numeric_limits<double>::infinity();
    bool given_up_ = false;
    std::vector<std::pair<int, double>> history_;
};

Vector safe_log(const Vector& w) {
    Vector l(w.size());
    for (Index i = 0; i < w.size(); ++i) l[i] = w[i] > 0 ? std::log(w[i]) : -std::numeric_limits<double>::infinity();
    return l;
}

}  // namespace

namespace detail {

void check_forbidden_pairs(const Matrix& cost) {
    const double inf = std::numeric_limits<double>::infinity();
    for (Index t = 0; t < cost.size(); ++t)
        require(!std::isnan(cost.data()[t]) && cost.data()[t] != -inf,
                "sinkhorn: the cost matrix contains NaN or -inf values (+inf marks a forbidden pair)");
    if (cost.allFinite()) return;
    for (Index i = 0; i < cost.rows(); ++i)
        require((cost.row(i).array() < inf).any(), "sinkhorn: row " + std::to_string(i) +
                                                        " of the cost matrix has no finite entry (every pair is forbidden)");
    for (Index j = 0; j < cost.cols(); ++j)
        require((cost.col(j).array() < inf).any(), "sinkhorn: column " + std::to_string(j) +
                                                        " of the cost matrix has no finite entry (every pair is forbidden)");
}

std::vector<double> eps_schedule(const SinkhornOptions& opt, double max_cost) {
    std::vector<double> eps;
    if (opt.eps_scaling) {
        double e = opt.eps_start > 0 ? opt.eps_start : max_cost;
        while (e > opt.eps) {
            eps.push_back(e);
            e *= opt.scaling;
        }
    }
    eps.push_back(opt.eps);
    return eps;
}

void validate(const SinkhornOptions& opt) {
    require(std::isfinite(opt.eps) && opt.eps > 0, "sinkhorn: eps must be a positive number, found " + num(opt.eps));
    require(opt.rho_a > 0 && opt.rho_b > 0, "sinkhorn: the marginal penalties rho must be positive (inf for hard)");
    require(opt.tol > 0, "sinkhorn: the tolerance must be positive, found " + num(opt.tol));
    require(opt.max_iter >= 1, "sinkhorn: max_iter must be at least 1");
    require(opt.check_every >= 1, "sinkhorn: check_every must be at least 1");
    require(!opt.eps_scaling || (opt.scaling > 0 && opt.scaling < 1),
            "sinkhorn: the eps scaling ratio must lie in (0,1), found " + num(opt.scaling));
    require(opt.iters_per_level >= 1, "sinkhorn: iters_per_level must be at least 1");
    require(opt.overrelax == 0 || (opt.overrelax >= 1 && opt.overrelax < 2),
            "sinkhorn: the over-relaxation omega must be 0 (automatic) or lie in [1, 2), found " +
                num(opt.overrelax));
    require(opt.plan_topk >= 0 && opt.plan_threshold >= 0, "sinkhorn: plan threshold and top-k must be >= 0");
}

void clear_unweighted(const Vector& a, const Vector& b, Vector& rows, Vector& wrows, Vector& cols) {
    for (Index i = 0; i < a.size(); ++i)
        if (!(a[i] > 0)) rows[i] = wrows[i] = 0;
    for (Index j = 0; j < b.size(); ++j)
        if (!(b[j] > 0)) cols[j] = 0;
}

// Totals of the plan at (f, g): marginals, <C,P>, objectives.
void finish(const CostKernel& K, const Vector& a, const Vector& b, const SinkhornOptions& opt, double eps,
            SinkhornResult& r) {
    const Index N = K.n(), M = K.m();
    // Each temporary lives only as long as it is needed: at 10^6 points the
    // vectors are most of the memory.
    Vector F, G;
    {
        const Vector la = safe_log(a), lb = safe_log(b);
        F = r.f + eps * la, G = r.g + eps * lb;
    }
    Vector rows(N), wrows(N), cols(M);
    K.sums(0, G.data(), F.data(), 1.0 / eps, rows.data(), wrows.data());
    K.sums(1, F.data(), G.data(), 1.0 / eps, cols.data(), nullptr);
    F.resize(0), G.resize(0);
    clear_unweighted(a, b, rows, wrows, cols);  // before the KL terms below
    r.cost = deterministic_sum(N, [&](std::int64_t i) { return wrows[i]; });
    wrows.resize(0);
    r.mass = deterministic_sum(N, [&](std::int64_t i) { return rows[i]; });
    const double ab = a.sum() * b.sum();
    auto phi = [](const Vector& w, const Vector& f, double rho) {
        double s = 0;
        for (Index i = 0; i < w.size(); ++i)
            s += w[i] * (std::isinf(rho) ? f[i] : -rho * std::expm1(-f[i] / rho));
        return s;
    };
    r.dual = phi(a, r.f, opt.rho_a) + phi(b, r.g, opt.rho_b) - eps * (r.mass - ab);
    double primal = rows.dot(r.f) + cols.dot(r.g) - eps * r.mass + eps * ab;
    if (!std::isinf(opt.rho_a)) primal += opt.rho_a * kl(rows, a);
    if (!std::isinf(opt.rho_b)) primal += opt.rho_b * kl(cols, b);
    r.primal = primal;
    // The reported violation is the one of the returned plan.
    double ea = 0, eb = 0;
    {
        Vector ra(N);
        for (Index i = 0; i < N; ++i) ra[i] = a[i] > 0 ? rows[i] / a[i] : 0;
        ea = residual_norm(a, ra, r.f, opt.rho_a, opt.norm);
    }
    {
        Vector rb(M);
        for (Index j = 0; j < M; ++j) rb[j] = b[j] > 0 ? cols[j] / b[j] : 0;
        eb = residual_norm(b, rb, r.g, opt.rho_b, opt.norm);
    }
    r.row_marginal = std::move(rows);
    r.col_marginal = std::move(cols);
    // Both marginals: with alternating updates one of them is exact by
    // construction, so only the pair tells the truth about the returned plan.
    r.marginal_error = std::max(ea, eb);
    r.finite = r.finite && std::isfinite(r.cost) && std::isfinite(r.primal) && std::isfinite(r.dual);
    r.eps = eps;
}

void extract_plan(const CostKernel& K, const Vector& a, const Vector& b, const SinkhornOptions& opt, double eps,
                  SinkhornResult& r) {
    if (opt.plan == PlanKind::None) return;
    const Index N = K.n(), M = K.m();
    const Vector la = safe_log(a), lb = safe_log(b);
    if (opt.plan == PlanKind::Dense) {
        const double bytes = double(N) * double(M) * 8.0;
        require(bytes <= double(opt.memory_budget),
                "sinkhorn: a dense plan of " + std::to_string(N) + "x" + std::to_string(M) + " needs " +
                    num(bytes / 1048576.0) + " MiB, over the memory budget of " +
                    num(double(opt.memory_budget) / 1048576.0) + " MiB; ask for a sparse plan");
        Matrix P(N, M);
#pragma omp parallel if (double(N) * M > (1 << 20))
        {
            std::vector<double> c(M);
#pragma omp for schedule(static)
            for (Index i = 0; i < N; ++i) {
                K.costs(0, i, c.data());
                const double Fi = r.f[i] + eps * la[i];
                for (Index j = 0; j < M; ++j) P(i, j) = std::exp((Fi + r.g[j] + eps * lb[j] - c[j]) / eps);
            }
        }
        r.plan = std::move(P);
        return;
    }
    // Sparse: CSR rows, entries >= threshold, at most top-k per row.
    std::vector<std::vector<std::pair<double, std::int64_t>>> rows(N);
#pragma omp parallel if (double(N) * M > (1 << 20))
    {
        std::vector<double> c(M);
        std::vector<std::pair<double, std::int64_t>> buf;
#pragma omp for schedule(static)
        for (Index i = 0; i < N; ++i) {
            K.costs(0, i, c.data());
            const double Fi = r.f[i] + eps * la[i];
            buf.clear();
            for (Index j = 0; j < M; ++j) {
                const double v = std::exp((Fi + r.g[j] + eps * lb[j] - c[j]) / eps);
                if (v > 0 && v >= opt.plan_threshold) buf.emplace_back(v, j);
            }
            if (opt.plan_topk > 0 && buf.size() > std::size_t(opt.plan_topk)) {
                std::nth_element(buf.begin(), buf.begin() + opt.plan_topk, buf.end(),
                                 [](auto& x, auto& y) { return x.first > y.first || (x.first == y.first && x.second < y.second); });
                buf.resize(opt.plan_topk);
            }
            std::sort(buf.begin(), buf.end(), [](auto& x, auto& y) { return x.second < y.second; });
            rows[i] = buf;
        }
    }
    SparsePlan sp;
    sp.rows = N;
    sp.cols = M;
    sp.indptr.reserve(N + 1);
    sp.indptr.push_back(0);
    for (auto& row : rows) {
        for (auto& [v, j] : row) {
            sp.data.push_back(v);
            sp.indices.push_back(j);
        }
        sp.indptr.push_back(static_cast<std::int64_t>(sp.data.size()));
    }
    r.sparse_plan = std::move(sp);
}

SinkhornResult solve(const CostKernel& K, const Vector& a, const Vector& b, const SinkhornOptions& opt) {
    validate(opt);
    const Index N = K.n(), M = K.m();
    require(N > 0 && M > 0, "sinkhorn: expected non-empty inputs, found " + std::to_string(N) + " and " +
                                std::to_string(M) + " points");
    check_weights(a, N, "a");
    check_weights(b, M, "b");
    if (std::isinf(opt.rho_a) && std::isinf(opt.rho_b))
        require(std::abs(a.sum() - b.sum()) <= 1e-9 * std::max(a.sum(), b.sum()),
                "sinkhorn: balanced transport needs equal total masses, found " + num(a.sum()) + " and " +
                    num(b.sum()) + " (normalize the weights, or relax a marginal with rho)");
    SinkhornResult r;
    r.storage = K.name();
    r.f = opt.f_init.size() ? opt.f_init : Vector::Zero(N);
    r.g = opt.g_init.size() ? opt.g_init : Vector::Zero(M);
    require(r.f.size() == N && r.g.size() == M && r.f.allFinite() && r.g.allFinite(),
            "sinkhorn: the warm-start potentials must be finite with lengths " + std::to_string(N) + " and " +
                std::to_string(M));
    Vector la = safe_log(a), lb = safe_log(b);
    const std::vector<double> schedule = eps_schedule(opt, K.max_cost());
    // One softmin output and one ratio vector serve both half-iterations
    // (the symmetric updates need a second pair).
    Vector sm, ratio, sm2, ratio2, h;
    double err = std::numeric_limits<double>::infinity();
    // Over-relaxation (alternating updates, final eps only). The plan certified
    // at a stopping test is (f_old, g_new); with omega != 1 its b-marginal is
    // no longer exact, but it is known for free: the column sums at (f, g) are
    // b_j exp((g_j - softmin_j) / eps).
    const bool relax_ok = !opt.symmetric && opt.check != Marginal::B && opt.overrelax != 1;
    OverRelaxation relax(opt.overrelax, opt.check_every);
    for (std::size_t level = 0; level < schedule.size() && r.finite && !r.converged; ++level) {
        const double eps = schedule[level];
        const bool last = level + 1 == schedule.size();
        const double lam_a = lambda(opt.rho_a, eps), lam_b = lambda(opt.rho_b, eps);
        const int iters = last ? opt.max_iter : opt.iters_per_level;
        if (opt.monitor && !last) opt.monitor(r.iterations, eps, std::numeric_limits<double>::infinity());
        for (int it = 1; it <= iters; ++it) {
            Vector f_old, g_old;  // the previous potentials, swapped out rather than copied
            bool check = last && (it % opt.check_every == 0 || it == iters);
            const double omega = last && relax_ok ? relax.omega() : 1.0;
            double ea = 0, eb = 0, eb_new = 0;
            if (opt.symmetric) {
                h = r.g + eps * lb;
                detail::softmin(K, 0, h, r.f, eps, sm, ratio);
                h = r.f + eps * la;
                detail::softmin(K, 1, h, r.g, eps, sm2, ratio2);
                if (check) {
                    ea = residual_norm(a, ratio, r.f, opt.rho_a, opt.norm);
                    eb = residual_norm(b, ratio2, r.g, opt.rho_b, opt.norm);
                }
                f_old.swap(r.f), g_old.swap(r.g);
                r.f = 0.5 * (f_old + lam_a * sm);
                r.g = 0.5 * (g_old + lam_b * sm2);
            } else {
                // g from f (with omega = 1 the plan at (f, g_new) then meets the
                // b-condition exactly), then f from g, whose pass measures the
                // a-condition of that plan.
                h = r.f + eps * la;
                detail::softmin(K, 1, h, r.g, eps, sm, ratio);
                if (check) eb = residual_norm(b, ratio, r.g, opt.rho_b, opt.norm);
                g_old.swap(r.g);
                if (omega == 1) {
                    sm *= lam_b;  // r.g = lam_b * sm, in sm's storage
                    r.g.swap(sm);
                } else {
                    r.g = lam_b * sm;
                    r.g = g_old + omega * (r.g - g_old);
                    if (check) {
                        for (Index j = 0; j < r.g.size(); ++j) ratio[j] = std::exp((r.g[j] - sm[j]) / eps);
                        eb_new = residual_norm(b, ratio, r.g, opt.rho_b, opt.norm);
                    }
                }
                h = r.g + eps * lb;
                detail::softmin(K, 0, h, r.f, eps, sm, ratio);
                // Violation of the plan (f_old, g_new), the one a stop returns.
                if (check) ea = std::max(residual_norm(a, ratio, r.f, opt.rho_a, opt.norm), eb_new);
                if (check && relax_ok) relax.observe(r.iterations + 1, ea);
                if (check && opt.check != Marginal::B && ea <= opt.tol) {
                    // (f_old, g) is the certified plan: keep it.
                    ++r.iterations;
                    err = ea;
                    r.converged = true;
                    if (opt.monitor) opt.monitor(r.iterations, eps, err);
                    break;
                }
                f_old.swap(r.f);
                if (omega == 1) {
                    sm *= lam_a;
                    r.f.swap(sm);
                } else {
                    r.f = lam_a * sm;
                    r.f = f_old + omega * (r.f - f_old);
                }
            }
            ++r.iterations;
            if (!r.f.allFinite() || !r.g.allFinite()) {
                r.f.swap(f_old);
                r.g.swap(g_old);
                r.finite = false;
                break;
            }
            if (check) {
                err = opt.check == Marginal::A ? ea : opt.check == Marginal::B ? eb : std::max(ea, eb);
                if (opt.monitor) opt.monitor(r.iterations, eps, err);
                if (std::isnan(err)) {
                    r.finite = false;
                    break;
                }
                if (err <= opt.tol) {
                    r.converged = true;
                    break;
                }
            }
        }
    }
    r.overrelax = relax_ok ? relax.final_omega() : 1.0;
    for (Vector* v : {&la, &lb, &sm, &ratio, &sm2, &ratio2, &h}) v->resize(0);  // before the totals' own vectors
    finish(K, a, b, opt, schedule.back(), r);
    extract_plan(K, a, b, opt, schedule.back(), r);
    return r;
}

}  // namespace detail

SinkhornResult sinkhorn(const Matrix& cost, const Vector& a, const Vector& b, const SinkhornOptions& opt) {
    require(cost.rows() == a.size() && cost.cols() == b.size(),
            "sinkhorn: expected a cost matrix of " + std::to_string(a.size()) + "x" + std::to_string(b.size()) +
                ", found " + std::to_string(cost.rows()) + "x" + std::to_string(cost.cols()));
    require(cost.size() > 0, "sinkhorn: the cost matrix is empty");
    detail::check_forbidden_pairs(cost);
    if (!opt.log_domain) {
        require(cost.allFinite(), "sinkhorn: kernel mode needs finite costs (+inf pairs need the log domain)");
        return detail::solve_kernel_mode(cost, a, b, opt);
    }
    auto K = detail::dense_kernel(cost);
    return detail::solve(*K, a, b, opt);
}

namespace {

// Point sets through the matrix-free kernels; release() (if set) is called
// once the kernel holds its own copy of the points.
SinkhornResult solve_points(const Points& x, const Vector& a, const Points& y, const Vector& b, const CostSpec& c,
                            const SinkhornOptions& opt, const std::function<void()>& release) {
    require(x.rows() > 0 && y.rows() > 0, "sinkhorn: expected non-empty point sets, found " +
                                              std::to_string(x.rows()) + " and " + std::to_string(y.rows()) +
                                              " points");
    require(x.cols() == y.cols(), "sinkhorn: the point sets have different dimensions: " + std::to_string(x.cols()) +
                                      " and " + std::to_string(y.cols()));
    require(x.allFinite() && y.allFinite(), "sinkhorn: the points contain NaN or infinite values");
    const double pairs_bytes = double(x.rows()) * double(y.rows()) * 8.0;
    const bool dense = !opt.log_domain ||
                       (opt.storage == Storage::Dense && pairs_bytes <= double(opt.memory_budget));
    if (opt.storage == Storage::Dense)
        require(pairs_bytes <= double(opt.memory_budget),
                "sinkhorn: a dense cost matrix needs " + num(pairs_bytes / 1048576.0) +
                    " MiB, over the memory budget; use online storage");
    if (dense) {
        require(pairs_bytes <= double(opt.memory_budget),
                "sinkhorn: kernel mode needs a dense matrix of " + num(pairs_bytes / 1048576.0) +
                    " MiB, over the memory budget");
        Matrix C(x.rows(), y.rows());
        auto P = detail::point_kernel(x, y, c.p, c.half);
        for (Index i = 0; i < x.rows(); ++i) {
            Vector row(y.rows());
            P->costs(0, i, row.data());
            C.row(i) = row.transpose();
        }
        return sinkhorn(C, a, b, opt);
    }
    auto make = [&](const Points& xs, const Points& ys) {
        std::unique_ptr<CostKernel> K;
        if (opt.device != Device::CPU) K = detail::cuda_point_kernel(xs, ys, c.p, c.half, opt.device == Device::CUDA);
        if (!K && opt.precision == Precision::Float32) {
            require(c.p == 1 || c.p == 2, "sinkhorn: the cost exponent p must be 1 or 2, found " + std::to_string(c.p));
            K = detail::point_kernel_f32(xs, ys, c.p, c.half);
        }
        if (!K) K = detail::point_kernel(xs, ys, c.p, c.half);
        return K;
    };
    const auto K = detail::distributed_point_kernel(x, y, c, opt.distributed, make);
    if (release && K->owns_points()) release();
    return detail::solve(*K, a, b, opt);
}

}  // namespace

SinkhornResult sinkhorn(const Points& x, const Vector& a, const Points& y, const Vector& b, const CostSpec& c,
                        const SinkhornOptions& opt) {
    return solve_points(x, a, y, b, c, opt, nullptr);
}

SinkhornResult sinkhorn(Points&& x, const Vector& a, Points&& y, const Vector& b, const CostSpec& c,
                        const SinkhornOptions& opt) {
    return solve_points(x, a, y, b, c, opt, [&] { x = Points(), y = Points(); });
}

std::vector<SinkhornResult> sinkhorn_batch(const std::vector<Points>& x, const std::vector<Vector>& a,
                                           const std::vector<Points>& y, const std::vector<Vector>& b,
                                           const CostSpec& c, const SinkhornOptions& opt) {
    require(x.size() == y.size() && x.size() == a.size() && x.size() == b.size(),
            "sinkhorn: batches of different sizes: " + std::to_string(x.size()) + " and " + std::to_string(y.size()));
    std::vector<SinkhornResult> out;
    out.reserve(x.size());
    for (std::size_t k = 0; k < x.size(); ++k) out.push_back(sinkhorn(x[k], a[k], y[k], b[k], c, opt));
    return out;
}

}  // namespace orbit::ot
