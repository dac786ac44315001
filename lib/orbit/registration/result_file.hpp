#pragma once
// The registration result file (kind "transform") that orbit-register writes,
// its reader, and the summaries of a run.
//
// One pair: /transform [4,4]; fitness, inlier_rmse, iterations, seconds (and
// rre_deg, rte, chamfer with a ground truth) as root attributes; flags as a
// JSON list attribute; /correspondences [K,2].
// A batch of B pairs: /transform [B,4,4]; the same values as [B] datasets;
// /flags [B] int32 bits (meaning in its flags_meaning attribute); the
// correspondences of pair b under /correspondences/<b>. Every per-pair value
// has the pair on its first axis, so the slices of a --shard run join with
// orbit-merge into the file one run writes.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orbit/io/h5.hpp"
#include "orbit/registration/register.hpp"

namespace orbit::registration {

// A run of pairs [first_pair, first_pair + results.size()).
struct Run {
    Method method = Method::automatic;
    bool batched = false;            // written as a batch even when it holds one pair
    std::int64_t first_pair = 0;     // global index of results[0] (names /correspondences/<b>)
    std::vector<Result> results;
    std::vector<Errors> errors;      // one per result with a ground truth, else empty
};

// Writes the layout above. `correspondences`: also write the inlier pairs.
void write_run(h5::File& file, const Run& run, bool correspondences);
// Reads a file written by write_run (seconds and all); throws Error naming what is missing.
Run read_run(const h5::File& file);

// Means and medians of the per-pair values; the transform and flags of a single pair;
// with errors, the recall at (rre_deg_below, rte_below).
nlohmann::json summarize(const Run& run, double recall_rre_deg, double recall_rte);
// The few lines printed when no -o or --json is given.
std::string text_summary(const Run& run, double recall_rre_deg, double recall_rte);

// Pairs flagged low_fitness.
std::int64_t count_flag(const Run& run, const std::string& flag);

}  // namespace orbit::registration
