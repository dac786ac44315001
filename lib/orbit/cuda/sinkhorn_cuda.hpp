#pragma once
// GPU passes for matrix-free Sinkhorn on point sets (cost |x-y|^p, p = 1 or 2,
// times `scale`). Built only with ORBIT_HAVE_CUDA; orbit::ot wraps it behind
// the same interface as its CPU kernels. Coordinates are given per dimension
// (structure of arrays: xs[d*n + i]). Each output is summed in a fixed order
// by one GPU thread, so results are reproducible run to run.
#include <cstdint>
#include <string>

namespace orbit::cuda {

class SinkhornPoints {
public:
    SinkhornPoints(const double* xs, const double* ys, std::int64_t n, std::int64_t m, int d, int p, double scale);
    ~SinkhornPoints();
    SinkhornPoints(const SinkhornPoints&) = delete;
    SinkhornPoints& operator=(const SinkhornPoints&) = delete;

    // side 0: outputs over x (n), summing over y; side 1: the reverse.
    // out[k] = log sum_l exp((h_l - C_kl) * inv_eps + shift_k * inv_eps), computed
    // with a running maximum, so it never over- or underflows.
    void lse(int side, const double* h, const double* shift, double inv_eps, double* out);
    // s[k] = sum_l exp(...) and, when w != nullptr, w[k] = sum_l C_kl exp(...).
    void sums(int side, const double* h, const double* shift, double inv_eps, double* s, double* w);

private:
    struct Impl;
    Impl* impl_;
};

}  // namespace orbit::cuda
