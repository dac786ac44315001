#pragma once
// Thread control and deterministic parallel helpers.
//
// Results must not depend on the thread count. Loops whose iterations are
// independent can use any schedule. Reductions go through deterministic_sum,
// which splits the range into fixed-size blocks (independent of the thread
// count), sums each block in order and then adds the block sums in order.
#include <cstdint>
#include <functional>
#include <vector>

namespace orbit {

// 0 means "all available cores". Applies to OpenMP and to orbit's own loops.
void set_threads(int n);
int threads();

// Calls body(i) for i in [0, n) in parallel. If bodies throw, the exception of
// the lowest index is rethrown once all have run.
void parallel_for(std::int64_t n, const std::function<void(std::int64_t)>& body);

// Sum of term(i) for i in [0, n), the same bits for any thread count.
double deterministic_sum(std::int64_t n, const std::function<double(std::int64_t)>& term,
                         std::int64_t block = 4096);

}  // namespace orbit
