// orbit-flow-map: map data to the latent space of a trained model, or back.
#include "orbit/cli/app.hpp"
#include "orbit/flows/model.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"

using namespace orbit;

int main(int argc, char** argv) {
    cli::App app("flow-map", "map rows to the latent (standard normal) space of a trained model, or back",
                 "Forward: data -> latent z, through the coupling layers or by integrating the velocity field from "
                 "t=1 back to t=0. With --inverse: latent -> data. The two directions invert each other to float32 "
                 "rounding for coupling flows and to the ODE tolerance for flow matching. Writes /points [N,D].");
    std::string model_path, data, ode = "dopri5";
    bool inverse = false;
    flows::InferOptions io;
    auto& c = app.cli();
    c.add_option("model", model_path, "Model file written by orbit-train-flow")->required()->check(cli::ExistingFileOrStream);
    c.add_option("data", data, "Rows to map: HDF5 (/points or FILE:/dataset), CSV or another table; '-' for stdin")
        ->required()->check(cli::ExistingFileOrStream);
    c.add_flag("--inverse", inverse, "Map latent rows back to data space");
    c.add_option("--ode", ode, "Integrator for flow matching: euler, midpoint, rk4 or dopri5")
        ->check(CLI::IsMember({"euler", "midpoint", "rk4", "dopri5"}))->capture_default_str();
    c.add_option("--steps", io.ode.steps, "Steps of the fixed-step integrators")->check(CLI::Range(1, 1000000))->capture_default_str();
    c.add_option("--rtol", io.ode.rtol, "Relative tolerance of dopri5")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--atol", io.ode.atol, "Absolute tolerance of dopri5")->check(CLI::PositiveNumber)->capture_default_str();
    app.require_output();
    app.add_example("orbit-flow-map model.h5 data.h5 -o latent.h5", "data to latent coordinates");
    app.add_example("orbit-flow-map model.h5 latent.h5 --inverse -o back.h5", "and back again");
    return app.run(argc, argv, [&] {
        if (model_path == "-" && data == "-") throw UsageError("the model and the data cannot both come from stdin");
        io.ode.method = flows::parse_ode_method(ode);
        auto in = h5::File::open_read(model_path);
        auto model = flows::Model::load(in);
        const Points x = flows::read_rows_for(model, data, model_path);
        Points y = inverse ? model.from_latent(x, io) : model.to_latent(x, io);
        io::Output out(app.common().output, "pointset");
        out.inherit_history(in);
        io::PointSets s;
        s.items.push_back(io::PointSet{y, {}, {}, {}});
        io::write_point_sets(out.file(), s);
        out.commit();
        app.summary() = {{"rows", y.rows()}, {"dim", y.cols()}, {"direction", inverse ? "latent->data" : "data->latent"}};
    });
}
