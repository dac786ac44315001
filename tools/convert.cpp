// orbit-convert: point clouds and meshes between file formats; mesh surface sampling.
#include <string>

#include "orbit/cli/app.hpp"
#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/geometry/sampling.hpp"
#include "orbit/io/formats.hpp"
#include "orbit/io/output.hpp"

namespace fmt = orbit::io::formats;

int main(int argc, char** argv) {
    orbit::cli::App app(
        "convert", "convert point clouds and meshes between formats, sample mesh surfaces",
        "Reads PLY (ascii, binary little or big endian), OFF/COFF/NOFF, XYZ/PTS/TXT, CSV, NPY, PCD (ascii or binary) "
        "and HDF5 (FILE.h5, FILE.h5:/dataset or '-' for a stream on stdin), and writes an orbit point-set file "
        "(.h5, .hdf5, or '-' for a stream on stdout), binary PLY, CSV or NPY, chosen by the output's extension. "
        "Meshes keep their faces in PLY and HDF5 outputs (/faces). With --sample N the mesh surface is sampled: "
        "N points drawn uniformly by area, deterministic for a given --seed, each with the unit normal of its face.");
    std::string input, dataset;
    std::int64_t sample = 0;
    bool normalize = false;
    app.cli()
        .add_option("input", input, "Input file (format by extension), HDF5 FILE or FILE:/dataset, or '-' for an HDF5 stream on stdin")
        ->required()
        ->check(orbit::cli::ExistingFileOrStream);
    app.cli().add_option("--sample", sample, "Sample N points uniformly (by area) on the mesh surface, with face normals")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
    app.cli().add_option("--dataset", dataset, "Dataset to read from an HDF5 input (same as INPUT:/DATASET)");
    app.cli().add_flag("--normalize", normalize, "Centre each cloud on its centroid and scale it into the unit sphere");
    app.require_output();
    app.cli().get_option("--output")->description(
        "Output file by extension: .h5/.hdf5 (orbit point set), .ply, .csv, .npy; '-' writes HDF5 to stdout");
    app.add_example("orbit-convert bunny00.off --sample 2048 --seed 1 -o bunny.h5",
                    "2048 points with normals on the surface of a mesh");
    app.add_example("orbit-convert scan.ply -o scan.h5", "a PLY scan (points, normals, faces) to an orbit point-set file");
    app.add_example("orbit-convert ply_data_train0.h5 --dataset data -o train.npy", "a ModelNet batch [B,2048,3] to NPY");
    app.add_example("orbit-convert bunny.h5 -o bunny.csv", "points (and normals) as CSV columns with a header row");
    app.add_example("orbit-convert cloud.npy --normalize -o - | orbit-info -", "stream the converted file to another tool");

    return app.run(argc, argv, [&] {
        orbit::Timer timer;
        const std::string& out = app.common().output;
        const bool to_hdf5 = out == "-" || fmt::extension(out) == ".h5" || fmt::extension(out) == ".hdf5";
        if (!to_hdf5 && !fmt::is_writable(out))
            throw orbit::UsageError("unknown output format '" + fmt::extension(out) +
                                    "' for '" + out + "' (expected .h5 .hdf5 .ply .csv .npy or -)");

        auto& js = app.summary();
        js["input"] = input;
        js["output"] = out;
        // One cloud between files on disk, nothing else to do: converted block by block.
        fmt::StreamSummary streamed;
        if (sample == 0 && !normalize && fmt::convert_streaming(input, dataset, out, streamed)) {
            if (streamed.normals && fmt::extension(out) == ".npy")
                orbit::log::warn("NPY output holds the points only; normals dropped");
            js["clouds"] = 1;
            js["points"] = streamed.points;
            js["dimension"] = streamed.dimension;
            js["faces"] = 0;
            js["normals"] = streamed.normals;
            js["seconds"] = timer.seconds();
            return;
        }
        fmt::Input in = fmt::read_input(input, dataset);
        auto& sets = in.sets;
        if (sample > 0) {
            if (in.faces.rows() == 0)
                throw orbit::Error(input + ": --sample needs a mesh with faces, this input has only points");
            orbit::geometry::SurfaceSamples s;
            try {
                s = orbit::geometry::sample_surface(sets[0].points, in.faces, sample, app.rng(0));
            } catch (const orbit::Error& e) {
                throw orbit::Error(input + ": " + e.what());
            }
            sets[0] = orbit::io::PointSet{std::move(s.points), std::move(s.normals), {}, {}};
            in.faces.resize(0, 3);
        }
        if (normalize)
            for (auto& p : sets.items) orbit::geometry::normalize_to_unit_sphere(p.points);

        std::int64_t total = 0;
        for (auto& p : sets.items) total += p.points.rows();
        const bool normals = sets[0].normals.rows() == sets[0].points.rows();
        const auto dimension = sets[0].points.cols();
        const auto faces = in.faces.rows();
        if (to_hdf5) {
            orbit::io::Output o(out, "pointset");
            o.add_history_lines(sets.history);
            orbit::io::write_point_sets(o.file(), sets);
            if (in.faces.rows() > 0) {
                orbit::h5::Array<std::int64_t> f;
                f.shape = {static_cast<std::size_t>(in.faces.rows()), 3};
                f.data.assign(in.faces.data(), in.faces.data() + in.faces.size());
                o.file().write("/faces", f);
            }
            o.commit();
        } else if (sets.size() > 1) {
            // Several clouds fit only an NPY array [B,N,D] of equal-size clouds.
            bool equal = true;
            for (auto& p : sets.items) equal = equal && p.points.rows() == sets[0].points.rows();
            if (fmt::extension(out) != ".npy" || !equal)
                throw orbit::Error(input + " holds " + std::to_string(sets.size()) + " clouds" +
                                   (equal ? "" : " of different sizes") + "; " + fmt::extension(out) +
                                   " holds one (write .h5, " + (equal ? "or .npy, " : "") + "or select one cloud first)");
            std::vector<double> all;
            all.reserve(static_cast<std::size_t>(total * sets[0].points.cols()));
            for (auto& p : sets.items) all.insert(all.end(), p.points.data(), p.points.data() + p.points.size());
            fmt::write_npy(out, all.data(),
                           {sets.size(), static_cast<std::size_t>(sets[0].points.rows()),
                            static_cast<std::size_t>(sets[0].points.cols())});
        } else {
            if (fmt::extension(out) == ".npy" && normals) orbit::log::warn("NPY output holds the points only; normals dropped");
            fmt::write_shape(out, fmt::Shape{std::move(sets[0].points), normals ? std::move(sets[0].normals) : orbit::Points(),
                                             std::move(in.faces), std::move(in.columns)});
        }
        js["clouds"] = sets.size();
        js["points"] = total;
        js["dimension"] = dimension;
        js["faces"] = faces;
        js["normals"] = normals;
        js["seconds"] = timer.seconds();
        orbit::log::detail("wrote " + std::to_string(total) + " points to " + out);
    });
}
