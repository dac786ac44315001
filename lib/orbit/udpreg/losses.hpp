#pragma once
// The three unsupervised losses of UDPReg (Mei et al., CVPR 2023), each with
// its gradient written out (the network's tape then takes these gradients as
// the seed of its backward pass).
//
// Inputs are a cloud's points x [N,3], its learned point features f [N,C]
// and posteriors gamma [N,K] (rows sum to 1). Features enter the losses as
// unit rows z = f / |f|, which makes the feature-space mixture independent
// of the features' scale and matches the cosine cost of the component match.
//
// posterior_consistency(p, gamma): the mixture that gamma defines on p (the
// gmm module's soft-assignment formulas: pi_k = n_k / N, mu_k = sum_i
// gamma_ik p_i / n_k, isotropic sigma_k^2 = sum_i gamma_ik |p_i - mu_k|^2 /
// (D n_k)) has posteriors gammahat_ik = pi_k N(p_i | mu_k, sigma_k^2) /
// sum_l (...); the loss is their cross-entropy -(1/N) sum_ik gamma_ik log
// gammahat_ik. It is small when gamma is what EM would return for that
// mixture, that is when the clusters gamma draws are compact and apart in p.
//
// self_consistency_loss: the mixtures in coordinate space and in feature
// space share the posteriors: 1/2 [pc(x, gamma) + pc(z, gamma)], plus
// `balance` x KL(pi || uniform), which keeps all K components in use (a
// single component is a trivial fixed point of the cross-entropy), plus
// `spread` x component_spread(x, gamma), plus `sharpen` x point_entropy(gamma).
//
// point_entropy(gamma): the mean entropy of the points' own posteriors,
// -(1/N) sum_ik gamma_ik log gamma_ik (nats; log K at uniform posteriors, 0
// for one-hot ones). With the balance it is the clustering objective of IIC
// (Ji et al. 2019): KL(pi || uniform) + mean_i H(gamma_i) = log K - (H(pi) -
// mean_i H(gamma_i)), so equal weights maximise the information between a
// point and its component. The balance alone is blind to how the mass is
// shared among the points (any posteriors with a uniform mean, uniform ones
// included, are its minimum); this term makes each point pick a component,
// and since uniform posteriors are its maximum, they become unstable instead
// of stationary.
//
// component_spread(p, gamma): the coordinate mixture's mean component
// variance over the cloud's variance, sum_ik gamma_ik |p_i - mu_k|^2 /
// sum_i |p_i - pbar|^2: 1 when every component is spread over the whole
// cloud (uniform posteriors, centroids at the centre), small when each
// component is a compact patch. Unlike the cross-entropy it has a
// first-order gradient at uniform posteriors (|p_i - mu_k|^2, by the
// envelope theorem: mu_k minimises the weighted sum of squares), so it
// pulls near-uniform posteriors apart into patches.
//
// cross_consistency_loss: after alignment, points of the two clouds that
// fall in the same component share its centroid: the posterior consistency
// of the union [x_aligned; y] with posteriors [gamma_s; gamma_t] (a
// component that sits at different places in the two clouds gives a blurred
// union cluster whose posteriors disagree with gamma), minus the mutual
// information of the posteriors of the point pairs (i, j) that the
// alignment brings together: with the symmetrised joint P = 1/(2M) sum_m
// (gs_i gt_j^T + gt_j gs_i^T), I = sum_kl P_kl log(P_kl / (P_k P_l)). The
// information term is what makes a component the same part of the shape in
// both views: it is highest when paired points agree confidently and all
// components are used, and a constant or uniform posterior scores 0.
//
// local_contrastive_loss: InfoNCE on the unit features of the point pairs
// (i, j) that the estimated alignment puts within the inlier distance:
// each source point should be closer in feature space to its partner than
// to the partners of the other sampled points, and each target point
// likewise (both directions, averaged), at temperature tau.
//
// The estimated alignment and the pairs are data here: the losses are
// differentiated with respect to gamma and f only (see docs/udpreg.md).
#include <utility>
#include <vector>

#include "orbit/nn/tape.hpp"

namespace orbit::udpreg {

template <class T>
using Mat = nn::Mat<T>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// A loss on one cloud and its gradients (d_points is left empty when not asked for).
template <class T>
struct CloudGrad {
    T value = 0;
    Mat<T> d_gamma, d_points;
};

// A loss on a pair of clouds and its gradients with respect to both sides.
template <class T>
struct PairGrad {
    T value = 0;
    Mat<T> d_gamma_s, d_gamma_t, d_f_s, d_f_t;
};

// Smallest variance of a component (in units of p squared): keeps a one-point cluster finite.
constexpr double kVarianceFloor = 1e-4;

template <class T>
CloudGrad<T> posterior_consistency(const Mat<T>& p, const Mat<T>& gamma, bool point_grad);

// KL(pi || uniform) with pi_k = mean_i gamma_ik.
template <class T>
CloudGrad<T> mixing_balance(const Mat<T>& gamma);

// Unit rows and the backward of the normalisation.
template <class T>
Mat<T> unit_rows(const Mat<T>& f);
template <class T>
Mat<T> unit_rows_backward(const Mat<T>& f, const Mat<T>& z, const Mat<T>& dz);

// d_points is left empty.
template <class T>
CloudGrad<T> point_entropy(const Mat<T>& gamma);

// d_points is left empty.
template <class T>
CloudGrad<T> component_spread(const Mat<T>& p, const Mat<T>& gamma);

// d_points holds the gradient with respect to f.
template <class T>
CloudGrad<T> self_consistency_loss(const Mat<T>& x, const Mat<T>& f, const Mat<T>& gamma, T balance, T spread = T(0),
                                   T sharpen = T(0));

// -I of the paired posteriors (d_f_* left empty; fewer than 1 pair gives 0).
template <class T>
PairGrad<T> paired_information(const Mat<T>& gamma_s, const Mat<T>& gamma_t, const std::vector<std::pair<int, int>>& pairs);

// d_f_s, d_f_t are left empty (features do not enter).
template <class T>
PairGrad<T> cross_consistency_loss(const Mat<T>& x_aligned, const Mat<T>& gamma_s, const Mat<T>& y, const Mat<T>& gamma_t,
                                   const std::vector<std::pair<int, int>>& pairs);

// pairs: (source row, target row); d_gamma_* are left empty. Fewer than 2 pairs give 0.
template <class T>
PairGrad<T> local_contrastive_loss(const Mat<T>& f_s, const Mat<T>& f_t, const std::vector<std::pair<int, int>>& pairs,
                                   T temperature);

}  // namespace orbit::udpreg
