// orbit-transform: move, crop, resample and perturb point clouds, recording what was done.
#include <numbers>
#include <optional>

#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/geometry/perturb.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/io/formats.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"

using namespace orbit;
using CropMode = geometry::PerturbOptions::CropMode;

namespace {

struct Settings {
    std::string input, transform_file;
    std::vector<double> rotate{0, 0, 0}, translate{0, 0, 0};
    double scale = 1.0;
    std::int64_t copies = 1;
    geometry::PerturbOptions o;
    cli::ShardOption shard;
};

void declare(cli::App& app, Settings& s) {
    auto& c = app.cli();
    auto triple = [](const std::string& t) { return cli::parse_numbers(t, 3); };
    c.add_option("input", s.input, "Point set: FILE, FILE:/dataset or '-'")->required()->check(cli::ExistingFileOrStream);
    c.add_option("--transform", s.transform_file, "Apply the transform(s) in FILE[:/dataset] ([4,4] or [B,4,4])")->check(cli::ExistingFileOrStream);
    cli::add_parsed<std::vector<double>>(c, "--rotate", s.rotate, triple, "Rotate by Euler angles AX,AY,AZ in degrees (R = Rx Ry Rz)");
    cli::add_parsed<std::vector<double>>(c, "--translate", s.translate, triple, "Translate by X,Y,Z");
    c.add_option("--scale", s.scale, "Scale about the origin")->check(cli::Positive);
    cli::add_parsed<double>(c, "--random-rotation", s.o.euler_max_deg, [&s](const std::string& t) {
            const double deg = cli::parse_rotation_bound(t);
            s.o.uniform_rotation = deg < 0;
            return deg < 0 ? 0.0 : deg; }, "Random rotation: DEG draws each Euler angle uniformly in [0,DEG]; 'uniform' draws uniformly on SO(3)");
    c.add_option("--random-translation", s.o.translation, "Random translation uniform in [-T,T]^3")->check(cli::NonNegative);
    c.add_option("--crop", s.o.keep_fraction, "Keep this fraction of the points as a partial view")->check(cli::in_range(0.0, 1.0, true));
    cli::add_enum<CropMode>(c, "--crop-mode", s.o.crop_mode, {{"plane", CropMode::plane}, {"viewpoint", CropMode::viewpoint}},
                            "plane (random plane through the centroid) or viewpoint");
    c.add_option("--noise", s.o.noise, "Gaussian noise standard deviation")->check(cli::NonNegative);
    c.add_option("--noise-clip", s.o.noise_clip, "Clip each noise component to +-C")->check(cli::NonNegative)->capture_default_str();
    c.add_option("--resample", s.o.resample, "Resample each cloud to N points")->check(cli::Positive);
    c.add_flag("--shuffle", s.o.shuffle, "Shuffle the order of the points");
    c.add_flag("--normalize", s.o.normalize, "Centre and scale to the unit sphere first");
    c.add_option("--copies", s.copies, "Make C perturbed copies of every input cloud (each with its own random stream)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{100000000}))->capture_default_str();
    s.shard.declare(c, "Process slice K of N of a batch (1-based), for job arrays; join the outputs with orbit-merge");
    app.require_output();
    app.writes_point_set_formats();
    app.add_examples(R"(
orbit-transform bunny.h5 --random-rotation 45 --random-translation 0.5 --crop 0.7 --noise 0.01 --resample 717 --seed 3 -o src.h5
    a ModelNet-style partial, moved, noisy source cloud
orbit-transform bunny.h5 --crop 0.7 --seed 4 -o - | orbit-transform - --random-rotation 180 --seed 5 -o - | orbit-info -
    a pipeline through stdin and stdout
orbit-transform bunny.h5 --copies 100 --random-rotation uniform --crop 0.7 -o batch.h5
    a batch of 100 randomly rotated partial views of one shape
orbit-transform clouds.h5 --random-rotation uniform --shard 2/8 -o part2.h5
    the second of eight slices of a batch, rotated uniformly
orbit-transform src.h5 --transform T.h5 -o aligned.ply
    a cloud moved by a registration result, written as PLY
)");
    app.add_references(cli::references({"rpm-net", "uniform-rotations"}));
}

void run(cli::App& app, Settings& s) {
    Timer timer;
    io::PointSets in = io::read_point_sets(s.input);
    for (auto& p : in.items)  // checked before the work, for the whole batch
        if (p.points.cols() != 3) throw Error(in.source + ": expected 3-d points, found " + std::to_string(p.points.cols()) + " columns");
    const double k = std::numbers::pi / 180.0;
    Transform fixed = Transform::Identity();
    if (app.cli().count("--rotate") || app.cli().count("--translate") || s.scale != 1.0)
        fixed = geometry::make_transform(geometry::euler_xyz(s.rotate[0] * k, s.rotate[1] * k, s.rotate[2] * k),
                                         Eigen::Vector3d(s.translate[0], s.translate[1], s.translate[2]), s.scale);
    std::vector<Transform> given;
    if (!s.transform_file.empty()) {
        given = io::read_transforms(s.transform_file);
        if (given.size() != 1 && given.size() != in.size())
            throw Error(s.transform_file + ": " + std::to_string(given.size()) + " transforms for " + std::to_string(in.size()) + " clouds");
    }
    const auto total = static_cast<std::int64_t>(in.size()) * s.copies;
    const auto [begin, end] = s.shard.items(total);
    if (s.o.resample > 0)  // points, normals and the input row of each, in doubles
        cli::check_fits_in_memory(7.0 * 8.0 * static_cast<double>(s.o.resample) * static_cast<double>(end - begin),
                                  "--resample " + std::to_string(s.o.resample) + " for " + std::to_string(end - begin) + " cloud(s)");
    // HDF5 is opened before the work so a bad output path fails fast; removed again if anything fails.
    const bool hdf5 = io::formats::is_hdf5_output(app.common().output);
    std::optional<io::Output> output;
    if (hdf5) output.emplace(app.common().output, "pointset");
    std::vector<geometry::Perturbed> results(static_cast<std::size_t>(end - begin));
    parallel_for(end - begin, [&](std::int64_t j) {
        const std::int64_t item = begin + j;                      // index in the output batch: the random stream
        const auto i = static_cast<std::size_t>(item / s.copies);  // the input cloud it comes from
        geometry::PerturbOptions oi = s.o;
        oi.fixed = fixed * (given.empty() ? Transform::Identity() : given[given.size() == 1 ? 0 : i]);
        Rng rng = app.rng(static_cast<std::uint64_t>(item));
        results[static_cast<std::size_t>(j)] = geometry::perturb(in[i].points, in[i].normals, oi, rng);
    });
    const bool single = in.layout == io::PointSets::Layout::single && s.shard.shard().count == 1 && s.copies == 1;
    std::vector<io::DerivedCloud> derived;
    std::vector<Transform> transforms;
    for (std::size_t j = 0; j < results.size(); ++j) {
        auto& r = results[j];
        derived.push_back({std::move(r.points), std::move(r.normals), static_cast<std::size_t>((begin + std::int64_t(j)) / s.copies),
                           std::move(r.indices)});
        transforms.push_back(r.transform);
    }
    h5::Array<std::int64_t> indices;
    const io::PointSets out = io::derive_point_sets(in, std::move(derived), single, indices);
    std::int64_t points_out = 0;
    for (const auto& c : out.items) points_out += c.points.rows();
    if (!hdf5) {  // the points (and normals) in the format the extension names; the motion stays unrecorded
        io::formats::write_point_sets_file(app.common().output, out);
    } else {
        output->add_history_lines(in.history);
        io::write_point_sets(output->file(), out);
        io::write_transforms(output->file(), "/transform", transforms, !single);
        output->file().write("/indices", indices);
        s.shard.record(output->file(), total);
        output->commit();
    }
    const io::Shard sh = s.shard.shard();
    app.summary() = {{"clouds", end - begin}, {"points_out", points_out}, {"shard", std::to_string(sh.index) + "/" + std::to_string(sh.count)},
                     {"output", app.common().output}, {"seconds", timer.seconds()}};
    if (results.size() == 1) app.summary()["transform"] = cli::matrix_json(transforms[0]);
}

}  // namespace

int main(int argc, char** argv) {
    cli::App app("transform", "move, crop, resample and add noise to point clouds", R"(
Applies a given transform or draws random ones (uniform on SO(3), or Euler angles each uniform up to a bound as in the RPM-Net protocol,
translations uniform in a box), crops partial views, adds clipped Gaussian noise, resamples, shuffles and normalises to the unit sphere.
Steps run in the order normalise, crop, transform, resample, noise, shuffle. The output holds /points, /transform (input coordinates to
output coordinates, [4,4] or [B,4,4]) and /indices (the input row of each output point), so benchmark pairs can be built from any shape.
Each cloud draws from its own random stream: results do not depend on -j or --shard.)");
    Settings s;
    declare(app, s);
    return app.run(argc, argv, [&] { run(app, s); });
}
