#pragma once
// The scored-hypotheses file (kind "hypotheses") that orbit-register
// --hypotheses writes: every candidate pose of every pair with its score, the
// input of a pose distribution over a pair rather than one answer.
//
// H hypotheses over all pairs, those of one pair together and best first:
//   /rotations [H,3,3], /translations [H,3], /transforms [H,4,4] float64 (the
//   same poses, source -> target; the rotation and translation are the blocks
//   of the transform), /scores [H] float64 (higher is better), /pair [H] int64
//   (the pair's index in the batch; 0 for a single pair).
// With a ground truth (--ground-truth) and a method that verifies candidates:
//   /truth_scores [B] and /truth_refined_scores [B] float64, per pair of the
//   run (pair first_pair + k, first_pair a root attribute), the verification score of
//   the true pose as given and after the short ICP each candidate gets: a
//   failing pair whose truth outscores its best hypothesis lacked a candidate
//   near the truth; one whose truth scores lower was lost by the score.
// Root attributes: method, source, reference (the inputs as given) and score,
// what /scores holds: "verification" (the verification score of the methods
// that verify candidates, see register.hpp) or "fitness" (the share of source
// points within the inlier distance, the one hypothesis of icp, icp-plane,
// cpd and gw).
#include <cstdint>
#include <string>
#include <vector>

#include "orbit/io/h5.hpp"
#include "orbit/registration/result_file.hpp"

namespace orbit::registration {

struct Hypotheses {
    std::string method, source, reference, score;
    std::vector<std::int64_t> pair;
    std::vector<Transform> transforms;
    std::vector<double> scores;
    std::int64_t first_pair = 0;                             // the index of the run's first pair
    std::vector<double> truth_scores, truth_refined_scores;  // one per pair of the run, or empty
};

// The hypotheses of a run (results with keep_hypotheses), pairs numbered from run.first_pair.
Hypotheses collect_hypotheses(const Run& run, const std::string& source, const std::string& reference);
void write_hypotheses(h5::File& file, const Hypotheses& h);
// Reads a file written by write_hypotheses; throws Error naming what is missing or inconsistent.
Hypotheses read_hypotheses(const h5::File& file);

}  // namespace orbit::registration
