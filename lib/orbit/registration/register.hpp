#pragma once
// Rigid registration of one pair or a batch of pairs: the entry point tools call.
//
// Every method returns the transform mapping source coordinates onto the target,
// with Open3D-style quality measures evaluated at `distance` (see
// geometry/metrics.hpp): fitness = inliers / source points, inlier RMSE.
//
// Lengths left at 0 are derived from the data: s = mean nearest-neighbour
// spacing of the (downsampled) target; normals use 4 s, FPFH 12 s, RANSAC and
// the final ICP threshold 2.5 s. This keeps one set of defaults valid for unit
// shapes and for scans in millimetres alike.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"

namespace orbit::registration {

enum class Method { icp, icp_plane, cpd, global, gmm_ot, gw, udpreg, automatic };
class PosteriorModel;  // gmm_ot.hpp
Method parse_method(const std::string& name);  // throws UsageError with the valid names
std::string method_name(Method m);

struct Options {
    Method method = Method::automatic;
    double distance = 0;         // inlier / final ICP threshold (0: 2.5 x spacing)
    double voxel = 0;            // downsampling for features (0: none below 5000 points, else automatic)
    double normal_radius = 0;    // 0: 4 x spacing
    double feature_radius = 0;   // 0: 12 x spacing
    int max_iterations = 60;     // ICP / CPD iterations
    double trim = 1.0;           // ICP: share of the closest pairs kept (auto and global use 0.9 when left at 1)
    bool anneal = true;          // ICP: start with a wide threshold and shrink it
    double outlier_weight = 0.1; // CPD
    bool with_scale = false;     // CPD, and the Kabsch of gmm-ot
    std::int64_t ransac_iterations = 50000;
    int components = 24;         // gmm-ot mixture components per cloud
    double sinkhorn_eps = 0.05;  // gmm-ot entropic regularisation (relative to the median cost)
    int hypotheses = 12;         // candidates verified per generator (global, gmm-ot, auto; --candidates)
    double auto_gmm_below = 0.3; // auto: add GMM+OT hypotheses when the best pose's fitness is below this
    double auto_ppf_below = 1.0; // auto: add point-pair-feature hypotheses when the best pose's score is below this
    double free_space_weight = 8; // global, gmm-ot, auto: weight of the free-space violations in the score of a pose
    bool keep_correspondences = false;
    bool keep_hypotheses = false;  // fill Result::hypotheses (orbit-register --hypotheses)
    // A learned posterior model (udpreg/model.hpp): required by udpreg, whose
    // GMM+OT hypotheses it drives; with auto its hypotheses join the first round.
    std::shared_ptr<const PosteriorModel> model;
};

// A candidate pose of a pair and how well it explains the pair: higher is better
// (see hypothesis_score_name for what the number is).
struct ScoredPose {
    Transform transform = Transform::Identity();
    double score = 0;
};

// The methods that verify several candidate poses (global, gmm-ot, udpreg,
// auto): their hypotheses are every candidate after its short ICP, scored by
// the verification score (register.cpp). The others (icp, icp-plane, cpd,
// gw) have one hypothesis, the result, scored by its fitness.
bool verifies_candidates(Method m);
// "verification" or "fitness": what ScoredPose::score holds for method m.
std::string hypothesis_score_name(Method m);

struct Result {
    Transform transform = Transform::Identity();
    double fitness = 0;
    double inlier_rmse = 0;
    // Iterations of the local refinement that gave the transform (the final
    // ICP, or CPD for cpd), so at most Options::max_iterations; the short ICP
    // runs that verify candidates and the RANSAC draws are not counted.
    std::int64_t iterations = 0;
    double seconds = 0;
    std::vector<std::string> flags;  // "low_fitness", "planar", "not_converged", ...
    // Inlier pairs (source row, target row) of the final transform, when asked.
    std::vector<std::pair<std::int64_t, std::int64_t>> correspondences;
    // With keep_hypotheses: the scored candidate poses, best first.
    std::vector<ScoredPose> hypotheses;
    // With keep_hypotheses and a ground truth, for the methods that verify
    // candidates: the verification score of the true pose as given and after
    // the short ICP every candidate gets (NaN otherwise). A diagnostic: the
    // truth never enters the registration. A failure whose truth outscores
    // the chosen pose is one of candidate generation, not of scoring.
    double truth_score = std::numeric_limits<double>::quiet_NaN();
    double truth_refined_score = std::numeric_limits<double>::quiet_NaN();
};

// Registers source onto target. Throws Error for unusable input (fewer than 3
// points, coincident or collinear points, non-3-d points, NaN); other hard
// cases come back flagged (low fitness, planar).
// `truth` (optional, source -> target) only fills Result::truth_score.
Result register_pair(const Points& source, const Points& target, const Options& options, Rng& rng,
                     const Transform* truth = nullptr);

// Registers pair i with the stream Rng(seed, first_index + i), in parallel over
// pairs, so results do not depend on the thread count or on sharding. An error
// in any pair is rethrown (the first by index) prefixed with "pair K: ".
// `truths` (optional: empty, or one per pair) only fill Result::truth_score, and only with keep_hypotheses.
std::vector<Result> register_batch(const std::vector<Points>& sources, const std::vector<Points>& targets,
                                   const Options& options, std::uint64_t seed, std::int64_t first_index = 0,
                                   const std::vector<Transform>& truths = {});

// Errors against a ground-truth transform mapping source onto target.
struct Errors {
    double rre_deg = 0, rte = 0, chamfer = 0;
};
Errors evaluate(const Points& source, const Points& target, const Transform& estimate, const Transform& truth);

}  // namespace orbit::registration
