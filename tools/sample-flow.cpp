// orbit-sample-flow: draw samples from a trained flow or flow-matching model.
#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/flows/pipeline.hpp"
#include "orbit/flows/so3_modes.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/plot.hpp"

using namespace orbit;

int main(int argc, char** argv) {
    cli::App app("sample-flow", "draw samples from a model trained by orbit-train-flow", R"(
Draws latents (standard normal, or uniform on the model's manifold) from one random stream per block of rows (so the result depends on
--seed only, not on -j) and maps them to data space: through the inverse coupling layers, or by integrating the learned velocity field
from t=0 to t=1 (on a manifold, projecting every step back onto it). Writes /points [N,D]; rotations as [N,3,3] (or [N,4] quaternions,
x y z w). A conditional model needs --context-value (one context for every sample) or --context (one sample per context row). For
SO(3) models --modes finds the modes of the samples by mean shift (matrix Fisher kernel of --bandwidth degrees) and writes them with
their share of the samples and the model's log-density.)");
    std::string model_path, plot, context, context_value, modes_path;
    flows::So3ModeOptions mo;
    std::int64_t n = 1000;
    bool quaternions = false;
    flows::InferOptions io;
    app.add_references(cli::references({"nsf", "realnvp", "ot-cfm", "riemannian-fm", "dopri5"}));
    auto& c = app.cli();
    c.add_option("model", model_path, "Model file written by orbit-train-flow ('-' for stdin)")->required()->check(cli::ExistingFileOrStream);
    auto* o_n = c.add_option("-n,--samples", n, "Number of samples")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 34))->capture_default_str();
    cli::add_ode_options(c, io.ode, flows::parse_ode_method, flows::ode_method_name, "euler, midpoint, rk4 or dopri5");
    c.add_option("--context", context, "Conditional models: one sample per row of this context (FILE:/dataset)")->check(cli::ExistingFileOrStream);
    c.add_option("--context-value", context_value, "Conditional models: this context for every sample (a label, or comma-separated values)");
    c.add_flag("--quaternions", quaternions, "SO(3) models: write [N,4] quaternions (x y z w) instead of [N,3,3] matrices");
    c.add_option("--temperature", io.temperature, "Scale of the standard normal latents (below 1: samples nearer the modes)")->check(CLI::Range(1e-3, 10.0))->capture_default_str();
    c.add_option("--modes", modes_path, "SO(3) models: write the modes of the samples here (/rotations, /mass, /logp, ...)");
    auto* o_bw = c.add_option("--bandwidth", mo.bandwidth_deg, "Kernel width of --modes in degrees; closer modes merge")->check(CLI::Range(0.01, 90.0))->capture_default_str();
    c.add_option("--plot", plot, "2-D models: scatter plot of the samples (.png, .svg or .pdf)")->check(cli::PicturePath);
    app.require_output();
    app.add_example("orbit-sample-flow model.h5 -n 10000 --seed 2 -o samples.h5", "10000 samples, reproducible with --seed");
    app.add_example("orbit-sample-flow cfm.h5 -n 5000 --ode euler --steps 20 --plot s.png -o s.h5",
                    "fast flow-matching samples with 20 Euler steps, and a picture");
    app.add_example("orbit-sample-flow cond.h5 -n 500 --context-value 3 -o threes.h5", "samples of class 3 of a class-conditional model");
    app.add_example("orbit-sample-flow so3.h5 -n 2000 --seed 2 -o samples.h5", "rotations from an SO(3) model, [N,3,3]");
    app.add_example("orbit-sample-flow pose.h5 -n 2000 --modes modes.h5 -o samples.h5", "and the modes of the distribution");
    return app.run(argc, argv, [&] {
        auto in = h5::File::open_read(model_path);
        auto model = flows::Model::load(in);
        if (!plot.empty() && (model.dim() != 2 || !model.manifold().empty()))
            throw UsageError("--plot needs a 2-D model, this one is " + std::to_string(model.dim()) + "-D");
        if (quaternions && model.manifold() != "so3") throw UsageError("--quaternions applies to SO(3) models");
        if (!modes_path.empty() && model.manifold() != "so3") throw UsageError("--modes applies to SO(3) models");
        if (o_bw->count() && modes_path.empty()) throw UsageError("--bandwidth applies to --modes");
        if (!modes_path.empty() && !context.empty())
            throw UsageError("--modes needs one context for all samples (--context-value), not one per row");
        if (!context.empty() && o_n->count()) throw UsageError("--context gives one sample per row: drop -n");
        const Points ctx = flows::context_rows(context, context_value, context.empty() ? n : -1);
        if (!context.empty()) n = ctx.rows();
        Points s = model.sample(n, app.common().seed, io, ctx);
        io::Output out(app.common().output, "pointset");
        out.inherit_history(in);
        flows::write_rows_for(model, out.file(), s, quaternions);
        out.commit();
        if (!plot.empty())
            plot::scatter(plot, {model.kind() + " samples", "x0", "x1"}, s.topRows(std::min<Eigen::Index>(s.rows(), 20000)),
                          "samples");
        app.summary() = {{"samples", n}, {"dim", model.dim()}, {"kind", model.kind()}, {"seed", app.common().seed}};
        if (!modes_path.empty()) {
            const auto modes = flows::so3_mean_shift_modes(flows::rows_to_rotations(s), Vector(), mo);
            Points at(Eigen::Index(modes.size()), 9);
            for (std::size_t i = 0; i < modes.size(); ++i)
                for (int j = 0; j < 9; ++j) at(Eigen::Index(i), j) = modes[i].rotation(j / 3, j % 3);
            const Vector logp = model.log_prob(at, io, flows::context_rows("", context_value, at.rows()));
            io::Output mout(modes_path, "so3-modes");
            mout.inherit_history(in);
            flows::write_so3_modes(mout.file(), modes, logp);
            mout.commit();
            app.summary()["modes"] = flows::so3_modes_json(modes, logp);
        }
    });
}
