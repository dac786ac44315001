#include "orbit/udpreg/command.hpp"

#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/progress.hpp"
#include "orbit/distributed/communicator.hpp"
#include "orbit/io/output.hpp"
#include "orbit/nn/store.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::udpreg {
namespace {

// --rotation: degrees in [0, 180], or 'uniform' (Haar on SO(3)).
void parse_rotation(const std::string& rotation, PairProtocol& protocol) {
    if (rotation == "uniform") {
        protocol.uniform_rotation = true;
        return;
    }
    try {
        std::size_t used = 0;
        protocol.rotation_deg = std::stod(rotation, &used);
        if (used != rotation.size() || !(protocol.rotation_deg >= 0 && protocol.rotation_deg <= 180)) throw std::invalid_argument("");
    } catch (const std::exception&) {
        throw UsageError("--rotation: expected degrees in [0, 180] or 'uniform', found '" + rotation + "'");
    }
}

// Every point set of every input, in order, with the input and index of
// each set (to say which ones validate).
void read_training_sets(const std::vector<std::string>& inputs, std::vector<Points>& sets, std::vector<std::string>& names) {
    for (const auto& in : inputs) {
        io::PointSets ps = io::read_point_sets(in);
        for (std::size_t i = 0; i < ps.size(); ++i) {
            if (ps[i].points.cols() != 3)
                throw Error(in + ": expected 3-d points, found " + std::to_string(ps[i].points.cols()) + " columns");
            if (ps[i].points.rows() < 16)
                throw Error(in + ": point set " + std::to_string(i) + " has " + std::to_string(ps[i].points.rows()) +
                            " points; training needs at least 16");
            sets.push_back(ps[i].points);
            names.push_back(ps.size() > 1 ? in + "[" + std::to_string(i) + "]" : in);
        }
    }
}

// The progress note of an epoch.
void epoch_note(const EpochInfo& e, char* note, std::size_t size) {
    if (std::isnan(e.val_recall))
        std::snprintf(note, size, "loss %.4f (self %.4f cross %.4f contrastive %.4f) lr %.2e %.1fs", e.train.total, e.train.self,
                      e.train.cross, e.train.contrastive, e.lr, e.seconds);
    else
        std::snprintf(note, size,
                      "loss %.4f (self %.4f cross %.4f contrastive %.4f) val %.4f recall %.3f entropy %.3f agree %.3f/%.3f lr %.2e %.1fs",
                      e.train.total, e.train.self, e.train.cross, e.train.contrastive, e.val.total, e.val_recall,
                      e.val_posteriors.entropy, e.val_posteriors.agreement, e.val_posteriors.chance, e.lr, e.seconds);
}

}  // namespace

nlohmann::json run_training(TrainSettings s) {
    auto& t = s.t;
    parse_rotation(s.rotation, t.protocol);
    std::shared_ptr<Model> model;
    std::uint64_t seed = s.seed;
    if (!s.resume.empty()) {
        nn::refuse_architecture_options(s.architecture_given, s.resume);
        model = Model::load(s.resume);
        seed = model->training.value("seed", seed);
    }
    t.seed = seed;
    std::vector<Points> sets;
    std::vector<std::string> names;
    read_training_sets(s.inputs, sets, names);
    const auto [train_sets, valid] = split_validation(sets, s.val, seed);
    nlohmann::json val_names = nlohmann::json::array();
    for (std::int64_t i : validation_indices(static_cast<std::int64_t>(sets.size()), s.val, seed))
        val_names.push_back(names[static_cast<std::size_t>(i)]);
    if (!model) model = Model::create(s.mc, seed);
    log::info("udpreg: " + std::to_string(model->parameter_count()) + " parameters, " + std::to_string(train_sets.size()) +
              " training and " + std::to_string(valid.size()) + " validation point sets, " + std::to_string(t.pairs) +
              " pairs per epoch; validation: " + (val_names.empty() ? std::string("none") : val_names.dump()));
    auto write_model = [&] {
        if (distributed::rank() != 0) return;  // mpirun: every rank holds the same model
        io::Output out(s.output, "model");
        model->save(out.file());
        out.commit();
    };
    Progress progress("epoch", t.epochs);
    auto report = train(model, train_sets, valid, t, [&](const EpochInfo& e) {
        char note[384];
        epoch_note(e, note, sizeof note);
        progress.update(e.epoch, note);
        if (s.checkpoint_every > 0 && e.epoch % s.checkpoint_every == 0 && e.epoch < e.epochs) write_model();
    });
    progress.finish();
    write_model();
    nlohmann::json js;
    js["model"] = model->config_json();
    js["parameters"] = model->parameter_count();
    js["train_sets"] = train_sets.size();
    js["val_sets"] = valid.size();
    js["val_inputs"] = val_names;
    js["recipe"] = recipe_json(t);
    js["report"] = report;
    js["history"] = model->training["history"];
    return js;
}

}  // namespace orbit::udpreg
