// orbit-train-canonicalizer: train an equivariant network that predicts each
// cloud's canonical rotation (a learned canonicalizer for orbit-canonicalize --model).
#include <cstdio>
#include <optional>

#include "orbit/canon/learned.hpp"
#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/progress.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"

using namespace orbit;

int main(int argc, char** argv) {
    cli::App app("train-canonicalizer", "train a learned canonicalizer (vector neurons) by the canonicalization prior", R"(
Trains a vector-neuron network (Deng et al. 2021) that maps a point cloud to a rotation R(x) with R(g x) = g R(x) by construction, so
the canonical copy R(x)^T x is exactly invariant (Kaba et al. 2023). The clouds are taken as seen in their usual, upright pose, and the
canonicalization prior (Mondal et al. 2023) beta |R(x) - I|^2 pulls the predicted element toward the identity, so canonical poses are
the poses a downstream model was trained on. Each cloud is centred and scaled to unit RMS radius before the network, so R does not
depend on position or size. The model file is read by orbit-canonicalize --model.)");
    std::string input, group = "SO3", resume;
    canon::PriorTrainOptions t;
    int checkpoint_every = 0;
    auto& c = app.cli();
    c.add_option("input", input, "upright training clouds [B,N,3] ([B,N,2] for SO2): FILE, FILE:/dataset or '-'")
        ->required()->check(cli::ExistingFileOrStream);
    auto* o_group = c.add_option("--group", group, "SO3 or O3 (rotations, with reflections), SE3 or E3 (also translations), SO2 (2-D clouds [B,N,2])")
        ->capture_default_str();
    c.add_option("--epochs", t.epochs, "training epochs")->check(CLI::Range(0, 1000000))->capture_default_str();
    c.add_option("--batch", t.batch, "clouds per minibatch")->check(CLI::Range(1, 1000000))->capture_default_str();
    c.add_option("--lr", t.lr, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--beta", t.beta, "weight of the prior |R(x) - I|^2")->check(CLI::PositiveNumber)->capture_default_str();
    auto* o_hidden = c.add_option("--hidden", t.net.hidden, "vector channels per layer")->check(CLI::Range(1, 1024))->capture_default_str();
    auto* o_layers = c.add_option("--layers", t.net.layers, "point layers after the edge layer")->check(CLI::Range(0, 32))->capture_default_str();
    auto* o_neighbors = c.add_option("--neighbors", t.net.neighbors, "k of the k-nearest-neighbour graph")
        ->check(CLI::Range(1, 256))->capture_default_str();
    bool achiral = false;
    auto* o_achiral = c.add_flag("--achiral", achiral,
                                 "no chiral features (J v in 2-D, cross products in 3-D) before the output layer; "
                                 "they let the frame of a mirror-symmetric upright cloud be the identity (O3, E3: always achiral)");
    bool ungated = false;
    auto* o_ungated = c.add_flag("--ungated", ungated, "no invariant gates after the point layers (VN layers alone)");
    c.add_option("--checkpoint-every", checkpoint_every, "Write the output model every N epochs while training (0: at the end only)")
        ->check(CLI::NonNegativeNumber);
    c.add_option("--stop-after", t.stop_after, "Stop after this many epochs of this run; the output can be resumed (0: off)")
        ->check(CLI::NonNegativeNumber);
    c.add_option("--resume", resume, "Continue training this model file (group, architecture, seed and optimizer state come from it)")
        ->check(CLI::ExistingFile);
    app.require_output();
    app.add_example("orbit-train-canonicalizer train.h5 --group SO3 --seed 1 -o canon.h5",
                    "learn canonical rotations from upright clouds [B,N,3]");
    app.add_example("orbit-train-canonicalizer train.h5 --group O3 --epochs 60 --hidden 32 --json -o canon.h5",
                    "rotations and reflections, a wider network, the loss history as JSON");
    app.add_example("orbit-train-canonicalizer train.h5 --epochs 60 --resume canon.h5 -o canon2.h5",
                    "continue an earlier run up to 60 epochs (the same bits as one run of 60)");

    app.add_references(cli::references({"canonicalization", "canonicalization-prior", "vector-neurons"}));
    return app.run(argc, argv, [&] {
        t.net.chiral = !achiral;
        t.net.gated = !ungated;
        std::optional<canon::LearnedCanonicalizer> model;
        if (!resume.empty()) {
            for (auto* o : {o_hidden, o_layers, o_neighbors, o_achiral, o_ungated})
                if (o->count()) throw UsageError(o->get_name() + " cannot change when resuming (the architecture comes from " + resume + ")");
            model.emplace(canon::LearnedCanonicalizer::load(resume));
            if (o_group->count() && canon::parse_learned_group(group) != model->group())
                throw UsageError("--group " + group + " differs from the group of " + resume + " (" + canon::group_name(model->group()) + ")");
            t.group = model->group();
            t.seed = model->training().value("seed", app.common().seed);
        } else {
            t.group = canon::parse_learned_group(group);
            t.seed = app.common().seed;
        }
        const std::string src = input == "-" ? "<stdin>" : input;
        io::PointSets sets = io::read_point_sets(input);
        std::vector<const Points*> clouds;
        for (auto& p : sets.items) clouds.push_back(&p.points);
        auto write_model = [&] {
            io::Output out(app.common().output, "model");
            out.add_history_lines(sets.history);
            model->save(out.file());
            out.commit();
        };
        Timer timer;
        Progress progress("epoch", t.epochs);
        auto on_epoch = [&](const canon::PriorEpoch& e) {
            char note[120];
            std::snprintf(note, sizeof note, "prior loss %.4f mean angle %.2f deg", e.loss, e.angle_deg);
            progress.update(e.epoch, note);
            if (checkpoint_every > 0 && e.epoch % checkpoint_every == 0 && e.epoch < e.epochs) write_model();
        };
        with_context(src, [&] {
            if (!model) {
                // A fresh model with no epochs, so checkpoints can be written from the first epoch on.
                canon::PriorTrainOptions none = t;
                none.epochs = 0;
                model.emplace(canon::train_canonicalization_prior(clouds, none));
            }
            canon::continue_canonicalization_prior(*model, clouds, t, on_epoch);
        });
        progress.finish();
        const double train_s = timer.seconds();
        write_model();
        const auto& hist = model->training()["history"];
        auto& summary = app.summary();
        summary = {{"group", canon::group_name(t.group)}, {"clouds", clouds.size()}, {"points", model->training()["points"]},
                   {"epochs", t.epochs}, {"epoch", model->training()["epoch"]}, {"train_s", train_s}, {"history", hist}};
        if (!hist["loss"].empty()) {
            summary["final_loss"] = hist["loss"].back();
            summary["final_angle_deg"] = hist["angle_deg"].back();
        }
    });
}
