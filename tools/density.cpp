// orbit-density: log-density of each row under a trained model.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/flows/pipeline.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/plot.hpp"

using namespace orbit;

int main(int argc, char** argv) {
    cli::App app("density", "log-density of each row of a table under a model trained by orbit-train-flow", R"(
Evaluates log p(x) in data coordinates (the standardization's Jacobian included): exactly for coupling flows, and for flow matching by
integrating the instantaneous change of variables backwards in time with the exact divergence (the Riemannian divergence on a
manifold). On the sphere the density is per unit area (uniform: -log 4 pi on S^2); on SO(3) it is relative to the Haar probability
measure (uniform: 0). Writes /logp [N] with the mean and its standard error as attributes; --json prints them. A conditional model
needs --context (one row per data row), and so does an interpolant: the source of each row, for log p(target | source).)");
    std::string model_path, data, plot, context;
    flows::InferOptions io;
    int grid = 200;
    auto& c = app.cli();
    c.add_option("model", model_path, "Model file written by orbit-train-flow")->required()->check(cli::ExistingFileOrStream);
    c.add_option("data", data, "Rows to evaluate: HDF5 (/points or FILE:/dataset), CSV or another table; '-' for stdin")
        ->required()->check(cli::ExistingFileOrStream);
    cli::add_ode_options(c, io.ode, flows::parse_ode_method, flows::ode_method_name, "euler, midpoint, rk4 or dopri5");
    c.add_option("--context", context, "Conditional models: the context of each row (FILE:/dataset)")->check(cli::ExistingFileOrStream);
    c.add_option("--plot", plot, "2-D models: the density on a grid over the data's bounding box (.png, .svg or .pdf)")->check(cli::PicturePath);
    c.add_option("--grid", grid, "Grid cells per axis for --plot")->check(CLI::Range(2, 2000))->capture_default_str();
    app.add_example("orbit-density model.h5 test.h5 -o logp.h5 --json", "per-row log-density, mean and standard error");
    app.add_example("orbit-density model.h5 test.h5 --plot density.png", "picture of a 2-D density");
    app.add_example("orbit-density cond.h5 test.h5 --context test.h5:/labels -o logp.h5", "log p(x | label) of a conditional model");
    app.add_references(cli::references({"nsf", "neural-ode", "riemannian-fm"}));
    return app.run(argc, argv, [&] {
        if (model_path == "-" && data == "-") throw UsageError("the model and the data cannot both come from stdin");
        auto in = h5::File::open_read(model_path);
        auto model = flows::Model::load(in);
        if (!plot.empty() && (model.dim() != 2 || model.conditional() || !model.manifold().empty()))
            throw UsageError("--plot needs an unconditional 2-D model, this one is " + std::to_string(model.dim()) + "-D");
        const Points x = flows::read_rows_for(model, data, model_path);
        const Points ctx = flows::context_rows(context, "", x.rows());
        Vector lp = model.log_prob(x, io, ctx);
        const double n = double(lp.size());
        const double mean = lp.mean();
        const double var = lp.size() > 1 ? (lp.array() - mean).square().sum() / (n - 1) : 0.0;
        const double se = std::sqrt(var / n);
        if (!app.common().output.empty()) {
            io::Output out(app.common().output, "report");
            out.inherit_history(in);
            flows::write_log_density(out.file(), lp, mean, se);
            out.commit();
        }
        if (!plot.empty()) {
            const Eigen::RowVector2d lo = x.colwise().minCoeff(), hi = x.colwise().maxCoeff();
            const Eigen::RowVector2d pad = 0.05 * (hi - lo) + Eigen::RowVector2d::Constant(1e-9);
            Matrix g = model.log_prob_grid(lo(0) - pad(0), hi(0) + pad(0), lo(1) - pad(1), hi(1) + pad(1), grid, io);
            plot::heatmap(plot, {model.kind() + " density", "x0", "x1"}, g.array().exp().matrix(), lo(0) - pad(0),
                          hi(0) + pad(0), lo(1) - pad(1), hi(1) + pad(1));
        }
        app.summary() = {{"rows", lp.size()}, {"mean_logp", mean}, {"stderr_logp", se},
                         {"min_logp", lp.minCoeff()}, {"max_logp", lp.maxCoeff()}, {"kind", model.kind()}};
        if (!app.common().json && app.common().output.empty()) {
            char line[128];
            std::snprintf(line, sizeof line, "mean log p = %.6f +- %.6f over %lld rows\n", mean, se, (long long)lp.size());
            std::cout << line;
        }
    });
}
