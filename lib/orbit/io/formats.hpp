#pragma once
// Readers and writers for the point-cloud and mesh formats users bring:
// PLY (ascii, binary little/big endian; vertices, normals, faces), OFF/COFF,
// XYZ/PTS/TXT, CSV, NPY (v1-v3, float32/float64/integers, C order), NPZ (a zip
// of NPY arrays, stored or deflated), PCD (ascii and binary), and the mesh
// formats of the Open Asset Import Library (OBJ, STL, glTF/GLB, FBX, COLLADA,
// 3DS, ...). Each format is one file under io/formats/ behind one interface
// (io/formats/format.hpp). Each reader validates its header against the file
// size before allocating, so a header that declares 10^12 points is an error,
// not a crash.
//
// Errors are orbit::Error with one line naming the file and, where it helps,
// the line number (text formats) or the element and record (binary formats).
// Values that are NaN or infinite are rejected when read.
//
// Writers are atomic: they write a temporary file in the destination folder
// and rename it into place, so a failure never leaves a partial file.
#include <cstdint>
#include <string>
#include <vector>

#include "orbit/core/types.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::io::formats {

struct Shape {
    Points vertices;  // N x 3 (or N x D for CSV/NPY/XYZ tables)
    Points normals;   // N x 3 or empty
    Faces faces;      // triangles, empty for point sets
    std::vector<std::string> columns;  // CSV column names when the file has a matching header row
    // Written to PLY only (for viewers such as MeshLab): per-vertex colours
    // (N x 3, uchar red, green, blue) and one int per vertex named label_name.
    Eigen::Matrix<std::uint8_t, Eigen::Dynamic, 3, Eigen::RowMajor> colors;
    std::vector<std::int32_t> labels;
    std::string label_name;
};

// True when the extension names a format read here (.ply .off .xyz .pts .txt
// .csv .npy .npz .pcd, or one of Assimp's mesh formats such as .obj .stl .gltf).
bool is_known(const std::string& path);
// True when the format holds several named arrays (NPZ): FILE:/NAME picks one.
bool has_members(const std::string& path);
// True when the extension names a format written here (.ply .csv .npy).
bool is_writable(const std::string& path);
// Reads a file by its extension (the content is checked too). `member` names
// the array of an NPZ file ("" for the default one); other formats have none.
Shape read_shape(const std::string& path, const std::string& member = "");

Shape read_ply(const std::string& path);
Shape read_off(const std::string& path);  // OFF, COFF, NOFF, CNOFF; polygons fan-triangulated
Shape read_xyz(const std::string& path);  // whitespace separated; also .pts/.txt
Shape read_csv(const std::string& path);  // comma separated, optional header row
Shape read_npy(const std::string& path);  // rank 1 ([N] -> N x 1) or rank 2
Shape read_pcd(const std::string& path);
// NPZ: the member MEMBER.npy (rank 1 or 2); "" reads "points", else the first array.
Shape read_npz(const std::string& path, const std::string& member = "");
// OBJ, STL, glTF, ... through Assimp: every mesh of the scene, placed by its
// node transforms, triangulated; normals when every mesh has them (not STL's
// facet normals).
Shape read_mesh_assimp(const std::string& path);

void write_ply(const std::string& path, const Shape& shape);  // binary little endian, float64 values, then colours and labels
// Writes a header row when `names` has one name per column.
void write_csv(const std::string& path, const Points& table, const std::vector<std::string>& names = {});
void write_npy(const std::string& path, const Points& table);  // float64, C order
// Any C-order float64 array (for batches [B,N,D]).
void write_npy(const std::string& path, const double* data, const std::vector<std::size_t>& shape);
// Writes by extension: .ply (points, normals, faces), .csv (points then normals
// as columns), .npy (points).
void write_shape(const std::string& path, const Shape& shape);

// Any input a tool may be given: a file in one of the formats above, an HDF5
// file (its /points, plus /faces when present), "FILE:/dataset" or "-".
// `dataset` (optional) selects a dataset of an HDF5 input, like FILE:/dataset,
// or an array of an NPZ file (FILE.npz:/NAME). NPY and NPZ arrays [B,N,D] are
// B clouds.
struct Input {
    PointSets sets;
    Faces faces;                       // empty unless the input is a mesh
    std::vector<std::string> columns;  // CSV column names, when known
    bool hdf5 = false;
};
Input read_input(const std::string& arg, const std::string& dataset = "");

// Converts one cloud block by block, without holding it in memory, when the
// input is NPY [N] or [N,D] (or such a stored NPZ member), a binary PLY point
// cloud (no faces) or an HDF5 [N,D]
// dataset (an orbit file without faces, weights or features, or FILE:/dataset),
// and the output is .h5/.hdf5 (or "-", an HDF5 stream), .npy or .ply. Values are checked as
// they stream; outputs stay atomic. Returns false, having read nothing, when
// the pair is not one of these (the caller then reads the whole input).
struct StreamSummary {
    std::int64_t points = 0, dimension = 0;
    bool normals = false;
};
bool convert_streaming(const std::string& input, const std::string& dataset, const std::string& output,
                       StreamSummary& summary);

// Lower-case extension including the dot (".ply"), or "" when there is none.
std::string extension(const std::string& path);

}  // namespace orbit::io::formats
