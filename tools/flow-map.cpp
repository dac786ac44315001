// orbit-flow-map: map data to the latent space of a trained model, or back.
#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/flows/pipeline.hpp"
#include "orbit/io/output.hpp"

using namespace orbit;

int main(int argc, char** argv) {
    cli::App app("flow-map", "map rows to the latent space of a trained model, or back", R"(
Forward: data -> latent z (standard normal, or uniform on the model's manifold), through the coupling layers or by integrating the
velocity field from t=1 back to t=0. With --inverse: latent -> data. The two directions invert each other to float32 rounding for
coupling flows and to the ODE tolerance for flow matching. Writes /points [N,D] (rotations as [N,3,3]). A conditional model needs
--context. An interpolant (orbit-train-flow --model interpolant) maps its sources (degraded rows) to targets; with --base gaussian
each row starts from a normal draw of --seed. --inverse then takes target rows and their sources as --context.)");
    std::string model_path, data, context;
    bool inverse = false;
    flows::InferOptions io;
    auto& c = app.cli();
    c.add_option("model", model_path, "Model file written by orbit-train-flow")->required()->check(cli::ExistingFileOrStream);
    c.add_option("data", data, "Rows to map: HDF5 (/points or FILE:/dataset), CSV or another table; '-' for stdin")
        ->required()->check(cli::ExistingFileOrStream);
    c.add_flag("--inverse", inverse, "Map latent rows back to data space");
    cli::add_ode_options(c, io.ode, flows::parse_ode_method, flows::ode_method_name, "euler, midpoint, rk4 or dopri5");
    c.add_option("--context", context, "Conditional models: the context of each row (FILE:/dataset)")->check(cli::ExistingFileOrStream);
    app.require_output();
    app.add_example("orbit-flow-map model.h5 data.h5 -o latent.h5", "data to latent coordinates");
    app.add_example("orbit-flow-map model.h5 latent.h5 --inverse -o back.h5", "and back again");
    app.add_example("orbit-flow-map interp.h5 noisy.h5 -o clean.h5", "an interpolant: degraded rows to clean ones");
    app.add_references(cli::references({"nsf", "realnvp"}));
    return app.run(argc, argv, [&] {
        if (model_path == "-" && data == "-") throw UsageError("the model and the data cannot both come from stdin");
        auto in = h5::File::open_read(model_path);
        auto model = flows::Model::load(in);
        const Points x = flows::read_rows_for(model, data, model_path);
        const Points ctx = flows::context_rows(context, "", x.rows());
        Points y;
        if (model.interpolant() && !inverse) {
            if (!context.empty()) throw UsageError("an interpolant maps the rows given (its sources): drop --context");
            y = model.sample(x.rows(), app.common().seed, io, x);
        } else if (model.interpolant()) {  // targets back to the base, given their sources
            y = model.to_latent(x, io, ctx);
        } else {
            y = inverse ? model.from_latent(x, io, ctx) : model.to_latent(x, io, ctx);
        }
        io::Output out(app.common().output, "pointset");
        out.inherit_history(in);
        flows::write_rows_for(model, out.file(), y);
        out.commit();
        app.summary() = {{"rows", y.rows()}, {"dim", y.cols()}, {"direction", model.interpolant() ? (inverse ? "target->base" : "source->target")
                                                                      : inverse ? "latent->data" : "data->latent"}};
    });
}
