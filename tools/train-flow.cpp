// orbit-train-flow: fit a normalizing flow or a flow-matching model to a table of points.
#include <string>
#include <utility>
#include <vector>

#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/distributed/communicator.hpp"
#include "orbit/flows/command.hpp"

using namespace orbit;

namespace {

// Everything the options fill; `only` lists the architecture options with the models they apply to.
struct Args {
    flows::TrainSettings s;
    CLI::Option* model = nullptr;
    std::vector<std::pair<CLI::Option*, std::vector<std::string>>> only;
};

void declare(cli::App& app, Args& g) {
    auto& c = app.cli();
    auto& a = g.s.spec.coupling;
    const std::vector<std::string> flows = {"nsf", "realnvp"}, fields = {"cfm", "ot-cfm", "rfm", "interpolant"};
    c.add_option("input", g.s.input, "Training data: HDF5 (/points or FILE:/dataset), CSV or another table; '-' for stdin (required but with --target)")
        ->check(cli::ExistingFileOrStream);
    g.model = c.add_option("--model", g.s.kind, "nsf, realnvp, cfm, ot-cfm, rfm (Riemannian flow matching, with --manifold) or interpolant (with --source and --target)")
                        ->check(CLI::IsMember({"nsf", "realnvp", "cfm", "ot-cfm", "rfm", "interpolant"}))->capture_default_str();
    g.only.push_back({c.add_option("--source", g.s.source, "Interpolant: the degraded view of each target row, FILE:/dataset [N,D] (the coupling's x0)")->check(cli::ExistingFileOrStream), {"interpolant"}});
    g.only.push_back({c.add_option("--target", g.s.target, "Interpolant: the clean rows [N,D], one per source row (instead of the input argument)")->check(cli::ExistingFileOrStream), {"interpolant"}});
    g.only.push_back({c.add_option("--base", g.s.base, "Interpolant: start from the sources (source, the data-dependent coupling) or from N(0,I) (gaussian, the uncoupled baseline). "
                                   "rfm on S^2: uniform, vmf:K (a von Mises-Fisher mixture of K components fitted to the training rows by EM) or vmf (K chosen on the validation rows)"),
                      {"interpolant", "rfm"}});
    g.only.push_back({c.add_flag("--unconditioned", g.s.unconditioned, "Interpolant: the velocity field does not see the source (a transport map between the two sets of rows)"), {"interpolant"}});
    g.only.push_back({c.add_option("--source-noise", g.s.spec.cfm.source_noise, "Interpolant from the sources: x0 = source + this times N(0,I), in standardized units")
                        ->check(CLI::NonNegativeNumber)->capture_default_str(), {"interpolant"}});
    c.add_option("--manifold", g.s.manifold, "The rows lie on a manifold: sphere (unit vectors [N,d+1]) or so3 (rotations [N,3,3] or quaternions [N,4], x y z w)")
        ->check(CLI::IsMember({"sphere", "so3"}));
    g.only.push_back({c.add_option("--context", g.s.context, "Condition on a context: FILE:/dataset with one row (or label) per data row (all models but ot-cfm)")->check(cli::ExistingFileOrStream), {"nsf", "realnvp", "cfm", "rfm"}});
    g.only.push_back({c.add_option("--layers", a.layers, "Coupling layers (nsf, realnvp)")->check(CLI::Range(1, 256))->capture_default_str(), flows});
    c.add_option("--hidden", g.s.hidden, "Hidden width of the networks (default 128 for flows, 256 for flow matching)")->check(CLI::Range(1, 8192));
    c.add_option("--blocks", a.blocks, "Residual blocks per network")->check(CLI::Range(0, 64))->capture_default_str();
    g.only.push_back({c.add_option("--bins", a.bins, "Spline bins (nsf)")->check(CLI::Range(2, 64))->capture_default_str(), {"nsf"}});
    g.only.push_back({c.add_option("--tail-bound", a.tail_bound, "Spline interval [-B,B] in standardized units (nsf)")->check(CLI::PositiveNumber)->capture_default_str(), {"nsf"}});
    g.only.push_back({c.add_option("--scale-clamp", a.scale_clamp, "Bound of the affine log-scales (realnvp)")->check(CLI::PositiveNumber)->capture_default_str(), {"realnvp"}});
    g.only.push_back({c.add_option("--permutation", a.permutation, "Permutation between couplings: reverse or random")
                        ->check(CLI::IsMember({"reverse", "random"}))->capture_default_str(), flows});
    g.only.push_back({c.add_flag("--actnorm", a.actnorm, "ActNorm layer in each coupling layer (data-initialized)"), flows});
    g.only.push_back({c.add_flag("--lu", a.lu, "LU-decomposed linear layer before each coupling"), flows});
    g.only.push_back({c.add_option("--dropout", a.dropout, "Dropout inside the conditioner networks")->check(CLI::Range(0.0, 0.9)), flows});
    c.add_option("--activation", g.s.act, "relu, tanh or silu (default relu for flows, silu for flow matching)")->check(CLI::IsMember({"relu", "tanh", "silu"}));
    g.only.push_back({c.add_option("--freqs", g.s.spec.cfm.freqs, "Time features of the velocity field (cfm, rfm)")->check(CLI::Range(0, 16))->capture_default_str(), fields});
    g.only.push_back({c.add_option("--sigma", g.s.spec.cfm.sigma, "Noise around the straight paths (cfm); the interpolant's latent noise gamma(t) = sigma t (1-t)")->check(CLI::NonNegativeNumber), {"cfm", "ot-cfm", "interpolant"}});
    g.only.push_back({c.add_option("--coupling", g.s.spec.cfm.coupling, "Minibatch coupling of ot-cfm: exact or sinkhorn; of rfm: exact (squared geodesic distance)")
                        ->check(CLI::IsMember({"exact", "sinkhorn"})), {"ot-cfm", "rfm"}});
    g.only.push_back({c.add_option("--sinkhorn-eps", g.s.spec.cfm.sinkhorn_eps, "Sinkhorn eps relative to the mean squared distance (ot-cfm)")->check(CLI::PositiveNumber), {"ot-cfm"}});
    c.add_option("--weights", g.s.weights, "Weight of each row, FILE:/dataset [N] (e.g. hypothesis scores): rows are redrawn with replacement in proportion to it")
        ->check(cli::ExistingFileOrStream);
    c.add_option("--resample", g.s.resample, "Rows drawn by --weights (0: as many as the input has)")->check(CLI::NonNegativeNumber);
    c.add_option("--epochs", g.s.t.epochs, "Training epochs")->check(CLI::Range(0, 1000000))->capture_default_str();
    c.add_option("--batch", g.s.t.batch, "Minibatch size")->check(CLI::Range(1, 1 << 20))->capture_default_str();
    c.add_option("--lr", g.s.t.lr, "Learning rate (Adam)")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--lr-min", g.s.t.lr_min, "Final learning rate of the cosine schedule")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_flag("--no-cosine", g.s.no_cosine, "Constant learning rate instead of cosine decay");
    c.add_option("--weight-decay", g.s.t.weight_decay, "Decoupled weight decay (AdamW) when > 0")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--clip", g.s.t.clip, "Clip the global gradient norm (0: off)")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--val", g.s.val, "Fraction of rows held out for validation")->check(CLI::Range(0.0, 0.9))->capture_default_str();
    c.add_option("--patience", g.s.t.patience, "Stop after this many epochs without a better validation loss, keeping the best model (0: off)")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    g.only.push_back({c.add_option("--select-every", g.s.t.select_every,
                                   "Flow matching: keep the model of best validation log-likelihood, evaluated before the first epoch "
                                   "and every N epochs (an ODE solve per validation row); --patience then counts evaluations")
                          ->check(CLI::NonNegativeNumber), {"cfm", "ot-cfm", "rfm"}});
    c.add_option("--stop-after", g.s.t.stop_after, "Stop after this many epochs of this run; the output can be resumed (0: off)")->check(CLI::NonNegativeNumber);
    c.add_option("--checkpoint-every", g.s.checkpoint_every, "Write the output model every N epochs while training (0: at the end only)")
        ->check(CLI::NonNegativeNumber);
    c.add_option("--resume", g.s.resume, "Continue training this model file (architecture, standardization, split seed and optimizer state come from it)")
        ->check(cli::ExistingFileOrStream);
    c.add_option("--plot", g.s.plot, "2-D data: write the learned density on a grid here (.png, .svg or .pdf) and samples next to it (FILE-samples.EXT)")
        ->check(cli::PicturePath);
    c.add_option("--plot-loss", g.s.plot_loss, "Write the training and validation loss curves here (.png, .svg or .pdf)")->check(cli::PicturePath);
    app.require_output();
    app.add_example("orbit-train-flow data.h5 --model nsf --layers 8 --hidden 128 --bins 8 --epochs 200 --seed 1 -o model.h5", "a neural spline flow on the rows of /points");
    app.add_example("orbit-train-flow data.h5 --model ot-cfm --hidden 256 --epochs 200 -o cfm.h5", "flow matching with exact minibatch optimal-transport pairs");
    app.add_example("orbit-train-flow digits.h5 --model nsf --context digits.h5:/labels -o cond.h5", "a class-conditional flow (integer labels, one-hot encoded)");
    app.add_example("orbit-train-flow normals.h5 --manifold sphere -o sphere.h5", "Riemannian flow matching on unit vectors");
    app.add_example("orbit-train-flow rotations.h5 --manifold so3 -o so3.h5", "and on rotations [N,3,3]");
    app.add_example("orbit-train-flow hyps.h5:/rotations --manifold so3 --weights hyps.h5:/scores --resample 4000 -o pose.h5",
                    "a pose distribution from scored registration hypotheses");
    app.add_example("orbit-train-flow data.h5 --epochs 400 --resume model.h5 -o model2.h5", "continue an earlier run up to 400 epochs");
    app.add_example("orbit-train-flow --model interpolant --source pairs.h5:/src --target pairs.h5:/ref -o interp.h5",
                    "a map from degraded rows to clean ones (stochastic interpolant, data-dependent coupling)");
}

}  // namespace

int main(int argc, char** argv) {
    distributed::Session mpi(argc, argv);  // mpirun -n P: data-parallel steps, the same model bits; rank 0 writes
    cli::App app("train-flow", "fit a normalizing flow (NSF, Real NVP) or a flow-matching model (CFM, OT-CFM, Riemannian)", R"(
Learns a density from the rows of a table: a coupling flow trained by maximum likelihood (nsf, realnvp) or a velocity field trained by
flow matching (cfm; ot-cfm re-pairs each minibatch by optimal transport; rfm on the sphere or SO(3) with --manifold). --context
conditions on a label or vector per row. Columns are standardized first; a validation split is held out; the model file keeps the
history and the optimizer state, so --resume continues a run.)");
    Args g;
    declare(app, g);
    app.add_references(cli::references({"nsf", "realnvp", "flow-matching", "ot-cfm", "riemannian-fm"}));
    return app.run(argc, argv, [&] {
        g.s.model_given = g.model->count() > 0;
        for (auto& [o, kinds] : g.only)
            if (o->count()) g.s.only_given.push_back({o->get_name(), kinds});
        g.s.seed = app.common().seed;
        g.s.output = app.common().output;
        app.summary() = flows::run_training(g.s);
    });
}
