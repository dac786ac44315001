#pragma once
// Vector-neuron networks (Deng et al. 2021, "Vector Neurons: a general
// framework for SO(3)-equivariant networks") that predict a rotation from a
// centred point cloud: the equivariant canonicalizer of Kaba et al.
//
// A batch of vector features is three matrices [rows, C] (the x, y and z
// components of C 3-vectors per row). Every layer acts on the channel index
// only, with one shared weight for the three components and no bias, so it
// commutes with any orthogonal map of the 3 axes:
//   VN-linear       q = V W                      (W [Cin, Cout])
//   VN-leaky-ReLU   d = V U, and where <q,d> < 0 the component of q along d
//                   is removed: q + relu(-<q,d>) / (|d|^2 + eps) d, mixed with
//                   slope * q (the leaky variant)
//   mean pooling    over neighbours and over points (permutation invariant)
// Built from existing tape operations only, so every backward is the tape's.
//
// The network (VN-DGCNN in small): edges to the k nearest neighbours carry the
// vectors [x_j - x_i, x_i]; one VN layer on edges, mean over neighbours; then
// point layers whose input also holds the cloud's mean feature; mean over the
// points; a last VN-linear to 2 output vectors (3 for O(3)). Gram-Schmidt turns
// them into the frame R = [e1 e2 e3]. Without the chiral option no cross
// products are used inside the network, so it is equivariant under reflections
// too: R(g x) = g R(x) for g in O(3) with three Gram-Schmidt vectors, for g in
// SO(3) with e3 = e1 x e2.
//
// Chiral (rotations only): a reflection-equivariant network must put its output
// vectors in the mirror plane of a mirror-symmetric cloud (on the mirror axis in
// 2-D), so it cannot map an upright bilaterally symmetric shape to the identity
// unless that plane happens to hold e1 and e2. The chiral option adds, before
// the output layer, features that rotate with the cloud but not with its mirror
// image: the quarter turn J g of every pooled vector g in 2-D, and the cross
// products (g Wa) x (g Wb) of two learned mixtures of them in 3-D.
#include <nlohmann/json.hpp>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/nn/layers.hpp"
#include "orbit/nn/tape.hpp"

namespace orbit::canon {

// The three components of a block of vector features, each [rows, C]. Planar
// features (vector neurons in 2-D, for SO(2)) leave z empty (id -1).
struct VecVar {
    nn::Var x, y, z;
    bool planar() const { return z.id < 0; }
};

template <class T>
VecVar vn_linear(nn::Tape<T>& tape, const VecVar& v, nn::Var W);
// <a, b> per row and channel: [rows, C].
template <class T>
nn::Var vn_dot(nn::Tape<T>& tape, const VecVar& a, const VecVar& b);
// VN leaky-ReLU of q with directions d (slope 0: the plain VN-ReLU).
template <class T>
VecVar vn_leaky_relu(nn::Tape<T>& tape, const VecVar& q, const VecVar& d, T slope, T eps);
// Mean over consecutive groups of `group` rows ([rows, C] -> [rows/group, C]).
template <class T>
VecVar vn_segment_mean(nn::Tape<T>& tape, const VecVar& v, int group);
template <class T>
VecVar vn_concat(nn::Tape<T>& tape, const VecVar& a, const VecVar& b);

// eps guards the norms only against exact zeros (outputs of a fresh network can be
// small, so a larger eps would bend the frame off orthonormal).
// Gram-Schmidt of the per-row vectors in columns 0, 1 (and 2 when `reflections`)
// of v ([B, >=2] each) into R [B, 9], row-major per row: R(r, c) = e_c[r].
// Without reflections e3 = e1 x e2 (det R = +1); with them e3 is the
// Gram-Schmidt of the third vector (det R = +-1, equivariant under O(3)).
// Planar v: R [B, 4] = [e1, J e1], e1 = v1/|v1|, J the quarter turn (SO(2)).
template <class T>
nn::Var gram_schmidt(nn::Tape<T>& tape, const VecVar& v, bool reflections, T eps);

struct VnConfig {
    int hidden = 16;       // vector channels per layer
    int layers = 2;        // point layers after the edge layer
    int neighbors = 8;     // k of the kNN graph
    double slope = 0.2;    // leaky VN-ReLU
    bool reflections = false;  // O(3): three output vectors
    int dim = 3;               // 2: planar vector neurons for SO(2), one output vector
    bool chiral = false;       // rotations only: J g (2-D) or cross-product features before the output layer
    bool gated = false;        // invariant gates after every point layer (see VnCanonicalizerNet)
    nlohmann::json to_json() const;
    static VnConfig from_json(const nlohmann::json& j);  // throws Error on bad values
};

template <class T>
class VnCanonicalizerNet {
public:
    VnCanonicalizerNet() = default;
    VnCanonicalizerNet(const VnConfig& cfg, Rng& rng);
    // points: B clouds of n points, [B*n, 3], each cloud centred (and scaled)
    // already; n >= 2. Returns R [B, 9] (see gram_schmidt).
    nn::Var forward(nn::Tape<T>& tape, const nn::Mat<T>& points, int n);
    // The output vectors before Gram-Schmidt ([B, 2 or 3] per component).
    VecVar vectors(nn::Tape<T>& tape, const nn::Mat<T>& points, int n);
    nn::ParamList<T> params();
    const VnConfig& config() const { return cfg_; }
    // The same network in another scalar type (float training, double inference and checks).
    template <class S>
    VnCanonicalizerNet<S> cast() const;

    // Invariant gates (gated): each point's channels are scaled by
    // 2 sigmoid(MLP(s)), s = <v, v Q> the rotation-invariant inner products of
    // its channels (with <J v, v Q> too in chiral 2-D). VN-ReLU alone only
    // gates by direction; the gates let a point's weight depend on any scalar
    // function of its features, e.g. on its position relative to the cloud's
    // pooled directions.
    struct Layer {
        nn::Param<T> W, U;           // VN-linear and direction weights [Cin, Cout]
        nn::Param<T> Q, A, a, G, g;  // gates: Q [C,C]; MLP A [C or 2C, C], a [1,C], G [C,C], g [1,C]
    };
    std::vector<Layer> layers;  // edge layer, then point layers
    nn::Param<T> out;           // [hidden (2 hidden when chiral), 2 or 3]
    nn::Param<T> chiral_a, chiral_b;  // 3-D chiral: the mixtures crossed [hidden, hidden]

private:
    VnConfig cfg_;
};

extern template class VnCanonicalizerNet<float>;
extern template class VnCanonicalizerNet<double>;

}  // namespace orbit::canon
