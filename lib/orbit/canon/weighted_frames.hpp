#pragma once
// Weighted frames: a canonicalizer that sees the whole shape and is exactly
// equivariant by construction (frame averaging, Puny et al. 2022, with frames
// that come from the points and weights that a network learns; see also Dym et
// al. 2024, "Equivariant frames and the impossibility of continuous
// canonicalization", for why the weights should vanish where a frame breaks).
//
// For a centred cloud x (points p_i) every point induces a frame F_i:
//   2-D: F_i = [u_i, J u_i], u_i = p_i / |p_i|, J the quarter turn;
//   3-D: F_i = [u_i, w_i, u_i x w_i], w_i the unit part orthogonal to u_i of
//        m_i - p_i, m_i the mean of p_i's k nearest neighbours.
// The cloud expressed in F_i, F_i^T p_j, is invariant under rotations of x. It
// is splatted (bilinear / trilinear, each point 1/N) onto a grid^dim grid over
// [-half, half]^dim, giving a descriptor D_i of the whole shape as seen from
// point i; an ordinary MLP maps [D_i, |p_i|] to a score s_i and coefficients
// o_ik in that frame. The output vectors are
//   v_k = sum_i softmax(s)_i gamma_i F_i o_ik,
// gamma_i = |p_i| in 2-D (so gamma_i F_i = [p_i, J p_i] is linear in p_i) and
// |p_i| |w'_i| / (|w'_i| + tau) in 3-D (w'_i before normalizing), so points whose
// frame is undefined contribute nothing. Rotating x by g maps every F_i to g F_i
// and leaves D_i, s and o unchanged: v_k(g x) = g v_k(x) exactly, for any
// weights; the sums over i and the splat over j make it permutation invariant.
// The frame R is the Gram-Schmidt of the v_k (gram_schmidt). Rotations only:
// u x w is not equivariant under reflections. Only gradients with respect to
// the weights are needed, so D_i is data (computed outside the tape).
#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "orbit/canon/vector_neurons.hpp"
#include "orbit/core/random.hpp"
#include "orbit/nn/layers.hpp"
#include "orbit/nn/tape.hpp"

namespace orbit::canon {

struct WfConfig {
    int dim = 2;          // 2 (SO2) or 3 (SO3): one output vector in 2-D, two in 3-D
    int grid = 12;        // cells per axis of the descriptor
    double half = 2.5;    // the descriptor covers [-half, half]^dim (clouds at unit RMS radius)
    int hidden = 64;      // width of the MLP
    int blocks = 1;       // residual blocks of the MLP (0: one hidden layer)
    int neighbors = 16;   // 3-D: k of the neighbourhood mean that gives the second direction
    nlohmann::json to_json() const;
    static WfConfig from_json(const nlohmann::json& j);  // throws Error on bad values
    int outputs() const { return dim == 2 ? 1 : 2; }
    int descriptor_size() const;  // grid^dim + 1
};

// Adds wt, spread multilinearly over the 2^dim nearest cells, to a row-major grid^dim
// grid over [-half, half]^dim at point q (the first dim coordinates; clamped to the grid).
template <class T>
void splat_multilinear(int dim, int grid, double half, const Eigen::Vector3d& q, double wt, T* out);

// The per-point frames and descriptors of B centred clouds of n points ([B*n, dim]).
// frames: [B*n, dim*dim] row-major per row, the columns of gamma_i F_i (see above);
// descriptors: [B*n, grid^dim + 1].
template <class T>
void weighted_frame_inputs(const WfConfig& cfg, const nn::Mat<T>& points, int n, nn::Mat<T>& frames,
                           nn::Mat<T>& descriptors);

template <class T>
class WeightedFramesNet {
public:
    WeightedFramesNet() = default;
    WeightedFramesNet(const WfConfig& cfg, Rng& rng);
    // points: B centred clouds of n points [B*n, dim]. The output vectors before
    // Gram-Schmidt ([B, outputs] per component; planar in 2-D).
    VecVar vectors(nn::Tape<T>& tape, const nn::Mat<T>& points, int n);
    nn::Var forward(nn::Tape<T>& tape, const nn::Mat<T>& points, int n);
    nn::ParamList<T> params();
    const WfConfig& config() const { return cfg_; }
    template <class S>
    WeightedFramesNet<S> cast() const;

    nn::ResidualNet<T> mlp;  // [D_i, |p_i|] -> [s_i, o_i1 .. o_i(dim*outputs)]

private:
    WfConfig cfg_;
};

extern template class WeightedFramesNet<float>;
extern template class WeightedFramesNet<double>;

}  // namespace orbit::canon
