#pragma once
// The context of a conditional flow and how it becomes network input:
// a single column of integer labels is one-hot encoded over the classes seen
// in training; anything else (real values, several columns) is standardized
// column by column with the training mean and standard deviation. The model
// file records the encoding, so densities and samples use the same one.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orbit/core/types.hpp"
#include "orbit/nn/tape.hpp"

namespace orbit::flows {

struct ContextEncoding {
    enum class Kind { none, onehot, standardized };
    Kind kind = Kind::none;
    int columns = 0;                     // raw context columns
    std::vector<std::int64_t> classes;   // onehot: the labels, ascending
    std::vector<double> mean, std;       // standardized: per raw column

    bool conditional() const { return kind != Kind::none; }
    // Encoded columns fed to the networks.
    int width() const;
    // Chooses the encoding for a training context (rows x raw columns).
    static ContextEncoding fit(const Points& raw);
    // The network input for raw context rows; unknown labels and wrong widths are errors.
    nn::Mat<float> encode(const Points& raw) const;
    std::string describe() const;  // "one-hot over 10 labels", ...

    nlohmann::json to_json() const;
    static ContextEncoding from_json(const nlohmann::json& j);
};

// Reads context rows from FILE:/dataset ([N] or [N,C] numbers in HDF5) or a CSV table.
Points read_context(const std::string& arg);
// n rows all equal to the comma-separated `values` ("3", or "0.5,1.2").
Points repeat_context(const std::string& values, std::int64_t n);

}  // namespace orbit::flows
