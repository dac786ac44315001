#pragma once
// The one interface behind io/formats.hpp: every foreign file format is a
// `Format`, defined in its own file here (ply.cpp, npy.cpp, ...) and listed
// once in registry.cpp. Adding a format is one new file and one line there.
//
// A format reads whole files into a Shape, may read several clouds at once
// (NPY/NPZ [B,N,D]), may offer its rows block by block to convert_streaming,
// and may write. Its header is parsed by one function that all of these use,
// so whole-file and block-wise reads accept and refuse the same files with the
// same messages.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "orbit/io/formats.hpp"
#include "orbit/io/h5.hpp"

namespace orbit::io::formats {

// Rows of one cloud, read block by block.
struct RowSource {
    std::string name;  // for messages
    std::size_t rows = 0, dim = 0;
    bool normals = false;
    std::vector<std::string> history;  // of an HDF5 input
    virtual ~RowSource() = default;
    // Fills pts (count x dim) and, with normals, nrm (count x 3) for rows [begin, begin + count).
    virtual void read(std::size_t begin, std::size_t count, double* pts, double* nrm) = 0;
    // The points of rows [begin, ...) in place, when the input already holds native doubles.
    virtual const double* direct(std::size_t) const { return nullptr; }
};

// What a reader reads: a file and, for formats that hold several named
// arrays (NPZ), the member to read ("" for the default one).
struct Source {
    std::string path;
    std::string member;
};

struct Format {
    const char* name;                     // "PLY", for messages
    std::vector<std::string> extensions;  // lower case, with the dot
    // Instead of a list, for a reader whose list is open-ended (Assimp's).
    bool (*handles_extension)(const std::string& ext) = nullptr;
    bool has_members = false;  // FILE:/NAME selects one of several arrays
    Shape (*read)(const Source&) = nullptr;
    // Optional: every cloud of the file (a batch [B,N,D]); default: read()'s one cloud.
    Input (*read_input)(const Source&) = nullptr;
    // Optional: the rows of a file that holds one cloud and nothing else,
    // block by block; nullptr when this file is not such a file (the caller
    // then reads it whole). Header errors are thrown, as read() throws them.
    std::unique_ptr<RowSource> (*open_rows)(const Source&) = nullptr;
    // Optional writer.
    void (*write)(const std::string& path, const Shape&) = nullptr;
};

// The format of a file by its extension, or nullptr (HDF5 is not among them:
// it is recognised by its content, below).
const Format* find_format(const std::string& path);
// Every registered format, in lookup order.
const std::vector<const Format*>& all_formats();

// An input argument "FILE", "FILE:/NAME" or "-" with `dataset` (--dataset NAME)
// folded in; a UsageError when both name one.
h5::DatasetRef input_ref(const std::string& arg, const std::string& dataset);
// Read as HDF5: "-", a file with the HDF5 signature, or FILE:/NAME of a format without members.
bool is_hdf5_input(const h5::DatasetRef& ref);

// HDF5 inputs: "FILE", "FILE:/dataset" or "-" (hdf5.cpp).
Input read_hdf5_input(const h5::DatasetRef& ref);
// An HDF5 [N,D] dataset, or an orbit file holding one cloud (and its normals); else nullptr.
std::unique_ptr<RowSource> open_hdf5_rows(const h5::DatasetRef& ref);

// Headers the block-wise writers share with the whole-file writers.
std::string ply_header(std::size_t vertices, bool normals, std::size_t faces, bool colors = false,
                       const std::string& label = "");
std::string npy_header(const std::vector<std::size_t>& shape);  // float64, C order

}  // namespace orbit::io::formats
