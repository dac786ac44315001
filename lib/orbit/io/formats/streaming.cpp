// Block-wise conversion of one cloud: rows from a format's RowSource, written
// to HDF5, NPY or PLY a block at a time, values checked as they pass.
#include <algorithm>
#include <filesystem>

#include "orbit/core/error.hpp"
#include "orbit/io/formats/binary.hpp"
#include "orbit/io/formats/bytes.hpp"
#include "orbit/io/formats/format.hpp"
#include "orbit/io/formats/values.hpp"
#include "orbit/io/output.hpp"

namespace orbit::io::formats {
namespace {

constexpr std::size_t kBlockRows = 1 << 15;  // 32768 rows: ~0.75 MiB per block of 3 doubles

std::unique_ptr<RowSource> open_source(const std::string& arg, const std::string& dataset) {
    const h5::DatasetRef ref = input_ref(arg, dataset);
    if (ref.file == "-" || !std::filesystem::is_regular_file(ref.file)) return nullptr;
    if (is_hdf5_input(ref)) return open_hdf5_rows(ref);
    const Format* f = find_format(ref.file);
    if (!f || !f->open_rows) return nullptr;
    return f->open_rows({ref.file, ref.dataset});
}

// Walks the blocks of a source: `sink(first_row, rows, points, normals)`,
// the points in place when the input allows it.
class Blocks {
public:
    explicit Blocks(RowSource& src)
        : src_(src), pts_(kBlockRows * src.dim), nrm_(src.normals ? kBlockRows * 3 : 0) {}
    template <class Sink>
    void each(Sink&& sink) {
        for (std::size_t b = 0; b < src_.rows; b += kBlockRows) {
            const std::size_t c = std::min(kBlockRows, src_.rows - b);
            const double* p = src_.direct(b);
            if (!p) {
                src_.read(b, c, pts_.data(), nrm_.data());
                p = pts_.data();
            }
            check_block(p, c, src_.dim, b, src_.name);
            if (src_.normals) check_block(nrm_.data(), c, 3, b, src_.name + " (normals)");
            sink(b, c, p, nrm_.data());
        }
    }

private:
    RowSource& src_;
    std::vector<double> pts_, nrm_;
};

void to_hdf5(RowSource& src, const std::string& output, bool normals) {
    Output out(output, "pointset");
    out.add_history_lines(src.history);
    h5::File& f = out.file();
    f.create_matrix("/points", src.rows, src.dim);
    if (normals) f.create_matrix("/normals", src.rows, 3);
    Blocks(src).each([&](std::size_t b, std::size_t c, const double* p, const double* n) {
        f.write_rows("/points", b, c, p);
        if (normals) f.write_rows("/normals", b, c, n);
    });
    out.commit();
}

// Little-endian doubles, swapped in `buf` on a big-endian host.
const char* little_endian(const double* v, std::size_t n, std::vector<double>& buf) {
    if (host_little()) return reinterpret_cast<const char*>(v);
    buf.resize(n);
    for (std::size_t i = 0; i < n; ++i) buf[i] = load<double>(reinterpret_cast<const char*>(v + i), true);
    return reinterpret_cast<const char*>(buf.data());
}

void to_npy(RowSource& src, const std::string& output) {
    const std::string header = npy_header({src.rows, src.dim});
    std::vector<double> swapped;
    write_atomic(output, [&](const Put& put) {
        put(header.data(), header.size());
        Blocks(src).each([&](std::size_t, std::size_t c, const double* p, const double*) {
            put(little_endian(p, c * src.dim, swapped), c * src.dim * 8);
        });
    });
}

void to_ply(RowSource& src, const std::string& output, bool normals) {
    const std::string header = ply_header(src.rows, normals, 0);
    const std::size_t w = normals ? 6 : 3;
    std::vector<double> rec(kBlockRows * 6), swapped;
    write_atomic(output, [&](const Put& put) {
        put(header.data(), header.size());
        Blocks(src).each([&](std::size_t, std::size_t c, const double* p, const double* n) {
            for (std::size_t i = 0; i < c; ++i) {
                for (std::size_t j = 0; j < 3; ++j) rec[i * w + j] = p[i * 3 + j];
                if (normals)
                    for (std::size_t j = 0; j < 3; ++j) rec[i * w + 3 + j] = n[i * 3 + j];
            }
            put(little_endian(rec.data(), c * w, swapped), c * w * 8);
        });
    });
}

}  // namespace

bool convert_streaming(const std::string& input, const std::string& dataset, const std::string& output,
                       StreamSummary& summary) {
    const std::string e = extension(output);
    const bool to_h5 = e == ".h5" || e == ".hdf5" || output == "-";
    if (!(to_h5 || e == ".npy" || e == ".ply")) return false;
    std::unique_ptr<RowSource> src = open_source(input, dataset);
    if (!src) return false;
    if (e == ".ply" && src->dim != 3) return false;  // the general writer gives the error
    const bool normals = src->normals && e != ".npy";
    if (to_h5) to_hdf5(*src, output, normals);
    else if (e == ".npy") to_npy(*src, output);
    else to_ply(*src, output, normals);
    summary.points = static_cast<std::int64_t>(src->rows);
    summary.dimension = static_cast<std::int64_t>(src->dim);
    summary.normals = src->normals;
    return true;
}

}  // namespace orbit::io::formats
