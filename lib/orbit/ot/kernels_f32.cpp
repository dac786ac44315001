// The float32 matrix-free point kernel: the same passes as the double one
// (kernels.cpp) with twice the pairs per SIMD instruction. Exponents are
// formed and exponentiated in float (relative error ~1e-7 per term); each
// tile's lane sums are added into double accumulators, so the sums over
// many pairs keep double precision. Sums a float cannot hold (below 1e-30 or
// above 1e30) come back as 0, which makes softmin redo that output with the
// exact double log-sum-exp. Potentials, the stopping test and all totals stay
// in double.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "orbit/core/error.hpp"
#include "orbit/ot/kernels.hpp"
#include "orbit/ot/simd.hpp"

namespace orbit::ot::detail {
namespace {

using Index = Eigen::Index;
constexpr int WF = 2 * simd::W;  // floats per vector
typedef float vf __attribute__((vector_size(WF * 4)));
typedef std::int32_t vi32 __attribute__((vector_size(WF * 4)));
constexpr Index kOutBlock = kOutputBlock, kTile = 2048;
constexpr double kParallelPairs = 1 << 20;

inline vf splatf(float x) { return vf{} + x; }
inline vf loadf(const float* p) {
    vf v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// exp(x) in float, relative error ~2e-7 (Cody-Waite reduction, degree-6 polynomial).
inline vf expf_v(vf x) {
    x = x < -87.0f ? splatf(-87.0f) : x;
    x = x > 88.0f ? splatf(88.0f) : x;
    const vf shifter = splatf(12582912.0f);  // 1.5 * 2^23
    vf kd = x * 1.44269504f + shifter;
    vi32 ki;
    std::memcpy(&ki, &kd, sizeof ki);
    kd -= shifter;
    vf r = x - kd * 0.693359375f;
    r = r - kd * -2.12194440e-4f;
    const vf r2 = r * r;
    const vf p = ((((((r * (1.0f / 720) + 1.0f / 120) * r + 1.0f / 24) * r) + 1.0f / 6) * r + 0.5f) * r2) + r + 1.0f;
    const vi32 bits = (ki - vi32{} - 0x4B400000 + 127) << 23;  // low bits of the shifted integer, biased
    vf scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

class PointKernelF32 final : public CostKernel {
public:
    PointKernelF32(const Points& x, const Points& y, int p, bool half)
        : exact_(point_kernel(x, y, p, half)), n_(x.rows()), m_(y.rows()), d_(x.cols()),
          np_(pad(n_)), mp_(pad(m_)), p_(p), scale_(half ? 0.5 : 1.0) {
        xs_.assign(d_ * np_, 0.0f);
        ys_.assign(d_ * mp_, 0.0f);
        for (Index i = 0; i < n_; ++i)
            for (Index d = 0; d < d_; ++d) xs_[d * np_ + i] = float(x(i, d));
        for (Index j = 0; j < m_; ++j)
            for (Index d = 0; d < d_; ++d) ys_[d * mp_ + j] = float(y(j, d));
    }
    Index n() const override { return n_; }
    Index m() const override { return m_; }
    std::string name() const override { return "online-float32"; }
    double max_cost() const override { return exact_->max_cost(); }
    void costs(int side, Index k, double* out) const override { exact_->costs(side, k, out); }

    void sums(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const override {
        sums_part(side, 0, size(side), h, shift, inv_eps, s, w);
    }
    bool part_passes() const override { return true; }
    bool owns_points() const override { return true; }
    void sums_part(int side, Index begin, Index end, const double* h, const double* shift, double inv_eps, double* s,
                   double* w) const override {
        const Out o{begin, end, s, w};
        switch (d_) {
            case 2: return run<2>(side, h, shift, inv_eps, o);
            case 3: return run<3>(side, h, shift, inv_eps, o);
            default: return run<0>(side, h, shift, inv_eps, o);
        }
    }

private:
    static Index pad(Index n) { return (n + WF - 1) / WF * WF; }
    // The outputs [begin, end) of a pass and where their sums go (s[k], w[k]).
    struct Out {
        Index begin, end;
        double *s, *w;
    };

    template <int DD>
    void run(int side, const double* h, const double* shift, double inv_eps, const Out& o) const {
        if (p_ == 1) return o.w ? pass<DD, 1, true>(side, h, shift, inv_eps, o) : pass<DD, 1, false>(side, h, shift, inv_eps, o);
        return o.w ? pass<DD, 2, true>(side, h, shift, inv_eps, o) : pass<DD, 2, false>(side, h, shift, inv_eps, o);
    }

    // DD: the dimension when known at compile time (0: d_).
    template <int DD, int P, bool Weighted>
    void pass(int side, const double* h, const double* shift, double inv_eps, const Out& o) const {
        const std::vector<float>& A = side == 0 ? xs_ : ys_;
        const std::vector<float>& B = side == 0 ? ys_ : xs_;
        const Index na = o.end, nb = side == 0 ? m_ : n_;
        double *s = o.s, *w = o.w;
        const Index sa = side == 0 ? np_ : mp_, sb = side == 0 ? mp_ : np_;
        // Padded summed points get h = -inf: exactly zero terms.
        std::vector<float> hs(sb, -std::numeric_limits<float>::infinity());
        for (Index l = 0; l < nb; ++l) hs[l] = float(h[l] * inv_eps);
        const float cs = float(scale_ * inv_eps);
        const Index first = o.begin / kOutBlock, blocks = (na + kOutBlock - 1) / kOutBlock;
        const Index D = DD ? DD : d_;
#pragma omp parallel for schedule(dynamic, 4) if (double(na - o.begin) * nb > kParallelPairs)
        for (Index bk = first; bk < blocks; ++bk) {
            const Index k0 = bk * kOutBlock, k1 = std::min(na, k0 + kOutBlock);
            double tot[kOutBlock] = {}, wtot[kOutBlock] = {};
            float a[kOutBlock][8] = {};
            vf sh[kOutBlock];
            for (Index k = k0; k < k1; ++k) {
                sh[k - k0] = splatf(float(shift[k] * inv_eps));
                for (Index d = 0; d < std::min<Index>(D, 8); ++d) a[k - k0][d] = A[d * sa + k];
            }
            for (Index l0 = 0; l0 < nb; l0 += kTile) {
                const Index l1 = std::min(sb, l0 + kTile);
                vf acc[kOutBlock], wacc[kOutBlock];
                for (Index r = 0; r < kOutBlock; ++r) acc[r] = wacc[r] = splatf(0.0f);
                for (Index l = l0; l < l1; l += WF) {
                    const vf hv = loadf(&hs[l]);
                    vf b[8];
                    for (Index d = 0; d < std::min<Index>(D, 8); ++d) b[d] = loadf(&B[d * sb + l]);
                    for (Index k = k0; k < k1; ++k) {
                        vf cc = splatf(0.0f);
                        if (D <= 8) {
                            for (Index d = 0; d < D; ++d) {
                                const vf t = splatf(a[k - k0][d]) - b[d];
                                cc += t * t;
                            }
                        } else {
                            for (Index d = 0; d < D; ++d) {
                                const vf t = splatf(A[d * sa + k]) - loadf(&B[d * sb + l]);
                                cc += t * t;
                            }
                        }
                        if constexpr (P == 1)
                            for (int t = 0; t < WF; ++t) cc[t] = std::sqrt(cc[t]);
                        const vf e = expf_v(hv + sh[k - k0] - cc * cs);
                        acc[k - k0] += e;
                        if constexpr (Weighted) wacc[k - k0] += cc * e;
                    }
                }
                for (Index k = k0; k < k1; ++k)
                    for (int t = 0; t < WF; ++t) tot[k - k0] += acc[k - k0][t], wtot[k - k0] += wacc[k - k0][t];
            }
            for (Index k = k0; k < k1; ++k) {
                const double v = tot[k - k0];
                s[k] = v >= 1e-30 && v <= 1e30 ? v : 0.0;  // 0: redone exactly in double
                if (w) w[k] = scale_ * wtot[k - k0];
            }
        }
    }

    std::unique_ptr<CostKernel> exact_;  // double costs for exact redos and plans
    Index n_, m_, d_, np_, mp_;
    int p_;
    double scale_;
    std::vector<float> xs_, ys_;
};

}  // namespace

std::unique_ptr<CostKernel> point_kernel_f32(const Points& x, const Points& y, int p, bool half) {
    return std::make_unique<PointKernelF32>(x, y, p, half);
}

}  // namespace orbit::ot::detail
