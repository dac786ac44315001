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

// The same matches as feature_correspondences(..., false), ordered best first
// by Lowe's ratio: nearest over second-nearest descriptor distance on the side
// that proposed the match (the smaller of the two when both did). A low ratio
// means a distinctive match.
Correspondences ranked_correspondences(const Points& source_features, const Points& target_features);

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

// Hypotheses from second-order spatial consistency (after SC^2-PCR, Chen et
// al. 2022), with no random draws. Two correspondences are compatible when
// they preserve the distance between their points within `distance`; the
// second-order score of a compatible couple is how many other correspondences
// are compatible with both, which true matches (a rigid clique) collect and
// chance agreements do not. Among the first max_correspondences (callers pass
// them best first), the seeds with the highest total score, spread apart in
// the source, each grow a consensus set from their best-scoring compatible
// partners; Kabsch on that set, refitted on the inliers among all
// correspondences, gives one hypothesis. Returned ranked by inliers.
struct ConsistencyOptions {
    double distance = 0.05;                 // compatibility tolerance and inlier threshold
    std::int64_t max_correspondences = 600; // the first ones are used for the graph
    int seeds = 48;
    int consensus = 24;                     // partners per seed
    int hypotheses = 8;
};

std::vector<Hypothesis> sc2_pcr_hypotheses(const Points& source, const Points& target, const Correspondences& corr,
                                               const ConsistencyOptions& options);

}  // namespace orbit::registration
