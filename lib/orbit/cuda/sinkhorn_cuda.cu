#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "orbit/cuda/sinkhorn_cuda.hpp"

namespace orbit::cuda {
namespace {

constexpr int kThreads = 256;

void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}

// One thread per output k; tiles of the summed side are staged in shared memory.
// mode 0: running-max log-sum-exp; mode 1: plain sums (and cost-weighted sums).
template <int P>
__global__ void pass(const double* __restrict__ A, const double* __restrict__ B, long na, long nb, int d,
                     const double* __restrict__ h, const double* __restrict__ shift, double inv_eps, double scale,
                     int mode, double* __restrict__ out, double* __restrict__ wout) {
    extern __shared__ double tile[];  // d * kThreads coordinates, then kThreads h values
    const long k = blockIdx.x * (long)blockDim.x + threadIdx.x;
    const bool active = k < na;
    double a[8];
    for (int c = 0; c < d && c < 8; ++c) a[c] = active ? A[c * na + k] : 0.0;
    const double sh = active ? shift[k] * inv_eps : 0.0;
    double mx = -INFINITY, s = 0.0, w = 0.0;
    for (long l0 = 0; l0 < nb; l0 += kThreads) {
        const long l = l0 + threadIdx.x;
        __syncthreads();
        if (l < nb) {
            for (int c = 0; c < d; ++c) tile[c * kThreads + threadIdx.x] = B[c * nb + l];
            tile[d * kThreads + threadIdx.x] = h[l];
        }
        __syncthreads();
        if (!active) continue;
        const int len = (int)min((long)kThreads, nb - l0);
        for (int t = 0; t < len; ++t) {
            double cc = 0.0;
            for (int c = 0; c < d; ++c) {
                const double ac = c < 8 ? a[c] : A[c * na + k];
                const double diff = ac - tile[c * kThreads + t];
                cc = fma(diff, diff, cc);
            }
            if (P == 1) cc = sqrt(cc);
            cc *= scale;
            const double x = (tile[d * kThreads + t] - cc) * inv_eps + sh;
            if (mode == 0) {
                if (x > mx) {
                    s = s * exp(mx - x) + 1.0;
                    mx = x;
                } else {
                    s += exp(x - mx);
                }
            } else {
                const double e = exp(x);
                s += e;
                w = fma(cc, e, w);
            }
        }
    }
    if (!active) return;
    if (mode == 0) {
        out[k] = (mx == -INFINITY) ? -INFINITY : mx + log(s);
    } else {
        out[k] = s;
        if (wout) wout[k] = w;
    }
}

}  // namespace

struct SinkhornPoints::Impl {
    long n = 0, m = 0;
    int d = 0, p = 2;
    double scale = 1.0;
    double *xs = nullptr, *ys = nullptr, *h = nullptr, *shift = nullptr, *out = nullptr, *w = nullptr;

    void run(int side, const double* hh, const double* sh, double inv_eps, int mode, double* o, double* wo) {
        const long na = side == 0 ? n : m, nb = side == 0 ? m : n;
        check(cudaMemcpy(h, hh, nb * sizeof(double), cudaMemcpyHostToDevice), "copy");
        check(cudaMemcpy(shift, sh, na * sizeof(double), cudaMemcpyHostToDevice), "copy");
        const double* A = side == 0 ? xs : ys;
        const double* B = side == 0 ? ys : xs;
        const unsigned blocks = (unsigned)((na + kThreads - 1) / kThreads);
        const size_t shmem = (size_t)(d + 1) * kThreads * sizeof(double);
        double* wd = wo ? w : nullptr;
        if (p == 1)
            pass<1><<<blocks, kThreads, shmem>>>(A, B, na, nb, d, h, shift, inv_eps, scale, mode, out, wd);
        else
            pass<2><<<blocks, kThreads, shmem>>>(A, B, na, nb, d, h, shift, inv_eps, scale, mode, out, wd);
        check(cudaGetLastError(), "kernel launch");
        check(cudaMemcpy(o, out, na * sizeof(double), cudaMemcpyDeviceToHost), "copy back");
        if (wo) check(cudaMemcpy(wo, w, na * sizeof(double), cudaMemcpyDeviceToHost), "copy back");
    }
};

SinkhornPoints::SinkhornPoints(const double* xs, const double* ys, std::int64_t n, std::int64_t m, int d, int p,
                               double scale)
    : impl_(new Impl) {
    if (d > 40) {
        delete impl_;
        throw std::runtime_error("CUDA Sinkhorn supports at most 40 dimensions");
    }
    Impl& I = *impl_;
    I.n = n, I.m = m, I.d = d, I.p = p, I.scale = scale;
    const long big = n > m ? n : m;
    try {
        check(cudaMalloc(&I.xs, n * d * sizeof(double)), "malloc");
        check(cudaMalloc(&I.ys, m * d * sizeof(double)), "malloc");
        check(cudaMalloc(&I.h, big * sizeof(double)), "malloc");
        check(cudaMalloc(&I.shift, big * sizeof(double)), "malloc");
        check(cudaMalloc(&I.out, big * sizeof(double)), "malloc");
        check(cudaMalloc(&I.w, big * sizeof(double)), "malloc");
        check(cudaMemcpy(I.xs, xs, n * d * sizeof(double), cudaMemcpyHostToDevice), "copy");
        check(cudaMemcpy(I.ys, ys, m * d * sizeof(double), cudaMemcpyHostToDevice), "copy");
    } catch (...) {
        this->~SinkhornPoints();
        throw;
    }
}

SinkhornPoints::~SinkhornPoints() {
    if (!impl_) return;
    for (double* p : {impl_->xs, impl_->ys, impl_->h, impl_->shift, impl_->out, impl_->w})
        if (p) cudaFree(p);
    delete impl_;
    impl_ = nullptr;
}

void SinkhornPoints::lse(int side, const double* h, const double* shift, double inv_eps, double* out) {
    impl_->run(side, h, shift, inv_eps, 0, out, nullptr);
}

void SinkhornPoints::sums(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) {
    impl_->run(side, h, shift, inv_eps, 1, s, w);
}

}  // namespace orbit::cuda
