// orbit-train-register: train a UDPReg registration model without poses or labels.
#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/distributed/communicator.hpp"
#include "orbit/udpreg/command.hpp"

using namespace orbit;

int main(int argc, char** argv) {
    distributed::Session mpi(argc, argv);  // mpirun -n P: data-parallel steps, the same model bits; rank 0 writes
    cli::App app("train-register", "train a UDPReg registration model (unsupervised, from any point sets)", R"(
Learns per-point posteriors over shared mixture components and point features (UDPReg, Mei et al. 2023) from point sets alone: training
pairs are drawn on the fly by the RPM-Net protocol (the perturbations of orbit-transform: crop, rotation, translation, resampling,
noise) and the network is trained by the paper's three unsupervised losses (self-consistency, cross-consistency, local contrastive)
under the alignment the model itself estimates; the pose a pair was made with is only used for the validation recall. A share of the
point sets is held out for validation. The model file keeps the history and the optimizer state, so --resume continues where a run
stopped. Use the model with orbit-register --method udpreg --model FILE, or --method auto --model FILE.)");
    udpreg::TrainSettings s;
    auto& t = s.t;
    auto& mc = s.mc;
    app.add_references(cli::references({"udpreg", "rpm-net", "fpfh", "infonce"}));
    auto& c = app.cli();
    c.add_option("inputs", s.inputs, "Point sets: FILE (/points), FILE:/dataset ([N,3] or a batch [B,N,3], e.g. a ModelNet file's /data) or other point files; several allowed")
        ->required()
        ->check(cli::ExistingFileOrStream);
    c.add_option("--epochs", t.epochs, "Training epochs")->check(CLI::Range(0, 100000))->capture_default_str();
    c.add_option("--pairs", t.pairs, "Training pairs drawn per epoch")->check(CLI::Range(1, 10000000))->capture_default_str();
    c.add_option("--passes", t.passes, "Optimisation passes over each epoch's pairs")->check(CLI::Range(1, 1000))->capture_default_str();
    c.add_option("--batch", t.batch, "Pairs per optimisation step")->check(CLI::Range(1, 4096))->capture_default_str();
    c.add_option("--lr", t.lr, "Learning rate (Adam)")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--lr-min", t.lr_min, "Final learning rate of the cosine schedule")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--clip", t.clip, "Clip the global gradient norm (0: off)")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--val", s.val, "Fraction of the point sets held out for validation")->check(CLI::Range(0.0, 0.9))->capture_default_str();
    c.add_option("--val-pairs", t.val_pairs, "Validation pairs (fixed; drawn from the held-out sets)")->check(CLI::Range(0, 100000))->capture_default_str();
    c.add_option("--overlap", t.protocol.overlap, "Fraction of the points each side of a pair keeps (crop by a random plane)")->check(CLI::Range(0.05, 1.0))->capture_default_str();
    c.add_option("--rotation", s.rotation, "Source rotation: Euler angles each uniform in [0, DEG] degrees, or 'uniform' (Haar on SO(3))")->capture_default_str();
    c.add_option("--translation", t.protocol.translation, "Source translation uniform in [-T, T]^3")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--points", t.protocol.points, "Points per side after resampling")->check(CLI::Range(16, 1000000))->capture_default_str();
    c.add_option("--noise", t.protocol.noise, "Gaussian noise sigma on both sides")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--noise-clip", t.protocol.noise_clip, "Clip each noise component to +-this")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--w-self", t.weights.self, "Weight of the self-consistency loss")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--w-cross", t.weights.cross, "Weight of the cross-consistency loss")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--w-contrastive", t.weights.contrastive, "Weight of the local contrastive loss")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--balance", t.weights.balance, "Weight of KL(mixing weights || uniform) inside self-consistency")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--spread", t.weights.spread, "Weight of the component spread (mean component variance over the cloud's) inside self-consistency")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--sharpen", t.weights.sharpen, "Weight of the points' own posterior entropy inside self-consistency (with --balance: IIC's mutual information)")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--temperature", t.weights.temperature, "Temperature of the local contrastive loss")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--warmup", t.weights.warmup, "Epochs over which the cross and contrastive losses ramp up")->check(CLI::Range(1, 100000))->capture_default_str();
    auto* o_hidden = c.add_option("--hidden", mc.hidden, "Width of the shared point-wise layers")->check(CLI::Range(1, 4096))->capture_default_str();
    auto* o_layers = c.add_option("--layers", mc.layers, "Shared point-wise layers")->check(CLI::Range(1, 32))->capture_default_str();
    auto* o_features = c.add_option("--features", mc.features, "Point feature width C")->check(CLI::Range(1, 1024))->capture_default_str();
    auto* o_components = c.add_option("--components", mc.components, "Mixture components K")->check(CLI::Range(2, 1024))->capture_default_str();
    auto* o_context = c.add_option("--context", mc.context, "Neighbours of the learned neighbourhood pool and of the posterior smoothing (0: point-wise only)")->check(CLI::Range(0, 256))->capture_default_str();
    auto* o_smooth = c.add_option("--smooth", mc.smooth, "Rounds of posterior averaging over those neighbourhoods")->check(CLI::Range(0, 64))->capture_default_str();
    c.add_option("--checkpoint-every", s.checkpoint_every, "Write the output model every N epochs while training (0: at the end only)")->check(CLI::NonNegativeNumber);
    c.add_option("--stop-after", t.stop_after, "Stop after this many epochs of this run; the output can be resumed (0: off)")->check(CLI::NonNegativeNumber);
    c.add_option("--resume", s.resume, "Continue training this model file (architecture, seed and optimizer state come from it)")->check(CLI::ExistingFile);
    app.require_output();
    app.add_examples(R"(
orbit-train-register train.h5 --seed 1 -o model.h5
    train on the clouds of train.h5:/points with the default recipe
orbit-train-register ply_data_train0.h5:/data --rotation uniform --epochs 40 -o model.h5
    ModelNet clouds as they are, rotations uniform on SO(3)
orbit-train-register shapes/*.h5 --epochs 60 --resume model.h5 -o model2.h5
    continue an earlier run up to 60 epochs
orbit-register src.h5 ref.h5 --method udpreg --model model.h5 -o T.h5
    register a pair with the model
)");
    return app.run(argc, argv, [&] {
        for (auto* o : {o_hidden, o_layers, o_features, o_components, o_context, o_smooth})
            if (o->count()) s.architecture_given.push_back(o->get_name());
        s.seed = app.common().seed;
        s.output = app.common().output;
        app.summary() = udpreg::run_training(s);
    });
}
