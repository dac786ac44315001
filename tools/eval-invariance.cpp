// orbit-eval-invariance: how invariant (or equivariant) is a model, measured
// under random or exhaustive group elements.
#include <memory>
#include <optional>

#include "orbit/canon/canonicalizer.hpp"
#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/core/log.hpp"
#include "orbit/invariance/evaluate.hpp"
#include "orbit/invariance/report_file.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/plot.hpp"
#include "orbit/io/pointset.hpp"

using namespace orbit;
using namespace orbit::invariance;

namespace {

struct Settings {
    std::string input, group = "SO3", plot_path;
    CommandOptions command{"", 600, 256, ""};
    EvalOptions eval;
    GroupOptions gopt;
    std::optional<canon::Group> canonicalize, frame_average;
    bool no_lie = false, require = false;
};

void declare(cli::App& app, Settings& s) {
    auto& c = app.cli();
    auto wrapper = [](const std::string& t) { return std::optional(canon::parse_group(t)); };
    c.add_option("input", s.input, "point clouds: FILE, FILE:/dataset or '-'")->required()->check(cli::ExistingFileOrStream);
    c.add_option("--group", s.group, "SO2, SO3, O3, T3, SE3, E3, scaling, perm, Cn (C4, ...), or a product such as SO3+perm")->capture_default_str();
    c.add_option("--samples", s.eval.samples, "random group elements per cloud")->check(CLI::Range(1, 100000))->capture_default_str();
    c.add_flag("--exhaustive", s.eval.exhaustive, "every element of a finite group (Cn) instead of samples");
    c.add_option("--model-cmd", s.command.command, "the model: a shell command with {in} and {out} (HDF5 files)")->required();
    c.add_option("--model-output", s.command.output_dataset, "dataset of the model's output file (default /output, else the first)");
    c.add_option("--timeout", s.command.timeout_s, "seconds allowed per model call")->check(cli::Positive)->capture_default_str();
    c.add_option("--batch-size", s.command.batch_size, "clouds per model call")->check(CLI::Range(1, 10000000))->capture_default_str();
    cli::add_enum(c, "--output-type", s.eval.type, parse_output_type, output_type_name, "invariant, points (= equivariant), vectors, transform, labels or explanation (per-point attributions)");
    c.add_flag("--per-point", s.eval.per_point, "output rows belong to input points (they follow permutations)");
    cli::add_parsed<std::optional<canon::Group>>(c, "--canonicalize", s.canonicalize, wrapper, "wrap the model: canonicalize inputs (SO3, O3, SE3, E3, SO2) first");
    cli::add_parsed<std::optional<canon::Group>>(c, "--frame-average", s.frame_average, wrapper, "wrap the model: average it over all PCA frames of this group")->excludes("--canonicalize");
    cli::add_parsed<Eigen::Vector3d>(c, "--axis", s.gopt.axis, canon::parse_axis, "axis for SO2 and Cn: x, y, z or a,b,c")->default_str("z");
    c.add_option("--max-translation", s.gopt.max_translation, "translations are uniform in [-h,h]^3")->check(cli::NonNegative)->capture_default_str();
    c.add_option("--max-scale", s.gopt.max_scale, "scales are log-uniform in [1/m, m]")->check(cli::above(1.0))->capture_default_str();
    c.add_option("--lie-step", s.eval.lie_step, "finite-difference step of the Lie derivatives")->check(cli::Positive)->capture_default_str();
    c.add_flag("--no-lie", s.no_lie, "skip the Lie derivatives (saves 2 model inputs per generator and cloud)");
    c.add_option("--tolerance", s.eval.tolerance, "verdict: relative tolerance (|error| <= tolerance |expected| + atol)")->check(cli::NonNegative)->capture_default_str();
    c.add_option("--atol", s.eval.atol, "verdict: absolute tolerance, for outputs near zero")->check(cli::NonNegative)->capture_default_str();
    c.add_flag("--require", s.require, "exit with status 1 when the model fails the verdict");
    c.add_option("--plot", s.plot_path, "picture of error against rotation angle (.png, .svg or .pdf)");
    app.add_examples(R"(
orbit-eval-invariance clouds.h5 --group SO3 --samples 32 --model-cmd 'python3 model.py {in} {out}' --output-type invariant --json
    is the model rotation invariant? (32 random rotations of every cloud)
orbit-eval-invariance clouds.h5 --group SO3 --model-cmd 'python3 model.py {in} {out}' --canonicalize SO3 --json
    the same model behind PCA canonicalization
orbit-eval-invariance clouds.h5 --group C4 --exhaustive --axis z --model-cmd './net {in} {out}' --output-type labels -o report.h5 --plot err.svg
    label consistency under the 4 quarter turns, with a report and a plot
orbit-eval-invariance clouds.h5 --group SE3+perm --per-point --output-type points --model-cmd 'python3 denoise.py {in} {out}'
    equivariance of per-point outputs under rigid motions and permutations
orbit-eval-invariance clouds.h5 --group E3 --model-cmd 'orbit-canonicalize {in} --method mds -q -o {out}' --model-output /points
    orbit's own tools work as models: MDS coordinates under rotations, reflections, translations
)");
    app.add_references(cli::references({"lie-derivative", "frame-averaging", "canonicalization", "e3nn", "explanation-invariance"}));
}

void run(cli::App& app, Settings& s) {
    const Group g = cli::for_option("--group", [&] { return parse_group(s.group, s.gopt); });
    if (!s.plot_path.empty()) plot::check_path(s.plot_path);
    if (s.eval.exhaustive && !g.finite()) throw UsageError("--exhaustive needs a finite group such as C4, not " + s.group);
    s.eval.lie = !s.no_lie;
    s.eval.seed = app.common().seed;

    io::PointSets sets = io::read_point_sets(s.input);
    std::vector<Points> clouds;
    for (auto& p : sets.items) clouds.push_back(std::move(p.points));

    CommandModel cmd(s.command);
    std::unique_ptr<Model> wrapped;
    Model* model = &cmd;
    if (s.canonicalize || s.frame_average) {
        canon::Options co;
        co.group = s.canonicalize ? *s.canonicalize : *s.frame_average;
        co.axis = s.gopt.axis;
        if (s.frame_average) wrapped = std::make_unique<FrameAveragedModel>(cmd, co, s.eval.type);
        else wrapped = std::make_unique<CanonicalizedModel>(cmd, co, s.eval.type);
        model = wrapped.get();
    }
    std::unique_ptr<io::Output> out;
    if (!app.common().output.empty()) out = std::make_unique<io::Output>(app.common().output, "report");

    log::detail("evaluating " + model->describe() + " on " + std::to_string(clouds.size()) + " clouds under " + s.group);
    EvalReport r = evaluate(*model, g, clouds, s.eval);
    app.summary() = r.json();
    app.summary()["model_calls"] = cmd.calls();
    if (out) {
        out->add_history_lines(sets.history);
        write_report(out->file(), r);
        out->commit();
    }
    if (!s.plot_path.empty()) plot_report(s.plot_path, r);
    const std::string verdict = app.summary()["verdict"].get<std::string>();
    if (!app.common().json && !app.common().quiet) {
        std::FILE* where = io::stdout_is_data() ? stderr : stdout;
        std::fprintf(where, "%s: max abs error %.3g, mean abs %.3g, max rel %.3g%s -> %s\n", s.group.c_str(), r.max_abs, r.mean_abs,
                     r.max_rel, r.consistency >= 0 ? (", consistency " + std::to_string(r.consistency)).c_str() : "", verdict.c_str());
    }
    if (s.require && !r.passed)
        throw Error("the model is " + verdict + ": " + std::to_string(r.failures) + " (cloud, element) pairs outside the tolerance, max abs error " +
                    std::to_string(r.max_abs) + ", max relative error " + std::to_string(r.max_rel));
}

}  // namespace

int main(int argc, char** argv) {
    cli::App app("eval-invariance", "measure the invariance or equivariance error of any model under a group", R"(
Runs a model on each cloud and on transformed copies (random elements of the group, or every element of a finite group) and reports the
maximum and mean absolute and relative errors, consistency of class labels, the normalized variance and finite-difference Lie derivatives
per generator, with a breakdown per group element. The model is any command that reads an HDF5 batch ({in}: /points [B,N,D]) and writes an
HDF5 batch ({out}: /output or its first dataset, first dimension B); without {in} or {out} it reads stdin or writes stdout. --canonicalize
and --frame-average wrap the command in orbit's PCA canonicalization or frame averaging.)");
    Settings s;
    declare(app, s);
    return app.run(argc, argv, [&] { run(app, s); });
}
