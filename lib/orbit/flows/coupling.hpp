#pragma once
// Coupling flows: a stack of layers, each a fixed permutation of the
// coordinates, an optional ActNorm, an optional LU-decomposed linear map and
// a coupling transform whose parameters a residual network computes from the
// untouched half of the coordinates:
//   spline  (NSF, Durkan et al.): rational-quadratic spline, K bins on [-B, B],
//           identity tails;
//   affine  (Real NVP, Dinh et al.): y = x exp(s) + t with the log-scale s
//           soft-clamped into (-c, c).
// The conditioner's last layer starts at zero, so every coupling starts as
// the identity. The base distribution is a standard normal.
// A conditional flow (context > 0) feeds the encoded context to every
// conditioner next to the untouched half: p(x | c).
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/nn/layers.hpp"

namespace orbit::flows {

using nn::Mat;
using nn::Tape;
using nn::Var;

struct CouplingConfig {
    std::string transform = "spline";  // spline | affine
    int dim = 2;
    int layers = 8;
    int hidden = 128;
    int blocks = 2;         // residual blocks per conditioner
    int bins = 8;           // spline bins K
    double tail_bound = 3;  // spline interval [-B, B]
    double scale_clamp = 3; // affine: log-scales lie in (-c, c)
    std::string permutation = "reverse";  // reverse | random
    bool actnorm = false;
    bool lu = false;        // LU-decomposed linear layer before each coupling
    double dropout = 0;
    std::string activation = "relu";
    int context = 0;        // width of the encoded context (0: unconditional)
    std::vector<std::vector<int>> perms;  // filled at construction (saved with the model)

    nlohmann::json to_json() const;
    static CouplingConfig from_json(const nlohmann::json& j);
};

template <class T>
class CouplingFlow {
public:
    CouplingFlow(CouplingConfig cfg, Rng& rng);

    const CouplingConfig& config() const { return cfg_; }
    int dim() const { return cfg_.dim; }
    nn::ParamList<T> params();

    // x -> z on a tape; returns z and the per-row log|det dz/dx|. rng enables dropout.
    // ctx: the rows' encoded context [B, context] (a constant node; none when unconditional).
    std::pair<Var, Var> forward(Tape<T>& tape, Var x, Rng* rng = nullptr, Var ctx = {});
    // log p(x [| c]) per row ([B,1]) under the flow with a standard normal base.
    Var log_prob(Tape<T>& tape, Var x, Rng* rng = nullptr, Var ctx = {});
    // z -> x (inference only); logdet receives log|det dx/dz| per row when not null.
    Mat<T> inverse(const Mat<T>& z, Mat<T>* logdet = nullptr, const Mat<T>& ctx = {});

    // Data-dependent ActNorm initialization from a batch: each ActNorm then
    // outputs zero mean and unit variance on it (no-op without ActNorm).
    void init_actnorm(const Mat<T>& batch, const Mat<T>& ctx = {});

private:
    struct Layer {
        std::vector<int> perm, inv_perm;
        nn::Param<T> an_logs, an_bias;       // ActNorm
        nn::Param<T> lu_l, lu_u, lu_s, lu_b;  // LU linear: W = L U, diag(U) = softplus(s) + 1e-3
        nn::ResidualNet<T> net;
    };
    CouplingConfig cfg_;
    std::vector<Layer> layers_;
    int da_ = 1, db_ = 1;  // identity and transformed coordinate counts
    int params_per_dim() const;
    Var coupling(Tape<T>& tape, Layer& l, Var xb, Var theta, Var& logdet, bool inverse);
    void check_context(Eigen::Index rows, const Mat<T>& ctx) const;
};

extern template class CouplingFlow<float>;
extern template class CouplingFlow<double>;

}  // namespace orbit::flows
