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
// "-" (an HDF5 image on stdin). Non-HDF5 files (PLY, OFF, XYZ, CSV, NPY, NPZ,
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
};

struct PointSets {
    enum class Layout { single, batch, ragged };
    std::vector<PointSet> items;
    Layout layout = Layout::single;
    std::string source;                   // the argument it was read from, for messages
    std::vector<std::string> history;     // history lines of the file it came from
    std::size_t size() const { return items.size(); }
    PointSet& operator[](std::size_t i) { return items[i]; }
    const PointSet& operator[](std::size_t i) const { return items[i]; }
};

// Reads point sets from "FILE", "FILE:/dataset" or "-".
PointSets read_point_sets(const std::string& arg);
// Same, from an already open file; `dataset` empty means "/points".
PointSets read_point_sets(const h5::File& file, const std::string& dataset, const std::string& source);

// Writes /points (and companions) under `group` ("" for the root). One set
// with layout single is written as [N,D]; equal sizes as [B,N,D]; else ragged.
void write_point_sets(h5::File& file, const PointSets& sets, const std::string& group = "");

// Reads transforms from "FILE" (/transform), "FILE:/dataset" or "-": [4,4] or [B,4,4].
std::vector<Transform> read_transforms(const std::string& arg);
std::vector<Transform> read_transforms(const h5::File& file, const std::string& dataset);
// Writes [4,4] when there is one transform and `batched` is false, else [B,4,4].
void write_transforms(h5::File& file, const std::string& dataset, const std::vector<Transform>& transforms,
                      bool batched);

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
