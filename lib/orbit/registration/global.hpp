#pragma once
// Global registration from FPFH correspondences and RANSAC.
//
// Correspondences pair each point with its nearest neighbour in descriptor
// space, in both directions. RANSAC draws three of them (from the caller's
// seeded stream), rejects the draw unless the three edge lengths agree within
// edge_ratio on both sides (Open3D's edge-length checker), fits Kabsch and
// counts the correspondences it explains within `distance`. The best
// hypotheses are refitted on their inliers and returned ranked by that count,
// so a caller can verify several of them on the whole clouds.
#include <cstdint>
#include <utility>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"

namespace orbit::registration {

using Correspondences = std::vector<std::pair<std::int64_t, std::int64_t>>;

// Nearest neighbours in feature space: each source row to the target and each
// target row to the source (duplicates removed); with mutual, only the pairs
// found in both directions.
Correspondences feature_correspondences(const Points& source_features, const Points& target_features, bool mutual);

struct RansacOptions {
    std::int64_t max_iterations = 20000;
    double confidence = 0.9999;
    double distance = 0.05;    // inlier threshold on corresponded points
    double edge_ratio = 0.9;   // edge-length similarity required of a sample
    int hypotheses = 8;        // how many distinct best hypotheses to return
};

struct Hypothesis {
    Transform transform = Transform::Identity();
    std::int64_t inliers = 0;
};

std::vector<Hypothesis> ransac(const Points& source, const Points& target, const Correspondences& corr,
                               const RansacOptions& options, Rng& rng, std::int64_t* iterations_done = nullptr);

}  // namespace orbit::registration
