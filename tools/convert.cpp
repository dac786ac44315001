// orbit-convert: point clouds and meshes between file formats; mesh surface sampling.
#include <string>

#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/geometry/sampling.hpp"
#include "orbit/io/columns.hpp"
#include "orbit/io/formats.hpp"
#include "orbit/io/output.hpp"

using namespace orbit;
namespace fmt = orbit::io::formats;

namespace {

struct Settings {
    std::string input, dataset, columns, label_column;
    std::int64_t sample = 0;
    bool normalize = false;
};

void declare(cli::App& app, Settings& s) {
    auto& c = app.cli();
    c.add_option("input", s.input, "Input file (format by extension), HDF5 FILE or FILE:/dataset, or '-' for an HDF5 stream on stdin")
        ->required()
        ->check(cli::ExistingFileOrStream);
    c.add_option("--sample", s.sample, "Sample N points uniformly (by area) on the mesh surface, with face normals")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
    c.add_option("--dataset", s.dataset, "Dataset to read from an HDF5 input (same as INPUT:/DATASET)");
    c.add_flag("--normalize", s.normalize, "Centre each cloud on its centroid and scale it into the unit sphere");
    c.add_option("--columns", s.columns, "Keep these columns of a table: indices (-1 the last), ranges A:B (B excluded) or header names, comma-separated");
    c.add_option("--label-column", s.label_column, "Move this column of a table (an index or a name) into /labels, one label per row");
    app.require_output();
    app.writes_point_set_formats();
    app.add_examples(R"(
orbit-convert bunny00.off --sample 2048 --seed 1 -o bunny.h5
    2048 points with normals on the surface of a mesh
orbit-convert scan.ply -o scan.h5
    a PLY scan (points, normals, faces) to an orbit point-set file
orbit-convert ply_data_train0.h5 --dataset data -o train.npy
    a ModelNet batch [B,2048,3] to NPY
orbit-convert bunny.h5 -o bunny.csv
    points (and normals) as CSV columns with a header row
orbit-convert cloud.npy --normalize -o - | orbit-info -
    stream the converted file to another tool
orbit-convert breast_cancer.csv --columns 0:30 --label-column 30 -o cancer.h5
    a table's 30 features as /points [569,30], its class column as /labels [569]
)");
    app.add_references(cli::references({"surface-sampling"}));
}

void run(cli::App& app, const Settings& s) {
    Timer timer;
    const std::string& out = app.common().output;
    const bool to_hdf5 = fmt::is_hdf5_output(out);  // other extensions were checked by the shell
    auto& js = app.summary();
    js["input"] = s.input;
    js["output"] = out;
    // One cloud between files on disk, nothing else to do: converted block by block.
    fmt::StreamSummary streamed;
    if (s.sample == 0 && !s.normalize && s.columns.empty() && s.label_column.empty() &&
        fmt::convert_streaming(s.input, s.dataset, out, streamed)) {
        if (streamed.normals && fmt::extension(out) == ".npy") log::warn("NPY output holds the points only; normals dropped");
        js.update({{"clouds", 1}, {"points", streamed.points}, {"dimension", streamed.dimension}, {"faces", 0},
                   {"normals", streamed.normals}, {"seconds", timer.seconds()}});
        return;
    }
    fmt::Input in = fmt::read_input(s.input, s.dataset);
    auto& sets = in.sets;
    if (s.sample > 0) {
        if (in.faces.rows() == 0) throw Error(s.input + ": --sample needs a mesh with faces, this input has only points");
        geometry::SurfaceSamples ss = with_context(s.input, [&] { return geometry::sample_surface(sets[0].points, in.faces, s.sample, app.rng(0)); });
        sets[0] = io::PointSet{std::move(ss.points), std::move(ss.normals), {}, {}};
        in.faces.resize(0, 3);
    }
    if (!s.columns.empty() || !s.label_column.empty()) {
        const auto cols = static_cast<std::size_t>(sets[0].points.cols());
        std::vector<std::size_t> keep, label;
        if (!s.label_column.empty()) {
            label = io::parse_columns(s.label_column, cols, in.columns);
            if (label.size() != 1) throw UsageError("--label-column names one column, found '" + s.label_column + "'");
        }
        if (!s.columns.empty()) keep = io::parse_columns(s.columns, cols, in.columns);
        else
            for (std::size_t j = 0; j < cols; ++j)
                if (j != label[0]) keep.push_back(j);
        if (in.faces.rows() > 0) throw UsageError("--columns and --label-column select columns of a table, and " + s.input + " is a mesh");
        io::select_columns(sets, in.columns, keep, label);
    }
    if (s.normalize)
        for (auto& p : sets.items) geometry::normalize_to_unit_sphere(p.points);

    std::int64_t total = 0;
    for (auto& p : sets.items) total += p.points.rows();
    const bool normals = sets[0].normals.rows() == sets[0].points.rows();
    js.update({{"clouds", sets.size()}, {"points", total}, {"dimension", sets[0].points.cols()}, {"faces", in.faces.rows()}, {"normals", normals}});
    if (to_hdf5) {
        io::Output o(out, "pointset");
        o.add_history_lines(sets.history);
        io::write_point_sets(o.file(), sets);
        if (in.faces.rows() > 0) {
            h5::Array<std::int64_t> f{{static_cast<std::size_t>(in.faces.rows()), 3}, {}};
            f.data.assign(in.faces.data(), in.faces.data() + in.faces.size());
            o.file().write("/faces", f);
        }
        o.commit();
    } else {
        fmt::write_point_sets_file(out, sets, in.faces, in.columns);
    }
    js["seconds"] = timer.seconds();
    log::detail("wrote " + std::to_string(total) + " points to " + out);
}

}  // namespace

int main(int argc, char** argv) {
    cli::App app("convert", "convert point clouds and meshes between formats, sample mesh surfaces", R"(
Reads PLY (ascii, binary little or big endian), OFF/COFF/NOFF, XYZ/PTS/TXT, CSV, NPY, PCD (ascii or binary) and HDF5 (FILE.h5,
FILE.h5:/dataset or '-' for a stream on stdin), and writes an orbit point-set file (.h5, .hdf5, or '-' for a stream on stdout), binary PLY,
CSV or NPY, chosen by the output's extension. Meshes keep their faces in PLY and HDF5 outputs (/faces). With --sample N the mesh surface is
sampled: N points drawn uniformly by area, deterministic for a given --seed, each with the unit normal of its face.)");
    Settings s;
    declare(app, s);
    return app.run(argc, argv, [&] { run(app, s); });
}
