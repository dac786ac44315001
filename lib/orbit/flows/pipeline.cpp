#include "orbit/flows/pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "orbit/core/error.hpp"
#include "orbit/core/random.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/plot.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::flows {

namespace {

// "out.png" -> "out-samples.png"
std::string with_suffix(const std::string& path, const std::string& suffix) {
    std::filesystem::path p(path);
    return (p.parent_path() / (p.stem().string() + suffix + p.extension().string())).string();
}

Points read_one_table(const std::string& arg) {
    auto sets = io::read_point_sets(arg);
    if (sets.size() != 1)
        throw Error(arg + ": expected one table of points [N,D], found a batch of " + std::to_string(sets.size()) +
                    " sets (select one with FILE:/dataset)");
    return std::move(sets.items[0].points);
}

}  // namespace

Dataset read_training_set(const std::string& input, const std::string& context, const std::string& manifold) {
    Dataset d;
    if (!manifold.empty()) {
        d.x = read_manifold_points(input, manifold);
    } else {
        d.x = read_one_table(input);
    }
    if (!context.empty()) {
        d.context = read_context(context);
        if (d.context.rows() != d.x.rows())
            throw Error(context + " has " + std::to_string(d.context.rows()) + " context rows but " + input + " has " +
                        std::to_string(d.x.rows()) + " data rows");
    }
    return d;
}

Dataset read_interpolant_pairs(const std::string& source, const std::string& target) {
    if (source == "-" && target == "-") throw UsageError("the sources and the targets cannot both come from stdin");
    Dataset d;
    d.x = read_one_table(target);
    d.context = read_one_table(source);
    if (d.context.rows() != d.x.rows() || d.context.cols() != d.x.cols())
        throw Error(source + " holds " + std::to_string(d.context.rows()) + " x " + std::to_string(d.context.cols()) +
                    " sources but " + target + " holds " + std::to_string(d.x.rows()) + " x " +
                    std::to_string(d.x.cols()) + " targets; an interpolant needs one source row per target row");
    check_training_data(d.context, 0, source);
    return d;
}

Dataset resample_by_weight(const Dataset& all, const Points& weights, std::int64_t n, std::uint64_t seed,
                           const std::string& what) {
    const std::int64_t rows = all.x.rows();
    if (weights.cols() != 1 || weights.rows() != rows)
        throw Error(what + ": expected one weight per row (" + std::to_string(rows) + "), got " +
                    std::to_string(weights.rows()) + " x " + std::to_string(weights.cols()));
    std::vector<double> cum(static_cast<std::size_t>(rows));
    double acc = 0;
    for (std::int64_t i = 0; i < rows; ++i) {
        const double w = weights(i, 0);
        if (!std::isfinite(w) || w < 0)
            throw Error(what + ": weight " + std::to_string(i) + " is " + std::to_string(w) + "; weights must be finite and >= 0");
        cum[static_cast<std::size_t>(i)] = (acc += w);
    }
    if (!(acc > 0)) throw Error(what + ": all weights are 0");
    if (n <= 0) n = rows;
    Rng rng(seed, 0x3e5a3);
    Dataset out;
    out.x.resize(n, all.x.cols());
    out.context.resize(all.context.cols() > 0 ? n : 0, all.context.cols());
    for (std::int64_t k = 0; k < n; ++k) {
        const auto it = std::upper_bound(cum.begin(), cum.end(), rng.uniform() * acc);
        const std::int64_t i = std::min<std::int64_t>(rows - 1, it - cum.begin());
        out.x.row(k) = all.x.row(i);
        if (out.context.rows() > 0) out.context.row(k) = all.context.row(i);
    }
    return out;
}

void split_training_set(const Dataset& all, double val_fraction, std::uint64_t seed, int batch, const std::string& what,
                        Dataset& train, Dataset& val) {
    if (all.x.cols() >= 1) check_training_data(all.x, 0, what);
    split_rows(all, val_fraction, seed, train, val);
    check_training_data(train.x, batch, what + " (training split)");
}

ModelSpec complete_spec(ModelSpec spec, int hidden, const std::string& activation, const std::string& manifold) {
    const bool flow = spec.kind == "nsf" || spec.kind == "realnvp";
    spec.coupling.hidden = spec.cfm.hidden = spec.rfm.hidden = hidden > 0 ? hidden : flow ? 128 : 256;
    spec.coupling.activation = spec.cfm.activation = spec.rfm.activation =
        activation.empty() ? (flow ? "relu" : "silu") : activation;
    spec.cfm.blocks = spec.rfm.blocks = spec.coupling.blocks;
    spec.rfm.freqs = spec.cfm.freqs;
    spec.rfm.manifold = manifold;
    return spec;
}

std::string epoch_line(const EpochInfo& e) {
    char note[160];
    std::snprintf(note, sizeof note, "loss %.4f val %.4f lr %.2e", e.train_loss, e.val_loss, e.lr);
    return note;
}

std::string model_line(const Model& model, std::int64_t train_rows, std::int64_t val_rows) {
    return model.kind() + ": " + std::to_string(model.parameter_count()) + " parameters, " + std::to_string(train_rows) +
           " training and " + std::to_string(val_rows) + " validation rows";
}

std::string training_line(const nlohmann::json& report) {
    return "trained " + std::to_string(report["epochs_run"].get<int>()) + " epochs, " +
           std::to_string(report["steps_per_second"].get<double>()).substr(0, 7) + " steps/s; validation loss " +
           (report.contains("final_val_loss") ? std::to_string(report["final_val_loss"].get<double>()) : "-");
}

void save_model(const Model& model, const std::string& output, const std::string& input) {
    io::Output out(output, "model");
    if (input != "-") {
        try {
            const auto ref = h5::parse_ref(input);
            auto in = h5::looks_like_hdf5(ref.file) ? h5::File::open_read(ref.file) : h5::File();
            if (in.is_open()) out.inherit_history(in);
        } catch (const Error&) {
        }
    }
    model.save(out.file());
    out.commit();
}

void write_training_plots(const Model& model, const Points& all, const std::string& loss_unit,
                          const std::string& density_plot, const std::string& loss_plot, std::uint64_t seed) {
    if (!loss_plot.empty()) {
        plot::Series tr, va;
        const auto& h = model.history();
        for (std::size_t i = 0; i < h["train_loss"].size(); ++i) {
            tr.x.push_back(double(i + 1));
            va.x.push_back(double(i + 1));
            tr.y.push_back(h["train_loss"][i].get<double>());
            va.y.push_back(h["val_loss"][i].get<double>());
        }
        tr.label = "training";
        va.label = "validation";
        plot::line_chart(loss_plot, {model.kind() + " loss", "epoch", loss_unit}, {tr, va});
    }
    if (density_plot.empty()) return;
    if (model.dim() != 2 || model.conditional())
        throw Error("a density picture needs an unconditional 2-D model, this one is " + std::to_string(model.dim()) +
                    "-D");
    const Eigen::RowVector2d lo = all.colwise().minCoeff(), hi = all.colwise().maxCoeff();
    const Eigen::RowVector2d pad = 0.05 * (hi - lo);
    const int n = model.is_cfm() ? 100 : 200;
    Matrix lp = model.log_prob_grid(lo(0) - pad(0), hi(0) + pad(0), lo(1) - pad(1), hi(1) + pad(1), n);
    plot::heatmap(density_plot, {model.kind() + " density", "x0", "x1"}, lp.array().exp().matrix(), lo(0) - pad(0),
                  hi(0) + pad(0), lo(1) - pad(1), hi(1) + pad(1));
    Points s = model.sample(std::min<Eigen::Index>(4000, all.rows()), seed + 1);
    plot::scatter(with_suffix(density_plot, "-samples"), {model.kind() + " samples", "x0", "x1"},
                  all.topRows(std::min<Eigen::Index>(4000, all.rows())), "data", s, "samples");
}

nlohmann::json training_summary(const Model& model, const nlohmann::json& report, std::int64_t train_rows,
                                std::int64_t val_rows) {
    return {{"model", model.config()},   {"parameters", model.parameter_count()},
            {"train_rows", train_rows},  {"val_rows", val_rows},
            {"report", report},          {"history", model.history()}};
}

void write_log_density(h5::File& file, const Vector& logp, double mean, double stderr_mean) {
    h5::Array<double> a;
    a.shape = {static_cast<std::size_t>(logp.size())};
    a.data.assign(logp.data(), logp.data() + logp.size());
    file.write("/logp", a);
    file.set_attr("/", "mean_logp", mean);
    file.set_attr("/", "stderr_logp", stderr_mean);
}

Points context_rows(const std::string& file, const std::string& value, std::int64_t rows) {
    if (!file.empty() && !value.empty()) throw UsageError("give the context as a file or as a value, not both");
    if (!value.empty()) return repeat_context(value, std::max<std::int64_t>(rows, 1));
    if (file.empty()) return {};
    Points c = read_context(file);
    if (rows >= 0 && c.rows() != rows)
        throw Error(file + " has " + std::to_string(c.rows()) + " context rows for " + std::to_string(rows) + " rows");
    return c;
}

}  // namespace orbit::flows
