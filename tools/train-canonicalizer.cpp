// orbit-train-canonicalizer: train an equivariant network that predicts each
// cloud's canonical rotation (a learned canonicalizer for orbit-canonicalize --model).
#include <cstdio>

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
    std::string input, group = "SO3";
    canon::PriorTrainOptions t;
    auto& c = app.cli();
    c.add_option("input", input, "upright training clouds [B,N,3] ([B,N,2] for SO2): FILE, FILE:/dataset or '-'")
        ->required()->check(cli::ExistingFileOrStream);
    c.add_option("--group", group, "SO3 or O3 (rotations, with reflections), SE3 or E3 (also translations), SO2 (2-D clouds [B,N,2])")
        ->capture_default_str();
    c.add_option("--epochs", t.epochs, "training epochs")->check(CLI::Range(0, 1000000))->capture_default_str();
    c.add_option("--batch", t.batch, "clouds per minibatch")->check(CLI::Range(1, 1000000))->capture_default_str();
    c.add_option("--lr", t.lr, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--beta", t.beta, "weight of the prior |R(x) - I|^2")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--hidden", t.net.hidden, "vector channels per layer")->check(CLI::Range(1, 1024))->capture_default_str();
    c.add_option("--layers", t.net.layers, "point layers after the edge layer")->check(CLI::Range(0, 32))->capture_default_str();
    c.add_option("--neighbors", t.net.neighbors, "k of the k-nearest-neighbour graph")
        ->check(CLI::Range(1, 256))->capture_default_str();
    app.require_output();
    app.add_example("orbit-train-canonicalizer train.h5 --group SO3 --seed 1 -o canon.h5",
                    "learn canonical rotations from upright clouds [B,N,3]");
    app.add_example("orbit-train-canonicalizer train.h5 --group O3 --epochs 60 --hidden 32 --json -o canon.h5",
                    "rotations and reflections, a wider network, the loss history as JSON");

    app.add_references(cli::references({"canonicalization", "canonicalization-prior", "vector-neurons"}));
    return app.run(argc, argv, [&] {
        t.group = canon::parse_learned_group(group);
        t.seed = app.common().seed;
        const std::string src = input == "-" ? "<stdin>" : input;
        io::PointSets sets = io::read_point_sets(input);
        std::vector<const Points*> clouds;
        for (auto& p : sets.items) clouds.push_back(&p.points);
        Timer timer;
        Progress progress("epoch", t.epochs);
        canon::LearnedCanonicalizer model = with_context(src, [&] {
            return canon::train_canonicalization_prior(clouds, t, [&](const canon::PriorEpoch& e) {
                char note[120];
                std::snprintf(note, sizeof note, "prior loss %.4f mean angle %.2f deg", e.loss, e.angle_deg);
                progress.update(e.epoch, note);
            });
        });
        progress.finish();
        const double train_s = timer.seconds();
        io::Output out(app.common().output, "model");
        out.add_history_lines(sets.history);
        model.save(out.file());
        out.commit();
        const auto& hist = model.training()["history"];
        auto& summary = app.summary();
        summary = {{"group", canon::group_name(t.group)}, {"clouds", clouds.size()}, {"points", model.training()["points"]},
                   {"epochs", t.epochs}, {"train_s", train_s}, {"history", hist}};
        if (t.epochs > 0) {
            summary["final_loss"] = hist["loss"].back();
            summary["final_angle_deg"] = hist["angle_deg"].back();
        }
    });
}
