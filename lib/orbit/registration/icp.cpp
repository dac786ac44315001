#include "orbit/registration/icp.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/geometry/kabsch.hpp"

namespace orbit::registration {

namespace {
struct Pair {
    std::int64_t s, t;
    double d2;
};

// One Gauss-Newton step of point-to-plane: x = [omega, dt] solves sum (a.x - b)^2,
// a = [p x n, n], b = (q - p) . n, linearised about the current pose.
Transform plane_step(const Points& moved, const Points& target, const Points& normals, const std::vector<Pair>& pairs) {
    Eigen::Matrix<double, 6, 6> ata = Eigen::Matrix<double, 6, 6>::Zero();
    Eigen::Matrix<double, 6, 1> atb = Eigen::Matrix<double, 6, 1>::Zero();
    for (const Pair& pr : pairs) {
        Eigen::Vector3d p = moved.row(pr.s).transpose(), q = target.row(pr.t).transpose(), n = normals.row(pr.t).transpose();
        if (n.squaredNorm() == 0) continue;
        Eigen::Matrix<double, 6, 1> a;
        a << p.cross(n), n;
        double b = (q - p).dot(n);
        ata += a * a.transpose();
        atb += a * b;
    }
    // A small ridge keeps the solve defined on planar or symmetric patches.
    ata.diagonal().array() += 1e-10 * (1.0 + ata.diagonal().maxCoeff());
    Eigen::Matrix<double, 6, 1> x = ata.ldlt().solve(atb);
    if (!x.allFinite()) return Transform::Identity();
    Transform step = Transform::Identity();
    Eigen::Vector3d w = x.head<3>();
    double angle = w.norm();
    if (angle > 0) step.topLeftCorner<3, 3>() = Eigen::AngleAxisd(angle, w / angle).toRotationMatrix();
    step.topRightCorner<3, 1>() = x.tail<3>();
    return step;
}
// Same (source, target) pairs in the same order (trimming sorts deterministically).
bool same_pairs(const std::vector<Pair>& a, const std::vector<Pair>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t k = 0; k < a.size(); ++k)
        if (a[k].s != b[k].s || a[k].t != b[k].t) return false;
    return true;
}
}  // namespace

IcpResult icp(const Points& source, const Points& target, const geometry::KdTree& target_tree,
              const Points& target_normals, const Transform& init, const IcpOptions& o) {
    require(o.max_distance > 0, "icp: the correspondence distance must be positive");
    require(o.trim > 0 && o.trim <= 1, "icp: trim must lie in (0, 1]");
    require(!o.point_to_plane || target_normals.rows() == target.rows(), "icp: point-to-plane needs target normals");
    IcpResult res;
    res.transform = init;
    const Eigen::Index n = source.rows();
    if (n == 0 || target.rows() == 0) return res;
    double threshold = (o.start_distance > o.max_distance) ? o.start_distance : o.max_distance;
    std::vector<Pair> pairs, previous;
    pairs.reserve(static_cast<std::size_t>(n));
    Points moved(n, 3);
    for (int it = 0; it < o.max_iterations; ++it) {
        Eigen::Matrix3d r = res.transform.topLeftCorner<3, 3>();
        Eigen::Vector3d tr = res.transform.topRightCorner<3, 1>();
        pairs.clear();
        double t2 = threshold * threshold;
        for (Eigen::Index i = 0; i < n; ++i) {
            Eigen::Vector3d p = r * source.row(i).transpose() + tr;
            moved.row(i) = p.transpose();
            // Pairs beyond the threshold are dropped anyway: search only within it.
            geometry::Neighbor nb = target_tree.nearest_within(p.data(), threshold * (1 + 1e-12));
            if (nb.index >= 0 && nb.dist2 <= t2) pairs.push_back({i, nb.index, nb.dist2});
        }
        if (o.trim < 1 && !pairs.empty()) {
            auto keep = static_cast<std::size_t>(std::ceil(o.trim * static_cast<double>(pairs.size())));
            keep = std::clamp<std::size_t>(keep, std::min<std::size_t>(3, pairs.size()), pairs.size());
            std::nth_element(pairs.begin(), pairs.begin() + static_cast<std::ptrdiff_t>(keep - 1), pairs.end(),
                             [](const Pair& a, const Pair& b) { return a.d2 < b.d2 || (a.d2 == b.d2 && a.s < b.s); });
            pairs.resize(keep);
        }
        res.iterations = it + 1;
        res.pairs = static_cast<std::int64_t>(pairs.size());
        if (pairs.size() < 3) {
            // Nothing to pull on: widen the net once annealing is over, else give up.
            if (threshold < o.start_distance) { threshold = o.start_distance; continue; }
            break;
        }
        const bool at_final = threshold <= o.max_distance * (1 + 1e-12);
        // Point-to-point at the final threshold: the same pairs as last time give
        // the same Kabsch solution, which is already applied: a fixed point.
        if (at_final && !o.point_to_plane && same_pairs(pairs, previous)) {
            res.converged = true;
            break;
        }
        double sum = 0;
        for (auto& p : pairs) sum += p.d2;
        const double last_rmse = res.rmse;
        const std::size_t last_pairs = previous.size();
        res.rmse = std::sqrt(sum / static_cast<double>(pairs.size()));
        // Open3D's criterion as well: at the final threshold, as many pairs as
        // last time and an RMSE that changed by less than 1e-6 relative.
        if (at_final && !previous.empty() && pairs.size() == last_pairs &&
            std::abs(res.rmse - last_rmse) <= 1e-6 * last_rmse) {
            res.converged = true;
            break;
        }
        Transform step;
        if (o.point_to_plane) {
            step = plane_step(moved, target, target_normals, pairs);
        } else {
            std::vector<std::pair<std::int64_t, std::int64_t>> idx(pairs.size());
            for (std::size_t k = 0; k < pairs.size(); ++k) idx[k] = {pairs[k].s, pairs[k].t};
            step = geometry::kabsch_pairs(moved, target, idx);
        }
        res.transform = step * res.transform;
        // Size of the update: rotation angle times a unit lever plus translation.
        double rot = std::acos(std::clamp((step.topLeftCorner<3, 3>().trace() - 1.0) / 2.0, -1.0, 1.0));
        double move = rot + step.topRightCorner<3, 1>().norm();
        if (at_final && move < o.tolerance * std::max(1.0, o.max_distance)) {
            res.converged = true;
            break;
        }
        if (at_final) previous.swap(pairs);
        threshold = std::max(o.max_distance, threshold * o.anneal_factor);
    }
    return res;
}

}  // namespace orbit::registration
