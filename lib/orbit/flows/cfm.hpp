#pragma once
// Conditional flow matching (Lipman et al.; Tong et al.): a velocity field
// v(x, t) regressed on u = x1 - x0 along straight paths
//   x_t = t x1 + (1 - t) x0 + sigma eps,  x0 ~ N(0, I), x1 ~ data,
// with independent pairs (I-CFM) or pairs re-matched inside each minibatch
// by optimal transport (OT-CFM: exact assignment, or a Sinkhorn plan sampled).
// Sampling integrates dx/dt = v from t = 0 to 1; the log-density integrates
// the instantaneous change of variables backwards with the exact divergence
// (forward-mode, one pass per dimension).
#include <nlohmann/json.hpp>
#include <string>

#include "orbit/core/random.hpp"
#include "orbit/flows/interpolant.hpp"
#include "orbit/flows/ode.hpp"
#include "orbit/nn/layers.hpp"

namespace orbit::flows {

using nn::Mat;
using nn::Tape;
using nn::Var;

struct CfmConfig {
    int dim = 2;
    int hidden = 256;
    int blocks = 2;
    int freqs = 4;            // time features: t, sin(pi f t), cos(pi f t) for f = 1, 2, 4, ...
    std::string activation = "silu";
    std::string coupling = "none";  // none (I-CFM) | exact | sinkhorn (OT-CFM)
    double sigma = 0.0;       // noise around the straight path
    double sinkhorn_eps = 0.05;  // relative to the mean squared distance in the minibatch
    int context = 0;          // width of the encoded context (0: unconditional)
    // A stochastic interpolant (interpolant.hpp) when set: "source" takes x0 from the
    // context (the degraded view of each row), "gaussian" from N(0, I); "" is plain CFM.
    std::string base;
    double source_noise = 0.1;  // interpolant, base "source": x0 = source + source_noise N(0, I)

    nlohmann::json to_json() const;
    static CfmConfig from_json(const nlohmann::json& j);
};

// The input of a flow-matching network: x, then t and sin(pi 2^k t), cos(pi 2^k t)
// for k < freqs, then the encoded context (when it has columns).
template <class T>
Mat<T> flow_matching_input(const Mat<T>& x, const Eigen::Matrix<T, Eigen::Dynamic, 1>& t, int freqs, const Mat<T>& ctx);

// The parameters of one network, as the optimizer takes them.
template <class T>
nn::ParamList<T> network_params(nn::ResidualNet<T>& net) {
    nn::ParamList<T> out;
    net.params(out);
    return out;
}

template <class T>
class VelocityField {
public:
    VelocityField(CfmConfig cfg, Rng& rng);
    const CfmConfig& config() const { return cfg_; }
    nn::ParamList<T> params();

    // Network input [B, D + 1 + 2F + C]: x, the time features, the encoded context
    // ctx [B, C] (empty for an unconditional field).
    Mat<T> input(const Mat<T>& x, const Eigen::Matrix<T, Eigen::Dynamic, 1>& t, const Mat<T>& ctx = {}) const;
    Var forward(Tape<T>& tape, Var input);
    Mat<T> velocity(const Mat<T>& x, double t, const Mat<T>& ctx = {});
    // Velocity and its divergence (exact trace of dv/dx) per row.
    Mat<T> velocity_div(const Mat<T>& x, double t, Mat<T>& div, const Mat<T>& ctx = {});
    bool interpolant() const { return !cfg_.base.empty(); }

    // Re-pairs the rows of x0 and x1 in place (OT-CFM); a no-op for I-CFM.
    void couple(Mat<T>& x0, Mat<T>& x1, Rng& rng) const;
    // Flow-matching loss (mean squared error per coordinate) on a data batch
    // (with its rows' encoded context when conditional; for an interpolant, the
    // standardized degraded views, which are also the base points of "source").
    Var loss(Tape<T>& tape, const Mat<T>& x1, Rng& rng, const Mat<T>& ctx = {});

private:
    CfmConfig cfg_;
    nn::ResidualNet<T> net_;
    // The loss of a stochastic interpolant: pairs (x0, x1) from the coupling, sigma as gamma's scale.
    Var interpolant_loss(Tape<T>& tape, const Mat<T>& x1, Rng& rng, const Mat<T>& source);
};

extern template class VelocityField<float>;
extern template class VelocityField<double>;

}  // namespace orbit::flows
