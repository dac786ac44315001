#pragma once
// Choosing the columns of a table (CSV, XYZ, NPY [N,D]): which columns are the
// data and which one holds the labels, as orbit-convert's --columns and
// --label-column give them.
//
// A column list is comma-separated; each entry is a 0-based index (negative
// counts from the end, -1 being the last), a half-open range A:B as in Python
// (0:30 keeps columns 0..29; either end may be left out), or a column name
// when the table has a header row of names.
#include <cstddef>
#include <string>
#include <vector>

#include "orbit/core/types.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::io {

// The column indices `spec` names, in its order, for a table of `cols` columns
// with header `names` (may be empty). A UsageError names what is wrong.
std::vector<std::size_t> parse_columns(const std::string& spec, std::size_t cols, const std::vector<std::string>& names);

// Keeps the columns `keep` of every cloud of `sets` (and of `names`, when it
// has one name per column) and, when `label` is not empty, moves that one
// column into per-point labels. The points' normals are dropped when the
// columns change, since they no longer describe the kept coordinates.
void select_columns(PointSets& sets, std::vector<std::string>& names, const std::vector<std::size_t>& keep,
                    const std::vector<std::size_t>& label);

}  // namespace orbit::io
