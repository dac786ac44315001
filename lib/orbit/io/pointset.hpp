#pragma once
// Point sets and transforms in orbit's HDF5 data model.
//
//   /points  [N,D] one cloud, [B,N,D] a batch of equal-size clouds, or
//            [total,D] with /offsets [B+1] for clouds of different sizes
//   /normals, /weights [N] or [B,N], /features [N,F], /labels
//   /transform [4,4] or [B,4,4], homogeneous, source -> target coordinates
//
// Readers accept "FILE" (reads /points and its companions), "FILE:/dataset"
// (any numeric dataset of rank 2 or 3, such as a ModelNet file's /data) and
// "-" (an HDF5 image on stdin).
//
// Companions. A whole orbit file brings /normals, /weights, /features and
// /labels (or /label). FILE:/dataset brings its siblings in the same group
// named normals (or normal) and labels (or label) when their shapes fit the
// dataset: a ModelNet file's /data comes with its /label [B,1] and /normal
// [B,N,3]. Labels are per cloud ([B], [B,L]; [1] or a scalar for one cloud)
// or per point (the leading shape of the points: [N], [B,N], [total], then
// [..,L]); the shape tells which, per point when both fit.
//
// Selection. FILE:/dataset[K] reads cloud K (0-based) of a batch as one
// cloud; FILE:/dataset[A:B] the clouds A..B-1 (either end may be left out).
// Companions and labels follow the selection. Non-HDF5 files (PLY, OFF, XYZ, CSV, NPY, NPZ,
// PCD, and Assimp's mesh formats such as OBJ, STL, glTF) are read through
// io/formats; FILE.npz:/NAME picks an NPZ array. Inputs are checked: empty sets, NaN or inf,
// wrong rank and mismatched companions are errors naming the file.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orbit/core/types.hpp"
#include "orbit/io/h5.hpp"

namespace orbit::io {

struct PointSet {
    Points points;    // N x D
    Points normals;   // N x D or empty
    Vector weights;   // N or empty
    Points features;  // N x F or empty
    Points labels = Points();  // per point: N x L; per cloud: 1 x L; empty without labels (PointSets::labels says which)
};

struct PointSets {
    enum class Layout { single, batch, ragged };
    enum class Labels { none, per_cloud, per_point };
    std::vector<PointSet> items;
    Layout layout = Layout::single;
    Labels labels = Labels::none;
    std::vector<std::size_t> label_shape;  // the shape of one label: [] for a number, [L] for L of them
    std::string source;                   // the argument it was read from, for messages
    std::vector<std::string> history;     // history lines of the file it came from
    std::size_t size() const { return items.size(); }
    PointSet& operator[](std::size_t i) { return items[i]; }
    const PointSet& operator[](std::size_t i) const { return items[i]; }
};

// Reads point sets from "FILE", "FILE:/dataset" or "-".
PointSets read_point_sets(const std::string& arg);
// Same, from an already open file; `dataset` empty means "/points" (it may end in a selection [K] or [A:B]).
PointSets read_point_sets(const h5::File& file, const std::string& dataset, const std::string& source);
// Every cloud of `dataset` (no selection).
PointSets read_all_point_sets(const h5::File& file, const std::string& dataset, const std::string& source);

// Writes /points (and companions) under `group` ("" for the root). One set
// with layout single is written as [N,D]; equal sizes as [B,N,D]; else ragged.
// /labels is written int64 when every label is a whole number, else float64.
void write_point_sets(h5::File& file, const PointSets& sets, const std::string& group = "");

// A cloud made from input cloud `from` of a batch (cropped, resampled,
// moved): `rows` gives the input row of each of its points.
struct DerivedCloud {
    Points points, normals;
    std::size_t from = 0;
    std::vector<std::int64_t> rows;
};

// The derived clouds as a batch (or one cloud when `single`) that keeps the
// input's companions: weights, features and per-point labels follow their
// rows, a cloud's label follows the cloud. `indices` receives the rows, [B,N]
// when every cloud has N points, else flat.
PointSets derive_point_sets(const PointSets& in, std::vector<DerivedCloud> clouds, bool single, h5::Array<std::int64_t>& indices);

// Reads transforms from "FILE" (/transform), "FILE:/dataset" or "-": [4,4] or [B,4,4].
std::vector<Transform> read_transforms(const std::string& arg);
std::vector<Transform> read_transforms(const h5::File& file, const std::string& dataset);
// Writes [4,4] when there is one transform and `batched` is false, else [B,4,4].
void write_transforms(h5::File& file, const std::string& dataset, const std::vector<Transform>& transforms,
                      bool batched);

// A selection of clouds at the end of a dataset name: "/data[3]", "/data[2:5]".
struct CloudRange {
    std::int64_t begin = 0, end = -1;  // end -1: to the last cloud
    bool one = false;                  // [K]: one cloud, read as a single cloud
};
// Splits "/data[2:5]" into "/data" and the range; no range when the name does not end in [...].
// A malformed selection is a UsageError.
std::pair<std::string, std::optional<CloudRange>> split_selection(const std::string& dataset);
// Keeps the selected clouds; throws Error naming `what` when the range lies outside the batch.
void select_clouds(PointSets& sets, const CloudRange& range, const std::string& what);

// Throws a one-line error if any value is NaN or infinite.
void check_finite(const Points& m, const std::string& what);

// Selects shard K of N (1-based K) of `count` items: a contiguous, deterministic slice.
struct Shard {
    std::int64_t index = 1, count = 1;
    std::int64_t begin(std::int64_t items) const { return items * (index - 1) / count; }
    std::int64_t end(std::int64_t items) const { return items * index / count; }
};
Shard parse_shard(const std::string& text);  // "K/N"
// The items [first, second) of `total` that `shard` holds. Throws Error
// "shard K/N of TOTAL clouds is empty" when it holds none.
std::pair<std::int64_t, std::int64_t> shard_items(const Shard& shard, std::int64_t total);
// Records on the root which slice of how many items a file holds (read by orbit-merge).
void write_shard_info(h5::File& file, const Shard& shard, std::int64_t total_items);

}  // namespace orbit::io
