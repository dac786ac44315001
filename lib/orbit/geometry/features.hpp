#pragma once
// Local surface features: normals, voxel downsampling, FPFH descriptors.
#include <cstdint>
#include <vector>

#include "orbit/core/types.hpp"
#include "orbit/geometry/kdtree.hpp"

namespace orbit::geometry {

// Normals from the smallest principal axis of up to max_nn neighbours within
// radius (at least 3 needed; fewer gives the zero vector). Signs point away from
// the cloud's centroid, a choice that moves with the cloud under any rigid motion,
// so descriptors built on them are rotation invariant.
Points estimate_normals(const Points& points, const KdTree& tree, double radius, std::int64_t max_nn);

// Replaces the points of each occupied voxel (cube of side `voxel`) by their
// mean. Voxels are emitted in order of first occurrence, so the output is
// deterministic. `index` (optional) receives, per output point, one input row in it.
Points voxel_downsample(const Points& points, double voxel, std::vector<std::int64_t>* index = nullptr);

// Fast Point Feature Histograms (Rusu et al. 2009): 33 bins (3 angles x 11),
// computed as Open3D does: SPFH over neighbours within radius (at most max_nn),
// then FPFH(p) = SPFH(p) + normalised sum of SPFH(q) / |p - q|^2.
// Returns N x 33.
//
// local_orientation: normal signs are taken from the neighbourhood instead of
// the given normals, so descriptors do not depend on how the cloud was
// cropped. Normals oriented against one reference point (the centroid, as
// estimate_normals does) flip wherever that point moves, and a partial view
// moves it: between two 50% crops of one shape a sixth of the matching points
// disagree in sign, which changes their histograms. With the option, each
// point's SPFH orients its own normal away from the centroid of its
// neighbourhood and its neighbours' normals along its own, so it depends on
// the geometry within `radius` alone. Where the surface is flat the sign is
// ambiguous but the angles it mirrors are near zero.
Points compute_fpfh(const Points& points, const Points& normals, const KdTree& tree, double radius,
                    std::int64_t max_nn, bool local_orientation = false);

// Mean distance from each point to its nearest other point: a scale for radii.
double mean_spacing(const Points& points, const KdTree& tree);

}  // namespace orbit::geometry
