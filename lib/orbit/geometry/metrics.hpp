#pragma once
// Registration quality measures. Definitions (all distances Euclidean):
//
//   RRE (degrees)  arccos((tr(R_gt^T R) - 1) / 2): the angle of the rotation
//                  that separates the estimate from the ground truth.
//   RTE            |t - t_gt|: distance between the translation parts.
//   fitness        share of source points whose nearest target point, after
//                  applying T, lies within max_distance (Open3D's definition:
//                  inliers / source points).
//   inlier RMSE    sqrt(mean squared distance over those inliers); 0 when none.
//   modified Chamfer (RPM-Net): with a clean cloud C in reference coordinates,
//                  mean_i min_c |T x_i - c|^2 + mean_j min_c |y_j - E c|^2,
//                  where E = T T_gt^-1 carries the clean cloud through the
//                  registration error. Zero for the exact transform on noise-free
//                  data, whatever the overlap.
#include <cstdint>

#include "orbit/core/types.hpp"
#include "orbit/geometry/kdtree.hpp"

namespace orbit::geometry {

double rre_deg(const Transform& estimate, const Transform& truth);
double rte(const Transform& estimate, const Transform& truth);

struct Fit {
    double fitness = 0;
    double inlier_rmse = 0;
    std::int64_t inliers = 0;
};
// Scores T on source points against a tree built on the target.
Fit evaluate_fit(const Points& source, const KdTree& target, const Transform& t, double max_distance);

// clean: the clean reference-frame cloud (for a crop pair without one, the union of
// the reference and the ground-truth-aligned source is a good stand-in).
double modified_chamfer(const Points& source, const Points& target, const Points& clean, const Transform& estimate,
                        const Transform& truth);

}  // namespace orbit::geometry
