// Kernel-mode Sinkhorn with absorption (Schmitzer's stabilization): the fast
// path for moderate eps on a stored cost matrix. Scalings u, v multiply a
// stored kernel; when they grow past a threshold they are absorbed into the
// potentials and the kernel is rebuilt, so nothing overflows.
#include <cmath>
#include <limits>

#include "orbit/core/error.hpp"
#include "orbit/ot/solver.hpp"

namespace orbit::ot::detail {
namespace {

using Index = Eigen::Index;

// K_ij = a_i b_j exp((f_i + g_j - C_ij)/eps), i.e. the plan at (f, g).
void build_kernel(const Matrix& C, const Vector& F, const Vector& G, double eps, Matrix& K) {
    const Index N = C.rows(), M = C.cols();
    K.resize(N, M);
    const double inv = 1.0 / eps;
#pragma omp parallel for schedule(static) if (double(N) * M > (1 << 20))
    for (Index j = 0; j < M; ++j) {
        const double* c = C.col(j).data();
        double* k = K.col(j).data();
        const double gj = G[j];
#pragma omp simd
        for (Index i = 0; i < N; ++i) k[i] = vexp((F[i] + gj - c[i]) * inv);
    }
}

// y = K^T u (columns are contiguous).
void mul_t(const Matrix& K, const Vector& u, Vector& y) {
    const Index N = K.rows(), M = K.cols();
    y.resize(M);
#pragma omp parallel for schedule(static) if (double(N) * M > (1 << 20))
    for (Index j = 0; j < M; ++j) {
        const double* k = K.col(j).data();
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (Index i = 0; i < N; ++i) s += k[i] * u[i];
        y[j] = s;
    }
}

// y = K v, row blocks accumulated column by column (fixed order per entry).
void mul(const Matrix& K, const Vector& v, Vector& y) {
    const Index N = K.rows(), M = K.cols();
    y.setZero(N);
    const Index blocks = (N + 511) / 512;
#pragma omp parallel for schedule(static) if (double(N) * M > (1 << 20))
    for (Index bi = 0; bi < blocks; ++bi) {
        const Index i0 = bi * 512, len = std::min<Index>(512, N - i0);
        double* out = y.data() + i0;
        for (Index j = 0; j < M; ++j) {
            const double* k = K.col(j).data() + i0;
            const double vj = v[j];
#pragma omp simd
            for (Index t = 0; t < len; ++t) out[t] += k[t] * vj;
        }
    }
}

}  // namespace

SinkhornResult solve_kernel_mode(const Matrix& C, const Vector& a, const Vector& b, const SinkhornOptions& opt) {
    validate(opt);
    const Index N = C.rows(), M = C.cols();
    require(a.size() == N && b.size() == M && N > 0 && M > 0, "sinkhorn: marginals do not match the cost matrix");
    require(a.allFinite() && b.allFinite() && a.minCoeff() >= 0 && b.minCoeff() >= 0 && a.sum() > 0 && b.sum() > 0,
            "sinkhorn: the weights must be finite, non-negative and with a positive sum");
    require(double(N) * double(M) * 8.0 <= double(opt.memory_budget),
            "sinkhorn: kernel mode stores an N x M kernel, over the memory budget");
    SinkhornResult r;
    r.storage = "kernel";
    r.f = opt.f_init.size() ? opt.f_init : Vector::Zero(N);
    r.g = opt.g_init.size() ? opt.g_init : Vector::Zero(M);
    require(r.f.size() == N && r.g.size() == M, "sinkhorn: warm-start potentials have the wrong length");
    Vector la(N), lb(M);
    for (Index i = 0; i < N; ++i) la[i] = a[i] > 0 ? std::log(a[i]) : -std::numeric_limits<double>::infinity();
    for (Index j = 0; j < M; ++j) lb[j] = b[j] > 0 ? std::log(b[j]) : -std::numeric_limits<double>::infinity();
    const std::vector<double> schedule = eps_schedule(opt, C.maxCoeff());
    const double limit = std::log(opt.absorb_threshold);
    Matrix K;
    Vector Ku, Kv;
    auto lnorm = [&](const Vector& v) {
        switch (opt.norm) {
            case Norm::L1: return v.lpNorm<1>();
            case Norm::L2: return v.norm();
            default: return v.lpNorm<Eigen::Infinity>();
        }
    };
    for (std::size_t level = 0; level < schedule.size() && r.finite && !r.converged; ++level) {
        const double eps = schedule[level];
        const bool last = level + 1 == schedule.size();
        const double lam_a = std::isinf(opt.rho_a) ? 1.0 : opt.rho_a / (opt.rho_a + eps);
        const double lam_b = std::isinf(opt.rho_b) ? 1.0 : opt.rho_b / (opt.rho_b + eps);
        build_kernel(C, r.f + eps * la, r.g + eps * lb, eps, K);
        // Scalings relative to the absorbed potentials: f = f_abs + eps log u.
        Vector lu = Vector::Zero(N), lv = Vector::Zero(M);
        const int iters = last ? opt.max_iter : opt.iters_per_level;
        for (int it = 1; it <= iters; ++it) {
            const Vector lu_old = lu, lv_old = lv;
            const bool check = last && (it % opt.check_every == 0 || it == iters);
            // g update: log v = lam (log b_j-free form) ... with K holding a_i b_j exp((f+g-C)/eps):
            // sum_i a_i exp((f_i - C_ij)/eps) = (K^T u)_j / (b_j exp(g_abs_j/eps)).
            mul_t(K, lu.array().exp().matrix(), Ku);
            for (Index j = 0; j < M; ++j) {
                const double gabs = r.g[j];
                const double gnew = -lam_b * eps * (std::log(Ku[j]) - lb[j] - gabs / eps);
                lv[j] = b[j] > 0 ? (gnew - gabs) / eps : 0;
            }
            mul(K, lv.array().exp().matrix(), Kv);
            // Row sums of the plan at (u_old, v_new) are u_old_i (K v)_i.
            Vector ratio(N), fnew(N);
            for (Index i = 0; i < N; ++i) {
                const double fabs_ = r.f[i];
                ratio[i] = a[i] > 0 ? std::exp(lu[i]) * Kv[i] / a[i] : 0;
                fnew[i] = -lam_a * eps * (std::log(Kv[i]) - la[i] - fabs_ / eps);
            }
            double err = 0;
            if (check) {
                Vector res(N);
                for (Index i = 0; i < N; ++i) {
                    const double fi = r.f[i] + eps * lu[i];
                    const double target = std::isinf(opt.rho_a) ? 1.0 : std::exp(-fi / opt.rho_a);
                    res[i] = a[i] * (ratio[i] - target);
                }
                err = lnorm(res);
            }
            ++r.iterations;
            if (!lv.allFinite() || !fnew.allFinite()) {
                lu = lu_old;
                lv = lv_old;
                r.finite = false;
                break;
            }
            if (check && err <= opt.tol) {
                r.converged = true;
                break;  // keep (u_old, v): the plan the test certified
            }
            for (Index i = 0; i < N; ++i) lu[i] = a[i] > 0 ? (fnew[i] - r.f[i]) / eps : 0;
            // Absorb large scalings into the potentials and rebuild the kernel.
            if (lu.cwiseAbs().maxCoeff() > limit || lv.cwiseAbs().maxCoeff() > limit) {
                r.f += eps * lu;
                r.g += eps * lv;
                lu.setZero();
                lv.setZero();
                build_kernel(C, r.f + eps * la, r.g + eps * lb, eps, K);
            }
        }
        r.f += eps * lu;
        r.g += eps * lv;
    }
    K.resize(0, 0);
    auto D = dense_kernel(C);
    finish(*D, a, b, opt, schedule.back(), r);
    extract_plan(*D, a, b, opt, schedule.back(), r);
    return r;
}

}  // namespace orbit::ot::detail
