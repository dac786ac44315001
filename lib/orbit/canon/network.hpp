#pragma once
// The network of a learned canonicalizer: vector neurons (Deng et al.; method
// "vector-neurons"), weighted frames (method "weighted-frames") or a PCA frame
// with a learned invariant correction (method "pca-correction"). All map B
// centred clouds to output vectors that rotate with the input, and the frame
// is their Gram-Schmidt; the model file names the method and its architecture.
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "orbit/canon/pca_correction.hpp"
#include "orbit/canon/vector_neurons.hpp"
#include "orbit/canon/weighted_frames.hpp"
#include "orbit/core/error.hpp"

namespace orbit::canon {

template <class T>
class CanonNet {
public:
    CanonNet() = default;
    CanonNet(VnCanonicalizerNet<T> vn) : net_(std::move(vn)) {}       // NOLINT: implicit on purpose
    CanonNet(WeightedFramesNet<T> wf) : net_(std::move(wf)) {}        // NOLINT
    CanonNet(PcaCorrectionNet<T> pc) : net_(std::move(pc)) {}         // NOLINT
    // Builds a network (random weights from rng) from a model file's method and architecture; throws Error.
    static CanonNet from_json(const std::string& method, const nlohmann::json& architecture, Rng& rng);

    // The model file's method names, in the order of the networks in net_.
    std::string method() const {
        static const char* const names[] = {"vector-neurons", "weighted-frames", "pca-correction"};
        return names[net_.index()];
    }
    nlohmann::json architecture() const { return std::visit([](const auto& n) { return n.config().to_json(); }, net_); }
    int dim() const { return std::visit([](const auto& n) { return n.config().dim; }, net_); }
    bool reflections() const {  // only vector neurons can be built for reflections
        const auto* vn = std::get_if<VnCanonicalizerNet<T>>(&net_);
        return vn && vn->config().reflections;
    }

    VecVar vectors(nn::Tape<T>& tape, const nn::Mat<T>& points, int n) {
        return std::visit([&](auto& net) { return net.vectors(tape, points, n); }, net_);
    }
    // Networks that are ensembles (pca-correction with members > 1): each member's output vectors, whose
    // mean is vectors(); any other network is its own single member.
    int members() const {
        const auto* pc = std::get_if<PcaCorrectionNet<T>>(&net_);
        return pc ? pc->config().members : 1;
    }
    std::vector<VecVar> member_vectors(nn::Tape<T>& tape, const nn::Mat<T>& points, int n) {
        if (auto* pc = std::get_if<PcaCorrectionNet<T>>(&net_)) return pc->member_vectors(tape, points, n);
        return {vectors(tape, points, n)};
    }
    // The bins of a pca-correction angle-bins head (0: the network regresses its output vectors).
    int angle_bins() const {
        const auto* pc = std::get_if<PcaCorrectionNet<T>>(&net_);
        return pc ? pc->config().angle_bins : 0;
    }
    // The prior of an angle-bins head (see PcaCorrectionNet::angle_prior_loss).
    nn::Var angle_prior_loss(nn::Tape<T>& tape, const nn::Mat<T>& points, int n, T beta, VecVar* vectors = nullptr) {
        return std::get<PcaCorrectionNet<T>>(net_).angle_prior_loss(tape, points, n, beta, vectors);
    }
    nn::Var forward(nn::Tape<T>& tape, const nn::Mat<T>& points, int n) {
        return gram_schmidt(tape, vectors(tape, points, n), reflections(), T(1e-30));
    }
    nn::ParamList<T> params() { return std::visit([](auto& net) { return net.params(); }, net_); }
    template <class S>
    CanonNet<S> cast() const {
        return std::visit([](const auto& net) { return CanonNet<S>(net.template cast<S>()); }, net_);
    }

private:
    std::variant<VnCanonicalizerNet<T>, WeightedFramesNet<T>, PcaCorrectionNet<T>> net_;
};

template <class T>
CanonNet<T> CanonNet<T>::from_json(const std::string& method, const nlohmann::json& architecture, Rng& rng) {
    if (method == "vector-neurons") return CanonNet(VnCanonicalizerNet<T>(VnConfig::from_json(architecture), rng));
    if (method == "weighted-frames") return CanonNet(WeightedFramesNet<T>(WfConfig::from_json(architecture), rng));
    if (method == "pca-correction") return CanonNet(PcaCorrectionNet<T>(PcConfig::from_json(architecture), rng));
    throw Error("unknown canonicalizer method '" + method + "' (vector-neurons, weighted-frames or pca-correction)");
}

}  // namespace orbit::canon
