#pragma once
// The network of a learned canonicalizer: vector neurons (Deng et al.; method
// "vector-neurons"), weighted frames (method "weighted-frames") or a PCA frame
// with a learned invariant correction (method "pca-correction"). All map B
// centred clouds to output vectors that rotate with the input, and the frame
// is their Gram-Schmidt; the model file names the method and its architecture.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "orbit/canon/pca_correction.hpp"
#include "orbit/canon/vector_neurons.hpp"
#include "orbit/canon/weighted_frames.hpp"
#include "orbit/core/error.hpp"

namespace orbit::canon {

template <class T>
class CanonNet {
public:
    CanonNet() = default;
    CanonNet(VnCanonicalizerNet<T> vn) : vn_(std::move(vn)) {}        // NOLINT: implicit on purpose
    CanonNet(WeightedFramesNet<T> wf) : wf_(std::move(wf)) {}         // NOLINT
    CanonNet(PcaCorrectionNet<T> pc) : pc_(std::move(pc)) {}          // NOLINT
    // Builds a network (random weights from rng) from a model file's method and architecture; throws Error.
    static CanonNet from_json(const std::string& method, const nlohmann::json& architecture, Rng& rng);

    std::string method() const { return pc_ ? "pca-correction" : wf_ ? "weighted-frames" : "vector-neurons"; }
    nlohmann::json architecture() const {
        return pc_ ? pc_->config().to_json() : wf_ ? wf_->config().to_json() : vn_->config().to_json();
    }
    int dim() const { return pc_ ? pc_->config().dim : wf_ ? wf_->config().dim : vn_->config().dim; }
    bool reflections() const { return pc_ || wf_ ? false : vn_->config().reflections; }

    VecVar vectors(nn::Tape<T>& tape, const nn::Mat<T>& points, int n) {
        if (pc_) return pc_->vectors(tape, points, n);
        return wf_ ? wf_->vectors(tape, points, n) : vn_->vectors(tape, points, n);
    }
    nn::Var forward(nn::Tape<T>& tape, const nn::Mat<T>& points, int n) {
        return gram_schmidt(tape, vectors(tape, points, n), reflections(), T(1e-30));
    }
    nn::ParamList<T> params() { return pc_ ? pc_->params() : wf_ ? wf_->params() : vn_->params(); }
    template <class S>
    CanonNet<S> cast() const {
        if (pc_) return CanonNet<S>(pc_->template cast<S>());
        if (wf_) return CanonNet<S>(wf_->template cast<S>());
        return CanonNet<S>(vn_->template cast<S>());
    }

private:
    std::optional<VnCanonicalizerNet<T>> vn_;
    std::optional<WeightedFramesNet<T>> wf_;
    std::optional<PcaCorrectionNet<T>> pc_;
};

template <class T>
CanonNet<T> CanonNet<T>::from_json(const std::string& method, const nlohmann::json& architecture, Rng& rng) {
    if (method == "vector-neurons") return CanonNet(VnCanonicalizerNet<T>(VnConfig::from_json(architecture), rng));
    if (method == "weighted-frames") return CanonNet(WeightedFramesNet<T>(WfConfig::from_json(architecture), rng));
    if (method == "pca-correction") return CanonNet(PcaCorrectionNet<T>(PcConfig::from_json(architecture), rng));
    throw Error("unknown canonicalizer method '" + method + "' (vector-neurons, weighted-frames or pca-correction)");
}

}  // namespace orbit::canon
