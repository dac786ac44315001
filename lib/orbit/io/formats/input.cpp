// The public entry points of io/formats.hpp: reading and writing by extension
// through the registered formats, and any input a tool may be given.
#include <filesystem>

#include "orbit/core/error.hpp"
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

Shape read_shape(const std::string& path, const std::string& member) {
    const Format& f = format_of(path);
    if (!member.empty() && !f.has_members)
        throw Error(path + ": " + f.name + " files hold one array, there is no '" + member + "' to select");
    return f.read({path, member});
}

void write_shape(const std::string& path, const Shape& shape) {
    const Format* f = find_format(path);
    if (!f || !f->write)
        throw Error("cannot write '" + path + "': unknown output format '" + extension(path) +
                    "' (expected .h5 .hdf5 .ply .csv .npy or -)");
    f->write(path, shape);
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
