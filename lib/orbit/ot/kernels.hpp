#pragma once
// Internal: the passes over N x M pairs that every Sinkhorn variant is built on.
//
// A pass computes, for every output k on one side (side 0: rows i, summing over
// columns j; side 1: columns j, summing over rows i),
//   s_k = sum_l exp((h_l - C_kl + shift_k) * inv_eps)
// and optionally w_k = sum_l C_kl exp(...). With shift_k the previous value of
// the potential, s_k stays near 1, so one streaming pass without a max suffices;
// outputs whose sum over- or underflows are redone with an exact two-pass
// log-sum-exp. Each output is summed in a fixed order, so the bits do not
// depend on the thread count.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "orbit/core/types.hpp"

namespace orbit::ot::detail {

// exp(x) for doubles, vectorizable by GCC inside `omp simd` loops; relative
// error < 3e-13. Inputs are clamped to [-708, 709]: tiny results are ~1e-308
// rather than 0 and huge ones ~1e308 rather than inf; callers detect both by
// the size of the sums they form.
inline double vexp(double x) {
    x = x < -708.0 ? -708.0 : x;
    x = x > 709.0 ? 709.0 : x;
    const double shifter = 6755399441055744.0;  // 1.5 * 2^52: rounds to an integer in the low bits
    double kd = std::fma(x, 1.4426950408889634, shifter);
    std::int64_t ki;
    std::memcpy(&ki, &kd, sizeof ki);
    kd -= shifter;
    double r = std::fma(kd, -0.6931471805599453, x);
    r = std::fma(kd, -2.319046813846299558e-17, r);
    // Taylor polynomial of degree 10 on |r| <= ln2/2 (error < 3e-13), in
    // Estrin's form: a shallow dependency chain keeps the FMA units busy.
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double p01 = r + 1.0;
    const double p23 = std::fma(r, 1.0 / 6, 0.5);
    const double p45 = std::fma(r, 1.0 / 120, 1.0 / 24);
    const double p67 = std::fma(r, 1.0 / 5040, 1.0 / 720);
    const double p89 = std::fma(r, 1.0 / 362880, 1.0 / 40320);
    const double p03 = std::fma(r2, p23, p01);
    const double p47 = std::fma(r2, p67, p45);
    const double p8a = std::fma(r2, 1.0 / 3628800, p89);
    const double p = std::fma(r8, p8a, std::fma(r4, p47, p03));
    const std::int64_t bits = (ki + 1023) << 52;
    double scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// Outputs per parallel work item of the point kernels. A pass restricted to
// the outputs [begin, end) with begin a multiple of it forms every sum in the
// order of the whole pass.
constexpr Eigen::Index kOutputBlock = 16;

class CostKernel {
public:
    virtual ~CostKernel() = default;
    virtual Eigen::Index n() const = 0;
    virtual Eigen::Index m() const = 0;
    Eigen::Index size(int side) const { return side == 0 ? n() : m(); }
    Eigen::Index other(int side) const { return side == 0 ? m() : n(); }
    // s[k] (and w[k] when w != nullptr) as described above, for all k on `side`.
    virtual void sums(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const = 0;
    // sums() for the outputs k in [begin, end) of `side` only (begin a multiple
    // of kOutputBlock): writes s[k] and w[k] there, with the bits of sums().
    // Kernels that can do this say so with part_passes() (the point kernels on
    // the CPU); the others write nothing.
    virtual bool part_passes() const { return false; }
    // True when the kernel reads only its own copy of the points, so that the
    // caller may free its point sets (the CPU point kernels).
    virtual bool owns_points() const { return false; }
    virtual void sums_part(int, Eigen::Index, Eigen::Index, const double*, const double*, double, double*, double*) const {}
    // Kernels that form log-sum-exps stably in one pass (the GPU's running
    // maximum) fill out[k] = log s_k and return true; the CPU kernels use the
    // shifted fast pass instead and return false.
    virtual bool lse(int, const double*, const double*, double, double*) const { return false; }
    // The costs C_k. of one output k (length other(side)).
    virtual void costs(int side, Eigen::Index k, double* out) const = 0;
    // The largest cost (used to start epsilon scaling).
    virtual double max_cost() const = 0;
    virtual std::string name() const = 0;
};

// A stored N x M cost matrix (column-major, as orbit::Matrix).
std::unique_ptr<CostKernel> dense_kernel(const Matrix& cost);
// |x - y|^p (times 0.5 when half) evaluated on the fly; O(N + M) memory.
std::unique_ptr<CostKernel> point_kernel(const Points& x, const Points& y, int p, bool half);
// The same in float32 arithmetic (twice the pairs per SIMD instruction; each
// term to ~1e-7 relative, sums accumulated in double). kernels_f32.cpp.
std::unique_ptr<CostKernel> point_kernel_f32(const Points& x, const Points& y, int p, bool half);

// out[k] = -eps * log sum_l exp((h_l - C_kl) / eps) for every k on `side`,
// using prev as the shift of the fast pass. Also returns ratio[k] =
// exp((prev_k - out_k) / eps), i.e. the marginal factor of the plan at prev.
void softmin(const CostKernel& K, int side, const Vector& h, const Vector& prev, double eps, Vector& out,
             Vector& ratio);

}  // namespace orbit::ot::detail
