#include "orbit/ot/kernels.hpp"

#include <algorithm>
#include <limits>

#include "orbit/core/error.hpp"

// The passes are bound by exponentials: let GCC use full-width AVX-512
// vectors where the processor has them (it prefers 256 bits by default).
#pragma GCC target("prefer-vector-width=512")

namespace orbit::ot::detail {
namespace {

using Index = Eigen::Index;
constexpr Index kOutBlock = 16;   // outputs per parallel work item
constexpr Index kTile = 2048;     // summed elements per cache tile
// Outputs are independent, so the dynamic schedules (which keep both threads
// busy on a loaded machine) do not change any result.
// Below this many pairs a pass runs on one thread: waking a second thread costs
// more than it saves, badly so on a busy machine.
constexpr double kParallelPairs = 1 << 20;

// The fast pass is trusted when the sum lies in this range; outside it the
// output is recomputed with an exact max-shifted log-sum-exp.
constexpr double kLow = 1e-250, kHigh = 1e250;

// ---- dense cost, column-major ----------------------------------------------
class DenseKernel final : public CostKernel {
public:
    explicit DenseKernel(const Matrix& c) : c_(c) {}
    Index n() const override { return c_.rows(); }
    Index m() const override { return c_.cols(); }
    std::string name() const override { return "dense"; }
    double max_cost() const override { return c_.maxCoeff(); }

    void costs(int side, Index k, double* out) const override {
        if (side == 0)
            for (Index j = 0; j < c_.cols(); ++j) out[j] = c_(k, j);
        else
            std::copy(c_.col(k).data(), c_.col(k).data() + c_.rows(), out);
    }

    void sums(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const override {
        const Index N = c_.rows(), M = c_.cols();
        const double* C = c_.data();
        if (side == 1) {
            // Column j is contiguous: one reduction per output.
#pragma omp parallel for schedule(dynamic, 16) if (double(N) * M > kParallelPairs)
            for (Index j = 0; j < M; ++j) {
                const double* col = C + j * N;
                const double sh = shift[j];
                double acc = 0, wacc = 0;
                if (w) {
#pragma omp simd reduction(+ : acc, wacc)
                    for (Index i = 0; i < N; ++i) {
                        const double e = vexp((h[i] - col[i] + sh) * inv_eps);
                        acc += e;
                        wacc += col[i] * e;
                    }
                    w[j] = wacc;
                } else {
#pragma omp simd reduction(+ : acc)
                    for (Index i = 0; i < N; ++i) acc += vexp((h[i] - col[i] + sh) * inv_eps);
                }
                s[j] = acc;
            }
            return;
        }
        // Rows: walk columns, accumulating a block of rows elementwise.
        const Index blocks = (N + 255) / 256;
#pragma omp parallel for schedule(dynamic, 16) if (double(N) * M > kParallelPairs)
        for (Index bi = 0; bi < blocks; ++bi) {
            const Index i0 = bi * 256, i1 = std::min(N, i0 + 256), len = i1 - i0;
            double acc[256], wacc[256];
            for (Index t = 0; t < len; ++t) acc[t] = 0, wacc[t] = 0;
            const double* sh = shift + i0;
            for (Index j = 0; j < M; ++j) {
                const double* col = C + j * N + i0;
                const double hj = h[j];
                if (w) {
#pragma omp simd
                    for (Index t = 0; t < len; ++t) {
                        const double e = vexp((hj - col[t] + sh[t]) * inv_eps);
                        acc[t] += e;
                        wacc[t] += col[t] * e;
                    }
                } else {
#pragma omp simd
                    for (Index t = 0; t < len; ++t) acc[t] += vexp((hj - col[t] + sh[t]) * inv_eps);
                }
            }
            for (Index t = 0; t < len; ++t) {
                s[i0 + t] = acc[t];
                if (w) w[i0 + t] = wacc[t];
            }
        }
    }

private:
    const Matrix& c_;
};

// ---- |x - y|^p on the fly ---------------------------------------------------
// Coordinates are stored per dimension (structure of arrays) so the summed
// index runs over contiguous memory and vectorizes.
class PointKernel final : public CostKernel {
public:
    PointKernel(const Points& x, const Points& y, int p, bool half)
        : n_(x.rows()), m_(y.rows()), d_(x.cols()), p_(p), scale_(half ? 0.5 : 1.0) {
        xs_.resize(d_ * n_);
        ys_.resize(d_ * m_);
        for (Index i = 0; i < n_; ++i)
            for (Index d = 0; d < d_; ++d) xs_[d * n_ + i] = x(i, d);
        for (Index j = 0; j < m_; ++j)
            for (Index d = 0; d < d_; ++d) ys_[d * m_ + j] = y(j, d);
    }
    Index n() const override { return n_; }
    Index m() const override { return m_; }
    std::string name() const override { return "online"; }

    double max_cost() const override {
        // diameter^p of the union's bounding box: an upper bound, as GeomLoss uses.
        double diam2 = 0;
        for (Index d = 0; d < d_; ++d) {
            double lo = std::numeric_limits<double>::infinity(), hi = -lo;
            for (Index i = 0; i < n_; ++i) lo = std::min(lo, xs_[d * n_ + i]), hi = std::max(hi, xs_[d * n_ + i]);
            for (Index j = 0; j < m_; ++j) lo = std::min(lo, ys_[d * m_ + j]), hi = std::max(hi, ys_[d * m_ + j]);
            diam2 += (hi - lo) * (hi - lo);
        }
        return scale_ * (p_ == 1 ? std::sqrt(diam2) : diam2);
    }

    void costs(int side, Index k, double* out) const override {
        const std::vector<double>& A = side == 0 ? xs_ : ys_;
        const std::vector<double>& B = side == 0 ? ys_ : xs_;
        const Index na = side == 0 ? n_ : m_, nb = side == 0 ? m_ : n_;
        for (Index l = 0; l < nb; ++l) out[l] = 0;
        for (Index d = 0; d < d_; ++d) {
            const double a = A[d * na + k];
            const double* b = &B[d * nb];
#pragma omp simd
            for (Index l = 0; l < nb; ++l) out[l] += (a - b[l]) * (a - b[l]);
        }
        for (Index l = 0; l < nb; ++l) out[l] = scale_ * (p_ == 1 ? std::sqrt(out[l]) : out[l]);
    }

    void sums(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const override {
        switch (d_) {
            case 1: return run<1>(side, h, shift, inv_eps, s, w);
            case 2: return run<2>(side, h, shift, inv_eps, s, w);
            case 3: return run<3>(side, h, shift, inv_eps, s, w);
            default: return run<0>(side, h, shift, inv_eps, s, w);
        }
    }

private:
    template <int D>
    void run(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const {
        if (p_ == 1) return run2<D, 1>(side, h, shift, inv_eps, s, w);
        return run2<D, 2>(side, h, shift, inv_eps, s, w);
    }

    template <int D, int P>
    void run2(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const {
        const std::vector<double>& A = side == 0 ? xs_ : ys_;
        const std::vector<double>& B = side == 0 ? ys_ : xs_;
        const Index na = side == 0 ? n_ : m_, nb = side == 0 ? m_ : n_;
        const Index dims = D == 0 ? d_ : D;
        const double scale = scale_;
        const Index blocks = (na + kOutBlock - 1) / kOutBlock;
#pragma omp parallel if (double(na) * nb > kParallelPairs)
        {
            std::vector<double> cbuf(D == 0 ? kTile : 0);
#pragma omp for schedule(dynamic, 4)
            for (Index bk = 0; bk < blocks; ++bk) {
                const Index k0 = bk * kOutBlock, k1 = std::min(na, k0 + kOutBlock);
                double acc[kOutBlock] = {}, wacc[kOutBlock] = {};
                for (Index l0 = 0; l0 < nb; l0 += kTile) {
                    const Index l1 = std::min(nb, l0 + kTile);
                    for (Index k = k0; k < k1; ++k) {
                        const double sh = shift[k] * inv_eps;
                        double a[D == 0 ? 1 : D];
                        if constexpr (D > 0)
                            for (int d = 0; d < D; ++d) a[d] = A[d * na + k];
                        double ts = 0, tw = 0;
                        if constexpr (D == 0) {
                            // Generic dimension: build the tile's costs, then exponentiate.
                            double* c = cbuf.data();
                            for (Index l = l0; l < l1; ++l) c[l - l0] = 0;
                            for (Index d = 0; d < dims; ++d) {
                                const double ad = A[d * na + k];
                                const double* b = &B[d * nb];
#pragma omp simd
                                for (Index l = l0; l < l1; ++l) c[l - l0] += (ad - b[l]) * (ad - b[l]);
                            }
#pragma omp simd reduction(+ : ts, tw)
                            for (Index l = l0; l < l1; ++l) {
                                double cc = c[l - l0];
                                if constexpr (P == 1) cc = std::sqrt(cc);
                                cc *= scale;
                                const double e = vexp((h[l] - cc) * inv_eps + sh);
                                ts += e;
                                tw += cc * e;
                            }
                        } else if (w) {
#pragma omp simd reduction(+ : ts, tw)
                            for (Index l = l0; l < l1; ++l) {
                                double cc = 0;
                                for (int d = 0; d < D; ++d) {
                                    const double t = a[d] - B[d * nb + l];
                                    cc = std::fma(t, t, cc);
                                }
                                if constexpr (P == 1) cc = std::sqrt(cc);
                                cc *= scale;
                                const double e = vexp((h[l] - cc) * inv_eps + sh);
                                ts += e;
                                tw += cc * e;
                            }
                        } else {
#pragma omp simd reduction(+ : ts)
                            for (Index l = l0; l < l1; ++l) {
                                double cc = 0;
                                for (int d = 0; d < D; ++d) {
                                    const double t = a[d] - B[d * nb + l];
                                    cc = std::fma(t, t, cc);
                                }
                                if constexpr (P == 1) cc = std::sqrt(cc);
                                ts += vexp((h[l] - scale * cc) * inv_eps + sh);
                            }
                        }
                        acc[k - k0] += ts;
                        wacc[k - k0] += tw;
                    }
                }
                for (Index k = k0; k < k1; ++k) {
                    s[k] = acc[k - k0];
                    if (w) w[k] = wacc[k - k0];
                }
            }
        }
    }

    Index n_, m_, d_;
    int p_;
    double scale_;
    std::vector<double> xs_, ys_;
};

}  // namespace

std::unique_ptr<CostKernel> dense_kernel(const Matrix& cost) { return std::make_unique<DenseKernel>(cost); }

std::unique_ptr<CostKernel> point_kernel(const Points& x, const Points& y, int p, bool half) {
    require(p == 1 || p == 2, "sinkhorn: the cost exponent p must be 1 or 2, found " + std::to_string(p));
    return std::make_unique<PointKernel>(x, y, p, half);
}

void softmin(const CostKernel& K, int side, const Vector& h, const Vector& prev, double eps, Vector& out,
             Vector& ratio) {
    const Index n = K.size(side), m = K.other(side);
    const double inv_eps = 1.0 / eps;
    Vector s(n);
    out.resize(n);
    ratio.resize(n);
    if (K.lse(side, h.data(), prev.data(), inv_eps, s.data())) {
        for (Index k = 0; k < n; ++k) {
            out[k] = prev[k] - eps * s[k];
            ratio[k] = std::exp(s[k]);
        }
        return;
    }
    K.sums(side, h.data(), prev.data(), inv_eps, s.data(), nullptr);
    std::vector<Index> redo;
    for (Index k = 0; k < n; ++k) {
        if (s[k] >= kLow && s[k] <= kHigh) {
            out[k] = prev[k] - eps * std::log(s[k]);
            ratio[k] = s[k];
        } else {
            redo.push_back(k);
        }
    }
    if (redo.empty()) return;
    // Exact two-pass log-sum-exp for the outputs the fast pass could not resolve.
#pragma omp parallel if (double(redo.size()) * m > kParallelPairs)
    {
        std::vector<double> c(m), t(m);
#pragma omp for schedule(dynamic, 4)
        for (std::size_t r = 0; r < redo.size(); ++r) {
            const Index k = redo[r];
            K.costs(side, k, c.data());
            double mx = -std::numeric_limits<double>::infinity();
            for (Index l = 0; l < m; ++l) {
                t[l] = (h[l] - c[l]) * inv_eps;
                mx = std::max(mx, t[l]);
            }
            if (!std::isfinite(mx)) {
                out[k] = std::isnan(mx) ? mx : -eps * mx;  // NaN stays NaN; all -inf -> +inf potential
                ratio[k] = 0;
                continue;
            }
            double acc = 0;
#pragma omp simd reduction(+ : acc)
            for (Index l = 0; l < m; ++l) acc += vexp(t[l] - mx);
            out[k] = -eps * (mx + std::log(acc));
            // ratio = exp((prev - out)/eps); may legitimately over/underflow far from convergence.
            ratio[k] = std::exp((prev[k] - out[k]) / eps);
        }
    }
}

}  // namespace orbit::ot::detail
