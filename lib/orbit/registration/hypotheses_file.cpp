#include "orbit/registration/hypotheses_file.hpp"

#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"

namespace orbit::registration {

Hypotheses collect_hypotheses(const Run& run, const std::string& source, const std::string& reference) {
    Hypotheses h{method_name(run.method), source, reference, hypothesis_score_name(run.method), {}, {}, {}, run.first_pair, {}, {}};
    const bool truth = !run.results.empty() && std::all_of(run.results.begin(), run.results.end(), [](const Result& r) {
        return !std::isnan(r.truth_score);
    });
    for (std::size_t i = 0; i < run.results.size() && truth; ++i) {
        h.truth_scores.push_back(run.results[i].truth_score);
        h.truth_refined_scores.push_back(run.results[i].truth_refined_score);
    }
    for (std::size_t i = 0; i < run.results.size(); ++i)
        for (const ScoredPose& p : run.results[i].hypotheses) {
            h.pair.push_back(run.first_pair + static_cast<std::int64_t>(i));
            h.transforms.push_back(p.transform);
            h.scores.push_back(p.score);
        }
    return h;
}

void write_hypotheses(h5::File& f, const Hypotheses& h) {
    const std::size_t n = h.transforms.size();
    require(h.pair.size() == n && h.scores.size() == n, "hypotheses: one pair index and one score per pose expected");
    h5::Array<double> rot{{n, 3, 3}, {}}, trans{{n, 3}, {}}, all{{n, 4, 4}, {}};
    for (const Transform& t : h.transforms) {
        for (int r = 0; r < 3; ++r) {
            for (int c = 0; c < 3; ++c) rot.data.push_back(t(r, c));
            trans.data.push_back(t(r, 3));
        }
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c) all.data.push_back(t(r, c));
    }
    f.write("/rotations", rot);
    f.write("/translations", trans);
    f.write("/transforms", all);
    f.write("/scores", h5::Array<double>{{n}, h.scores});
    f.write("/pair", h5::Array<std::int64_t>{{n}, h.pair});
    f.set_attr("/", "method", h.method);
    f.set_attr("/", "source", h.source);
    f.set_attr("/", "reference", h.reference);
    f.set_attr("/", "score", h.score);
    if (h.truth_scores.empty()) return;
    require(h.truth_refined_scores.size() == h.truth_scores.size(), "hypotheses: one refined truth score per truth score expected");
    f.write("/truth_scores", h5::Array<double>{{h.truth_scores.size()}, h.truth_scores});
    f.write("/truth_refined_scores", h5::Array<double>{{h.truth_refined_scores.size()}, h.truth_refined_scores});
    f.set_attr("/", "first_pair", h.first_pair);
}

Hypotheses read_hypotheses(const h5::File& f) {
    Hypotheses h;
    for (const char* name : {"method", "source", "reference", "score"})
        if (!f.has_attr("/", name)) throw Error(f.name() + ": not a hypotheses file (no '" + name + "' attribute)");
    h.method = f.attr_string("/", "method");
    h.source = f.attr_string("/", "source");
    h.reference = f.attr_string("/", "reference");
    h.score = f.attr_string("/", "score");
    const auto all = f.read<double>("/transforms", 3);
    const std::size_t n = all.shape[0];
    if (all.shape[1] != 4 || all.shape[2] != 4) throw Error(f.name() + ": /transforms is not [H,4,4]");
    h.scores = f.read<double>("/scores", 1).data;
    h.pair = f.read<std::int64_t>("/pair", 1).data;
    if (h.scores.size() != n || h.pair.size() != n) throw Error(f.name() + ": /scores and /pair do not hold one value per hypothesis");
    if (f.exists("/truth_scores")) {
        h.truth_scores = f.read<double>("/truth_scores", 1).data;
        h.truth_refined_scores = f.read<double>("/truth_refined_scores", 1).data;
        if (h.truth_refined_scores.size() != h.truth_scores.size())
            throw Error(f.name() + ": /truth_scores and /truth_refined_scores differ in length");
        if (f.has_attr("/", "first_pair")) h.first_pair = f.attr_int("/", "first_pair");
    }
    for (std::size_t k = 0; k < n; ++k) h.transforms.push_back(Eigen::Map<const Eigen::Matrix<double, 4, 4, Eigen::RowMajor>>(&all.data[16 * k]));
    return h;
}

}  // namespace orbit::registration
