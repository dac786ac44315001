#pragma once
// What the UDPReg network sees of a point: rotation-invariant descriptors.
//
// The network's inputs are functions of distances and angles within a
// neighbourhood, so they are unchanged by any rigid motion of the cloud;
// the posteriors computed from them then move with the cloud by
// construction, for rotations up to uniform SO(3), and the mixture
// centroids they define are equivariant. Per point:
//   - its FPFH (33 bins, as registration computes it: normals over 4 s,
//     histograms over 12 s with locally oriented normals, s the mean
//     spacing of the reference cloud), each 11-bin group normalised to sum 1;
//   - the mean of those histograms over its 16 nearest neighbours (a wider
//     view at no training cost);
//   - local shape at two scales (16 and 48 neighbours): the eigenvalues
//     l1 >= l2 >= l3 of the neighbourhood covariance as linearity
//     (l1 - l2) / l1, planarity (l2 - l3) / l1, scattering l3 / l1;
//   - the mean distance to its 16 neighbours over the cloud's mean spacing
//     (local density), and the surface variation l3 / (l1 + l2 + l3).
#include "orbit/core/types.hpp"

namespace orbit::udpreg {

constexpr int kInputWidth = 33 + 33 + 3 + 3 + 2;

// Lengths of the descriptors, from the reference cloud as registration derives them.
struct DescriptorScales {
    double spacing = 0, normal_radius = 0, feature_radius = 0;
};
DescriptorScales descriptor_scales(const Points& reference);

// FPFH of a cloud exactly as registration computes it (N x 33).
Points registration_fpfh(const Points& x, const DescriptorScales& scales);

// The network inputs (N x kInputWidth) of a cloud and its FPFH (N x 33).
Points network_inputs(const Points& x, const Points& fpfh);

}  // namespace orbit::udpreg
