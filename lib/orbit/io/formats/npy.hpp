#pragma once
// NPY arrays, shared by the NPY reader and the NPZ reader (an NPZ file is a
// zip of NPY members): one header parser for whole-file and block-wise reads.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "orbit/io/formats/binary.hpp"
#include "orbit/io/formats/bytes.hpp"
#include "orbit/io/formats/format.hpp"
#include "orbit/io/formats/values.hpp"

namespace orbit::io::formats {

// A checked NPY header and where its data lie.
struct NpyArray {
    std::string descr;       // as stored, for messages ("<f8")
    Kind kind = Kind::f64;
    bool swap = false;       // stored in the other byte order
    std::vector<u64> shape;  // as stored
    u64 rows = 0, cols = 0;  // as rows of the last axis: [N] -> N x 1, [N,D], [B,N,D] -> B*N x D
    const char* data = nullptr;
};

// Parses the NPY image [b, b + size) (versions 1, 2 and 3; any spelling of
// the header dictionary numpy accepts): magic, dtype, order, a shape of rank
// 1..max_rank, and exactly the data that shape needs. `name` is for messages.
NpyArray parse_npy(const char* b, std::size_t size, const std::string& name, std::size_t max_rank);

// The values as a rows x cols matrix; NaN and infinity are refused, naming the row.
Points npy_values(const NpyArray& a, const std::string& name);

// One cloud, or a batch for [B,N,D].
Input npy_input(const NpyArray& a, const std::string& name);

// Block-wise rows of an [N] or [N,D] array whose bytes stay in `file`; nullptr for a batch.
std::unique_ptr<RowSource> npy_row_source(std::shared_ptr<const MappedFile> file, const NpyArray& a,
                                          const std::string& name);

}  // namespace orbit::io::formats
