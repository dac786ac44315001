#pragma once
// Pose hypotheses from point-pair-feature voting (Drost et al. 2010), with no
// descriptor matches.
//
// Both clouds are thinned by farthest-point sampling to `samples` points; the
// normals come from the caller (estimated on the full clouds). Every ordered
// pair of source points (m1, m2) is stored under its quantized feature
// (|d|, angle(n1, d), angle(n2, d), angle(n1, n2)). For each target point as a
// reference, its pairs with all other target points look up the source pairs
// of equal feature; each such match fixes the pose up to the source point m1
// and a rotation angle about the normal, and votes for that cell in a small
// accumulator. The peaks of all references are clustered (rotation and
// translation close), and the clusters with the most votes give the hypotheses.
//
// Normal signs are arbitrary (a crop changes any global orientation), so the
// features do not depend on them: n2 is taken on the side of n1 (n1.n2 >= 0),
// and the source table holds each pair for both signs of n1, so the vote also
// decides whether the reference normals agree or disagree in sign.
//
// No random draws: the result depends only on the inputs (ties by index).
#include <cstdint>
#include <vector>

#include "orbit/core/types.hpp"
#include "orbit/registration/global.hpp"

namespace orbit::registration {

struct PpfOptions {
    std::int64_t samples = 200;   // farthest-point samples per cloud
    double distance_step = 0;     // feature distance bin; 0: 0.05 x the source's diameter
    int angle_bins = 15;          // feature angle bins over [0, pi]
    int rotation_bins = 30;       // bins of the rotation about the normal over 2 pi
    int peaks = 3;                // accumulator peaks kept per reference point
    double cluster_deg = 15;      // poses closer than this in rotation ...
    double cluster_distance = 0;  // ... and this in translation (0: 2 x distance_step) are merged
    int hypotheses = 12;
    bool symmetric = false;       // also vote with the roles of the clouds exchanged (twice the cost)
};

// Hypotheses mapping source onto target, ranked by votes (Hypothesis::inliers
// holds the cluster's votes). Empty when either cloud has fewer than 3 points
// with a normal. Throws orbit::Error when normals and points differ in shape.
std::vector<Hypothesis> drost_ppf_hypotheses(const Points& source, const Points& source_normals, const Points& target,
                                       const Points& target_normals, const PpfOptions& options = {});

}  // namespace orbit::registration
