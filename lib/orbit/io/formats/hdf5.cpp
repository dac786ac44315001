// HDF5 inputs of the format readers: an orbit file (its /points, plus /faces
// when present), any dataset as FILE:/dataset, or "-" (a stream on stdin);
// and the block-wise source for one large cloud. All through io/h5.
#include "orbit/core/error.hpp"
#include "orbit/io/formats/format.hpp"
#include "orbit/io/formats/values.hpp"
#include "orbit/io/output.hpp"

namespace orbit::io::formats {

Input read_hdf5_input(const h5::DatasetRef& ref) {
    h5::File f = h5::File::open_read(ref.file);
    const std::string source = ref.file == "-" ? "<stdin>" : ref.file;
    Input in;
    in.sets = read_point_sets(f, ref.dataset, source);
    in.hdf5 = true;
    if (ref.dataset.empty() && f.exists("/faces") && in.sets.size() == 1) {
        auto a = f.read<std::int64_t>("/faces", 2);
        if (a.shape[1] != 3) throw Error(source + ":/faces: expected shape [F,3], found " + shape_string(a.shape));
        in.faces = to_faces(a.data);
        const auto nv = in.sets[0].points.rows();
        if (in.faces.size() && (in.faces.minCoeff() < 0 || in.faces.maxCoeff() >= nv))
            throw Error(source + ":/faces: a face refers to a vertex outside 0.." + std::to_string(nv - 1));
    }
    return in;
}

namespace {

struct H5Source : RowSource {
    h5::File file;
    std::string points;  // dataset paths
    void read(std::size_t begin, std::size_t count, double* pts, double* nrm) override {
        file.read_rows(points, begin, count, pts);
        if (normals) file.read_rows("/normals", begin, count, nrm);
    }
};

// The shape of a numeric 2-D dataset, or false.
bool numeric_2d(const h5::File& f, const std::string& path, std::vector<std::size_t>& shape) {
    if (!f.is_numeric(path)) return false;
    shape = f.info(path).shape;
    return shape.size() == 2;
}

}  // namespace

std::unique_ptr<RowSource> open_hdf5_rows(const h5::DatasetRef& ref) {
    auto src = std::make_unique<H5Source>();
    src->file = h5::File::open_read(ref.file);
    const h5::File& f = src->file;
    const bool whole = ref.dataset.empty();
    src->points = whole ? "/points" : ref.dataset;
    if (split_selection(src->points).second) return nullptr;  // a selection of clouds: read whole
    std::vector<std::size_t> dims;
    if (!numeric_2d(f, src->points, dims) || dims[0] == 0 || dims[1] == 0) return nullptr;  // the general reader explains
    if (whole)
        for (const char* other : {"/offsets", "/faces", "/weights", "/features", "/labels", "/label"})
            if (f.exists(other)) return nullptr;
    // Siblings that may come along with a named dataset: the general reader decides.
    const std::string group = src->points.substr(0, src->points.rfind('/'));
    if (!whole)
        for (const char* other : {"/normals", "/normal", "/labels", "/label"})
            if (f.exists(group + other)) return nullptr;
    src->rows = dims[0];
    src->dim = dims[1];
    src->name = ref.file + ":" + src->points;
    if (whole && f.exists("/normals")) {
        std::vector<std::size_t> nd;
        if (!numeric_2d(f, "/normals", nd) || nd != dims || dims[1] != 3) return nullptr;
        src->normals = true;
    }
    src->history = read_history(f);
    return src;
}

}  // namespace orbit::io::formats
