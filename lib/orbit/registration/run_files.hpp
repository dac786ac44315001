#pragma once
// What orbit-register does between its options and its summary: read the
// pairs (checked before any work), register them, and write the files asked
// for (the result file, the hypotheses, the aligned PLY).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orbit/io/pointset.hpp"
#include "orbit/registration/result_file.hpp"

namespace orbit::registration {

struct PairInputs {
    std::string source, target;    // FILE, FILE:/dataset or "-"
    std::string truth;             // ground-truth transforms (FILE[:/dataset]), or empty
    bool truth_ref_to_src = true;  // the truth maps target coordinates to source ones (orbit-transform)
};

// Pairs [begin, begin + sources.size()) of a batch of `total`.
struct Pairs {
    std::vector<Points> sources, targets;
    std::vector<Transform> truth;  // source -> target, one per pair, or empty
    std::int64_t total = 0, begin = 0;
    bool batched = false;              // either side was a batch
    std::vector<std::string> history;  // of the source
};

// The items [begin, end) of `total` that this run processes (a --shard slice).
using Slice = std::function<std::pair<std::int64_t, std::int64_t>(std::int64_t total)>;

// Reads both sides and the ground truth; throws Error unless the sides hold
// as many 3-d clouds and the truth one transform per pair.
Pairs read_pairs(const PairInputs& in, const Slice& slice);

// register_batch over the pairs (streams by global pair index), their errors
// against the truth, and a warning for pairs flagged low_fitness.
Run register_pairs(const Pairs& pairs, const Options& options, std::uint64_t seed);

struct OutputFiles {
    std::string result;      // -o: the result file (result_file.hpp), or empty
    std::string hypotheses;  // --hypotheses (hypotheses_file.hpp), or empty
    std::string aligned;     // --aligned (aligned_file.hpp), or empty
    bool correspondences = false;
    std::optional<io::Shard> shard;  // recorded on the result file
};

// Refuses, before any work, outputs that cannot be written (and an --aligned name that is not .ply).
void check_output_files(const OutputFiles& files);
// Writes the files asked for, each with the source's history.
void write_output_files(const OutputFiles& files, const Run& run, const Pairs& pairs, const PairInputs& in);

}  // namespace orbit::registration
