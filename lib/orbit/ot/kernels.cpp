#include "orbit/ot/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "orbit/core/error.hpp"
#include "orbit/ot/simd.hpp"

namespace orbit::ot::detail {
namespace {

using Index = Eigen::Index;
constexpr Index kOutBlock = kOutputBlock;  // outputs per parallel work item
constexpr Index kTile = 2048;     // summed elements per cache tile
// Outputs are independent, so the dynamic schedules (which keep both threads
// busy on a loaded machine) do not change any result.
// Below this many pairs a pass runs on one thread: waking a second thread costs
// more than it saves, badly so on a busy machine.
constexpr double kParallelPairs = 1 << 20;

// The fast pass is trusted when the sum lies in this range; outside it the
// output is recomputed with an exact max-shifted log-sum-exp.
constexpr double kLow = 1e-250, kHigh = 1e250;

using simd::W, simd::vd, simd::splat, simd::load, simd::hsum, simd::keep_first;
Index padded(Index n) { return (n + W - 1) / W * W; }

// ---- dense cost, column-major ----------------------------------------------
class DenseKernel final : public CostKernel {
public:
    explicit DenseKernel(const Matrix& c) : c_(c), forbidden_(!c.allFinite()) {}
    Index n() const override { return c_.rows(); }
    Index m() const override { return c_.cols(); }
    std::string name() const override { return "dense"; }
    double max_cost() const override {
        // A plain loop: Eigen's AVX-512 max reduction trips a GCC 12 false warning.
        double mx = -std::numeric_limits<double>::infinity();
        for (Index t = 0; t < c_.size(); ++t)
            if (std::isfinite(c_.data()[t])) mx = std::max(mx, c_.data()[t]);
        return mx;
    }

    void costs(int side, Index k, double* out) const override {
        if (side == 0)
            for (Index j = 0; j < c_.cols(); ++j) out[j] = c_(k, j);
        else
            std::copy(c_.col(k).data(), c_.col(k).data() + c_.rows(), out);
    }

    void sums(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const override {
        if (forbidden_) return sums_forbidden(side, h, shift, inv_eps, s, w);
        const Index N = c_.rows(), M = c_.cols();
        const double* C = c_.data();
        const Index other = side == 1 ? N : M;
        // The summed potentials over eps, padded to whole vectors.
        std::vector<double> hs(padded(other), 0.0);
        for (Index l = 0; l < other; ++l) hs[l] = h[l] * inv_eps;
        if (side == 1) {
            // Column j is contiguous: one vector reduction per output.
            const Index full = N / W * W;
#pragma omp parallel for schedule(dynamic, 16) if (double(N) * M > kParallelPairs)
            for (Index j = 0; j < M; ++j) {
                const double* col = C + j * N;
                const vd sh = splat(shift[j] * inv_eps), ie = splat(inv_eps);
                vd acc = splat(0.0), wacc = splat(0.0);
                for (Index i = 0; i < full; i += W) {
                    const vd c = load(col + i);
                    const vd e = simd::exp(load(&hs[i]) + sh - c * ie);
                    acc += e;
                    if (w) wacc += c * e;
                }
                if (full < N) {
                    double tail[W] = {};
                    std::copy(col + full, col + N, tail);
                    const vd c = load(tail);
                    const vd e = keep_first(simd::exp(load(&hs[full]) + sh - c * ie), int(N - full));
                    acc += e;
                    if (w) wacc += c * e;
                }
                s[j] = hsum(acc);
                if (w) w[j] = hsum(wacc);
            }
            return;
        }
        // Rows: walk columns, accumulating a block of rows elementwise.
        constexpr Index kRows = 256, kVecs = kRows / W;
        const Index blocks = (N + kRows - 1) / kRows;
        std::vector<double> shs(padded(N), 0.0);
        for (Index i = 0; i < N; ++i) shs[i] = shift[i] * inv_eps;
#pragma omp parallel for schedule(dynamic, 16) if (double(N) * M > kParallelPairs)
        for (Index bi = 0; bi < blocks; ++bi) {
            const Index i0 = bi * kRows, len = std::min(N, i0 + kRows) - i0;
            const Index vecs = (len + W - 1) / W;
            vd acc[kVecs], wacc[kVecs], sh[kVecs];
            for (Index t = 0; t < vecs; ++t) acc[t] = wacc[t] = splat(0.0), sh[t] = load(&shs[i0 + t * W]);
            const vd ie = splat(inv_eps);
            double tail[W] = {};
            for (Index j = 0; j < M; ++j) {
                const double* col = C + j * N + i0;
                const vd hj = splat(hs[j]);
                for (Index t = 0; t < vecs; ++t) {
                    const Index rest = len - t * W;
                    vd c;
                    if (rest >= W) {
                        c = load(col + t * W);
                    } else {
                        std::copy(col + t * W, col + len, tail);
                        c = load(tail);
                    }
                    vd e = simd::exp(hj + sh[t] - c * ie);
                    if (rest < W) e = keep_first(e, int(rest));
                    acc[t] += e;
                    if (w) wacc[t] += c * e;
                }
            }
            for (Index t = 0; t < len; ++t) {
                s[i0 + t] = acc[t / W][t % W];
                if (w) w[i0 + t] = wacc[t / W][t % W];
            }
        }
    }

private:
    // +inf costs are forbidden pairs: exactly zero mass (the vector pass would
    // give them the clamped exp(-708), and inf times it in w). Plain loops.
    void sums_forbidden(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const {
        const Index n = size(side), m = other(side);
#pragma omp parallel for schedule(dynamic, 16) if (double(n) * m > kParallelPairs)
        for (Index k = 0; k < n; ++k) {
            double acc = 0, wacc = 0;
            for (Index l = 0; l < m; ++l) {
                const double c = side == 0 ? c_(k, l) : c_(l, k);
                if (std::isinf(c)) continue;
                const double e = std::exp((h[l] + shift[k] - c) * inv_eps);
                acc += e, wacc += c * e;
            }
            s[k] = acc;
            if (w) w[k] = wacc;
        }
    }

    const Matrix& c_;
    bool forbidden_;
};

// ---- |x - y|^p on the fly ---------------------------------------------------
// Coordinates are stored per dimension (structure of arrays, each padded to
// whole vectors) so the summed index runs over contiguous memory.
class PointKernel final : public CostKernel {
public:
    PointKernel(const Points& x, const Points& y, int p, bool half)
        : n_(x.rows()), m_(y.rows()), d_(x.cols()), np_(padded(n_)), mp_(padded(m_)), p_(p),
          scale_(half ? 0.5 : 1.0) {
        xs_.assign(d_ * np_, 0.0);
        ys_.assign(d_ * mp_, 0.0);
        for (Index i = 0; i < n_; ++i)
            for (Index d = 0; d < d_; ++d) xs_[d * np_ + i] = x(i, d);
        for (Index j = 0; j < m_; ++j)
            for (Index d = 0; d < d_; ++d) ys_[d * mp_ + j] = y(j, d);
    }
    Index n() const override { return n_; }
    Index m() const override { return m_; }
    std::string name() const override { return "online"; }

    double max_cost() const override {
        // diameter^p of the union's bounding box: an upper bound, as GeomLoss uses.
        double diam2 = 0;
        for (Index d = 0; d < d_; ++d) {
            double lo = std::numeric_limits<double>::infinity(), hi = -lo;
            for (Index i = 0; i < n_; ++i) lo = std::min(lo, xs_[d * np_ + i]), hi = std::max(hi, xs_[d * np_ + i]);
            for (Index j = 0; j < m_; ++j) lo = std::min(lo, ys_[d * mp_ + j]), hi = std::max(hi, ys_[d * mp_ + j]);
            diam2 += (hi - lo) * (hi - lo);
        }
        return scale_ * (p_ == 1 ? std::sqrt(diam2) : diam2);
    }

    void costs(int side, Index k, double* out) const override {
        const std::vector<double>& A = side == 0 ? xs_ : ys_;
        const std::vector<double>& B = side == 0 ? ys_ : xs_;
        const Index sa = side == 0 ? np_ : mp_, sb = side == 0 ? mp_ : np_;
        const Index nb = side == 0 ? m_ : n_;
        for (Index l = 0; l < nb; ++l) out[l] = 0;
        for (Index d = 0; d < d_; ++d) {
            const double a = A[d * sa + k];
            const double* b = &B[d * sb];
            for (Index l = 0; l < nb; ++l) out[l] += (a - b[l]) * (a - b[l]);
        }
        for (Index l = 0; l < nb; ++l) out[l] = scale_ * (p_ == 1 ? std::sqrt(out[l]) : out[l]);
    }

    void sums(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const override {
        sums_part(side, 0, size(side), h, shift, inv_eps, s, w);
    }
    bool part_passes() const override { return true; }
    bool owns_points() const override { return true; }
    void sums_part(int side, Index begin, Index end, const double* h, const double* shift, double inv_eps, double* s,
                   double* w) const override {
        const Out o{begin, end, s, w};
        switch (d_) {
            case 1: return run<1>(side, h, shift, inv_eps, o);
            case 2: return run<2>(side, h, shift, inv_eps, o);
            case 3: return run<3>(side, h, shift, inv_eps, o);
            default: return run<0>(side, h, shift, inv_eps, o);
        }
    }

private:
    // The outputs [begin, end) of a pass and where their sums go (s[k], w[k]).
    struct Out {
        Index begin, end;
        double *s, *w;
    };

    template <int D>
    void run(int side, const double* h, const double* shift, double inv_eps, const Out& o) const {
        if (p_ == 1) {
            if (o.w) return pass<D, 1, true>(side, h, shift, inv_eps, o);
            return pass<D, 1, false>(side, h, shift, inv_eps, o);
        }
        if (o.w) return pass<D, 2, true>(side, h, shift, inv_eps, o);
        return pass<D, 2, false>(side, h, shift, inv_eps, o);
    }

    // Adds, for R outputs and one vector of summed points,
    //   exp(h_l/eps + shift_k/eps - C_kl/eps) to acc[r] (and C_kl times it to wacc[r]).
    // Bl points at the vector's first coordinate (dimension d at Bl + d * sb;
    // for D == 0, at the precomputed squared distances) and hl at its h/eps.
    // One load of the summed side's coordinates serves R outputs.
    template <int D, int P, bool Weighted, int R>
    static void accumulate(const double* Bl, Index sb, const double* hl, const double (*a)[8], const vd* sh, vd cs,
                           vd* acc, vd* wacc, int valid) {
        vd b[D == 0 ? 1 : D];
        if constexpr (D > 0)
            for (int d = 0; d < D; ++d) b[d] = load(Bl + d * sb);
        const vd hv = load(hl);
        for (int r = 0; r < R; ++r) {
            vd cc = splat(0.0);
            if constexpr (D > 0) {
                for (int d = 0; d < D; ++d) {
                    const vd t = splat(a[r][d]) - b[d];
                    cc += t * t;
                }
            } else {
                cc = load(Bl);
            }
            if constexpr (P == 1) cc = simd::sqrt(cc);
            vd e = simd::exp(hv + sh[r] - cc * cs);
            if (valid < W) e = keep_first(e, valid);
            acc[r] += e;
            if constexpr (Weighted) wacc[r] += cc * e;
        }
    }

    template <int D, int P, bool Weighted>
    void pass(int side, const double* h, const double* shift, double inv_eps, const Out& o) const {
        const std::vector<double>& A = side == 0 ? xs_ : ys_;
        const std::vector<double>& B = side == 0 ? ys_ : xs_;
        const Index na = o.end, nb = side == 0 ? m_ : n_;
        const Index sa = side == 0 ? np_ : mp_, sb = side == 0 ? mp_ : np_;
        const Index dims = D == 0 ? d_ : D;
        double *s = o.s, *w = o.w;
        // exp argument: h_l/eps + shift_k/eps - (scale/eps) |x - y|^p
        std::vector<double> hs(sb, 0.0);
        for (Index l = 0; l < nb; ++l) hs[l] = h[l] * inv_eps;
        const vd cs = splat(scale_ * inv_eps);
        const Index first = o.begin / kOutBlock, blocks = (na + kOutBlock - 1) / kOutBlock;
#pragma omp parallel if (double(na - o.begin) * nb > kParallelPairs)
        {
            std::vector<double> dist(D == 0 ? kTile : 0);
#pragma omp for schedule(dynamic, 4)
            for (Index bk = first; bk < blocks; ++bk) {
                const Index k0 = bk * kOutBlock, k1 = std::min(na, k0 + kOutBlock);
                vd acc[kOutBlock], wacc[kOutBlock], sh[kOutBlock];
                double a[kOutBlock][8] = {};
                for (Index k = k0; k < k1; ++k) {
                    acc[k - k0] = wacc[k - k0] = splat(0.0);
                    sh[k - k0] = splat(shift[k] * inv_eps);
                    if constexpr (D > 0)
                        for (int d = 0; d < D; ++d) a[k - k0][d] = A[d * sa + k];
                }
                for (Index l0 = 0; l0 < nb; l0 += kTile) {
                    const Index l1 = std::min(nb, l0 + kTile);
                    if constexpr (D > 0) {
                        Index k = k0;
                        for (; k + 4 <= k1; k += 4)
                            for (Index l = l0; l < l1; l += W)
                                accumulate<D, P, Weighted, 4>(&B[l], sb, &hs[l], a + (k - k0), sh + (k - k0), cs,
                                                              acc + (k - k0), wacc + (k - k0),
                                                              int(std::min<Index>(W, l1 - l)));
                        for (; k < k1; ++k)
                            for (Index l = l0; l < l1; l += W)
                                accumulate<D, P, Weighted, 1>(&B[l], sb, &hs[l], a + (k - k0), sh + (k - k0), cs,
                                                              acc + (k - k0), wacc + (k - k0),
                                                              int(std::min<Index>(W, l1 - l)));
                    } else {
                        // Generic dimension: the tile's squared distances first, then the exponentials.
                        for (Index k = k0; k < k1; ++k) {
                            double* c = dist.data();
                            for (Index l = l0; l < l1; ++l) c[l - l0] = 0;
                            for (Index d = 0; d < dims; ++d) {
                                const double ad = A[d * sa + k];
                                const double* b = &B[d * sb];
                                for (Index l = l0; l < l1; ++l) c[l - l0] += (ad - b[l]) * (ad - b[l]);
                            }
                            for (Index l = l0; l < l1; l += W)
                                accumulate<0, P, Weighted, 1>(c + (l - l0), 0, &hs[l], a, sh + (k - k0), cs,
                                                              acc + (k - k0), wacc + (k - k0),
                                                              int(std::min<Index>(W, l1 - l)));
                        }
                    }
                }
                for (Index k = k0; k < k1; ++k) {
                    s[k] = hsum(acc[k - k0]);
                    if (w) w[k] = scale_ * hsum(wacc[k - k0]);
                }
            }
        }
    }

    Index n_, m_, d_, np_, mp_;
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
    out.resize(n);
    ratio.resize(n);  // first the sums s_k (or log s_k), then the ratios made from them
    if (K.lse(side, h.data(), prev.data(), inv_eps, ratio.data())) {
        for (Index k = 0; k < n; ++k) {
            out[k] = prev[k] - eps * ratio[k];
            ratio[k] = std::exp(ratio[k]);
        }
        return;
    }
    K.sums(side, h.data(), prev.data(), inv_eps, ratio.data(), nullptr);
    std::vector<Index> redo;
    for (Index k = 0; k < n; ++k) {
        if (ratio[k] >= kLow && ratio[k] <= kHigh) {
            out[k] = prev[k] - eps * std::log(ratio[k]);  // ratio[k] = s_k
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
