// orbit-transform: move, crop, resample and perturb point clouds, recording what was done.
#include <numbers>
#include <sstream>

#include "orbit/cli/app.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/geometry/perturb.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"

using namespace orbit;

namespace {
std::vector<double> parse_triple(const std::string& text, const std::string& option) {
    std::vector<double> v;
    std::stringstream s(text);
    std::string item;
    while (std::getline(s, item, ',')) {
        try {
            std::size_t used = 0;
            v.push_back(std::stod(item, &used));
            if (used != item.size()) throw std::invalid_argument("");
        } catch (const std::exception&) {
            throw UsageError(option + " expects three comma-separated numbers, found '" + text + "'");
        }
    }
    if (v.size() != 3) throw UsageError(option + " expects three comma-separated numbers, found '" + text + "'");
    return v;
}
}  // namespace

int main(int argc, char** argv) {
    cli::App app("transform", "move, crop, resample and add noise to point clouds",
                 "Applies a given transform or draws random ones (uniform on SO(3), or Euler angles each uniform up "
                 "to a bound as in the RPM-Net protocol, translations uniform in a box), crops partial views, adds "
                 "clipped Gaussian noise, resamples, shuffles and normalises to the unit sphere. Steps run in the "
                 "order normalise, crop, transform, resample, noise, shuffle. The output holds /points, /transform "
                 "(input coordinates to output coordinates, [4,4] or [B,4,4]) and /indices (the input row of each "
                 "output point), so benchmark pairs can be built from any shape. Each cloud draws from its own "
                 "random stream: results do not depend on -j or --shard.");
    std::string input, transform_file, rotate, translate, random_rotation, crop_mode = "plane", shard_text = "1/1";
    double scale = 1.0;
    geometry::PerturbOptions o;
    auto& c = app.cli();
    c.add_option("input", input, "Point set: FILE, FILE:/dataset or '-'")->required()->check(cli::ExistingFileOrStream);
    c.add_option("--transform", transform_file, "Apply the transform(s) in FILE[:/dataset] ([4,4] or [B,4,4])")
        ->check(cli::ExistingFileOrStream);
    c.add_option("--rotate", rotate, "Rotate by Euler angles AX,AY,AZ in degrees (R = Rx Ry Rz)");
    c.add_option("--translate", translate, "Translate by X,Y,Z");
    c.add_option("--scale", scale, "Scale about the origin")->check(CLI::PositiveNumber);
    c.add_option("--random-rotation", random_rotation,
                 "Random rotation: DEG draws each Euler angle uniformly in [0,DEG]; 'uniform' draws uniformly on SO(3)");
    c.add_option("--random-translation", o.translation, "Random translation uniform in [-T,T]^3")
        ->check(CLI::NonNegativeNumber);
    c.add_option("--crop", o.keep_fraction, "Keep this fraction of the points as a partial view")
        ->check(CLI::Range(0.0, 1.0).description("in (0,1]"));
    c.add_option("--crop-mode", crop_mode, "plane (random plane through the centroid) or viewpoint")
        ->check(CLI::IsMember({"plane", "viewpoint"}))
        ->capture_default_str();
    c.add_option("--noise", o.noise, "Gaussian noise standard deviation")->check(CLI::NonNegativeNumber);
    c.add_option("--noise-clip", o.noise_clip, "Clip each noise component to +-C")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    c.add_option("--resample", o.resample, "Resample each cloud to N points")->check(CLI::PositiveNumber);
    c.add_flag("--shuffle", o.shuffle, "Shuffle the order of the points");
    c.add_flag("--normalize", o.normalize, "Centre and scale to the unit sphere first");
    std::int64_t copies = 1;
    c.add_option("--copies", copies, "Make C perturbed copies of every input cloud (each with its own random stream)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{100000000}))
        ->capture_default_str();
    c.add_option("--shard", shard_text, "Process slice K of N of a batch (1-based), for job arrays")->capture_default_str();
    app.require_output();
    app.add_example("orbit-transform bunny.h5 --random-rotation 45 --random-translation 0.5 --crop 0.7 --noise 0.01 "
                    "--resample 717 --seed 3 -o src.h5",
                    "a ModelNet-style partial, moved, noisy source cloud");
    app.add_example("orbit-transform bunny.h5 --crop 0.7 --seed 4 -o - | orbit-transform - --random-rotation 180 "
                    "--seed 5 -o - | orbit-info -",
                    "a pipeline through stdin and stdout");
    app.add_example("orbit-transform bunny.h5 --copies 100 --random-rotation uniform --crop 0.7 -o batch.h5",
                    "a batch of 100 randomly rotated partial views of one shape");
    app.add_example("orbit-transform clouds.h5 --random-rotation uniform --shard 2/8 -o part2.h5",
                    "the second of eight slices of a batch, rotated uniformly");

    return app.run(argc, argv, [&] {
        Timer timer;
        if (o.keep_fraction <= 0.0) throw UsageError("--crop must be in (0,1], found " + std::to_string(o.keep_fraction));
        o.crop_mode = crop_mode == "plane" ? geometry::PerturbOptions::CropMode::plane
                                           : geometry::PerturbOptions::CropMode::viewpoint;
        if (!random_rotation.empty()) {
            if (random_rotation == "uniform" || random_rotation == "so3") {
                o.uniform_rotation = true;
            } else {
                try {
                    std::size_t used = 0;
                    o.euler_max_deg = std::stod(random_rotation, &used);
                    if (used != random_rotation.size() || o.euler_max_deg < 0 || o.euler_max_deg > 360)
                        throw std::invalid_argument("");
                } catch (const std::exception&) {
                    throw UsageError("--random-rotation expects degrees in [0,360] or 'uniform', found '" +
                                     random_rotation + "'");
                }
            }
        }
        io::Shard shard = io::parse_shard(shard_text);
        io::PointSets in = io::read_point_sets(input);
        for (auto& p : in.items)
            if (p.points.cols() != 3)
                throw Error(in.source + ": expected 3-d points, found " + std::to_string(p.points.cols()) + " columns");

        Transform fixed = Transform::Identity();
        if (!rotate.empty() || !translate.empty() || scale != 1.0) {
            auto deg = rotate.empty() ? std::vector<double>{0, 0, 0} : parse_triple(rotate, "--rotate");
            auto t = translate.empty() ? std::vector<double>{0, 0, 0} : parse_triple(translate, "--translate");
            const double k = std::numbers::pi / 180.0;
            fixed = geometry::make_transform(geometry::euler_xyz(deg[0] * k, deg[1] * k, deg[2] * k),
                                             Eigen::Vector3d(t[0], t[1], t[2]), scale);
        }
        std::vector<Transform> given;
        if (!transform_file.empty()) {
            given = io::read_transforms(transform_file);
            if (given.size() != 1 && given.size() != in.size())
                throw Error(transform_file + ": " + std::to_string(given.size()) + " transforms for " +
                            std::to_string(in.size()) + " clouds");
        }

        const auto total = static_cast<std::int64_t>(in.size()) * copies;
        const auto [begin, end] = io::shard_items(shard, total);
        // Opened before the work so a bad output path fails fast; removed again if anything fails.
        io::Output output(app.common().output, "pointset");
        std::vector<geometry::Perturbed> results(static_cast<std::size_t>(end - begin));
        parallel_for(end - begin, [&](std::int64_t k) {
            const std::int64_t item = begin + k;           // index in the output batch: the random stream
            const auto i = static_cast<std::size_t>(item / copies);  // the input cloud it comes from
            geometry::PerturbOptions oi = o;
            Transform pre = given.empty() ? Transform::Identity() : given[given.size() == 1 ? 0 : i];
            oi.fixed = fixed * pre;
            Rng rng = app.rng(static_cast<std::uint64_t>(item));
            results[static_cast<std::size_t>(k)] = geometry::perturb(in[i].points, in[i].normals, oi, rng);
        });

        io::PointSets out;
        out.layout = (in.layout == io::PointSets::Layout::single && shard.count == 1 && copies == 1)
                         ? io::PointSets::Layout::single
                                                                                       : io::PointSets::Layout::batch;
        std::vector<Transform> transforms;
        h5::Array<std::int64_t> indices;
        bool equal = true;
        for (auto& r : results) {
            io::PointSet p;
            p.points = r.points;
            p.normals = r.normals;
            out.items.push_back(std::move(p));
            transforms.push_back(r.transform);
            indices.data.insert(indices.data.end(), r.indices.begin(), r.indices.end());
            equal = equal && r.points.rows() == results[0].points.rows();
        }
        const bool single = out.layout == io::PointSets::Layout::single;
        if (single || !equal) indices.shape = {indices.data.size()};
        else indices.shape = {results.size(), static_cast<std::size_t>(results[0].points.rows())};

        output.add_history_lines(in.history);
        io::write_point_sets(output.file(), out);
        io::write_transforms(output.file(), "/transform", transforms, !single);
        output.file().write("/indices", indices);
        if (shard.count > 1) io::write_shard_info(output.file(), shard, total);
        output.commit();

        std::int64_t points_out = 0;
        for (auto& r : results) points_out += r.points.rows();
        app.summary() = {{"clouds", end - begin},
                         {"points_out", points_out},
                         {"shard", shard_text},
                         {"output", app.common().output},
                         {"seconds", timer.seconds()}};
        if (results.size() == 1) {
            nlohmann::json t = nlohmann::json::array();
            for (int r = 0; r < 4; ++r) t.push_back({transforms[0](r, 0), transforms[0](r, 1), transforms[0](r, 2), transforms[0](r, 3)});
            app.summary()["transform"] = t;
        }
    });
}
