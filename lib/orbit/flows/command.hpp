#pragma once
// The flow tools' settings and run logic: the option values as given (file
// names, flags), the option combinations checked against the model they apply
// to, and the samples, modes and files produced. The tools declare their
// options into these fields; messages here name the options.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "orbit/flows/model.hpp"
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

}  // namespace orbit::flows
