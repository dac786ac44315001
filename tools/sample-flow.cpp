// orbit-sample-flow: draw samples from a trained flow or flow-matching model.
#include "orbit/cli/app.hpp"
#include "orbit/flows/model.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/plot.hpp"
#include "orbit/io/pointset.hpp"

using namespace orbit;

int main(int argc, char** argv) {
    cli::App app("sample-flow", "draw samples from a model trained by orbit-train-flow",
                 "Draws standard-normal latents from one random stream per block of rows (so the result depends on "
                 "--seed only, not on -j) and maps them to data space: through the inverse coupling layers, or by "
                 "integrating the learned velocity field from t=0 to t=1. Writes /points [N,D].");
    std::string model_path, plot, ode = "dopri5";
    std::int64_t n = 1000;
    flows::InferOptions io;
    auto& c = app.cli();
    c.add_option("model", model_path, "Model file written by orbit-train-flow ('-' for stdin)")->required()->check(cli::ExistingFileOrStream);
    c.add_option("-n,--samples", n, "Number of samples")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 34))->capture_default_str();
    c.add_option("--ode", ode, "Integrator for flow matching: euler, midpoint, rk4 or dopri5")
        ->check(CLI::IsMember({"euler", "midpoint", "rk4", "dopri5"}))->capture_default_str();
    c.add_option("--steps", io.ode.steps, "Steps of the fixed-step integrators")->check(CLI::Range(1, 1000000))->capture_default_str();
    c.add_option("--rtol", io.ode.rtol, "Relative tolerance of dopri5")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--atol", io.ode.atol, "Absolute tolerance of dopri5")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--plot", plot, "2-D models: scatter plot of the samples (.png or .svg)");
    app.require_output();
    app.add_example("orbit-sample-flow model.h5 -n 10000 --seed 2 -o samples.h5", "10000 samples, reproducible with --seed");
    app.add_example("orbit-sample-flow cfm.h5 -n 5000 --ode euler --steps 20 --plot s.png -o s.h5",
                    "fast flow-matching samples with 20 Euler steps, and a picture");
    return app.run(argc, argv, [&] {
        io.ode.method = flows::parse_ode_method(ode);
        auto in = h5::File::open_read(model_path);
        auto model = flows::Model::load(in);
        Points s = model.sample(n, app.common().seed, io);
        io::Output out(app.common().output, "pointset");
        out.inherit_history(in);
        io::PointSets sets;
        sets.items.push_back(io::PointSet{s, {}, {}, {}});
        io::write_point_sets(out.file(), sets);
        out.commit();
        if (!plot.empty()) {
            if (model.dim() != 2) throw Error("--plot needs a 2-D model, this one is " + std::to_string(model.dim()) + "-D");
            plot::scatter(plot, {model.kind() + " samples", "x0", "x1"}, s.topRows(std::min<Eigen::Index>(s.rows(), 20000)),
                          "samples");
        }
        app.summary() = {{"samples", n}, {"dim", model.dim()}, {"kind", model.kind()}, {"seed", app.common().seed}};
    });
}
