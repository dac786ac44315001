#pragma once
// PCA correction: an exactly equivariant canonicalizer made of a fixed
// equivariant reference frame and a learned invariant correction (the
// composition h(x) = phi0(x) c(phi0(x)^T x) of Kaba et al. 2023, Sec. 3,
// with phi0 a classical canonicalization).
//
//   phi0(x)  the PCA frame of the centred cloud: the principal axes by
//            decreasing variance, each axis signed so that the third moment
//            sum_i (e_k . p_i)^3 along it is positive; the last axis is
//            J e1 in 2-D and e1 x e2 in 3-D, so phi0 is a rotation.
//            phi0(g x) = g phi0(x) wherever the axes and signs are decided
//            (distinct eigenvalues, non-zero third moments).
//   x'       phi0(x)^T x, the cloud in its PCA pose: invariant under rotations of x.
//   c(x')    an ordinary MLP on a grid splat of x' (each point 1/N, the same
//            multilinear splat as weighted frames) predicting output vectors a_k
//            (one in 2-D: (cos delta, sin delta) up to length; two in 3-D).
//   v_k      phi0(x) a_k, and R = Gram-Schmidt(v), so R(g x) = g R(x) exactly
//            for any weights: training only decides which way is up of a cloud
//            in its PCA pose, and the MLP needs no equivariance of its own.
// With average_signs (the default) the correction is also averaged over the
// sign choices of the axes, the group S of diagonal sign matrices of det +1
// ({I, -I} in 2-D, the four of the Klein group in 3-D): a(x') = 1/|S| sum_s s a0(s x').
// Then a(s x') = s a(x'), so h no longer depends on which sign the third
// moment picked (a sign that small resampling noise can flip): the MLP learns
// which end is up instead of having to memorise both poses, and equivariance
// needs distinct eigenvalues only. This is frame averaging (Puny et al. 2022)
// of the correction over the PCA frames.
// Rotations only (phi0 has det +1). Trained with the canonicalization prior,
// c learns the rotation that takes an upright cloud's PCA pose back upright
// (e.g. the half turn that PCA's sign choice got wrong for a digit).
#include <Eigen/Core>
#include <nlohmann/json.hpp>
#include <vector>

#include "orbit/canon/pca.hpp"
#include "orbit/canon/vector_neurons.hpp"
#include "orbit/core/random.hpp"
#include "orbit/nn/layers.hpp"
#include "orbit/nn/tape.hpp"

namespace orbit::canon {

struct PcConfig {
    int dim = 2;        // 2 (SO2) or 3 (SO3): one output vector in 2-D, two in 3-D
    int grid = 12;      // cells per axis of the splat of the cloud in its PCA pose
    double half = 2.5;  // the splat covers [-half, half]^dim (clouds at unit RMS radius)
    int hidden = 64;    // width of the MLP
    int blocks = 1;     // residual blocks of the MLP (0: one hidden layer)
    bool average_signs = true;  // average the correction over the sign choices of the PCA axes (see above)
    // An ensemble: this many MLPs (independent starts), their correction vectors averaged before the frame
    // (still exactly equivariant: a mean of equivariant vectors is equivariant). Training puts the prior
    // on each member's own vectors, so the members learn independently on the same minibatches.
    int members = 1;
    nlohmann::json to_json() const;
    static PcConfig from_json(const nlohmann::json& j);  // throws Error on bad values
    int outputs() const { return dim == 2 ? 1 : 2; }
    int descriptor_size() const { return dim == 2 ? grid * grid : grid * grid * grid; }
};

// phi0 of one cloud [n, dim] as 3 x 3 (2-D: the x, y block, z fixed): the columns are the principal
// axes signed by their third moments (pca_canonical's frame for SO2 / SO3); a rotation.
Eigen::Matrix3d pca_reference_frame(const PointsRef& points);

// The diagonals of the sign matrices S averaged over (just the identity without average_signs).
std::vector<Eigen::Vector3d> pca_axis_signs(const PcConfig& cfg);

// For B centred clouds of n points ([B*n, dim]): frames [B, dim*dim], phi0 row-major per row,
// and per sign matrix s of pca_axis_signs (in that order) descriptors [B, grid^dim], the splat of
// s phi0^T x (total mass grid^dim / 4, so cells are O(1)).
template <class T>
void pca_correction_inputs(const PcConfig& cfg, const nn::Mat<T>& points, int n, nn::Mat<T>& frames,
                           std::vector<nn::Mat<T>>& descriptors);

// The mean of K sets of output vectors (the ensemble's vectors), component by component.
template <class T>
VecVar mean_vectors(nn::Tape<T>& tape, const std::vector<VecVar>& v);

template <class T>
class PcaCorrectionNet {
public:
    PcaCorrectionNet() = default;
    PcaCorrectionNet(const PcConfig& cfg, Rng& rng);
    // points: B centred clouds of n points [B*n, dim]. The output vectors phi0 a_k before
    // Gram-Schmidt ([B, outputs] per component; planar in 2-D).
    VecVar vectors(nn::Tape<T>& tape, const nn::Mat<T>& points, int n);
    // Each member's vectors (vectors() is their mean).
    std::vector<VecVar> member_vectors(nn::Tape<T>& tape, const nn::Mat<T>& points, int n);
    nn::Var forward(nn::Tape<T>& tape, const nn::Mat<T>& points, int n);
    nn::ParamList<T> params();
    const PcConfig& config() const { return cfg_; }
    template <class S>
    PcaCorrectionNet<S> cast() const;

    std::vector<nn::ResidualNet<T>> mlps;  // per member: splat of x' -> [a_1 .. a_outputs] (dim numbers each)

private:
    PcConfig cfg_;
};

extern template class PcaCorrectionNet<float>;
extern template class PcaCorrectionNet<double>;

}  // namespace orbit::canon
