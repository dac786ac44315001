// orbit-eval-invariance: how invariant (or equivariant) is a model, measured
// under random or exhaustive group elements.
#include <iostream>
#include <memory>

#include "orbit/canon/canonicalizer.hpp"
#include "orbit/cli/app.hpp"
#include "orbit/core/log.hpp"
#include "orbit/invariance/evaluate.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/plot.hpp"
#include "orbit/io/pointset.hpp"

using namespace orbit;
using namespace orbit::invariance;

int main(int argc, char** argv) {
    cli::App app("eval-invariance", "measure the invariance or equivariance error of any model under a group",
                 "Runs a model on each cloud and on transformed copies (random elements of the group, or every "
                 "element of a finite group) and reports the maximum and mean absolute and relative errors, "
                 "consistency of class labels, the normalized variance and finite-difference Lie derivatives per "
                 "generator, with a breakdown per group element. The model is any command that reads an HDF5 "
                 "batch ({in}: /points [B,N,D]) and writes an HDF5 batch ({out}: /output or its first dataset, "
                 "first dimension B); without {in} or {out} it reads stdin or writes stdout. --canonicalize and "
                 "--frame-average wrap the command in orbit's PCA canonicalization or frame averaging.");
    std::string input, group = "SO3", model_cmd, output_type = "invariant", canonicalize, frame_average, axis = "z";
    std::string plot_path, model_output;
    int samples = 16, batch_size = 256;
    bool exhaustive = false, per_point = false, no_lie = false, require = false;
    double timeout = 600, lie_step = 1e-4, tolerance = 1e-6, atol = 1e-12, max_translation = 1.0, max_scale = 2.0;
    auto& c = app.cli();
    c.add_option("input", input, "point clouds: FILE, FILE:/dataset or '-'")->required()->check(cli::ExistingFileOrStream);
    c.add_option("--group", group, "SO2, SO3, O3, T3, SE3, E3, scaling, perm, Cn (C4, ...), or a product such as SO3+perm")
        ->capture_default_str();
    c.add_option("--samples", samples, "random group elements per cloud")->check(CLI::Range(1, 100000))->capture_default_str();
    c.add_flag("--exhaustive", exhaustive, "every element of a finite group (Cn) instead of samples");
    c.add_option("--model-cmd", model_cmd, "the model: a shell command with {in} and {out} (HDF5 files)")->required();
    c.add_option("--model-output", model_output, "dataset of the model's output file (default /output, else the first)");
    c.add_option("--timeout", timeout, "seconds allowed per model call")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--batch-size", batch_size, "clouds per model call")->check(CLI::Range(1, 10000000))->capture_default_str();
    c.add_option("--output-type", output_type, "invariant, points (= equivariant), vectors, transform, labels or explanation")
        ->check(CLI::IsMember({"invariant", "equivariant", "points", "vectors", "transform", "labels", "explanation"}))
        ->capture_default_str();
    c.add_flag("--per-point", per_point, "output rows belong to input points (they follow permutations)");
    c.add_option("--canonicalize", canonicalize, "wrap the model: canonicalize inputs (SO3, O3, SE3, E3, SO2) first");
    c.add_option("--frame-average", frame_average, "wrap the model: average it over all PCA frames of this group");
    c.add_option("--axis", axis, "axis for SO2 and Cn: x, y, z or a,b,c")->capture_default_str();
    c.add_option("--max-translation", max_translation, "translations are uniform in [-h,h]^3")->capture_default_str();
    c.add_option("--max-scale", max_scale, "scales are log-uniform in [1/m, m]")->capture_default_str();
    c.add_option("--lie-step", lie_step, "finite-difference step of the Lie derivatives")->check(CLI::PositiveNumber)
        ->capture_default_str();
    c.add_flag("--no-lie", no_lie, "skip the Lie derivatives (saves 2 model inputs per generator and cloud)");
    c.add_option("--tolerance", tolerance, "verdict: relative tolerance (|error| <= tolerance |expected| + atol)")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--atol", atol, "verdict: absolute tolerance, for outputs near zero")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_flag("--require", require, "exit with status 1 when the model fails the verdict");
    c.add_option("--plot", plot_path, "picture of error against rotation angle (.png, .svg or .pdf)");
    app.add_example("orbit-eval-invariance clouds.h5 --group SO3 --samples 32 --model-cmd 'python3 model.py {in} {out}' "
                    "--output-type invariant --json",
                    "is the model rotation invariant? (32 random rotations of every cloud)");
    app.add_example("orbit-eval-invariance clouds.h5 --group SO3 --model-cmd 'python3 model.py {in} {out}' "
                    "--canonicalize SO3 --json",
                    "the same model behind PCA canonicalization");
    app.add_example("orbit-eval-invariance clouds.h5 --group C4 --exhaustive --axis z --model-cmd './net {in} {out}' "
                    "--output-type labels -o report.h5 --plot err.svg",
                    "label consistency under the 4 quarter turns, with a report and a plot");
    app.add_example("orbit-eval-invariance clouds.h5 --group SE3+perm --per-point --output-type points "
                    "--model-cmd 'python3 denoise.py {in} {out}'",
                    "equivariance of per-point outputs under rigid motions and permutations");
    app.add_example("orbit-eval-invariance clouds.h5 --group E3 --model-cmd 'orbit-canonicalize {in} --method mds -q -o {out}' "
                    "--model-output /points",
                    "orbit's own tools work as models: MDS coordinates under rotations, reflections, translations");

    return app.run(argc, argv, [&] {
        GroupOptions gopt;
        gopt.axis = canon::parse_axis(axis);
        gopt.max_translation = max_translation;
        gopt.max_scale = max_scale;
        const Group g = parse_group(group, gopt);
        if (!plot_path.empty()) plot::check_path(plot_path);
        if (exhaustive && !g.finite()) throw UsageError("--exhaustive needs a finite group such as C4, not " + group);
        if (!canonicalize.empty() && !frame_average.empty())
            throw UsageError("choose one of --canonicalize and --frame-average");
        EvalOptions opt;
        opt.samples = samples;
        opt.exhaustive = exhaustive;
        opt.type = parse_output_type(output_type);
        opt.per_point = per_point;
        opt.lie = !no_lie;
        opt.lie_step = lie_step;
        opt.tolerance = tolerance;
        opt.atol = atol;
        opt.seed = app.common().seed;

        io::PointSets sets = io::read_point_sets(input);
        std::vector<Points> clouds;
        for (auto& p : sets.items) clouds.push_back(std::move(p.points));

        CommandModel cmd(CommandOptions{model_cmd, timeout, batch_size, model_output});
        std::unique_ptr<Model> wrapped;
        Model* model = &cmd;
        if (!canonicalize.empty() || !frame_average.empty()) {
            canon::Options co;
            co.group = canon::parse_group(canonicalize.empty() ? frame_average : canonicalize);
            co.axis = gopt.axis;
            if (canonicalize.empty()) wrapped = std::make_unique<FrameAveragedModel>(cmd, co, opt.type);
            else wrapped = std::make_unique<CanonicalizedModel>(cmd, co, opt.type);
            model = wrapped.get();
        }
        std::unique_ptr<io::Output> out;
        if (!app.common().output.empty()) out = std::make_unique<io::Output>(app.common().output, "report");

        log::detail("evaluating " + model->describe() + " on " + std::to_string(clouds.size()) + " clouds under " + group);
        EvalReport r = evaluate(*model, g, clouds, opt);
        app.summary() = r.json();
        app.summary()["model_calls"] = cmd.calls();
        if (out) {
            out->add_history_lines(sets.history);
            write_report(out->file(), r);
            out->commit();
        }
        if (!plot_path.empty()) plot_report(plot_path, r);
        if (!app.common().json && !app.common().quiet) {
            std::FILE* where = io::stdout_is_data() ? stderr : stdout;
            std::fprintf(where, "%s: max abs error %.3g, mean abs %.3g, max rel %.3g%s -> %s\n", group.c_str(), r.max_abs,
                         r.mean_abs, r.max_rel,
                         r.consistency >= 0 ? (", consistency " + std::to_string(r.consistency)).c_str() : "",
                         app.summary()["verdict"].get<std::string>().c_str());
        }
        if (require && !r.passed)
            throw Error("the model is " + app.summary()["verdict"].get<std::string>() + ": " +
                        std::to_string(r.failures) + " (cloud, element) pairs outside the tolerance, max abs error " +
                        std::to_string(r.max_abs) + ", max relative error " + std::to_string(r.max_rel));
    });
}
