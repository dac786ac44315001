#pragma once
// The flow tools' settings and run logic: the option values as given (file
// names, flags), the option combinations checked against the model they apply
// to, and the samples, modes and files produced. The tools declare their
// options into these fields; messages here name the options.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "orbit/flows/model.hpp"
#include "orbit/flows/pipeline.hpp"
#include "orbit/flows/so3_modes.hpp"

namespace orbit::flows {

// orbit-sample-flow.
struct SampleSettings {
    std::string model, plot, context, context_value, modes, output;
    So3ModeOptions mode_options;
    InferOptions infer;
    std::int64_t samples = 1000;
    bool quaternions = false;
    bool samples_given = false, bandwidth_given = false;  // -n and --bandwidth appeared
    std::uint64_t seed = 0;
};

// Loads the model, checks the options against it (UsageError naming an
// option), draws the samples, writes them to s.output (and --modes, --plot)
// and returns the --json summary.
nlohmann::json run_sample(SampleSettings s);

// orbit-train-flow.
struct TrainSettings {
    std::string input, kind = "nsf", resume, plot, plot_loss, context, manifold, act, source, target, base, weights, output;
    ModelSpec spec;
    TrainOptions t;
    double val = 0.1;
    int hidden = 0, checkpoint_every = 0;  // hidden 0: the family's default
    std::int64_t resample = 0;
    bool no_cosine = false, unconditioned = false;
    bool model_given = false;  // --model appeared
    // The architecture options that appeared, with the models they apply to.
    std::vector<std::pair<std::string, std::vector<std::string>>> only_given;
    std::uint64_t seed = 0;
};

// The model the options ask for, and options that do not apply to it
// (UsageError naming the option); fills the fields the options imply.
void check_model_options(TrainSettings& s);

// Checks the options, reads the data (or the --resume model), trains with
// progress and checkpoints, writes the model and plots on rank 0 and returns
// the --json summary.
nlohmann::json run_training(TrainSettings s);

}  // namespace orbit::flows
