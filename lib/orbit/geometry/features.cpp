#include "orbit/geometry/features.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>
#include <numbers>
#include <unordered_map>

#include "orbit/core/error.hpp"

namespace orbit::geometry {

Points estimate_normals(const Points& points, const KdTree& tree, double radius, std::int64_t max_nn) {
    const Eigen::Index n = points.rows();
    Points normals = Points::Zero(n, 3);
    if (n == 0) return normals;
    Eigen::RowVector3d centroid = points.colwise().mean();
#pragma omp parallel for schedule(static) if (n > 20000)
    for (Eigen::Index i = 0; i < n; ++i) {
        auto nb = tree.hybrid(points.row(i).data(), radius, max_nn);
        if (nb.size() < 3) continue;
        Eigen::Vector3d mean = Eigen::Vector3d::Zero();
        for (auto& b : nb) mean += points.row(b.index).transpose();
        mean /= static_cast<double>(nb.size());
        Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
        for (auto& b : nb) {
            Eigen::Vector3d d = points.row(b.index).transpose() - mean;
            cov += d * d.transpose();
        }
        Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es;
        es.compute(cov);  // iterative: computeDirect loses digits when eigenvalues are close
        Eigen::Vector3d nv = es.eigenvectors().col(0);
        if (!nv.allFinite() || nv.norm() == 0) continue;
        nv.normalize();
        if ((points.row(i) - centroid).dot(nv.transpose()) < 0) nv = -nv;
        normals.row(i) = nv.transpose();
    }
    return normals;
}

Points voxel_downsample(const Points& points, double voxel, std::vector<std::int64_t>* index) {
    require(voxel > 0 && std::isfinite(voxel), "voxel downsampling: the voxel size must be positive");
    const Eigen::Index n = points.rows();
    Eigen::RowVector3d lo = n ? Eigen::RowVector3d(points.colwise().minCoeff()) : Eigen::RowVector3d::Zero();
    struct Cell {
        Eigen::Vector3d sum = Eigen::Vector3d::Zero();
        std::int64_t count = 0, first = 0;
    };
    std::unordered_map<std::uint64_t, std::int64_t> slot;
    std::vector<Cell> cells;
    for (Eigen::Index i = 0; i < n; ++i) {
        std::uint64_t key = 0;
        for (int d = 0; d < 3; ++d) {
            auto c = static_cast<std::uint64_t>(std::floor((points(i, d) - lo[d]) / voxel)) & 0x1FFFFF;
            key = (key << 21) | c;
        }
        auto [it, added] = slot.try_emplace(key, static_cast<std::int64_t>(cells.size()));
        if (added) cells.push_back(Cell{Eigen::Vector3d::Zero(), 0, i});
        Cell& c = cells[static_cast<std::size_t>(it->second)];
        c.sum += points.row(i).transpose();
        ++c.count;
    }
    Points out(static_cast<Eigen::Index>(cells.size()), 3);
    if (index) index->resize(cells.size());
    for (std::size_t k = 0; k < cells.size(); ++k) {
        out.row(static_cast<Eigen::Index>(k)) = (cells[k].sum / static_cast<double>(cells[k].count)).transpose();
        if (index) (*index)[k] = cells[k].first;
    }
    return out;
}

namespace {
// The four Rusu pair features (alpha, phi, theta, distance) as Open3D computes them.
bool pair_features(const Eigen::Vector3d& p1, const Eigen::Vector3d& n1, const Eigen::Vector3d& p2,
                   const Eigen::Vector3d& n2, Eigen::Vector4d& f) {
    Eigen::Vector3d dp = p2 - p1;
    f[3] = dp.norm();
    if (f[3] == 0) return false;
    Eigen::Vector3d a = n1, b = n2;
    double angle1 = a.dot(dp) / f[3], angle2 = b.dot(dp) / f[3];
    if (std::acos(std::abs(angle1)) > std::acos(std::abs(angle2))) {
        a = n2;
        b = n1;
        dp = -dp;
        f[2] = -angle2;
    } else {
        f[2] = angle1;
    }
    Eigen::Vector3d v = dp.cross(a);
    double vn = v.norm();
    if (vn == 0) return false;
    v /= vn;
    Eigen::Vector3d w = a.cross(v);
    f[1] = v.dot(b);
    f[0] = std::atan2(w.dot(b), a.dot(b));
    return true;
}

int bin(double x) { return std::clamp(static_cast<int>(std::floor(x)), 0, 10); }
}  // namespace

Points compute_fpfh(const Points& points, const Points& normals, const KdTree& tree, double radius,
                    std::int64_t max_nn, bool local_orientation) {
    const Eigen::Index n = points.rows();
    require(normals.rows() == n && normals.cols() == 3, "fpfh: expected one normal per point");
    Points spfh = Points::Zero(n, 33);
    std::vector<std::vector<Neighbor>> nbs(static_cast<std::size_t>(n));
#pragma omp parallel for schedule(static) if (n > 20000)
    for (Eigen::Index i = 0; i < n; ++i) {
        auto& nb = nbs[static_cast<std::size_t>(i)];
        nb = tree.hybrid(points.row(i).data(), radius, max_nn);
        if (nb.size() <= 1) continue;
        double incr = 100.0 / static_cast<double>(nb.size() - 1);
        Eigen::Vector3d p = points.row(i).transpose(), pn = normals.row(i).transpose();
        if (local_orientation) {
            Eigen::Vector3d mean = Eigen::Vector3d::Zero();
            for (auto& b : nb) mean += points.row(b.index).transpose();
            mean /= static_cast<double>(nb.size());
            if (pn.dot(p - mean) < 0) pn = -pn;
        }
        for (auto& b : nb) {
            if (b.index == i) continue;
            Eigen::Vector4d f;
            Eigen::Vector3d qn = normals.row(b.index).transpose();
            if (local_orientation && qn.dot(pn) < 0) qn = -qn;
            if (!pair_features(p, pn, points.row(b.index).transpose(), qn, f)) continue;
            spfh(i, bin(11.0 * (f[0] + std::numbers::pi) / (2 * std::numbers::pi))) += incr;
            spfh(i, 11 + bin(11.0 * (f[1] + 1.0) * 0.5)) += incr;
            spfh(i, 22 + bin(11.0 * (f[2] + 1.0) * 0.5)) += incr;
        }
    }
    Points fpfh = Points::Zero(n, 33);
#pragma omp parallel for schedule(static) if (n > 20000)
    for (Eigen::Index i = 0; i < n; ++i) {
        const auto& nb = nbs[static_cast<std::size_t>(i)];
        if (nb.size() <= 1) continue;
        double sum[3] = {0, 0, 0};
        for (auto& b : nb) {
            if (b.dist2 == 0) continue;
            for (int j = 0; j < 33; ++j) {
                double v = spfh(b.index, j) / b.dist2;
                sum[j / 11] += v;
                fpfh(i, j) += v;
            }
        }
        for (int j = 0; j < 33; ++j)
            if (sum[j / 11] != 0) fpfh(i, j) *= 100.0 / sum[j / 11];
        fpfh.row(i) += spfh.row(i);
    }
    return fpfh;
}

double mean_spacing(const Points& points, const KdTree& tree) {
    if (points.rows() < 2) return 0;
    double s = 0;
    for (Eigen::Index i = 0; i < points.rows(); ++i) {
        auto nb = tree.knn(points.row(i).data(), 2);
        s += std::sqrt(nb.back().dist2);
    }
    return s / static_cast<double>(points.rows());
}

}  // namespace orbit::geometry
