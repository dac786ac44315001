#pragma once
// Riemannian flow matching (Chen and Lipman, "Flow Matching on General
// Geometries") on the sphere S^d and on SO(3).
//
// The conditional path from a base draw x0 to a data point x1 is the
// geodesic x_t = exp_x0(t log_x0(x1)) with velocity u_t = d x_t / dt; a
// network v(x, t [, context]) is regressed on u_t in the Riemannian norm.
// Its output is made tangent by construction: on the sphere the network's
// ambient vector f is projected, v = f - (f . x) x; on SO(3) the network
// gives the body-frame angular velocity w and dR/dt = R [w]x.
//
// Samples integrate dx/dt = v from the base at t = 0 to t = 1, and
// every accepted step is projected back onto the manifold (in double
// precision), so samples lie on it to rounding. Log-densities integrate the
// change of variables d log p / dt = -div v backwards from t = 1 with the
// exact Riemannian divergence (forward-mode derivatives of the network):
//   sphere: div v = tr J - x^T J x - d (f . x),  J = df/dx (ambient Jacobian);
//   SO(3):  div v = sum_i E_i(w_i), E_i(R) = R [e_i]x the left-invariant frame,
//           which is divergence free for the Haar measure.
// The base density is uniform (see manifolds.hpp for the measures), or on
// S^2 a von Mises-Fisher mixture fitted to the training rows by EM (vmf.hpp):
// the paths then start from draws of the mixture and the log-density adds the
// mixture's log-density at the point the flow carries x back to at t = 0.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"
#include "orbit/flows/manifolds.hpp"
#include "orbit/flows/ode.hpp"
#include "orbit/flows/vmf.hpp"
#include "orbit/nn/layers.hpp"

namespace orbit::flows {

using nn::Mat;
using nn::Tape;
using nn::Var;

struct RfmConfig {
    std::string manifold = "sphere";  // sphere | so3
    int dim = 3;                      // ambient coordinates of a point (d + 1, or 9 for SO(3))
    int hidden = 256;
    int blocks = 2;
    int freqs = 4;
    std::string activation = "silu";
    int context = 0;  // width of the encoded context (0: unconditional)
    // The base distribution: "uniform", or on S^2 "vmf:K" (a mixture of K
    // components) or "vmf" (K chosen on held-out training rows); `mixture`
    // holds the fitted parameters (see fit_rfm_base).
    std::string base = "uniform";
    VmfMixture mixture;
    // Pairs of a training batch: "none" (independent draws) or "exact" (each
    // minibatch's base draws re-matched to its data rows by the assignment of
    // least total squared geodesic distance, a minibatch OT coupling; rows
    // beyond 256 are matched in blocks of 256). Unconditional models only.
    std::string coupling = "none";

    nlohmann::json to_json() const;
    static RfmConfig from_json(const nlohmann::json& j);
};

// Output of the network and its derivatives along input directions
// (forward mode): dy[k] = J dx[k] row by row, for inference.
template <class T>
Mat<T> forward_jvp(const nn::ResidualNet<T>& net, const Mat<T>& x, const std::vector<Mat<T>>& dx,
                   std::vector<Mat<T>>& dy);

template <class T>
class RiemannianField {
public:
    RiemannianField(RfmConfig cfg, Rng& rng);
    const RfmConfig& config() const { return cfg_; }
    const Manifold& manifold() const { return *m_; }
    nn::ParamList<T> params();

    // Ambient velocity dx/dt [B, ambient] at points x (rows on the manifold) and time t.
    // ctx: the encoded context [B, context] (empty when unconditional).
    Matrix velocity(const Matrix& x, double t, const Mat<T>& ctx) const;
    // Same, and the Riemannian divergence of the field per row.
    Matrix velocity_div(const Matrix& x, double t, const Mat<T>& ctx, Vector& div) const;
    // A draw from the base distribution and the base's log-density (per unit of the manifold's measure).
    Eigen::RowVectorXd draw_base(Rng& rng) const;
    double base_log_density(const Eigen::Ref<const Eigen::RowVectorXd>& x) const;
    // Riemannian flow-matching loss (mean squared error per tangent coordinate) on a batch.
    Var loss(Tape<T>& tape, const Matrix& x1, const Mat<T>& ctx, Rng& rng);

private:
    RfmConfig cfg_;
    std::unique_ptr<Manifold> m_;
    nn::ResidualNet<T> net_;
    Mat<T> input(const Matrix& x, double t, const Mat<T>& ctx) const;
    Matrix to_ambient(const Matrix& x, const Matrix& f) const;  // network output -> dx/dt
    Mat<T> input(const Matrix& x, const Eigen::VectorXd& t, const Mat<T>& ctx) const;
};

extern template class RiemannianField<float>;
extern template class RiemannianField<double>;

// Fits the base that cfg.base names to the training rows (a no-op for
// "uniform"); checks the name and that a vMF base is on S^2. "vmf" chooses its
// K on `val` when it has 10 rows or more, else on a fifth of the training rows.
void fit_rfm_base(RfmConfig& cfg, const Matrix& train, std::uint64_t seed, const Matrix& val = Matrix());

// Squared geodesic distances between the rows of a and b [a.rows(), b.rows()].
Matrix squared_geodesic_distances(const Manifold& m, const Matrix& a, const Matrix& b);

// Integrates dy/dt = f(t, y) for states [x | extra] whose first `ambient`
// columns are points of m, projecting them back onto m after every step.
OdeStats integrate_on_manifold(const std::function<void(double, const Matrix&, Matrix&)>& f, Matrix& y, double t0,
                               double t1, const OdeOptions& o, const Manifold& m);

}  // namespace orbit::flows
