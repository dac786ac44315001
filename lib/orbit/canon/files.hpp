#pragma once
// File-level pieces of orbit-canonicalize: diagnostics datasets, summaries and
// the --inverse mapping of stored outputs back to the original frames.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orbit/canon/canonicalizer.hpp"
#include "orbit/io/h5.hpp"

namespace orbit::canon {

// Writes GROUP/eigenvalues [B,3], gaps [B,2], sign_margins [B,3], scale [B], flags [B] (int32).
void write_diagnostics(h5::File& file, const std::vector<Diagnostics>& diag, const std::string& group = "/canon");

// Counts and extremes for --json: clouds, unstable, per-flag counts, smallest gap and sign margin.
nlohmann::json summarize(const std::vector<Diagnostics>& diag, bool signs_used);

// The clouds as one dense [B,N,D] array when the input is a batch without
// companions (normals, weights, features): the fast path that canonicalizes in
// place. Checks emptiness and finiteness like the point-set reader. Returns
// nothing for other layouts, which go through io::read_point_sets.
std::optional<h5::Array<double>> read_dense_batch(const h5::File& file, const std::string& dataset,
                                                  const std::string& source);

struct InverseRequest {
    std::string input;          // FILE or "-"
    std::string transforms;     // FILE or FILE:/dataset; empty = the input's /transform (or /frames)
    std::string dataset;        // dataset to map back; empty = /points
    std::optional<Kind> kind;   // how the dataset moves; default: transform for */transform, else points
};

struct InverseResult {
    std::string dataset, transforms_from;
    Kind kind = Kind::points;
    std::size_t items = 0;
};

// Maps the dataset back through the inverse of each stored group element and
// writes it (same name and layout; normals of a point set follow as unit vectors) to `out`.
InverseResult write_inverse(const InverseRequest& req, h5::File& out, const h5::File& in);

}  // namespace orbit::canon
