#pragma once
// An initial pose from Gromov-Wasserstein matching, for clouds where no
// descriptor works (textureless, noisy or very differently sampled shapes):
// the two clouds are compared only through their own distance matrices
// (ot/gromov.hpp, Peyre et al. 2016), which do not change under any rigid
// motion, so the matching needs no starting pose at all.
//
//   1. farthest-point samples of both clouds (`points` each);
//   2. their Euclidean distance matrices, divided by a common scale (the
//      larger of the two diameters) so eps is scale-free;
//   3. the entropic GW plan T, annealed from eps_start down to eps;
//   4. the weighted Kabsch fit of each sample onto its plan-barycentric
//      match sum_j T_ij y_j / sum_j T_ij, weighted by its plan mass.
// The caller refines the pose with ICP. GW cannot tell a shape from its mirror
// image, so mirror-symmetric shapes may come back reflected; Kabsch then gives
// the best proper rotation for that matching.
#include <cstdint>

#include "orbit/core/types.hpp"

namespace orbit::registration {

struct GwInitOptions {
    int points = 300;        // farthest-point samples per cloud
    double eps = 2e-3;       // final entropic regularization (distances scaled to diameter 1)
    double eps_start = 0.1;  // annealing start
    int max_iter = 300;      // outer GW iterations
};

struct GwInit {
    Transform transform = Transform::Identity();
    std::int64_t iterations = 0;  // outer GW iterations
    double gw_value = 0;          // GW(T) of the plan, on the scaled distances
};

GwInit gw_initial_pose(const Points& source, const Points& target, const GwInitOptions& options = {});

}  // namespace orbit::registration
