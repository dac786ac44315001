#pragma once
// The files orbit-canonicalize writes, in one place: diagnostics datasets,
// the method attributes, the frame-averaging layout, MDS residuals, summaries,
// and the mapping of stored outputs back to the original frames.
//
// Canonical poses (kind "pointset"): the point set (io::write_point_sets),
// /transform [4,4] or [B,4,4] (original -> canonical), the diagnostics under
// /canon and the method attributes. Frames (kind "frames"): /points [B,F,N,D]
// and /frames [B,F,4,4], diagnostics and attributes. MDS coordinates: the point
// set of invariant coordinates, /canon/residual [B], diagnostics and attributes.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orbit/canon/canonicalizer.hpp"
#include "orbit/canon/mds.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::canon {

// Writes GROUP/eigenvalues [B,3], gaps [B,2], sign_margins [B,3], scale [B], flags [B] (int32).
void write_diagnostics(h5::File& file, const std::vector<Diagnostics>& diag, const std::string& group = "/canon");

// Root attributes canon_group, canon_method ("pca" or "mds"), canon_frames ("one" or "all") and canon_scale (0/1).
void write_method(h5::File& file, const std::string& group, const std::string& method, const std::string& frames,
                  bool scale);

// Every frame of every cloud: /points [B,F,N,D] (the canonical copies) and /frames [B,F,4,4].
// Throws Error unless the clouds have equal sizes (one array holds them).
void write_frames(h5::File& file, const BatchFrames& frames);
// The frames and copies written by write_frames.
BatchFrames read_frames(const h5::File& file);

// /canon/residual [B]: the share of each cloud's landmark Gram spectrum beyond the point dimension.
void write_mds_residuals(h5::File& file, const std::vector<double>& residuals);

// Counts and extremes for --json: clouds, unstable, per-flag counts, smallest gap and sign margin.
nlohmann::json summarize(const std::vector<Diagnostics>& diag, bool signs_used);

// The clouds as one dense [B,N,D] array when the input is a batch without
// companions (normals, weights, features): the fast path that canonicalizes in
// place. Checks emptiness and finiteness like the point-set reader. Returns
// nothing for other layouts, which go through io::read_point_sets.
std::optional<h5::Array<double>> read_dense_batch(const h5::File& file, const std::string& dataset,
                                                  const std::string& source);

// What orbit-canonicalize does to a set of clouds, and what it reports.
struct Request {
    Options pca;
    MdsOptions mds;
    bool mds_method = false;  // invariant coordinates instead of a canonical pose
    bool all_frames = false;  // every PCA frame (frame averaging) instead of one
    // The canonicalizer of a single canonical pose: a learned one, or null for
    // the PCA canonicalizer of `pca`.
    const Canonicalizer* canonicalizer = nullptr;
};
struct Written {
    std::vector<Diagnostics> diag;
    nlohmann::json extra;  // canon_s and the mode's own values (landmarks, dim, max_residual; frames)
};

// Canonicalizes `sets` (read from `source`) and writes the layout of the
// request to `out`: canonical poses with /transform, all frames, or MDS
// coordinates with their residuals; then the diagnostics under /canon.
Written canonicalize_sets(const Request& request, io::PointSets& sets, const std::string& source, h5::File& out);

// The fast path for a dense batch without companions: canonical poses of the
// clouds [begin, end) of `dataset`, computed in place in the buffer read from
// HDF5 and written to `out`. `slice(total)` picks [begin, end) once the batch
// size is known. Returns nothing for other layouts (use canonicalize_sets).
struct DenseWritten : Written {
    std::int64_t begin = 0, total = 0, unstable = 0;
    double read_s = 0;
};
std::optional<DenseWritten> canonicalize_dense(
    const h5::File& in, const std::string& dataset, const std::string& source, const Options& options,
    const std::function<std::pair<std::int64_t, std::int64_t>(std::int64_t)>& slice, h5::File& out,
    const Canonicalizer* canonicalizer = nullptr);  // null: the PCA canonicalizer of `options`

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
