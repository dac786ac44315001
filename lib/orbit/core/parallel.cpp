#include "orbit/core/parallel.hpp"

#include <exception>
#include <mutex>
#include <thread>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace orbit {
namespace {
int g_threads = 0;
}

void set_threads(int n) {
    if (n <= 0) {
        unsigned hw = std::thread::hardware_concurrency();
        n = hw == 0 ? 1 : static_cast<int>(hw);
    }
    g_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

int threads() {
    if (g_threads <= 0) set_threads(0);
    return g_threads;
}

void parallel_for(std::int64_t n, const std::function<void(std::int64_t)>& body) {
    // An exception must not leave an OpenMP region (that aborts the process):
    // the one of the lowest index is kept and rethrown after the loop.
    std::exception_ptr first;
    std::int64_t first_index = n;
    std::mutex guard;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads())
    for (std::int64_t i = 0; i < n; ++i) {
        try {
            body(i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(guard);
            if (i < first_index) {
                first_index = i;
                first = std::current_exception();
            }
        }
    }
    if (first) std::rethrow_exception(first);
}

double deterministic_sum(std::int64_t n, const std::function<double(std::int64_t)>& term, std::int64_t block) {
    if (n <= 0) return 0.0;
    std::int64_t nblocks = (n + block - 1) / block;
    std::vector<double> partial(static_cast<size_t>(nblocks), 0.0);
#pragma omp parallel for schedule(static) num_threads(threads())
    for (std::int64_t b = 0; b < nblocks; ++b) {
        double s = 0.0;
        std::int64_t end = std::min(n, (b + 1) * block);
        for (std::int64_t i = b * block; i < end; ++i) s += term(i);
        partial[static_cast<size_t>(b)] = s;
    }
    double total = 0.0;
    for (double s : partial) total += s;
    return total;
}

}  // namespace orbit
