#include "orbit/ot/gradient.hpp"

#include <cmath>
#include <limits>

#include "orbit/core/error.hpp"
#include "orbit/ot/kernels.hpp"

namespace orbit::ot {
namespace {

using Index = Eigen::Index;

Vector log_weights(const Vector& w) {
    Vector l(w.size());
    for (Index i = 0; i < w.size(); ++i) l[i] = w[i] > 0 ? std::log(w[i]) : -std::numeric_limits<double>::infinity();
    return l;
}

// grad_1 C(u, v) for C = scale |u - v|^p (p = 1: the unit vector, 0 where u == v).
template <class U, class V>
void add_cost_gradient(const U& u, const V& v, double weight, const CostSpec& c, double* out, Index dims) {
    const double scale = c.half ? 0.5 : 1.0;
    if (c.p == 2) {
        for (Index d = 0; d < dims; ++d) out[d] += weight * 2 * scale * (u[d] - v[d]);
        return;
    }
    double n2 = 0;
    for (Index d = 0; d < dims; ++d) n2 += (u[d] - v[d]) * (u[d] - v[d]);
    if (n2 <= 0) return;
    const double inv = weight * scale / std::sqrt(n2);
    for (Index d = 0; d < dims; ++d) out[d] += inv * (u[d] - v[d]);
}

// For each row i: sum_j e_ij grad_1 C(x_i, y_j) with e_ij = exp((f_i + G_j - C_ij)/eps),
// G_j = g_j + eps log b_j; row i of the plan is a_i e_i.
Matrix row_gradient(const Points& x, const Vector& f, const Points& y, const Vector& G, double eps, const CostSpec& c) {
    const Index N = x.rows(), M = y.rows(), D = x.cols();
    Matrix out = Matrix::Zero(N, D);
    const double scale = c.half ? 0.5 : 1.0;
#pragma omp parallel for schedule(dynamic, 16) if (double(N) * M > (1 << 18))
    for (Index i = 0; i < N; ++i) {
        std::vector<double> acc(D, 0.0), xi(D), yj(D);
        for (Index d = 0; d < D; ++d) xi[d] = x(i, d);
        for (Index j = 0; j < M; ++j) {
            if (!(G[j] > -std::numeric_limits<double>::infinity())) continue;
            double d2 = 0;
            for (Index d = 0; d < D; ++d) {
                yj[d] = y(j, d);
                d2 += (xi[d] - yj[d]) * (xi[d] - yj[d]);
            }
            const double cij = scale * (c.p == 1 ? std::sqrt(d2) : d2);
            const double e = std::exp((f[i] + G[j] - cij) / eps);
            add_cost_gradient(xi, yj, e, c, acc.data(), D);
        }
        for (Index d = 0; d < D; ++d) out(i, d) = acc[d];
    }
    return out;
}

// d OT / d a_i along the first marginal: phi(f_i) - eps (s_i - |b|),
// s_i = sum_j b_j exp((f_i + g_j - C_ij)/eps).
Vector weight_gradient(const detail::CostKernel& K, int side, const Vector& f, const Vector& g, const Vector& b,
                       double rho, double eps) {
    const Vector G = g + eps * log_weights(b);
    Vector s(f.size());
    K.sums(side, G.data(), f.data(), 1.0 / eps, s.data(), nullptr);
    Vector out(f.size());
    const double mb = b.sum();
    for (Index i = 0; i < f.size(); ++i) {
        const double phi = std::isinf(rho) ? f[i] : -rho * std::expm1(-f[i] / rho);
        out[i] = phi - eps * (s[i] - mb);
    }
    return out;
}

void check_solved(const SinkhornResult& r, Index n, Index m) {
    require(r.f.size() == n && r.g.size() == m, "gradient: the result does not belong to these inputs");
}

// The gradient of one solved problem between (x, a) and (y, b).
TransportGradient one_problem(const Points& x, const Vector& a, const Points& y, const Vector& b, const CostSpec& c,
                              const SinkhornOptions& opt, const SinkhornResult& r) {
    check_solved(r, x.rows(), y.rows());
    const double eps = r.eps;
    TransportGradient t;
    const Vector F = r.f + eps * log_weights(a), G = r.g + eps * log_weights(b);
    t.grad_x = a.asDiagonal() * row_gradient(x, r.f, y, G, eps, c);
    t.grad_y = b.asDiagonal() * row_gradient(y, r.g, x, F, eps, c);
    auto K = detail::point_kernel(x, y, c.p, c.half);
    t.grad_a = weight_gradient(*K, 0, r.f, r.g, b, opt.rho_a, eps);
    t.grad_b = weight_gradient(*K, 1, r.g, r.f, a, opt.rho_b, eps);
    return t;
}

}  // namespace

Matrix plan_position_gradient(const Points& x, const Vector& a, const Vector& f, const Points& y, const Vector& b,
                              const Vector& g, double eps, const CostSpec& c) {
    return a.asDiagonal() * row_gradient(x, f, y, g + eps * log_weights(b), eps, c);
}

TransportGradient sinkhorn_gradient(const Points& x, const Vector& a, const Points& y, const Vector& b,
                                    const CostSpec& c, const SinkhornOptions& opt, const SinkhornResult& r) {
    return one_problem(x, a, y, b, c, opt, r);
}

TransportGradient sinkhorn_weight_gradient(const Matrix& cost, const Vector& a, const Vector& b,
                                           const SinkhornOptions& opt, const SinkhornResult& r) {
    check_solved(r, cost.rows(), cost.cols());
    auto K = detail::dense_kernel(cost);
    TransportGradient t;
    t.grad_a = weight_gradient(*K, 0, r.f, r.g, b, opt.rho_a, r.eps);
    t.grad_b = weight_gradient(*K, 1, r.g, r.f, a, opt.rho_b, r.eps);
    return t;
}

TransportGradient partial_gradient(const Points& x, const Points& y, const CostSpec& c, const SinkhornResult& r) {
    check_solved(r, x.rows(), y.rows());
    TransportGradient t;
    t.grad_x = row_gradient(x, r.f, y, r.g, r.eps, c);
    t.grad_y = row_gradient(y, r.g, x, r.f, r.eps, c);
    return t;
}

TransportGradient divergence_gradient(const Points& x, const Vector& a, const Points& y, const Vector& b,
                                      const CostSpec& c, const SinkhornOptions& opt, const DivergenceResult& d) {
    const TransportGradient xy = one_problem(x, a, y, b, c, opt, d.xy);
    // Self terms: both arguments move, so the derivative is the sum of the two
    // one-sided ones (equal by symmetry at the optimum); S takes half of it.
    const TransportGradient xx = one_problem(x, a, x, a, c, opt, d.xx);
    const TransportGradient yy = one_problem(y, b, y, b, c, opt, d.yy);
    TransportGradient t;
    t.grad_x = xy.grad_x - 0.5 * (xx.grad_x + xx.grad_y);
    t.grad_y = xy.grad_y - 0.5 * (yy.grad_x + yy.grad_y);
    t.grad_a = xy.grad_a - 0.5 * (xx.grad_a + xx.grad_b);
    t.grad_b = xy.grad_b - 0.5 * (yy.grad_a + yy.grad_b);
    return t;
}

TransportGradient exact_position_gradient(const Points& x, const Points& y, const Matrix& plan, const CostSpec& c) {
    require(plan.rows() == x.rows() && plan.cols() == y.rows(), "gradient: the plan does not match the point sets");
    const Index D = x.cols();
    TransportGradient t;
    t.grad_x = Matrix::Zero(x.rows(), D);
    t.grad_y = Matrix::Zero(y.rows(), D);
    for (Index i = 0; i < x.rows(); ++i)
        for (Index j = 0; j < y.rows(); ++j) {
            if (!(plan(i, j) > 0)) continue;
            const Eigen::RowVectorXd xi = x.row(i), yj = y.row(j);
            Eigen::RowVectorXd gx = Eigen::RowVectorXd::Zero(D), gy = Eigen::RowVectorXd::Zero(D);
            add_cost_gradient(xi, yj, plan(i, j), c, gx.data(), D);
            add_cost_gradient(yj, xi, plan(i, j), c, gy.data(), D);
            t.grad_x.row(i) += gx;
            t.grad_y.row(j) += gy;
        }
    return t;
}

DivergenceLoss sinkhorn_divergence_loss(const Points& x, const Vector& a, const Points& y, const Vector& b,
                                        const CostSpec& c, const SinkhornOptions& opt) {
    const DivergenceResult d = sinkhorn_divergence(x, a, y, b, c, opt);
    DivergenceLoss l;
    l.value = d.value;
    l.converged = d.converged() && d.finite();
    l.gradient = divergence_gradient(x, a, y, b, c, opt, d);
    return l;
}

}  // namespace orbit::ot
