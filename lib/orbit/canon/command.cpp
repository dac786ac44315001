#include "orbit/canon/command.hpp"

#include <cstdio>
#include <optional>

#include "orbit/core/error.hpp"
#include "orbit/core/progress.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/distributed/communicator.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"
#include "orbit/nn/store.hpp"

namespace orbit::canon {
namespace {

// The group and seed of the run: from the --resume model (which fixes the
// architecture), else from the options.
std::optional<LearnedCanonicalizer> start_model(PriorTrainSettings& s) {
    if (s.resume.empty()) {
        s.train.group = parse_learned_group(s.group);
        s.train.seed = s.seed;
        s.train.prior = parse_prior_form(s.prior);
        if ((s.train.method == "weighted-frames" || s.train.method == "pca-correction") && has_reflections(s.train.group))
            throw UsageError("--method " + s.train.method + " is for rotations (SO2, SO3, SE3), not " + s.group);
        return std::nullopt;
    }
    nn::refuse_architecture_options(s.architecture_given, s.resume);
    std::optional<LearnedCanonicalizer> model(LearnedCanonicalizer::load(s.resume));
    if (s.group_given && parse_learned_group(s.group) != model->group())
        throw UsageError("--group " + s.group + " differs from the group of " + s.resume + " (" + group_name(model->group()) + ")");
    s.train.group = model->group();
    s.train.seed = model->training().value("seed", s.seed);
    // Models trained before the prior had a form were trained with the frame form.
    s.train.prior = parse_prior_form(model->training().value("prior", std::string("frame")));
    if (s.prior_given && parse_prior_form(s.prior) != s.train.prior)
        throw UsageError("--prior " + s.prior + " differs from the prior " + s.resume + " was trained with (" +
                         prior_form_name(s.train.prior) + ")");
    return model;
}

}  // namespace

nlohmann::json run_prior_training(PriorTrainSettings s) {
    auto& t = s.train;
    t.net.chiral = !s.achiral;
    t.net.gated = !s.ungated;
    t.frames.neighbors = t.net.neighbors;
    // pca-correction shares the grid and MLP options of weighted frames
    t.correction.grid = t.frames.grid;
    t.correction.hidden = t.frames.hidden;
    t.correction.blocks = t.frames.blocks;
    t.correction.average_signs = !s.third_moment_signs;
    std::optional<LearnedCanonicalizer> model = start_model(s);
    const std::string src = s.input == "-" ? "<stdin>" : s.input;
    io::PointSets sets = io::read_point_sets(s.input);
    std::vector<const Points*> clouds;
    for (auto& p : sets.items) clouds.push_back(&p.points);
    auto write_model = [&] {
        if (distributed::rank() != 0) return;  // mpirun: every rank holds the same model
        io::Output out(s.output, "model");
        out.add_history_lines(sets.history);
        model->save(out.file());
        out.commit();
    };
    Timer timer;
    Progress progress("epoch", t.epochs);
    auto on_epoch = [&](const PriorEpoch& e) {
        char note[120];
        std::snprintf(note, sizeof note, "prior loss %.4f mean angle %.2f deg", e.loss, e.angle_deg);
        progress.update(e.epoch, note);
        if (s.checkpoint_every > 0 && e.epoch % s.checkpoint_every == 0 && e.epoch < e.epochs) write_model();
    };
    with_context(src, [&] {
        if (!model) {
            // A fresh model with no epochs, so checkpoints can be written from the first epoch on.
            PriorTrainOptions none = t;
            none.epochs = 0;
            model.emplace(train_canonicalization_prior(clouds, none));
        }
        continue_canonicalization_prior(*model, clouds, t, on_epoch);
    });
    progress.finish();
    const double train_s = timer.seconds();
    write_model();
    const auto& hist = model->training()["history"];
    nlohmann::json summary = {{"group", group_name(t.group)}, {"clouds", clouds.size()}, {"points", model->training()["points"]},
                              {"epochs", t.epochs}, {"epoch", model->training()["epoch"]}, {"train_s", train_s}, {"history", hist}};
    if (!hist["loss"].empty()) {
        summary["final_loss"] = hist["loss"].back();
        summary["final_angle_deg"] = hist["angle_deg"].back();
    }
    return summary;
}

}  // namespace orbit::canon
