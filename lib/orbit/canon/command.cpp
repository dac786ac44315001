#include "orbit/canon/command.hpp"

#include <algorithm>
#include <cstdio>
#include <type_traits>
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

// With --resume: the augmentation, weight decay and validation the model was trained with, where the
// options did not give them; an option that was given must agree (a resumed run continues the same one).
void restore_training_options(PriorTrainSettings& s, const nlohmann::json& tr) {
    auto& t = s.train;
    auto given = [&](const char* name) {
        return std::find(s.training_given.begin(), s.training_given.end(), name) != s.training_given.end();
    };
    auto take = [&](const char* option, const char* key, auto& value) {
        using V = std::decay_t<decltype(value)>;
        if (!tr.contains(key)) return;
        const V stored = tr.at(key).get<V>();
        if (!given(option)) value = stored;
        else if (value != stored)
            throw UsageError(std::string(option) + " " + nlohmann::json(value).dump() + " differs from the value " + s.resume +
                             " was trained with (" + nlohmann::json(stored).dump() + ")");
    };
    take("--resample", "resample", t.resample);
    take("--jitter", "jitter", t.jitter);
    take("--weight-decay", "weight_decay", t.weight_decay);
    take("--val", "val", t.val);
    take("--patience", "patience", t.patience);
}

// The group and seed of the run: from the --resume model (which fixes the
// architecture), else from the options.
std::optional<LearnedCanonicalizer> start_model(PriorTrainSettings& s) {
    if (s.resume.empty()) {
        s.train.group = parse_learned_group(s.group);
        s.train.seed = s.seed;
        s.train.prior = parse_prior_form(s.prior);
        if ((s.train.method == "weighted-frames" || s.train.method == "pca-correction") && has_reflections(s.train.group))
            throw UsageError("--method " + s.train.method + " is for rotations (SO2, SO3, SE3), not " + s.group);
        if (s.train.correction.angle_bins > 0 && (s.train.method != "pca-correction" || s.train.group != Group::SO2 ||
                                                  s.train.correction.members != 1))
            throw UsageError("--head " + s.head + " is for --method pca-correction, --group SO2 and one member");
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
    restore_training_options(s, model->training());
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
    t.correction.angle_bins = parse_correction_head(s.head);
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
        char note[160];
        if (t.val > 0)
            std::snprintf(note, sizeof note, "prior loss %.4f mean angle %.2f deg, validation %.4f %.2f deg (best epoch %d)", e.loss,
                          e.angle_deg, e.val_loss, e.val_angle_deg, e.best_epoch);
        else std::snprintf(note, sizeof note, "prior loss %.4f mean angle %.2f deg", e.loss, e.angle_deg);
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
    for (const char* key : {"best_epoch", "best_val_loss", "val_clouds"})
        if (model->training().contains(key)) summary[key] = model->training()[key];
    return summary;
}

}  // namespace orbit::canon
