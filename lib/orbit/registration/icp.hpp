#pragma once
// Iterative closest point, point-to-point and point-to-plane, with trimming.
//
// Each iteration pairs every source point with its nearest target point, drops
// pairs farther than the current distance threshold and, with trim < 1, keeps
// only that share of the closest remaining pairs (trimmed ICP, robust to
// partial overlap), then solves for the rigid motion: Kabsch for
// point-to-point, one Gauss-Newton step on sum ((R p + t - q) . n_q)^2 for
// point-to-plane. With anneal, the threshold starts wide (start_distance) and
// shrinks geometrically to max_distance, which widens the basin of convergence
// without letting far outliers pull the final estimate.
#include <cstdint>

#include "orbit/core/types.hpp"
#include "orbit/geometry/kdtree.hpp"

namespace orbit::registration {

struct IcpOptions {
    bool point_to_plane = false;
    double max_distance = 0.05;    // final correspondence threshold
    double start_distance = 0.0;   // first threshold when annealing (0: no annealing)
    double anneal_factor = 0.8;    // threshold multiplier per iteration while annealing
    double trim = 1.0;             // share of the closest pairs kept, in (0, 1]
    int max_iterations = 60;
    double tolerance = 1e-7;       // stop when the update moves points by less than this (relative to max_distance)
};

struct IcpResult {
    Transform transform = Transform::Identity();
    int iterations = 0;
    bool converged = false;
    double rmse = 0;        // of the pairs used in the last step
    std::int64_t pairs = 0; // used in the last step
};

// target_normals may be empty for point-to-point; required (N x 3) for point-to-plane.
IcpResult icp(const Points& source, const Points& target, const geometry::KdTree& target_tree,
              const Points& target_normals, const Transform& init, const IcpOptions& options);

}  // namespace orbit::registration
