#include "orbit/udpreg/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

#include "orbit/core/error.hpp"
#include "orbit/nn/pointcloud.hpp"
#include "orbit/nn/store.hpp"
#include "orbit/registration/global.hpp"
#include "orbit/udpreg/inputs.hpp"
#include "orbit/udpreg/losses.hpp"

namespace orbit::udpreg {

namespace {
constexpr const char* kFormat = "orbit-udpreg-1";
}

std::vector<int> context_graph(const Points& a, int k) {
    if (k <= 0) return {};
    require(a.rows() >= k, "udpreg: a cloud needs at least as many points as the model's context neighbours (" +
                               std::to_string(k) + ")");
    return nn::knn_graph<double>(a, static_cast<int>(a.rows()), k);
}

std::vector<int> context_graph(const Points& a, const Points& b, int k) {
    std::vector<int> g = context_graph(a, k), gb = context_graph(b, k);
    const int off = static_cast<int>(a.rows());
    for (int& i : gb) i += off;
    g.insert(g.end(), gb.begin(), gb.end());
    return g;
}

template <class T>
FeatureNetwork<T>::FeatureNetwork(const ModelConfig& c, int inputs, Rng& rng)
    : features_(c.features), components_(c.components), context_(c.context), smooth_(c.smooth) {
    require(c.layers >= 1 && c.hidden >= 1 && c.features >= 1 && c.components >= 2 && c.context >= 0 && c.smooth >= 0,
            "udpreg: the network needs at least one layer, one feature and two components");
    require(c.smooth == 0 || c.context > 0, "udpreg: posterior smoothing needs context neighbours");
    int width = inputs;
    for (int l = 0; l < c.layers; ++l) {
        body_.emplace_back("udpreg.fc" + std::to_string(l), width, c.hidden, rng);
        width = c.context > 0 ? 2 * c.hidden : c.hidden;
    }
    head_f_ = nn::Linear<T>("udpreg.features", width, c.features, rng);
    // Posterior logits start spread out (weights in [-1, 1]): uniform posteriors
    // are a stationary point of the consistency losses, so training must not start there.
    head_g_ = nn::Linear<T>("udpreg.posteriors", width, c.components, rng, 1.0);
}

template <class T>
nn::Var FeatureNetwork<T>::forward(nn::Tape<T>& tape, nn::Var x, const std::vector<int>& graph) {
    require(context_ == 0 || graph.size() == std::size_t(tape.value(x).rows()) * std::size_t(context_),
            "udpreg: the network needs the points' context graph");
    nn::Var h = x;
    for (auto& l : body_) {
        h = tape.relu(l.forward(tape, h));
        if (context_ > 0) h = tape.concat_cols({h, nn::neighborhood_max_pool(tape, h, graph, context_)});
    }
    nn::Var f = head_f_.forward(tape, h);
    nn::Var g = tape.softmax_rows(head_g_.forward(tape, h));
    for (int r = 0; r < smooth_; ++r) g = nn::neighborhood_mean_pool(tape, g, graph, context_);
    return tape.concat_cols({f, g});
}

template <class T>
void FeatureNetwork<T>::params(nn::ParamList<T>& out) {
    for (auto& l : body_) l.params(out);
    head_f_.params(out);
    head_g_.params(out);
}

template class FeatureNetwork<float>;
template class FeatureNetwork<double>;

std::shared_ptr<Model> Model::create(const ModelConfig& config, std::uint64_t seed) {
    std::shared_ptr<Model> m(new Model());
    m->config_ = config;
    Rng rng(seed, 0x75647072ULL);  // "udpr"
    m->net_ = FeatureNetwork<float>(config, kInputWidth, rng);
    for (auto* p : m->params()) p->zero_grad();
    return m;
}

nlohmann::json Model::config_json() const {
    return {{"format", kFormat},          {"kind", "udpreg"},
            {"inputs", kInputWidth},      {"hidden", config_.hidden},
            {"layers", config_.layers},   {"features", config_.features},
            {"components", config_.components}, {"context", config_.context},
            {"smooth", config_.smooth}};
}

nn::ParamList<float> Model::params() const {
    nn::ParamList<float> ps;
    net_.params(ps);
    return ps;
}

std::int64_t Model::parameter_count() const {
    std::int64_t n = 0;
    for (auto* p : params()) n += p->value.size();
    return n;
}

void Model::save(h5::File& file, bool with_state) const {
    file.create_group("/model");
    file.set_attr_json("/model", "config", config_json());
    file.set_attr_json("/model", "training", training);
    nn::save_params(file, "/model/weights", params());
    if (with_state && optimizer) {
        nn::save_mats(file, "/model/optimizer/m", optimizer->m());
        nn::save_mats(file, "/model/optimizer/v", optimizer->v());
    }
}

std::shared_ptr<Model> Model::load(const std::string& path) {
    auto f = h5::File::open_read(path);
    return load(f);
}

std::shared_ptr<Model> Model::load(const h5::File& file) {
    const std::string where = file.name();
    if (!file.exists("/model") || !file.has_attr("/model", "config"))
        throw Error(where + ": not an orbit model file (no /model group with a config attribute)");
    nlohmann::json cfg = file.attr_json("/model", "config");
    if (cfg.value("format", "") != kFormat)
        throw Error(where + ": not a UDPReg registration model (format '" + cfg.value("format", "") + "', expected '" + kFormat +
                    "'); train one with orbit-train-register");
    ModelConfig c;
    try {
        c.hidden = cfg.at("hidden").get<int>();
        c.layers = cfg.at("layers").get<int>();
        c.features = cfg.at("features").get<int>();
        c.components = cfg.at("components").get<int>();
        // files from before the neighbourhood context have neither key
        c.context = cfg.value("context", 0);
        c.smooth = cfg.value("smooth", 0);
        if (cfg.at("inputs").get<int>() != kInputWidth) throw Error("it expects a different input width");
    } catch (const std::exception& e) {
        throw Error(where + ": unusable /model config: " + e.what());
    }
    auto m = create(c, 0);
    nn::load_params(file, "/model/weights", m->params());
    if (file.has_attr("/model", "training")) m->training = file.attr_json("/model", "training");
    if (file.exists("/model/optimizer/m")) {
        m->optimizer = std::make_unique<nn::Adam<float>>(m->params(), nn::AdamOptions{});
        nn::load_mats(file, "/model/optimizer/m", m->optimizer->m());
        nn::load_mats(file, "/model/optimizer/v", m->optimizer->v());
        m->optimizer->set_steps(m->training.value("steps", std::int64_t(0)));
    }
    return m;
}

Matrix posterior_rows(const Matrix& g) {
    // float rows sum to 1 only to float precision; the transport's marginals must balance in double
    Matrix out = g.cwiseMax(0.0);
    for (Eigen::Index i = 0; i < out.rows(); ++i) {
        double s = out.row(i).sum();
        if (s > 0) out.row(i) /= s;
        else out.row(i).setConstant(1.0 / double(out.cols()));
    }
    return out;
}

namespace {
template <class M>
std::uint64_t hash_values(std::uint64_t h, const M& m) {
    h = mix64(h, static_cast<std::uint64_t>(m.rows()) * 1000003ULL + static_cast<std::uint64_t>(m.cols()));
    for (Eigen::Index i = 0; i < m.size(); ++i) {
        std::uint64_t bits = 0;
        const auto v = m.data()[i];
        std::memcpy(&bits, &v, sizeof v);
        h = mix64(h, bits);
    }
    return h;
}
}  // namespace

Model::Output Model::run(const Points& x, const Points& fpfh) const {
    std::uint64_t key = hash_values(hash_values(0x63616368ULL, x), fpfh);  // "cach"
    for (const auto* p : params()) key = hash_values(key, p->value);
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        for (const auto& [k, out] : cache_)
            if (k == key) return *out;
    }
    auto out = std::make_shared<const Output>(compute(x, fpfh));
    std::lock_guard<std::mutex> lock(cache_mutex_);
    cache_.insert(cache_.begin(), {key, out});
    if (cache_.size() > 8) cache_.pop_back();
    return *out;
}

Model::Output Model::compute(const Points& x, const Points& fpfh) const {
    Points in = network_inputs(x, fpfh);
    nn::Tape<float> tape(false);
    tape.set_parallel_products(false);
    nn::Var out = net_.forward(tape, tape.constant(in.cast<float>()), context_graph(x, config_.context));
    const Mat<float>& v = tape.value(out);
    Output o;
    o.features = unit_rows<double>(v.leftCols(config_.features).cast<double>());
    o.gamma = posterior_rows(v.rightCols(config_.components).cast<double>());
    return o;
}

Matrix Model::posteriors(const Points& x, const Points& features, Rng&) const { return run(x, features).gamma; }

registration::PosteriorModel::Inference Model::infer(const Points& x, const Points& features, Rng&) const {
    Output o = run(x, features);
    return {std::move(o.gamma), std::move(o.features)};
}

registration::Correspondences knn_feature_correspondences(const Points& sf, const Points& tf, int k) {
    require(sf.cols() == tf.cols(), "feature matching: descriptors differ in length");
    registration::Correspondences out;
    if (k < 1 || sf.rows() < 2 || tf.rows() < 2) return out;
    const Matrix sim = sf * tf.transpose();  // unit rows: squared distance 2 - 2 x cosine
    auto dist = [](double cosine) { return std::sqrt(std::max(2 - 2 * cosine, 0.0)); };
    std::map<std::pair<std::int64_t, std::int64_t>, double> best;  // the lowest ratio of each pair
    // Each row's k most similar columns, with the ratio of the distance to the (k+1)-th.
    auto side = [&](const Matrix& m, bool columns_are_source) {
        const Eigen::Index kk = std::min<Eigen::Index>(k, m.cols() - 1);
        std::vector<Eigen::Index> idx(static_cast<std::size_t>(m.cols()));
        for (Eigen::Index i = 0; i < m.rows(); ++i) {
            std::iota(idx.begin(), idx.end(), Eigen::Index(0));
            std::partial_sort(idx.begin(), idx.begin() + kk + 1, idx.end(), [&](Eigen::Index a, Eigen::Index b) {
                return m(i, a) > m(i, b) || (m(i, a) == m(i, b) && a < b);
            });
            const double dk = std::max(dist(m(i, idx[static_cast<std::size_t>(kk)])), 1e-300);
            for (Eigen::Index r = 0; r < kk; ++r) {
                const Eigen::Index j = idx[static_cast<std::size_t>(r)];
                const std::pair<std::int64_t, std::int64_t> ij = columns_are_source ? std::pair{j, i} : std::pair{i, j};
                const double ratio = dist(m(i, j)) / dk;
                auto [it, fresh] = best.insert({ij, ratio});
                if (!fresh) it->second = std::min(it->second, ratio);
            }
        }
    };
    side(sim, false);
    side(sim.transpose(), true);
    std::vector<std::pair<double, std::pair<std::int64_t, std::int64_t>>> ranked;
    for (const auto& [ij, r] : best) ranked.push_back({r, ij});
    // stable: ties keep the map's (source, target) order, so the ranking is deterministic
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (const auto& r : ranked) out.push_back(r.second);
    return out;
}

std::vector<Transform> feature_match_hypotheses(const Points& source, const Points& source_features, const Points& target,
                                                const Points& target_features, double distance, int count, int neighbours) {
    registration::ConsistencyOptions co;
    co.distance = distance;
    co.hypotheses = count;
    const registration::Correspondences corr =
        neighbours <= 1 ? registration::ranked_correspondences(source_features, target_features)
                        : knn_feature_correspondences(source_features, target_features, neighbours);
    std::vector<Transform> out;
    for (const auto& h : registration::sc2_pcr_hypotheses(source, target, corr, co)) out.push_back(h.transform);
    return out;
}

std::vector<Transform> Model::hypotheses(const Points& source, const Points& source_features, const Points& target,
                                         const Points& target_features, double distance, Rng&) const {
    return feature_match_hypotheses(source, run(source, source_features).features, target,
                                    run(target, target_features).features, distance, kFeatureHypotheses, kFeatureNeighbours);
}

}  // namespace orbit::udpreg
