#include "orbit/ot/barycenter.hpp"

#include <cmath>
#include <memory>
#include <string>

#include "orbit/core/error.hpp"
#include "orbit/ot/exact.hpp"
#include "orbit/ot/kernels.hpp"

namespace orbit::ot {
namespace {

using detail::CostKernel;

void check_inputs(const std::vector<Measure>& inputs, std::vector<double>& w, const Measure& support,
                  const BarycenterOptions& opt) {
    require(!inputs.empty(), "barycenter: no input measures");
    require(w.size() == inputs.size(), "barycenter: " + std::to_string(w.size()) + " weights for " +
                                           std::to_string(inputs.size()) + " measures");
    double total = 0;
    for (double v : w) {
        require(std::isfinite(v) && v >= 0, "barycenter: the weights must be finite and non-negative");
        total += v;
    }
    require(total > 0, "barycenter: the weights sum to 0");
    for (double& v : w) v /= total;
    require(support.points.rows() > 0, "barycenter: the support is empty");
    require(opt.eps > 0 && std::isfinite(opt.eps), "barycenter: eps must be positive");
    require(opt.tol > 0 && opt.max_iter > 0, "barycenter: tol and max_iter must be positive");
    const double mass = inputs[0].weights.sum();
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        const Measure& m = inputs[k];
        const std::string which = "barycenter: input " + std::to_string(k);
        require(m.points.rows() > 0 && m.points.rows() == m.weights.size(), which + ": expected one weight per point");
        require(m.points.cols() == support.points.cols(),
                which + " has " + std::to_string(m.points.cols()) + "-D points, the support " +
                    std::to_string(support.points.cols()) + "-D");
        require((m.weights.array() >= 0).all() && m.weights.allFinite(), which + ": negative or non-finite weights");
        require(std::abs(m.weights.sum() - mass) <= 1e-9 * mass && mass > 0,
                which + ": its mass " + std::to_string(m.weights.sum()) + " differs from input 0's " +
                    std::to_string(mass) + " (barycenters are balanced)");
    }
}

// Iterative Bregman projections, plain or debiased (see the header).
BarycenterResult entropic(const std::vector<Measure>& in, const std::vector<double>& w, const Measure& support,
                          const BarycenterOptions& opt) {
    const double eps = opt.eps;
    const Eigen::Index n = support.points.rows();
    const std::size_t K = in.size();
    const bool debiased = opt.method == BarycenterMethod::Debiased;
    std::vector<std::unique_ptr<CostKernel>> kernels;
    std::vector<Vector> f(K, Vector::Zero(n)), g(K), s(K, Vector::Zero(n)), log_a(K);
    for (std::size_t k = 0; k < K; ++k) {
        kernels.push_back(detail::point_kernel(support.points, in[k].points, opt.cost.p, opt.cost.half));
        log_a[k] = in[k].weights.array().log();
        g[k] = Vector::Zero(in[k].points.rows());
    }
    std::unique_ptr<CostKernel> self;
    if (debiased) self = detail::point_kernel(support.points, support.points, opt.cost.p, opt.cost.half);
    Vector d = Vector::Zero(n), log_b(n), ratio, t;
    BarycenterResult r;
    r.marginal_error = infinity;
    while (r.iterations < opt.max_iter) {
        ++r.iterations;
        log_b = d / eps;
        for (std::size_t k = 0; k < K; ++k) {
            detail::softmin(*kernels[k], 1, f[k], g[k], eps, t, ratio);
            g[k] = eps * log_a[k] + t;
            detail::softmin(*kernels[k], 0, g[k], s[k], eps, t, ratio);
            s[k] = t;
            log_b -= w[k] * s[k] / eps;
        }
        // P_k 1 = exp((f_k - s_k)/eps) before f_k is reset to match b.
        double err = 0;
        const Vector b = log_b.array().exp();
        for (std::size_t k = 0; k < K; ++k) {
            err += (((f[k] - s[k]) / eps).array().exp() - b.array()).abs().sum();
            f[k] = eps * log_b + s[k];
        }
        if (debiased) {
            // A few symmetric steps per outer iteration (as POT's log version); the
            // residual |c * K c - b| enters the stopping test.
            for (int step = 0; step < 10; ++step) {
                detail::softmin(*self, 0, d, d, eps, t, ratio);
                d = 0.5 * (d + eps * log_b + t);
            }
            detail::softmin(*self, 0, d, d, eps, t, ratio);
            err += (((d - t) / eps).array().exp() - b.array()).abs().sum();
        }
        r.marginal_error = err;
        r.barycenter.weights = b;
        if (!std::isfinite(err)) {
            r.finite = false;
            break;
        }
        if (err <= opt.tol) {
            r.converged = true;
            break;
        }
    }
    r.barycenter.points = support.points;
    // sum_k w_k <C_k, P_k>: the weighted row sums of C * P_k at the final potentials.
    Vector tot(n), wsum(n);
    for (std::size_t k = 0; k < K; ++k) {
        kernels[k]->sums(0, g[k].data(), f[k].data(), 1.0 / eps, tot.data(), wsum.data());
        r.cost += w[k] * wsum.sum();
    }
    return r;
}

BarycenterResult free_support(const std::vector<Measure>& in, const std::vector<double>& w, const Measure& support,
                              const BarycenterOptions& opt) {
    require(opt.cost.p == 2, "barycenter: the free-support method needs the squared Euclidean cost (p = 2)");
    const Eigen::Index n = support.points.rows();
    const Vector b = support.weights.size() ? support.weights : Vector::Constant(n, 1.0 / double(n));
    require(b.size() == n && (b.array() > 0).all() && b.allFinite(),
            "barycenter: the support's weights must be positive, one per point");
    require(std::abs(b.sum() - in[0].weights.sum()) <= 1e-9 * b.sum(),
            "barycenter: the support's weights sum to " + std::to_string(b.sum()) + ", the inputs' to " +
                std::to_string(in[0].weights.sum()));
    BarycenterResult r;
    Points Y = support.points;
    r.marginal_error = infinity;
    while (r.iterations < opt.max_iter) {
        ++r.iterations;
        Points next = Points::Zero(n, Y.cols());
        r.cost = 0;
        for (std::size_t k = 0; k < in.size(); ++k) {
            const Matrix C = cost_matrix(Y, in[k].points, CostSpec{2, false});
            const Matrix T = emd(b, in[k].weights, C);
            r.cost += w[k] * (C.array() * T.array()).sum();
            next += w[k] * (b.cwiseInverse().asDiagonal() * (T * in[k].points));
        }
        r.marginal_error = (next - Y).squaredNorm();
        Y = std::move(next);
        if (r.marginal_error <= opt.tol) {
            r.converged = true;
            break;
        }
    }
    r.barycenter = {Y, b};
    return r;
}

}  // namespace

BarycenterResult wasserstein_barycenter(const std::vector<Measure>& inputs, const std::vector<double>& weights,
                                        const Measure& support, const BarycenterOptions& opt) {
    std::vector<double> w = weights;
    check_inputs(inputs, w, support, opt);
    return opt.method == BarycenterMethod::Free ? free_support(inputs, w, support, opt)
                                                : entropic(inputs, w, support, opt);
}

}  // namespace orbit::ot
