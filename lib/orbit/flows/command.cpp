#include "orbit/flows/command.hpp"

#include <algorithm>

#include "orbit/core/error.hpp"
#include "orbit/flows/pipeline.hpp"
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

}  // namespace orbit::flows
