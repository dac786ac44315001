#pragma once
// The steps the flow tools share around a Model: reading training rows with
// their context, writing the model file, the training pictures and summary,
// and the context rows for sampling or evaluation.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "orbit/flows/model.hpp"

namespace orbit::flows {

// Rows to train on from `input` (one table [N,D]; for a manifold, its points),
// with the raw context from `context` (empty: none), one row per data row.
Dataset read_training_set(const std::string& input, const std::string& context, const std::string& manifold);

// The pairs of an interpolant: target rows [N,D] from `target` and, as the context,
// the source (degraded view) of each from `source` (tables of the same shape).
Dataset read_interpolant_pairs(const std::string& source, const std::string& target);

// Importance resampling: n rows (0: as many as there are) drawn with replacement
// with probability proportional to `weights` (one finite value >= 0 per row,
// not all 0; e.g. the scores of registration hypotheses), from the stream of `seed`.
Dataset resample_by_weight(const Dataset& all, const Points& weights, std::int64_t n, std::uint64_t seed,
                           const std::string& what);

// check_training_data on all rows, split_rows, and the check of the training split against the batch size.
void split_training_set(const Dataset& all, double val_fraction, std::uint64_t seed, int batch, const std::string& what,
                        Dataset& train, Dataset& val);

// Completes a spec from orbit-train-flow's options: hidden 0 and activation ""
// take the family's defaults (128 and relu for coupling flows, 256 and silu for
// flow-matching fields); width, depth and activation go into every part.
ModelSpec complete_spec(ModelSpec spec, int hidden, const std::string& activation, const std::string& manifold);

// Writes the model to `output` ("-": stdout), carrying the history of `input` when it is HDF5.
void save_model(const Model& model, const std::string& output, const std::string& input);

// The loss curves (line chart) and, for 2-D models, the density on a grid
// over the data and samples next to it (FILE-samples.EXT); empty paths skip.
void write_training_plots(const Model& model, const Points& data, const std::string& loss_unit,
                          const std::string& density_plot, const std::string& loss_plot, std::uint64_t seed);

// What --json prints after training.
nlohmann::json training_summary(const Model& model, const nlohmann::json& report, std::int64_t train_rows,
                                std::int64_t val_rows);

// Progress notes: one epoch ("loss ... val ... lr ..."), and the model with its split sizes.
std::string epoch_line(const EpochInfo& e);
std::string model_line(const Model& model, std::int64_t train_rows, std::int64_t val_rows);

// One line about a finished training run (epochs, speed, validation loss).
std::string training_line(const nlohmann::json& report);

// The output of orbit-density: /logp [N] with the mean and its standard error as root attributes.
void write_log_density(h5::File& file, const Vector& logp, double mean, double stderr_mean);

// Context rows for `rows` rows of a model: read from `file`, or `value` repeated
// ("3" or "0.5,1.2"), or none when both are empty. `rows` < 0 takes the file's count.
Points context_rows(const std::string& file, const std::string& value, std::int64_t rows);

}  // namespace orbit::flows
