// orbit-sample-flow: draw samples from a trained flow or flow-matching model.
#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/flows/command.hpp"

using namespace orbit;

int main(int argc, char** argv) {
    cli::App app("sample-flow", "draw samples from a model trained by orbit-train-flow", R"(
Draws latents (standard normal, or uniform on the model's manifold) from one random stream per block of rows (so the result depends on
--seed only, not on -j) and maps them to data space: through the inverse coupling layers, or by integrating the learned velocity field
from t=0 to t=1 (on a manifold, projecting every step back onto it). Writes /points [N,D]; rotations as [N,3,3] (or [N,4] quaternions,
x y z w). A conditional model needs --context-value (one context for every sample) or --context (one sample per context row). For
SO(3) models --modes finds the modes of the samples by mean shift (matrix Fisher kernel of --bandwidth degrees) and writes them with
their share of the samples and the model's log-density.)");
    flows::SampleSettings s;
    app.add_references(cli::references({"nsf", "realnvp", "ot-cfm", "riemannian-fm", "dopri5"}));
    auto& c = app.cli();
    c.add_option("model", s.model, "Model file written by orbit-train-flow ('-' for stdin)")->required()->check(cli::ExistingFileOrStream);
    auto* o_n = c.add_option("-n,--samples", s.samples, "Number of samples")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 34))->capture_default_str();
    cli::add_ode_options(c, s.infer.ode, flows::parse_ode_method, flows::ode_method_name, "euler, midpoint, rk4 or dopri5");
    c.add_option("--context", s.context, "Conditional models: one sample per row of this context (FILE:/dataset)")->check(cli::ExistingFileOrStream);
    c.add_option("--context-value", s.context_value, "Conditional models: this context for every sample (a label, or comma-separated values)");
    c.add_flag("--quaternions", s.quaternions, "SO(3) models: write [N,4] quaternions (x y z w) instead of [N,3,3] matrices");
    c.add_option("--temperature", s.infer.temperature, "Scale of the standard normal latents (below 1: samples nearer the modes)")->check(CLI::Range(1e-3, 10.0))->capture_default_str();
    c.add_option("--modes", s.modes, "SO(3) models: write the modes of the samples here (/rotations, /mass, /logp, ...)");
    auto* o_bw = c.add_option("--bandwidth", s.mode_options.bandwidth_deg, "Kernel width of --modes in degrees; closer modes merge")->check(CLI::Range(0.01, 90.0))->capture_default_str();
    c.add_option("--plot", s.plot, "2-D models: scatter plot of the samples (.png, .svg or .pdf)")->check(cli::PicturePath);
    app.require_output();
    app.add_examples(R"(
orbit-sample-flow model.h5 -n 10000 --seed 2 -o samples.h5
    10000 samples, reproducible with --seed
orbit-sample-flow cfm.h5 -n 5000 --ode euler --steps 20 --plot s.png -o s.h5
    fast flow-matching samples with 20 Euler steps, and a picture
orbit-sample-flow cond.h5 -n 500 --context-value 3 -o threes.h5
    samples of class 3 of a class-conditional model
orbit-sample-flow so3.h5 -n 2000 --seed 2 -o samples.h5
    rotations from an SO(3) model, [N,3,3]
orbit-sample-flow pose.h5 -n 2000 --modes modes.h5 -o samples.h5
    and the modes of the distribution
)");
    return app.run(argc, argv, [&] {
        s.samples_given = o_n->count() > 0;
        s.bandwidth_given = o_bw->count() > 0;
        s.seed = app.common().seed;
        s.output = app.common().output;
        app.summary() = flows::run_sample(s);
    });
}
