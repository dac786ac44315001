// orbit-train-flow: fit a normalizing flow or a flow-matching model to a table of points.
#include <filesystem>
#include <iostream>

#include "orbit/cli/app.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/progress.hpp"
#include "orbit/flows/model.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/plot.hpp"
#include "orbit/io/pointset.hpp"

using namespace orbit;

namespace {

// "out.png" -> "out-samples.png"
std::string with_suffix(const std::string& path, const std::string& suffix) {
    std::filesystem::path p(path);
    return (p.parent_path() / (p.stem().string() + suffix + p.extension().string())).string();
}

Points read_table(const std::string& arg) {
    auto sets = io::read_point_sets(arg);
    if (sets.size() != 1)
        throw Error(arg + ": expected one table of points [N,D], found a batch of " + std::to_string(sets.size()) +
                    " sets (select one with FILE:/dataset)");
    return sets[0].points;
}

}  // namespace

int main(int argc, char** argv) {
    cli::App app("train-flow", "fit a normalizing flow (NSF, Real NVP) or a flow-matching model (CFM, OT-CFM)",
                 "Learns a density from the rows of a table: a coupling flow trained by maximum likelihood "
                 "(nsf: rational-quadratic splines; realnvp: affine couplings) or a velocity field trained by "
                 "conditional flow matching (cfm: independent pairs; ot-cfm: pairs re-matched by optimal transport "
                 "in each minibatch). Columns are standardized first and the standardization is stored in the model. "
                 "A validation split is held out; the model file keeps the training history and the optimizer "
                 "state, so --resume continues where a run stopped.");
    std::string input, kind = "nsf", resume, plot, plot_loss;
    flows::TrainOptions t;
    double val = 0.1;
    int layers = 8, hidden = 128, blocks = 2, bins = 8, freqs = 4, checkpoint_every = 0;
    double tail = 3, clamp = 3, dropout = 0, sigma = 0, seps = 0.05;
    std::string perm = "reverse", act, coupling;
    bool actnorm = false, lu = false, no_cosine = false;
    auto& c = app.cli();
    c.add_option("input", input, "Training data: HDF5 (/points or FILE:/dataset), CSV or another table; '-' for stdin")
        ->required()
        ->check(cli::ExistingFileOrStream);
    c.add_option("--model", kind, "nsf, realnvp, cfm or ot-cfm")
        ->check(CLI::IsMember({"nsf", "realnvp", "cfm", "ot-cfm"}))
        ->capture_default_str();
    auto* o_layers = c.add_option("--layers", layers, "Coupling layers (nsf, realnvp)")->check(CLI::Range(1, 256))->capture_default_str();
    auto* o_hidden = c.add_option("--hidden", hidden, "Hidden width of the networks (default 128 for flows, 256 for flow matching)")
                         ->check(CLI::Range(1, 8192));
    c.add_option("--blocks", blocks, "Residual blocks per network")->check(CLI::Range(0, 64))->capture_default_str();
    auto* o_bins = c.add_option("--bins", bins, "Spline bins (nsf)")->check(CLI::Range(2, 64))->capture_default_str();
    auto* o_tail = c.add_option("--tail-bound", tail, "Spline interval [-B,B] in standardized units (nsf)")->check(CLI::PositiveNumber)->capture_default_str();
    auto* o_clamp = c.add_option("--scale-clamp", clamp, "Bound of the affine log-scales (realnvp)")->check(CLI::PositiveNumber)->capture_default_str();
    auto* o_perm = c.add_option("--permutation", perm, "Permutation between couplings: reverse or random")
                       ->check(CLI::IsMember({"reverse", "random"}))->capture_default_str();
    auto* o_actnorm = c.add_flag("--actnorm", actnorm, "ActNorm layer in each coupling layer (data-initialized)");
    auto* o_lu = c.add_flag("--lu", lu, "LU-decomposed linear layer before each coupling");
    auto* o_dropout = c.add_option("--dropout", dropout, "Dropout inside the conditioner networks")->check(CLI::Range(0.0, 0.9));
    c.add_option("--activation", act, "relu, tanh or silu (default relu for flows, silu for flow matching)")
        ->check(CLI::IsMember({"relu", "tanh", "silu"}));
    auto* o_freqs = c.add_option("--freqs", freqs, "Time features of the velocity field (cfm)")->check(CLI::Range(0, 16))->capture_default_str();
    auto* o_sigma = c.add_option("--sigma", sigma, "Noise around the straight paths (cfm)")->check(CLI::NonNegativeNumber);
    auto* o_coupling = c.add_option("--coupling", coupling, "Minibatch coupling of ot-cfm: exact or sinkhorn")
                           ->check(CLI::IsMember({"exact", "sinkhorn"}));
    auto* o_seps = c.add_option("--sinkhorn-eps", seps, "Sinkhorn eps relative to the mean squared distance (ot-cfm)")->check(CLI::PositiveNumber);
    c.add_option("--epochs", t.epochs, "Training epochs")->check(CLI::Range(0, 1000000))->capture_default_str();
    c.add_option("--batch", t.batch, "Minibatch size")->check(CLI::Range(1, 1 << 20))->capture_default_str();
    c.add_option("--lr", t.lr, "Learning rate (Adam)")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--lr-min", t.lr_min, "Final learning rate of the cosine schedule")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_flag("--no-cosine", no_cosine, "Constant learning rate instead of cosine decay");
    c.add_option("--weight-decay", t.weight_decay, "Decoupled weight decay (AdamW) when > 0")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--clip", t.clip, "Clip the global gradient norm (0: off)")->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--val", val, "Fraction of rows held out for validation")->check(CLI::Range(0.0, 0.9))->capture_default_str();
    c.add_option("--patience", t.patience, "Stop after this many epochs without a better validation loss, keeping the best model (0: off)")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    c.add_option("--stop-after", t.stop_after, "Stop after this many epochs of this run; the output can be resumed (0: off)")
        ->check(CLI::NonNegativeNumber);
    c.add_option("--checkpoint-every", checkpoint_every, "Write the output model every N epochs while training (0: at the end only)")
        ->check(CLI::NonNegativeNumber);
    c.add_option("--resume", resume, "Continue training this model file (architecture, standardization, split seed and optimizer state come from it)")
        ->check(cli::ExistingFileOrStream);
    c.add_option("--plot", plot, "2-D data: write the learned density on a grid here (.png or .svg) and samples next to it (FILE-samples.EXT)");
    c.add_option("--plot-loss", plot_loss, "Write the training and validation loss curves here (.png or .svg)");
    app.require_output();
    app.add_example("orbit-train-flow data.h5 --model nsf --layers 8 --hidden 128 --bins 8 --epochs 200 --seed 1 -o model.h5",
                    "a neural spline flow on the rows of /points");
    app.add_example("orbit-train-flow data.h5 --model ot-cfm --hidden 256 --epochs 200 -o cfm.h5",
                    "flow matching with exact minibatch optimal-transport pairs");
    app.add_example("orbit-train-flow table.csv --model realnvp --epochs 50 --patience 5 --plot-loss loss.svg -o m.h5",
                    "Real NVP on a CSV table with early stopping and a loss curve");
    app.add_example("orbit-train-flow data.h5 --epochs 400 --resume model.h5 -o model2.h5",
                    "continue an earlier run up to 400 epochs");
    return app.run(argc, argv, [&] {
        t.cosine = !no_cosine;
        const Points all = read_table(input);
        std::optional<flows::Model> model;
        std::uint64_t seed = app.common().seed;
        if (!resume.empty()) {
            model.emplace(flows::Model::load(resume));
            auto f = h5::File::open_read(resume);
            seed = f.attr_json("/model", "training").value("seed", seed);
        }
        t.seed = seed;
        Points train, valid;
        if (all.cols() >= 1) flows::check_training_data(all, 0, input);
        flows::split_rows(all, val, seed, train, valid);
        flows::check_training_data(train, t.batch, input + " (training split)");
        if (!model) {
            nlohmann::json opts = nlohmann::json::object();
            const bool flow = kind == "nsf" || kind == "realnvp";
            auto set = [&](CLI::Option* o, const char* key, auto value) {
                if (o->count()) opts[key] = value;
            };
            if (flow) {
                opts["layers"] = layers;
                opts["hidden"] = o_hidden->count() ? hidden : 128;
                opts["blocks"] = blocks;
                if (kind == "nsf") {
                    opts["bins"] = bins;
                    opts["tail_bound"] = tail;
                }
                if (kind == "realnvp") opts["scale_clamp"] = clamp;
                opts["permutation"] = perm;
                opts["actnorm"] = actnorm;
                opts["lu"] = lu;
                set(o_dropout, "dropout", dropout);
                opts["activation"] = act.empty() ? "relu" : act;
                for (auto* o : {o_freqs, o_sigma, o_coupling, o_seps})
                    if (o->count()) throw UsageError(o->get_name() + " applies to --model cfm or ot-cfm");
                if (kind == "realnvp" && (o_bins->count() || o_tail->count())) throw UsageError("--bins and --tail-bound apply to --model nsf");
                if (kind == "nsf" && o_clamp->count()) throw UsageError("--scale-clamp applies to --model realnvp");
            } else {
                opts["hidden"] = o_hidden->count() ? hidden : 256;
                opts["blocks"] = blocks;
                opts["freqs"] = freqs;
                opts["activation"] = act.empty() ? "silu" : act;
                set(o_sigma, "sigma", sigma);
                set(o_coupling, "coupling", coupling);
                set(o_seps, "sinkhorn_eps", seps);
                for (auto* o : {o_layers, o_bins, o_tail, o_clamp, o_perm, o_actnorm, o_lu, o_dropout})
                    if (o->count()) throw UsageError(o->get_name() + " applies to --model nsf or realnvp");
            }
            model.emplace(flows::Model::create(kind, opts, train, seed));
        } else if (valid.cols() != model->dim() || train.cols() != model->dim()) {
            throw Error(input + " has " + std::to_string(all.cols()) + " columns but the model in " + resume + " has " +
                        std::to_string(model->dim()));
        }
        log::info(model->kind() + ": " + std::to_string(model->parameter_count()) + " parameters, " +
                  std::to_string(train.rows()) + " training and " + std::to_string(valid.rows()) + " validation rows");
        auto write_model = [&] {
            io::Output out(app.common().output, "model");
            if (input != "-") {
                try {
                    auto in = h5::looks_like_hdf5(h5::parse_ref(input).file) ? h5::File::open_read(h5::parse_ref(input).file) : h5::File();
                    if (in.is_open()) out.inherit_history(in);
                } catch (const Error&) {
                }
            }
            model->save(out.file());
            out.commit();
        };
        Progress progress("epoch", t.epochs);
        auto report = model->train(train, valid, t, [&](const flows::EpochInfo& e) {
            char note[160];
            std::snprintf(note, sizeof note, "loss %.4f val %.4f lr %.2e", e.train_loss, e.val_loss, e.lr);
            progress.update(e.epoch, note);
            if (checkpoint_every > 0 && e.epoch % checkpoint_every == 0 && e.epoch < e.epochs) write_model();
        });
        progress.finish();
        write_model();
        if (!plot.empty() || !plot_loss.empty()) {
            if (!plot_loss.empty()) {
                plot::Series tr, va;
                for (std::size_t i = 0; i < model->history()["train_loss"].size(); ++i) {
                    tr.x.push_back(double(i + 1));
                    va.x.push_back(double(i + 1));
                    tr.y.push_back(model->history()["train_loss"][i].get<double>());
                    va.y.push_back(model->history()["val_loss"][i].get<double>());
                }
                tr.label = "training";
                va.label = "validation";
                plot::line_chart(plot_loss, {model->kind() + " loss", "epoch", report.value("loss", "loss")}, {tr, va});
            }
            if (!plot.empty()) {
                if (model->dim() != 2) throw Error("--plot needs 2-D data, this model is " + std::to_string(model->dim()) + "-D");
                const Eigen::RowVector2d lo = all.colwise().minCoeff(), hi = all.colwise().maxCoeff();
                const Eigen::RowVector2d pad = 0.05 * (hi - lo);
                const int n = model->is_cfm() ? 100 : 200;
                Matrix lp = model->log_prob_grid(lo(0) - pad(0), hi(0) + pad(0), lo(1) - pad(1), hi(1) + pad(1), n);
                plot::heatmap(plot, {model->kind() + " density", "x0", "x1"}, lp.array().exp().matrix(), lo(0) - pad(0),
                              hi(0) + pad(0), lo(1) - pad(1), hi(1) + pad(1));
                Points s = model->sample(std::min<Eigen::Index>(4000, all.rows()), seed + 1);
                plot::scatter(with_suffix(plot, "-samples"), {model->kind() + " samples", "x0", "x1"},
                              all.topRows(std::min<Eigen::Index>(4000, all.rows())), "data", s, "samples");
            }
        }
        nlohmann::json& js = app.summary();
        js["model"] = model->config();
        js["parameters"] = model->parameter_count();
        js["train_rows"] = train.rows();
        js["val_rows"] = valid.rows();
        js["report"] = report;
        js["history"] = model->history();
        log::info("trained " + std::to_string(report["epochs_run"].get<int>()) + " epochs, " +
                  std::to_string(report["steps_per_second"].get<double>()).substr(0, 7) + " steps/s; validation loss " +
                  (report.contains("final_val_loss") ? std::to_string(report["final_val_loss"].get<double>()) : "-"));
    });
}
