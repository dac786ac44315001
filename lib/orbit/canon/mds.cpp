#include "orbit/canon/mds.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/geometry/sampling.hpp"

namespace orbit::canon {
namespace {

double sqdist(const Points& x, Eigen::Index i, Eigen::Index j) {
    double s = 0;
    for (Eigen::Index k = 0; k < x.cols(); ++k) {
        const double d = x(i, k) - x(j, k);
        s += d * d;
    }
    return s;
}

}  // namespace

MdsResult mds_coordinates(const Points& x, const MdsOptions& opt) {
    const Eigen::Index n = x.rows();
    if (n == 0) throw Error("mds: the point cloud is empty");
    if (opt.dim < 1 || opt.dim > 3 || opt.dim > x.cols())
        throw UsageError("mds: the output dimension must be between 1 and min(3, the point dimension " + std::to_string(x.cols()) +
                         "), found " + std::to_string(opt.dim));
    if (opt.landmarks < opt.dim + 1)
        throw UsageError("mds: the number of landmarks must be at least dim + 1 = " + std::to_string(opt.dim + 1));
    MdsResult out;
    // Embed in the full point dimension (at most 3), fix the axes on all points, then keep
    // the first opt.dim: a lower-dimensional result is then the top of the full embedding,
    // not the landmarks' own principal plane.
    const int d = std::max(opt.dim, static_cast<int>(std::min<Eigen::Index>(x.cols(), 3)));
    const std::vector<std::int64_t> lm = geometry::farthest_point_sample(x, opt.landmarks);
    const Eigen::Index m = static_cast<Eigen::Index>(lm.size());
    out.landmarks_used = static_cast<int>(m);

    // Double-centred Gram matrix of the landmarks.
    Matrix d2(m, m);
    for (Eigen::Index a = 0; a < m; ++a)
        for (Eigen::Index b = a; b < m; ++b) d2(a, b) = d2(b, a) = sqdist(x, lm[a], lm[b]);
    const Vector col_mean = d2.colwise().mean();
    const double all_mean = col_mean.mean();
    Matrix g(m, m);
    for (Eigen::Index a = 0; a < m; ++a)
        for (Eigen::Index b = 0; b < m; ++b) g(a, b) = -0.5 * (d2(a, b) - col_mean[a] - col_mean[b] + all_mean);
    Eigen::SelfAdjointEigenSolver<Matrix> es(g);
    const Vector& ev = es.eigenvalues();  // ascending
    double total = 0, kept = 0;
    for (Eigen::Index k = 0; k < m; ++k) total += std::max(0.0, ev[k]);
    // Triangulation map: row k is v_k^T / sqrt(lambda_k).
    Matrix pinv(d, m);
    pinv.setZero();
    for (int k = 0; k < d; ++k) {
        const double l = ev[m - 1 - k];
        if (l > 1e-12 * std::max(total, 1e-300)) {
            pinv.row(k) = es.eigenvectors().col(m - 1 - k).transpose() / std::sqrt(l);
            kept += l;
        }
    }
    out.residual = total > 0 ? std::max(0.0, 1.0 - kept / total) : 0.0;

    // Place every point: y_i = -1/2 pinv (delta_i - mean column of d2).
    Points y(n, d);
    Vector delta(m);
    for (Eigen::Index i = 0; i < n; ++i) {
        for (Eigen::Index a = 0; a < m; ++a) delta[a] = sqdist(x, i, lm[a]) - col_mean[a];
        y.row(i) = (-0.5 * (pinv * delta)).transpose();
    }

    // Fix order and signs on all points: centre, principal axes, third moments.
    const Eigen::RowVectorXd c = y.colwise().mean();
    y.rowwise() -= c;
    Matrix cov = (y.transpose() * y) / static_cast<double>(n);
    Eigen::SelfAdjointEigenSolver<Matrix> es2(cov);
    Matrix axes(d, d);
    Vector lam(d);
    for (int k = 0; k < d; ++k) {
        axes.col(k) = es2.eigenvectors().col(d - 1 - k);
        lam[k] = std::max(0.0, es2.eigenvalues()[d - 1 - k]);
    }
    Points z = y * axes;
    Diagnostics& dg = out.diag;
    const double l0 = lam[0];
    for (int k = 0; k < d; ++k) dg.eigenvalues[k] = lam[k];
    for (int k = 0; k + 1 < d; ++k) {
        dg.gaps[k] = l0 > 0 ? (lam[k] - lam[k + 1]) / l0 : 0;
        if (dg.gaps[k] < opt.gap_tol) dg.flags |= flag_eigen_gap;
    }
    if (!(l0 > 0)) dg.flags |= flag_collapsed;
    for (int k = 0; k < d; ++k) {
        double m3 = 0, lo = INFINITY, hi = -INFINITY;
        for (Eigen::Index i = 0; i < n; ++i) {
            const double v = z(i, k);
            m3 += v * v * v;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        m3 /= static_cast<double>(n);
        double sign = 1;
        if (lam[k] > 1e-12 * l0) {
            const double sd = std::sqrt(lam[k]);
            const double skew = m3 / (sd * sd * sd);
            dg.sign_margins[k] = std::abs(skew);
            if (std::abs(skew) >= opt.sign_tol) {
                sign = skew > 0 ? 1 : -1;
            } else if (std::abs((hi + lo) / sd) >= opt.sign_tol) {
                sign = hi + lo > 0 ? 1 : -1;
                dg.flags |= flag_sign_fallback;
            } else {
                dg.flags |= flag_sign;
            }
        } else {
            dg.flags |= flag_sign;
        }
        if (sign < 0) z.col(k) = -z.col(k);
    }
    out.coords = z.leftCols(opt.dim);
    return out;
}

std::vector<MdsResult> mds_batch(const MdsOptions& opt, const std::vector<const Points*>& clouds) {
    std::vector<MdsResult> res(clouds.size());
    std::vector<std::string> errors(clouds.size());
    std::vector<char> usage(clouds.size(), 0);
    parallel_for(static_cast<std::int64_t>(clouds.size()), [&](std::int64_t i) {
        const auto k = static_cast<std::size_t>(i);
        try {
            res[k] = mds_coordinates(*clouds[k], opt);
        } catch (const UsageError& e) {
            errors[k] = e.what();
            usage[k] = 1;
        } catch (const std::exception& e) {
            errors[k] = e.what();
        }
    });
    for (std::size_t i = 0; i < errors.size(); ++i)
        if (!errors[i].empty()) {
            if (usage[i]) throw UsageError(errors[i]);
            throw Error("cloud " + std::to_string(i) + ": " + errors[i]);
        }
    return res;
}

}  // namespace orbit::canon
