#pragma once
// Readers and writers for the point-cloud and mesh formats users bring:
// PLY (ascii, binary little/big endian; vertices, normals, faces), OFF/COFF,
// XYZ/PTS/TXT, CSV, NPY (v1/v2, float32/float64, C order), PCD (ascii and
// binary). Each reader validates its header against the file size before
// allocating, so a header that declares 10^12 points is an error, not a crash.
#include <string>
#include <vector>

#include "orbit/core/types.hpp"

namespace orbit::io::formats {

struct Shape {
    Points vertices;  // N x 3 (or N x D for CSV/NPY/XYZ tables)
    Points normals;   // N x 3 or empty
    Eigen::Matrix<std::int64_t, Eigen::Dynamic, 3, Eigen::RowMajor> faces;  // triangles, empty for point sets
};

// True when the extension names a format read here (.ply .off .xyz .pts .txt .csv .npy .pcd).
bool is_known(const std::string& path);
// Reads a file by its extension (the content is checked too).
Shape read_shape(const std::string& path);

Shape read_ply(const std::string& path);
Shape read_off(const std::string& path);
Shape read_xyz(const std::string& path);  // whitespace separated; also .pts/.txt
Shape read_csv(const std::string& path);  // comma separated, optional header row
Shape read_npy(const std::string& path);
Shape read_pcd(const std::string& path);

void write_ply(const std::string& path, const Shape& shape);  // binary little endian
void write_csv(const std::string& path, const Points& table);
void write_npy(const std::string& path, const Points& table);  // float64, C order

}  // namespace orbit::io::formats
