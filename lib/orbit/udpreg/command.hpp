#pragma once
// orbit-train-register's settings and run: the option values as given,
// checked (--rotation, --resume against the architecture options), the point
// sets read and split, the model trained with checkpoints and written. The
// tool declares its options into these fields; messages here name the options.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orbit/udpreg/model.hpp"
#include "orbit/udpreg/train.hpp"

namespace orbit::udpreg {

struct TrainSettings {
    std::vector<std::string> inputs;
    std::string resume, rotation = "45", output;
    TrainOptions t;
    ModelConfig mc;
    double val = 0.1;
    int checkpoint_every = 0;
    std::vector<std::string> architecture_given;  // the architecture options that appeared
    std::uint64_t seed = 0;
};

// Trains (or, with --resume, continues) a UDPReg model on the point sets of
// s.inputs, writes it to s.output (also every s.checkpoint_every epochs) and
// returns the --json summary.
nlohmann::json run_training(TrainSettings s);

}  // namespace orbit::udpreg
