#pragma once
// Sliced Wasserstein distance: the average of exact 1-D transport costs along
// random directions (uniform on the sphere), each solved by sorting:
//   SW_p(a, b) = ( mean_k W_p^p(proj_k a, proj_k b) )^(1/p).
// Weighted measures are matched through their quantile functions. Direction k
// comes from its own random stream (seed, k), so results do not depend on the
// thread count.
#include <cstdint>

#include "orbit/core/types.hpp"

namespace orbit::ot {

struct SlicedOptions {
    int projections = 50;
    int p = 2;               // p >= 1
    std::uint64_t seed = 0;
};

double sliced_wasserstein(const Points& x, const Vector& a, const Points& y, const Vector& b,
                          const SlicedOptions& opt = {});

// Exact W_p^p between weighted 1-D samples (any positive total mass; both are normalized).
double wasserstein_1d(const Vector& x, const Vector& a, const Vector& y, const Vector& b, int p = 2);

}  // namespace orbit::ot
