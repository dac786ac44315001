// orbit-train-canonicalizer: train an equivariant network that predicts each
// cloud's canonical rotation (a learned canonicalizer for orbit-canonicalize --model).
#include "orbit/canon/command.hpp"
#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/distributed/communicator.hpp"

using namespace orbit;

namespace {
const char* const kAbout = R"(
Trains a network that maps a point cloud to a rotation R(x) with R(g x) = g R(x) by construction, so the canonical copy R(x)^T x is
exactly invariant (Kaba et al. 2023): vector neurons (Deng et al. 2021) or weighted frames (frame averaging, Puny et al. 2022, with
learned weights over the frames the points induce) or pca-correction (the PCA frame turned by a correction that an MLP predicts
from the cloud in its PCA pose). The clouds are taken as seen in their usual, upright pose, and the
canonicalization prior (Mondal et al. 2023) pulls the predicted element toward the identity, so canonical poses are
the poses a downstream model was trained on. Each cloud is centred and scaled to unit RMS radius before the network, so R does not
depend on position or size. The model file is read by orbit-canonicalize --model.)";

// Pose-preserving augmentation, regularization and validation of the prior's training; returns the options,
// whose values a --resume run takes from the model file where they are not given.
std::vector<CLI::Option*> add_training_options(CLI::App& c, canon::PriorTrainOptions& t) {
    return {
        c.add_flag("--resample", t.resample, "augment: each epoch, draw every training cloud's points with replacement from it (keeps the pose)"),
        c.add_option("--jitter", t.jitter, "augment: Gaussian noise of this standard deviation, in units of the RMS radius, added to the "
                     "points each epoch (keeps the pose)")->check(CLI::NonNegativeNumber)->capture_default_str(),
        c.add_option("--weight-decay", t.weight_decay, "decoupled weight decay (AdamW)")->check(CLI::NonNegativeNumber)->capture_default_str(),
        c.add_option("--val", t.val, "hold out this fraction of the clouds (a seeded choice), measure the prior on them after each epoch "
                     "and keep the weights of the epoch where it was lowest (0: off)")->check(CLI::Range(0.0, 0.99))->capture_default_str(),
        c.add_option("--patience", t.patience, "with --val: stop once this many epochs have passed without a new lowest validation prior "
                     "(0: run all epochs)")->check(CLI::NonNegativeNumber)->capture_default_str(),
    };
}

void add_examples(cli::App& app) {
    app.add_example("orbit-train-canonicalizer train.h5 --group SO3 --seed 1 -o canon.h5",
                    "learn canonical rotations from upright clouds [B,N,3]");
    app.add_example("orbit-train-canonicalizer train.h5 --group O3 --epochs 60 --hidden 32 --json -o canon.h5",
                    "rotations and reflections, a wider network, the loss history as JSON");
    app.add_example("orbit-train-canonicalizer digits.h5 --group SO2 --method pca-correction --head angle-bins:36 -o canon.h5",
                    "2-D clouds [B,N,2]: the PCA frame turned by a correction angle chosen among 36 bins");
    app.add_example("orbit-train-canonicalizer train.h5 --epochs 60 --resume canon.h5 -o canon2.h5",
                    "continue an earlier run up to 60 epochs (the same bits as one run of 60)");
}
}  // namespace

// The network's options (its architecture; a --resume run takes it from the model file).
std::vector<CLI::Option*> add_network_options(CLI::App& c, canon::PriorTrainSettings& s) {
    auto* o_method = c.add_option("--method", s.train.method, "network: vector-neurons, or weighted-frames (a learned weighting of the frames "
                                  "that the points induce, over an MLP that sees the whole cloud in each; SO2, SO3, SE3), or pca-correction (the "
                                  "PCA frame with third-moment signs, turned by a correction an MLP predicts from the cloud in its PCA pose; "
                                  "SO2, SO3, SE3)")
        ->check(CLI::IsMember({"vector-neurons", "weighted-frames", "pca-correction"}))->capture_default_str();
    auto* o_grid = c.add_option("--grid", s.train.frames.grid, "weighted frames, pca-correction: cells per axis of the grid the MLP sees")
        ->check(CLI::Range(2, 64))->capture_default_str();
    auto* o_width = c.add_option("--mlp-hidden", s.train.frames.hidden, "weighted frames, pca-correction: width of the MLP")->check(CLI::Range(1, 4096))->capture_default_str();
    auto* o_blocks = c.add_option("--mlp-blocks", s.train.frames.blocks, "weighted frames, pca-correction: residual blocks of the MLP")->check(CLI::Range(0, 32))->capture_default_str();
    auto* o_members = c.add_option("--members", s.train.correction.members, "pca-correction: an ensemble of this many MLPs, their correction "
                                   "vectors averaged (each trained by its own prior)")->check(CLI::Range(1, 64))->capture_default_str();
    auto* o_head = c.add_option("--head", s.head, "pca-correction, SO2: vectors (regress the correction vector) or angle-bins[:K] "
                                "(logits over K bins of the correction angle, default K 36, with a residual within the bin; the "
                                "highest bin is the correction, so two likely poses are not averaged; trained by the bin's cross-entropy)")
        ->capture_default_str();
    auto* o_hidden = c.add_option("--hidden", s.train.net.hidden, "vector neurons: vector channels per layer")->check(CLI::Range(1, 1024))->capture_default_str();
    auto* o_layers = c.add_option("--layers", s.train.net.layers, "vector neurons: point layers after the edge layer")->check(CLI::Range(0, 32))->capture_default_str();
    auto* o_neighbors = c.add_option("--neighbors", s.train.net.neighbors, "k of the k-nearest-neighbour graph (weighted frames, 3-D: of the neighbourhood mean)")
        ->check(CLI::Range(1, 256))->capture_default_str();
    auto* o_achiral = c.add_flag("--achiral", s.achiral,
                                 "no chiral features (J v in 2-D, cross products in 3-D) before the output layer; "
                                 "they let the frame of a mirror-symmetric upright cloud be the identity (O3, E3: always achiral)");
    auto* o_signs = c.add_flag("--third-moment-signs", s.third_moment_signs,
                               "pca-correction: take the axes' signs from the third moments alone, without averaging the correction "
                               "over the sign choices");
    auto* o_ungated = c.add_flag("--ungated", s.ungated, "no invariant gates after the point layers (VN layers alone)");
    return {o_method, o_grid, o_width, o_blocks, o_members, o_head, o_hidden, o_layers, o_neighbors, o_achiral, o_signs, o_ungated};
}

int main(int argc, char** argv) {
    distributed::Session mpi(argc, argv);  // mpirun -n P: data-parallel steps, the same model bits; rank 0 writes
    cli::App app("train-canonicalizer", "train a learned canonicalizer (vector neurons, weighted frames or PCA with a learned correction) by the canonicalization prior", kAbout);
    canon::PriorTrainSettings s;
    auto& t = s.train;
    auto& c = app.cli();
    c.add_option("input", s.input, "upright training clouds [B,N,3] ([B,N,2] for SO2): FILE, FILE:/dataset or '-'")
        ->required()->check(cli::ExistingFileOrStream);
    auto* o_group = c.add_option("--group", s.group, "SO3 or O3 (rotations, with reflections), SE3 or E3 (also translations), SO2 (2-D clouds [B,N,2])")
        ->capture_default_str();
    c.add_option("--epochs", t.epochs, "training epochs")->check(CLI::Range(0, 1000000))->capture_default_str();
    c.add_option("--batch", t.batch, "clouds per minibatch")->check(CLI::Range(1, 1000000))->capture_default_str();
    c.add_option("--lr", t.lr, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
    auto* o_prior = c.add_option("--prior", s.prior, "form of the prior: vectors (beta sum_j |v_j(x) - e_j|^2 on the output vectors "
                                 "before Gram-Schmidt) or frame (beta |R(x) - I|^2, no gradient at a half turn)")
        ->check(CLI::IsMember({"vectors", "frame"}))->capture_default_str();
    const std::vector<CLI::Option*> o_training = add_training_options(c, t);
    c.add_option("--beta", t.beta, "weight of the prior")->check(CLI::PositiveNumber)->capture_default_str();
    const std::vector<CLI::Option*> o_network = add_network_options(c, s);
    c.add_option("--checkpoint-every", s.checkpoint_every, "Write the output model every N epochs while training (0: at the end only)")
        ->check(CLI::NonNegativeNumber);
    c.add_option("--stop-after", t.stop_after, "Stop after this many epochs of this run; the output can be resumed (0: off)")
        ->check(CLI::NonNegativeNumber);
    c.add_option("--resume", s.resume, "Continue training this model file (group, architecture, seed and optimizer state come from it)")
        ->check(CLI::ExistingFile);
    app.require_output();
    add_examples(app);
    app.add_references(cli::references({"canonicalization", "canonicalization-prior", "vector-neurons"}));
    return app.run(argc, argv, [&] {
        for (auto* o : o_network)
            if (o->count()) s.architecture_given.push_back(o->get_name());
        for (auto* o : o_training)
            if (o->count()) s.training_given.push_back(o->get_name());
        s.group_given = o_group->count() > 0;
        s.prior_given = o_prior->count() > 0;
        s.seed = app.common().seed;
        s.output = app.common().output;
        app.summary() = canon::run_prior_training(s);
    });
}
