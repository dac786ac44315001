// The public entry points of io/formats.hpp: reading and writing by extension
// through the registered formats, and any input a tool may be given.
#include <filesystem>

#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/io/formats/format.hpp"

namespace orbit::io::formats {
namespace {

std::string unknown_format(const std::string& path) {
    return path + ": unknown format '" + extension(path) +
           "' (expected .ply .off .xyz .pts .txt .csv .npy .npz .pcd, a mesh format Assimp reads such as "
           ".obj .stl .gltf .glb .fbx .dae, or an HDF5 file)";
}

const Format& format_of(const std::string& path) {
    const Format* f = find_format(path);
    if (!f) throw Error(unknown_format(path));
    return *f;
}

Input one_cloud(Shape shape, const std::string& source) {
    Input in;
    PointSet p;
    p.points = std::move(shape.vertices);
    p.normals = std::move(shape.normals);
    in.sets.items.push_back(std::move(p));
    in.sets.source = source;
    in.faces = std::move(shape.faces);
    in.columns = std::move(shape.columns);
    return in;
}

}  // namespace

bool is_known(const std::string& path) { return find_format(path) != nullptr; }

bool has_members(const std::string& path) {
    const Format* f = find_format(path);
    return f && f->has_members;
}

bool is_writable(const std::string& path) {
    const Format* f = find_format(path);
    return f && f->write;
}

namespace {
// ".ply .off ..." for messages: every extension of a format with a writer.
std::string writable_extensions() {
    std::string list;
    for (const Format* f : all_formats())
        if (f->write)
            for (auto& e : f->extensions) list += " " + e;
    return list;
}
}  // namespace

bool is_hdf5_output(const std::string& path) {
    if (path == "-") return true;
    const std::string e = extension(path);
    return e.empty() || e == ".h5" || e == ".hdf5" || e == ".hdf" || e == ".he5";
}

void check_output_extension(const std::string& path, bool point_sets) {
    if (is_hdf5_output(path) || (point_sets && is_writable(path))) return;
    const std::string e = extension(path);
    if (point_sets)
        throw UsageError("cannot write '" + path + "': unknown output format '" + e + "' (expected .h5 .hdf5" +
                         writable_extensions() + " or -)");
    std::string h5 = path.substr(0, path.size() - e.size()) + ".h5";
    throw UsageError("'" + path + "': this tool writes HDF5 (.h5, .hdf5 or -), not " + e +
                     (is_writable(path) ? " files; write " + h5 + " and convert a point set with orbit-convert " + h5 +
                                              " -o " + path
                                        : " files"));
}

Shape read_shape(const std::string& path, const std::string& member) {
    const Format& f = format_of(path);
    if (!member.empty() && !f.has_members)
        throw Error(path + ": " + f.name + " files hold one array, there is no '" + member + "' to select");
    return f.read({path, member});
}

void write_shape(const std::string& path, const Shape& shape) {
    const Format* f = find_format(path);
    if (!f || !f->write)
        throw Error("cannot write '" + path + "': unknown output format '" + extension(path) + "' (expected .h5 .hdf5" +
                    writable_extensions() + " or -)");
    f->write(path, shape);
}

void write_point_sets_file(const std::string& path, const PointSets& sets, const Faces& faces,
                           const std::vector<std::string>& columns) {
    if (sets.items.empty()) throw Error("no point sets to write");
    const std::string e = extension(path);
    const bool normals = sets[0].normals.rows() == sets[0].points.rows() && sets[0].normals.size() > 0;
    if (e == ".npy" && normals) log::warn("NPY output holds the points only; normals dropped");
    if (sets.size() == 1) return write_shape(path, Shape{sets[0].points, normals ? sets[0].normals : Points(), faces, columns});
    bool equal = true;
    for (auto& p : sets.items) equal = equal && p.points.rows() == sets[0].points.rows() && p.points.cols() == sets[0].points.cols();
    if (e != ".npy" || !equal)
        throw Error(sets.source + " holds " + std::to_string(sets.size()) + " clouds" + (equal ? "" : " of different sizes") +
                    "; " + e + " holds one (write .h5, " + (equal ? "or .npy, " : "") + "or select one cloud first, as FILE:/dataset[K])");
    std::vector<double> all;
    for (auto& p : sets.items) all.insert(all.end(), p.points.data(), p.points.data() + p.points.size());
    write_npy(path, all.data(),
              {sets.size(), static_cast<std::size_t>(sets[0].points.rows()), static_cast<std::size_t>(sets[0].points.cols())});
}

h5::DatasetRef input_ref(const std::string& arg, const std::string& dataset) {
    h5::DatasetRef ref = h5::parse_ref(arg);
    if (!dataset.empty()) {
        if (!ref.dataset.empty()) throw UsageError("the dataset is named twice, in " + arg + " and as a separate dataset name: give it once");
        ref.dataset = dataset.front() == '/' ? dataset : "/" + dataset;
    }
    return ref;
}

bool is_hdf5_input(const h5::DatasetRef& ref) {
    if (ref.file == "-" || h5::looks_like_hdf5(ref.file)) return true;
    return !ref.dataset.empty() && !has_members(ref.file);  // FILE:/dataset names an HDF5 dataset
}

Input read_input(const std::string& arg, const std::string& dataset) {
    const h5::DatasetRef ref = input_ref(arg, dataset);
    if (ref.file != "-" && !std::filesystem::exists(ref.file)) throw Error("cannot open '" + ref.file + "': no such file");
    if (is_hdf5_input(ref)) return read_hdf5_input(ref);
    const Format& f = format_of(ref.file);
    const Source src{ref.file, ref.dataset};
    return f.read_input ? f.read_input(src) : one_cloud(f.read(src), ref.file);
}

}  // namespace orbit::io::formats
