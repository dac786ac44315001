#pragma once
// How well a candidate pose explains a pair of clouds: the terms that the
// verification of candidate poses (register.cpp) combines.
//
// - surface agreement: sum_i max(0, 1 - d_i^2 / tau^2) over the moved points
//   and their nearest neighbours in the other cloud, per point;
// - free-space violation: the share of the moved points that land inside the
//   other cloud's convex hull but away from its surface. A crop by a plane,
//   or a scan of an object seen from outside, leaves no surface of the object
//   inside its own hull uncaptured, so the true pose puts the non-shared part
//   of one cloud outside the other's hull. A flipped pose of a partly
//   symmetric shape puts it through the other cloud's interior. This is what
//   tells them apart when the shared part is small;
// - descriptor consistency: the feature correspondences the pose carries
//   close to their partner.
#include <cstdint>
#include <utility>
#include <vector>

#include "orbit/core/types.hpp"
#include "orbit/geometry/kdtree.hpp"

namespace orbit::registration {

// The convex hull of a 3-d point set approximated from outside by its
// supporting planes in a fixed set of directions (a Fibonacci sphere).
class SupportHull {
public:
    explicit SupportHull(const Points& points, int directions = 64);
    // x lies inside every supporting plane moved inwards by margin.
    bool contains(const Eigen::Vector3d& x, double margin) const;

private:
    Eigen::Matrix<double, Eigen::Dynamic, 3> directions_;
    Eigen::VectorXd support_;  // max over the points of direction . point
};

struct SideScore {
    double agreement = 0;  // surface agreement per moved point, in [0, 1]
    double violation = 0;  // share of moved points inside the hull and farther than tau from the surface
};

// Moves `moving` by t and scores it against `fixed` (its tree and hull; no
// hull: no violation). tau is the agreement and surface distance, margin the
// hull shrinkage.
SideScore score_side(const Points& moving, const geometry::KdTree& fixed_tree, const SupportHull* fixed_hull,
                     const Transform& t, double tau, double margin = 0);

// Feature correspondences (source row, target row) that t carries within tau
// of their partner, weighted by 1 - d^2 / tau^2.
double consistent_correspondences(const Points& source, const Points& target,
                                  const std::vector<std::pair<std::int64_t, std::int64_t>>& corr, const Transform& t,
                                  double tau);

}  // namespace orbit::registration
