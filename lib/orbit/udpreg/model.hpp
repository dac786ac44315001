#pragma once
// The UDPReg model (Mei et al., CVPR 2023): a point-wise feature network over
// rotation-invariant inputs (inputs.hpp) giving per-point features F [N,C]
// and posteriors gamma [N,K] (softmax) over K mixture components shared by
// all clouds. Registration then follows the paper through the classical
// pipeline's PosteriorModel interface (registration/gmm_ot.hpp): mixture
// parameters from gamma in coordinate and feature space, Sinkhorn between the
// two clouds' components with the mixing weights as marginals and a slack
// slot for the non-overlapping part, weighted Kabsch on matched centroids,
// verification and ICP.
//
// Network: `layers` shared linear layers of width `hidden` with ReLU (a
// PointNet-style shared MLP), each followed, when `context` > 0, by the
// max of its output over the point's `context` nearest neighbours in
// coordinates, concatenated to it (a PointNet++-style neighbourhood pool on
// a graph that moves with the cloud, so the outputs stay invariant); then two
// linear heads: C features and K posterior logits. The posteriors (softmax)
// are then averaged over the same neighbourhoods `smooth` times: a component
// becomes a spatially coherent patch instead of look-alike points from all
// over the shape, which is what its centroid needs to mean something.
//
// The model file is an orbit nn store: /model with a `config` JSON attribute
// (format "orbit-udpreg-1", architecture), a `training` JSON attribute
// (seed, epochs done, history, the training recipe), float32 weights under
// /model/weights and the Adam moments under /model/optimizer.
#include <memory>
#include <mutex>
#include <utility>
#include <vector>
#include <nlohmann/json.hpp>
#include <string>

#include "orbit/io/h5.hpp"
#include "orbit/nn/layers.hpp"
#include "orbit/nn/optim.hpp"
#include "orbit/registration/global.hpp"
#include "orbit/registration/gmm_ot.hpp"

namespace orbit::udpreg {

struct ModelConfig {
    int hidden = 128;
    int layers = 2;
    int features = 32;
    int components = 16;
    int context = 16;  // neighbours of the learned neighbourhood pool and the posterior smoothing (0: none)
    int smooth = 2;    // rounds of posterior averaging over those neighbourhoods
};

// The coordinate kNN graph (nn/pointcloud.hpp conventions, self included) of
// one cloud, or of two clouds stacked as rows [a; b] (indices of b offset by
// a's rows). Empty when k is 0.
std::vector<int> context_graph(const Points& a, int k);
std::vector<int> context_graph(const Points& a, const Points& b, int k);

// The feature network, on a tape or by value.
template <class T>
class FeatureNetwork {
public:
    FeatureNetwork() = default;
    FeatureNetwork(const ModelConfig& c, int inputs, Rng& rng);
    // x [N, inputs] -> [N, C + K]: features, then posteriors (rows sum to 1);
    // graph: context_graph of the rows' points with config.context neighbours.
    nn::Var forward(nn::Tape<T>& tape, nn::Var x, const std::vector<int>& graph);
    void params(nn::ParamList<T>& out);
    int features() const { return features_; }
    int components() const { return components_; }

private:
    std::vector<nn::Linear<T>> body_;
    nn::Linear<T> head_f_, head_g_;
    int features_ = 0, components_ = 0, context_ = 0, smooth_ = 0;
};

class Model : public registration::PosteriorModel {
public:
    static std::shared_ptr<Model> create(const ModelConfig& config, std::uint64_t seed);
    static std::shared_ptr<Model> load(const std::string& path);
    static std::shared_ptr<Model> load(const h5::File& file);
    void save(h5::File& file, bool with_state = true) const;

    const ModelConfig& config() const { return config_; }
    nlohmann::json config_json() const;
    std::int64_t parameter_count() const;
    nn::ParamList<float> params() const;
    FeatureNetwork<float>& network() { return net_; }

    // Features [N,C] (unit rows) and posteriors [N,K] from a cloud and its FPFH.
    struct Output {
        Points features;
        Matrix gamma;
    };
    Output run(const Points& x, const Points& fpfh) const;

    // PosteriorModel: the learned posteriors and features (x: coordinates, features: FPFH).
    Matrix posteriors(const Points& x, const Points& features, Rng& rng) const override;
    Inference infer(const Points& x, const Points& features, Rng& rng) const override;
    // Hypotheses from the learned features' matches (feature_match_hypotheses).
    std::vector<Transform> hypotheses(const Points& source, const Points& source_features, const Points& target,
                                      const Points& target_features, double distance, Rng& rng) const override;

    // Training state, kept in the file so that training can resume.
    std::unique_ptr<nn::Adam<float>> optimizer;
    nlohmann::json training = nlohmann::json::object();  // seed, epoch, history, recipe

private:
    Model() = default;
    Output compute(const Points& x, const Points& fpfh) const;
    ModelConfig config_;
    mutable FeatureNetwork<float> net_;  // the tape reads parameters in place
    // The last few outputs, keyed by a hash of the cloud, its FPFH and the
    // weights: registration asks for the same cloud's output for the GMM+OT
    // match and again for the feature matches.
    mutable std::mutex cache_mutex_;
    mutable std::vector<std::pair<std::uint64_t, std::shared_ptr<const Output>>> cache_;
};

// Poses from matches of learned point features, then second-order spatial
// consistency (SC^2-PCR) on them; the best `count`. neighbours = 1: the
// ratio-ranked nearest neighbours (registration's ranked_correspondences);
// more: knn_feature_correspondences.
std::vector<Transform> feature_match_hypotheses(const Points& source, const Points& source_features, const Points& target,
                                                const Points& target_features, double distance, int count,
                                                int neighbours = 1);

// Candidate matches of unit feature rows: each point's k nearest neighbours
// in the other cloud, from both sides, ranked by the ratio of the distance to
// the (k+1)-th nearest (Lowe's ratio with k candidates). At small overlaps
// the true partner is often the second or third nearest in feature space;
// SC^2-PCR keeps the consistent ones, so more candidates cost little.
registration::Correspondences knn_feature_correspondences(const Points& source_features, const Points& target_features,
                                                          int k);

// Registration's feature-match hypotheses (Model::hypotheses): how many, and
// from how many neighbours per point. Chosen on the training meshes'
// validation split (docs/orbit-train-register.md); training's own alignment
// keeps 4 poses from nearest neighbours.
constexpr int kFeatureHypotheses = 12;
constexpr int kFeatureNeighbours = 3;

// Rows scaled to sum to 1 in double (network posteriors come in float).
Matrix posterior_rows(const Matrix& gamma);

// A PosteriorModel that returns posteriors and descriptors computed elsewhere
// (training estimates its alignments from the network's current output).
class FixedPosteriors : public registration::PosteriorModel {
public:
    FixedPosteriors(Matrix source_gamma, Points source_desc, Matrix target_gamma, Points target_desc, const Points* source)
        : sg_(std::move(source_gamma)), sd_(std::move(source_desc)), tg_(std::move(target_gamma)), td_(std::move(target_desc)),
          source_(source) {}
    Matrix posteriors(const Points& x, const Points&, Rng&) const override { return &x == source_ ? sg_ : tg_; }
    Inference infer(const Points& x, const Points&, Rng&) const override {
        return &x == source_ ? Inference{sg_, sd_} : Inference{tg_, td_};
    }

private:
    Matrix sg_;
    Points sd_;
    Matrix tg_;
    Points td_;
    const Points* source_;
};

}  // namespace orbit::udpreg
