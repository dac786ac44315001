#pragma once
// orbit-train-canonicalizer's settings and run: the option values as given,
// checked against a --resume model, the clouds read, the network trained by
// the canonicalization prior with checkpoints, and the model written. The
// tool declares its options into these fields; messages here name the options.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orbit/canon/learned.hpp"

namespace orbit::canon {

struct PriorTrainSettings {
    std::string input, group = "SO3", resume, output;
    std::string prior = "vectors";  // PriorForm by name
    bool prior_given = false;       // --prior appeared
    PriorTrainOptions train;
    int checkpoint_every = 0;
    bool achiral = false, ungated = false;
    bool third_moment_signs = false;  // pca-correction: no averaging over the axis signs
    std::string head = "vectors";     // pca-correction: vectors, angle-bins or angle-bins:K (parse_correction_head)
    bool group_given = false;                      // --group appeared
    std::vector<std::string> architecture_given;  // the architecture options that appeared
    // The training options that appeared (--resample, --jitter, --weight-decay, --val, --patience); with
    // --resume the others come from the model file, and one that appeared must agree with it.
    std::vector<std::string> training_given;
    std::uint64_t seed = 0;
};

// Trains (or, with --resume, continues) the learned canonicalizer, writes it
// to s.output (also every s.checkpoint_every epochs) and returns the --json summary.
nlohmann::json run_prior_training(PriorTrainSettings s);

}  // namespace orbit::canon
