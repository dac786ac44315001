#include "orbit/flows/command.hpp"

#include <algorithm>
#include <optional>

#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/progress.hpp"
#include "orbit/distributed/communicator.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/plot.hpp"

namespace orbit::flows {
namespace {

void check_sample_options(const SampleSettings& s, const Model& model) {
    if (!s.plot.empty() && (model.dim() != 2 || !model.manifold().empty()))
        throw UsageError("--plot needs a 2-D model, this one is " + std::to_string(model.dim()) + "-D");
    if (s.quaternions && model.manifold() != "so3") throw UsageError("--quaternions applies to SO(3) models");
    if (!s.modes.empty() && model.manifold() != "so3") throw UsageError("--modes applies to SO(3) models");
    if (s.bandwidth_given && s.modes.empty()) throw UsageError("--bandwidth applies to --modes");
    if (!s.modes.empty() && !s.context.empty())
        throw UsageError("--modes needs one context for all samples (--context-value), not one per row");
    if (!s.context.empty() && s.samples_given) throw UsageError("--context gives one sample per row: drop -n");
}

// --modes: the modes of the SO(3) samples by mean shift, with the model's
// log-density at each, written to s.modes; returns them as JSON.
nlohmann::json write_sample_modes(const SampleSettings& s, const Model& model, const Points& samples, h5::File& in) {
    const auto modes = so3_mean_shift_modes(rows_to_rotations(samples), Vector(), s.mode_options);
    Points at(Eigen::Index(modes.size()), 9);
    for (std::size_t i = 0; i < modes.size(); ++i)
        for (int j = 0; j < 9; ++j) at(Eigen::Index(i), j) = modes[i].rotation(j / 3, j % 3);
    const Vector logp = model.log_prob(at, s.infer, context_rows("", s.context_value, at.rows()));
    io::Output mout(s.modes, "so3-modes");
    mout.inherit_history(in);
    write_so3_modes(mout.file(), modes, logp);
    mout.commit();
    return so3_modes_json(modes, logp);
}

}  // namespace

nlohmann::json run_sample(SampleSettings s) {
    auto in = h5::File::open_read(s.model);
    auto model = Model::load(in);
    check_sample_options(s, model);
    const Points ctx = context_rows(s.context, s.context_value, s.context.empty() ? s.samples : -1);
    if (!s.context.empty()) s.samples = ctx.rows();
    Points x = model.sample(s.samples, s.seed, s.infer, ctx);
    io::Output out(s.output, "pointset");
    out.inherit_history(in);
    write_rows_for(model, out.file(), x, s.quaternions);
    out.commit();
    if (!s.plot.empty())
        plot::scatter(s.plot, {model.kind() + " samples", "x0", "x1"}, x.topRows(std::min<Eigen::Index>(x.rows(), 20000)),
                      "samples");
    nlohmann::json summary = {{"samples", s.samples}, {"dim", model.dim()}, {"kind", model.kind()}, {"seed", s.seed}};
    if (!s.modes.empty()) summary["modes"] = write_sample_modes(s, model, x, in);
    return summary;
}

void check_model_options(TrainSettings& g) {
    g.t.cosine = !g.no_cosine;
    if (!g.manifold.empty() && g.model_given && g.kind != "cfm" && g.kind != "rfm")
        throw UsageError("--manifold trains --model rfm (Riemannian flow matching), not " + g.kind);
    if (!g.manifold.empty()) g.kind = "rfm";
    if (g.kind == "rfm" && g.manifold.empty() && g.resume.empty()) throw UsageError("--model rfm needs --manifold sphere or so3");
    if (!g.target.empty() && !g.input.empty()) throw UsageError("give the targets as the input or as --target, not both");
    if (!g.target.empty()) g.input = g.target;
    if (g.input.empty()) throw UsageError("the training data (input argument) is required");
    if (g.kind == "interpolant" && g.source.empty() && g.resume.empty())
        throw UsageError("--model interpolant needs --source (the degraded view of each target row)");
    if (g.kind == "rfm") {  // the base distribution of a Riemannian flow (fit_rfm_base checks the name)
        if (!g.base.empty()) g.spec.rfm.base = g.base;
        g.spec.rfm.coupling = g.spec.cfm.coupling;  // --coupling: the geodesic minibatch coupling
    } else {
        g.spec.cfm.base = g.base;
    }
    if (g.unconditioned) g.spec.cfm.context = -1;
    if (g.resample > 0 && g.weights.empty()) throw UsageError("--resample applies with --weights");
    if (g.t.select_every > 0 && g.val <= 0) throw UsageError("--select-every needs a validation split (--val > 0)");
    for (auto& [name, kinds] : g.only_given)
        if (std::find(kinds.begin(), kinds.end(), g.kind) == kinds.end())
            throw UsageError(name + " does not apply to --model " + g.kind);
    if (g.kind == "interpolant" && !g.base.empty() && g.base != "source" && g.base != "gaussian")
        throw UsageError("--base of an interpolant is source or gaussian, not " + g.base);
}

nlohmann::json run_training(TrainSettings g) {
    check_model_options(g);
    std::optional<Model> model;
    std::uint64_t seed = g.seed;
    if (!g.resume.empty()) {
        model.emplace(Model::load(g.resume));
        seed = h5::File::open_read(g.resume).attr_json("/model", "training").value("seed", seed);
        g.manifold = model->manifold();
        if (model->interpolant() && g.source.empty()) throw UsageError("resuming an interpolant needs its --source again");
    }
    Dataset all = g.source.empty() ? read_training_set(g.input, g.context, g.manifold) : read_interpolant_pairs(g.source, g.input);
    if (!g.weights.empty()) all = resample_by_weight(all, read_context(g.weights), g.resample, seed, g.weights);
    if (!g.plot.empty() && (all.x.cols() != 2 || !g.manifold.empty() || all.context.cols() > 0))
        throw UsageError("--plot needs unconditional 2-D data, " + g.input + " has " + std::to_string(all.x.cols()) + " columns");
    g.t.seed = seed;
    Dataset train, valid;
    split_training_set(all, g.val, seed, g.t.batch, g.input, train, valid);
    if (!model) {
        g.spec.kind = g.kind;
        model.emplace(Model::create(complete_spec(g.spec, g.hidden, g.act, g.manifold), train, seed, valid.x));
    } else if (all.x.cols() != model->dim()) {
        throw Error(g.input + " has " + std::to_string(all.x.cols()) + " columns but the model in " + g.resume + " has " +
                    std::to_string(model->dim()));
    }
    log::info(model_line(*model, train.x.rows(), valid.x.rows()));
    Progress progress("epoch", g.t.epochs);
    auto report = model->train(train, valid, g.t, [&](const EpochInfo& e) {
        progress.update(e.epoch, epoch_line(e));
        if (distributed::rank() == 0 && g.checkpoint_every > 0 && e.epoch % g.checkpoint_every == 0 && e.epoch < e.epochs)
            save_model(*model, g.output, g.input);
    });
    progress.finish();
    if (distributed::rank() == 0) save_model(*model, g.output, g.input);
    if (distributed::rank() == 0) write_training_plots(*model, all.x, report.value("loss", "loss"), g.plot, g.plot_loss, seed);
    nlohmann::json summary = training_summary(*model, report, train.x.rows(), valid.x.rows());
    log::info(training_line(report));
    return summary;
}

}  // namespace orbit::flows
