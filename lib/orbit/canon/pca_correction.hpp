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
// The angle-bins head (angle_bins = K > 0, 2-D only) replaces the regressed vector: the MLP gives K
// logits over the correction angle delta (bin k centred on 2 pi k / K) and K within-bin residuals rho_k
// (in bin widths), and the correction is the angle of the highest logit, 2 pi (k + clamp(rho_k, +-1/2)) / K,
// so a = (cos delta, sin delta) times the margin of that logit over the opposite bin's (at most 1: a
// cloud symmetric under the half turn ties the two and gets a vanishing vector, flagged as with the vector head). A regressed vector is the mean of the posterior over the poses, short
// and unstable where that posterior has two modes (a digit that may be a half turn off); the bins pick a
// mode. Averaged over the signs, the logits and residuals of s x' enter those of x' with their angles
// turned by s (the half turn -I shifts the bins by K/2, so K is even): l(-x')[k] = l(x')[k + K/2], and
// the canonical frame again does not depend on the sign of the reference frame. Trained by the prior as
// a classification: the cross-entropy of the bin of the correction that makes R(x) = I on an upright
// cloud, plus the squared error of that bin's residual.
// Rotations only (phi0 has det +1). Trained with the canonicalization prior,
// c learns the rotation that takes an upright cloud's PCA pose back upright
// (e.g. the half turn that PCA's sign choice got wrong for a digit).
#include <Eigen/Core>
#include <nlohmann/json.hpp>
#include <string>
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
    int angle_bins = 0;  // 0: regress the correction vectors; K > 0 (even, 2-D, one member): the angle-bins head above
    nlohmann::json to_json() const;
    static PcConfig from_json(const nlohmann::json& j);  // throws Error on bad values
    int outputs() const { return dim == 2 ? 1 : 2; }
    int descriptor_size() const { return dim == 2 ? grid * grid : grid * grid * grid; }
    int mlp_outputs() const { return angle_bins > 0 ? 2 * angle_bins : dim * outputs(); }
};

// The head of --head: "vectors" -> 0, "angle-bins" -> 36, "angle-bins:K" -> K (UsageError otherwise).
int parse_correction_head(const std::string& text);

// The angle-bins head of B clouds: logits [B, K] and residuals [B, K] (averaged over the signs), and
// the reference frames phi0 [B, 4] (row-major) they turn.
template <class T>
struct AngleHead {
    nn::Var logits, residual;
    nn::Mat<T> frames;
};

// The correction angle the prior asks for: the delta with phi0 rot(delta) = I, for a row-major 2 x 2 phi0.
double upright_correction(double f00, double f10);

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
    // The angle-bins head (angle_bins > 0). vectors() is then phi0 (cos delta, sin delta) of the decoded
    // angle, a constant of the tape (an argmax has no gradient): training uses angle_prior_loss.
    AngleHead<T> angle_head(nn::Tape<T>& tape, const nn::Mat<T>& points, int n);
    // The decoded output vectors phi0 (cos delta, sin delta) min(1, l[k] - l[k + K/2]) of a head (constants of the tape).
    VecVar decode(nn::Tape<T>& tape, const AngleHead<T>& head) const;
    // beta / B sum_b [ -log softmax(l_b)[k_b] + (rho_b[k_b] - t_b)^2 ], k_b + t_b the upright correction
    // of cloud b in bin widths (|t_b| <= 1/2); vectors (when given) receives decode() of the same head.
    nn::Var angle_prior_loss(nn::Tape<T>& tape, const nn::Mat<T>& points, int n, T beta, VecVar* vectors = nullptr);
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
