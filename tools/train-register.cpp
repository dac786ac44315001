// orbit-train-register: train a UDPReg registration model without poses or labels.
#include <cmath>
#include <cstdio>

#include "orbit/cli/app.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/progress.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"
#include "orbit/udpreg/train.hpp"

using namespace orbit;

int main(int argc, char** argv) {
    cli::App app("train-register", "train a UDPReg registration model (unsupervised, from any point sets)", R"(
Learns per-point posteriors over shared mixture components and point features (UDPReg, Mei et al. 2023) from point sets alone: training
pairs are drawn on the fly by the RPM-Net protocol (the perturbations of orbit-transform: crop, rotation, translation, resampling,
noise) and the network is trained by the paper's three unsupervised losses (self-consistency, cross-consistency, local contrastive)
under the alignment the model itself estimates; the pose a pair was made with is only used for the validation recall. A share of the
point sets is held out for validation. The model file keeps the history and the optimizer state, so --resume continues where a run
stopped. Use the model with orbit-register --method udpreg --model FILE, or --method auto --model FILE.)");
    std::vector<std::string> inputs;
    std::string resume, rotation = "45";
    udpreg::TrainOptions t;
    udpreg::ModelConfig mc;
    double val = 0.1;
    int checkpoint_every = 0;
    app.add_references(cli::references({"udpreg", "rpm-net", "fpfh", "infonce"}));
    auto& c = app.cli();
    c.add_option("inputs", inputs, "Point sets: FILE (/points), FILE:/dataset ([N,3] or a batch [B,N,3], e.g. a ModelNet file's /data) or other point files; several allowed")
        ->required()
        ->check(cli::ExistingFileOrStream);
    c.add_option("--epochs", t.epochs, "Training epochs")->check(CLI::Range(0, 100000))->capture_default_str();
    c.add_option("--pairs", t.pairs, "Training pairs drawn per epoch")->check(CLI::Range(1, 10000000))->capture_default_str();
    c.add_option("--passes", t.passes, "Optimisation passes over each epoch's pairs")->check(CLI::Range(1, 1000))->capture_default_str();
    c.add_option("--batch", t.batch, "Pairs per optimisation step")->check(CLI::Range(1, 4096))->capture_default_str();
    c.add_option("--lr", t.lr, "Learning rate (Adam)")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--lr-min", t.lr_min, "Final learning rate of the cosine schedule")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--clip", t.clip, "Clip the global gradient norm (0: off)")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--val", val, "Fraction of the point sets held out for validation")->check(CLI::Range(0.0, 0.9))->capture_default_str();
    c.add_option("--val-pairs", t.val_pairs, "Validation pairs (fixed; drawn from the held-out sets)")->check(CLI::Range(0, 100000))->capture_default_str();
    c.add_option("--overlap", t.protocol.overlap, "Fraction of the points each side of a pair keeps (crop by a random plane)")->check(CLI::Range(0.05, 1.0))->capture_default_str();
    c.add_option("--rotation", rotation, "Source rotation: Euler angles each uniform in [0, DEG] degrees, or 'uniform' (Haar on SO(3))")->capture_default_str();
    c.add_option("--translation", t.protocol.translation, "Source translation uniform in [-T, T]^3")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--points", t.protocol.points, "Points per side after resampling")->check(CLI::Range(16, 1000000))->capture_default_str();
    c.add_option("--noise", t.protocol.noise, "Gaussian noise sigma on both sides")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--noise-clip", t.protocol.noise_clip, "Clip each noise component to +-this")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--w-self", t.weights.self, "Weight of the self-consistency loss")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--w-cross", t.weights.cross, "Weight of the cross-consistency loss")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--w-contrastive", t.weights.contrastive, "Weight of the local contrastive loss")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--balance", t.weights.balance, "Weight of KL(mixing weights || uniform) inside self-consistency")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--spread", t.weights.spread, "Weight of the component spread (mean component variance over the cloud's) inside self-consistency")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--temperature", t.weights.temperature, "Temperature of the local contrastive loss")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--warmup", t.weights.warmup, "Epochs over which the cross and contrastive losses ramp up")->check(CLI::Range(1, 100000))->capture_default_str();
    auto* o_hidden = c.add_option("--hidden", mc.hidden, "Width of the shared point-wise layers")->check(CLI::Range(1, 4096))->capture_default_str();
    auto* o_layers = c.add_option("--layers", mc.layers, "Shared point-wise layers")->check(CLI::Range(1, 32))->capture_default_str();
    auto* o_features = c.add_option("--features", mc.features, "Point feature width C")->check(CLI::Range(1, 1024))->capture_default_str();
    auto* o_components = c.add_option("--components", mc.components, "Mixture components K")->check(CLI::Range(2, 1024))->capture_default_str();
    auto* o_context = c.add_option("--context", mc.context, "Neighbours of the learned neighbourhood pool and of the posterior smoothing (0: point-wise only)")->check(CLI::Range(0, 256))->capture_default_str();
    auto* o_smooth = c.add_option("--smooth", mc.smooth, "Rounds of posterior averaging over those neighbourhoods")->check(CLI::Range(0, 64))->capture_default_str();
    c.add_option("--checkpoint-every", checkpoint_every, "Write the output model every N epochs while training (0: at the end only)")->check(CLI::NonNegativeNumber);
    c.add_option("--stop-after", t.stop_after, "Stop after this many epochs of this run; the output can be resumed (0: off)")->check(CLI::NonNegativeNumber);
    c.add_option("--resume", resume, "Continue training this model file (architecture, seed and optimizer state come from it)")->check(CLI::ExistingFile);
    app.require_output();
    app.add_example("orbit-train-register train.h5 --seed 1 -o model.h5", "train on the clouds of train.h5:/points with the default recipe");
    app.add_example("orbit-train-register ply_data_train0.h5:/data --rotation uniform --epochs 40 -o model.h5",
                    "ModelNet clouds as they are, rotations uniform on SO(3)");
    app.add_example("orbit-train-register shapes/*.h5 --epochs 60 --resume model.h5 -o model2.h5", "continue an earlier run up to 60 epochs");
    app.add_example("orbit-register src.h5 ref.h5 --method udpreg --model model.h5 -o T.h5", "register a pair with the model");
    return app.run(argc, argv, [&] {
        if (rotation == "uniform") {
            t.protocol.uniform_rotation = true;
        } else {
            try {
                std::size_t used = 0;
                t.protocol.rotation_deg = std::stod(rotation, &used);
                if (used != rotation.size() || !(t.protocol.rotation_deg >= 0 && t.protocol.rotation_deg <= 180)) throw std::invalid_argument("");
            } catch (const std::exception&) {
                throw UsageError("--rotation: expected degrees in [0, 180] or 'uniform', found '" + rotation + "'");
            }
        }
        std::shared_ptr<udpreg::Model> model;
        std::uint64_t seed = app.common().seed;
        if (!resume.empty()) {
            for (auto* o : {o_hidden, o_layers, o_features, o_components, o_context, o_smooth})
                if (o->count()) throw UsageError(o->get_name() + " cannot change when resuming (the architecture comes from " + resume + ")");
            model = udpreg::Model::load(resume);
            seed = model->training.value("seed", seed);
        }
        t.seed = seed;
        // Every point set of every input, in order.
        std::vector<Points> sets;
        std::vector<std::string> names;  // input and index of each set, to say which ones validate
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
        const auto [train, valid] = udpreg::split_validation(sets, val, seed);
        nlohmann::json val_names = nlohmann::json::array();
        for (std::int64_t i : udpreg::validation_indices(static_cast<std::int64_t>(sets.size()), val, seed))
            val_names.push_back(names[static_cast<std::size_t>(i)]);
        if (!model) model = udpreg::Model::create(mc, seed);
        log::info("udpreg: " + std::to_string(model->parameter_count()) + " parameters, " + std::to_string(train.size()) +
                  " training and " + std::to_string(valid.size()) + " validation point sets, " + std::to_string(t.pairs) +
                  " pairs per epoch; validation: " + (val_names.empty() ? std::string("none") : val_names.dump()));
        auto write_model = [&] {
            io::Output out(app.common().output, "model");
            model->save(out.file());
            out.commit();
        };
        Progress progress("epoch", t.epochs);
        auto report = udpreg::train(model, train, valid, t, [&](const udpreg::EpochInfo& e) {
            char note[256];
            if (std::isnan(e.val_recall))
                std::snprintf(note, sizeof note, "loss %.4f (self %.4f cross %.4f contrastive %.4f) lr %.2e %.1fs", e.train.total,
                              e.train.self, e.train.cross, e.train.contrastive, e.lr, e.seconds);
            else
                std::snprintf(note, sizeof note, "loss %.4f (self %.4f cross %.4f contrastive %.4f) val %.4f recall %.3f lr %.2e %.1fs",
                              e.train.total, e.train.self, e.train.cross, e.train.contrastive, e.val.total, e.val_recall, e.lr,
                              e.seconds);
            progress.update(e.epoch, note);
            if (checkpoint_every > 0 && e.epoch % checkpoint_every == 0 && e.epoch < e.epochs) write_model();
        });
        progress.finish();
        write_model();
        nlohmann::json& js = app.summary();
        js["model"] = model->config_json();
        js["parameters"] = model->parameter_count();
        js["train_sets"] = train.size();
        js["val_sets"] = valid.size();
        js["val_inputs"] = val_names;
        js["recipe"] = udpreg::recipe_json(t);
        js["report"] = report;
        js["history"] = model->training["history"];
    });
}
