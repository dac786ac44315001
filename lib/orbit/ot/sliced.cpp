#include "orbit/ot/sliced.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/random.hpp"

namespace orbit::ot {
namespace {

void check(const Vector& w, Eigen::Index n, const char* name) {
    require(w.size() == n, std::string("sliced: expected ") + name + " of length " + std::to_string(n) +
                               ", found " + std::to_string(w.size()));
    require(w.allFinite() && (w.size() == 0 || w.minCoeff() >= 0) && w.sum() > 0,
            std::string("sliced: the weights ") + name + " must be finite, non-negative, with a positive sum");
}

}  // namespace

double wasserstein_1d(const Vector& x, const Vector& a, const Vector& y, const Vector& b, int p) {
    require(x.size() > 0 && y.size() > 0, "wasserstein_1d: expected non-empty samples");
    const Eigen::Index n = x.size(), m = y.size();
    std::vector<Eigen::Index> ix(n), iy(m);
    std::iota(ix.begin(), ix.end(), 0);
    std::iota(iy.begin(), iy.end(), 0);
    std::sort(ix.begin(), ix.end(), [&](auto i, auto j) { return x[i] < x[j] || (x[i] == x[j] && i < j); });
    std::sort(iy.begin(), iy.end(), [&](auto i, auto j) { return y[i] < y[j] || (y[i] == y[j] && i < j); });
    const double sa = a.sum(), sb = b.sum();
    // Walk both quantile functions, pairing equal slices of mass.
    Eigen::Index i = 0, j = 0;
    double ra = a[ix[0]] / sa, rb = b[iy[0]] / sb, total = 0;
    while (i < n && j < m) {
        // w is one of the two remainders, so that one drops to exactly 0.
        const double w = std::min(ra, rb);
        total += w * std::pow(std::abs(x[ix[i]] - y[iy[j]]), p);
        ra -= w;
        rb -= w;
        if (ra == 0 && ++i < n) ra = a[ix[i]] / sa;
        if (rb == 0 && ++j < m) rb = b[iy[j]] / sb;
    }
    return total;
}

double sliced_wasserstein(const Points& x, const Vector& a, const Points& y, const Vector& b,
                          const SlicedOptions& opt) {
    require(x.rows() > 0 && y.rows() > 0, "sliced: expected non-empty point sets");
    require(x.cols() == y.cols(), "sliced: the point sets have different dimensions: " + std::to_string(x.cols()) +
                                      " and " + std::to_string(y.cols()));
    require(x.allFinite() && y.allFinite(), "sliced: the points contain NaN or infinite values");
    require(opt.projections >= 1, "sliced: expected at least one projection");
    require(opt.p >= 1, "sliced: expected p >= 1");
    check(a, x.rows(), "a");
    check(b, y.rows(), "b");
    const Eigen::Index d = x.cols();
    std::vector<double> w(opt.projections);
    parallel_for(opt.projections, [&](std::int64_t k) {
        Rng rng(opt.seed, static_cast<std::uint64_t>(k));
        Vector dir(d);
        do {
            for (Eigen::Index c = 0; c < d; ++c) dir[c] = rng.normal();
        } while (dir.norm() == 0);
        dir.normalize();
        w[k] = wasserstein_1d(x * dir, a, y * dir, b, opt.p);
    });
    double mean = 0;
    for (double v : w) mean += v;  // fixed order
    mean /= opt.projections;
    return std::pow(mean, 1.0 / opt.p);
}

}  // namespace orbit::ot
