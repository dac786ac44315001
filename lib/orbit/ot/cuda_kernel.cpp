// The GPU point-set kernel behind the CostKernel interface.
#include <memory>

#include "orbit/core/error.hpp"
#include "orbit/cuda/device.hpp"
#include "orbit/ot/solver.hpp"

#ifdef ORBIT_HAVE_CUDA
#include "orbit/cuda/sinkhorn_cuda.hpp"
#endif

namespace orbit::ot::detail {

#ifdef ORBIT_HAVE_CUDA
namespace {

class CudaPointKernel final : public CostKernel {
public:
    CudaPointKernel(const Points& x, const Points& y, int p, bool half)
        : cpu_(point_kernel(x, y, p, half)) {
        const Eigen::Index n = x.rows(), m = y.rows(), d = x.cols();
        std::vector<double> xs(n * d), ys(m * d);
        for (Eigen::Index i = 0; i < n; ++i)
            for (Eigen::Index c = 0; c < d; ++c) xs[c * n + i] = x(i, c);
        for (Eigen::Index j = 0; j < m; ++j)
            for (Eigen::Index c = 0; c < d; ++c) ys[c * m + j] = y(j, c);
        try {
            gpu_ = std::make_unique<cuda::SinkhornPoints>(xs.data(), ys.data(), n, m, int(d), p, half ? 0.5 : 1.0);
        } catch (const std::exception& e) {
            throw Error(std::string("sinkhorn: ") + e.what());
        }
    }
    Eigen::Index n() const override { return cpu_->n(); }
    Eigen::Index m() const override { return cpu_->m(); }
    std::string name() const override { return "cuda"; }
    double max_cost() const override { return cpu_->max_cost(); }
    void costs(int side, Eigen::Index k, double* out) const override { cpu_->costs(side, k, out); }
    bool lse(int side, const double* h, const double* shift, double inv_eps, double* out) const override {
        try {
            gpu_->lse(side, h, shift, inv_eps, out);
        } catch (const std::exception& e) {
            throw Error(std::string("sinkhorn: ") + e.what());
        }
        return true;
    }
    void sums(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const override {
        try {
            gpu_->sums(side, h, shift, inv_eps, s, w);
        } catch (const std::exception& e) {
            throw Error(std::string("sinkhorn: ") + e.what());
        }
    }

private:
    std::unique_ptr<CostKernel> cpu_;  // costs for plans and the bounding box
    std::unique_ptr<cuda::SinkhornPoints> gpu_;
};

}  // namespace
#endif

std::unique_ptr<CostKernel> cuda_point_kernel(const Points& x, const Points& y, int p, bool half, bool required) {
#ifdef ORBIT_HAVE_CUDA
    if (cuda::device_available()) return std::make_unique<CudaPointKernel>(x, y, p, half);
#else
    (void)x, (void)y, (void)p, (void)half;
#endif
    require(!required, "sinkhorn: a CUDA device was asked for, but " +
                           std::string(cuda::built() ? "no CUDA device is present" : "orbit was built without CUDA"));
    return nullptr;
}

}  // namespace orbit::ot::detail
