// The CUDA matrix-free Sinkhorn passes against the CPU path. Skips (with a
// warning, never a failure) when orbit was built without CUDA or no device is present.
#include <catch2/catch.hpp>

#include "orbit/core/random.hpp"
#include "orbit/cuda/device.hpp"
#include "orbit/ot/divergence.hpp"
#include "orbit/ot/sinkhorn.hpp"

using namespace orbit;
using namespace orbit::ot;

TEST_CASE("CUDA Sinkhorn matches the CPU path", "[cuda][ot]") {
    if (!cuda::device_available()) {
        WARN("skipped: " << (cuda::built() ? "no CUDA device present" : "built without CUDA"));
        return;
    }
    Rng r(7);
    for (int p : {1, 2}) {
        for (int d : {2, 3, 5}) {
            const int n = 3000, m = 2500;
            Points x(n, d), y(m, d);
            for (int i = 0; i < n; ++i)
                for (int k = 0; k < d; ++k) x(i, k) = r.uniform();
            for (int j = 0; j < m; ++j)
                for (int k = 0; k < d; ++k) y(j, k) = r.uniform() + 0.1;
            const Vector a = Vector::Constant(n, 1.0 / n), b = Vector::Constant(m, 1.0 / m);
            SinkhornOptions o;
            o.eps = 0.01;
            o.tol = 1e-8;
            o.device = Device::CPU;
            const SinkhornResult cpu = sinkhorn(x, a, y, b, CostSpec{p, false}, o);
            o.device = Device::CUDA;
            const SinkhornResult gpu = sinkhorn(x, a, y, b, CostSpec{p, false}, o);
            REQUIRE(gpu.storage == "cuda");
            REQUIRE(gpu.converged);
            REQUIRE(std::abs(gpu.iterations - cpu.iterations) <= 1);
            REQUIRE((gpu.f - cpu.f).cwiseAbs().maxCoeff() < 1e-9);
            REQUIRE(gpu.cost == Approx(cpu.cost).epsilon(1e-9));
        }
    }
    // Small eps stays finite on the GPU as well (running-max log-sum-exp).
    Points x(500, 3), y(500, 3);
    for (int i = 0; i < 500; ++i)
        for (int k = 0; k < 3; ++k) x(i, k) = r.uniform(), y(i, k) = r.uniform();
    const Vector u = Vector::Constant(500, 1.0 / 500);
    SinkhornOptions o;
    o.eps = 3e-4;
    o.max_iter = 200;
    o.device = Device::CUDA;
    const SinkhornResult g = sinkhorn(x, u, y, u, CostSpec{}, o);
    REQUIRE(g.finite);
    REQUIRE(g.f.allFinite());
}

TEST_CASE("asking for CUDA without a device is a clear error", "[cuda][ot]") {
    if (cuda::device_available()) {
        WARN("skipped: a CUDA device is present");
        return;
    }
    Points x = Points::Random(10, 3), y = Points::Random(10, 3);
    const Vector u = Vector::Constant(10, 0.1);
    SinkhornOptions o;
    o.device = Device::CUDA;
    REQUIRE_THROWS_WITH(sinkhorn(x, u, y, u, CostSpec{}, o), Catch::Contains("CUDA"));
    o.device = Device::Auto;  // falls back to the CPU
    REQUIRE(sinkhorn(x, u, y, u, CostSpec{}, o).storage == "online");
}
