#include "orbit/nn/differentiable_sinkhorn.hpp"

#include <cmath>
#include <memory>
#include <string>

#include "orbit/core/error.hpp"

namespace orbit::nn {

namespace {

using MatD = Mat<double>;
using VecD = Eigen::VectorXd;

// The stored iterates of one solve, in units of eps: u^t = f^t / eps, v^t = g^t / eps.
struct Iterates {
    MatD c;               // C / eps
    VecD la, lb;          // log a, log b
    std::vector<VecD> u, v;  // t = 1..L at index t-1
};

VecD as_vector(const MatD& m, Eigen::Index n, const char* what) {
    require((m.rows() == 1 || m.cols() == 1) && m.size() == n,
            std::string("nn: sinkhorn: ") + what + " must have one entry per " + (what[4] == 'a' ? "row" : "column") +
                " of the cost (" + std::to_string(n) + "), found [" + std::to_string(m.rows()) + "," +
                std::to_string(m.cols()) + "]");
    return Eigen::Map<const VecD>(m.data(), n);
}

// -LSE along each row of Z (row-major, so every row is contiguous and the
// exponentials vectorize).
VecD neg_lse_rows(const MatD& Z) {
    const VecD mx = Z.rowwise().maxCoeff();
    return -(mx.array() + (Z.colwise() - mx).array().exp().rowwise().sum().log()).matrix();
}

void solve(Iterates& it, int iterations) {
    const Eigen::Index m = it.c.cols();
    const MatD ct = it.c.transpose();  // row-major C^T: the g update runs along its rows
    VecD u, v = VecD::Zero(m);
    for (int t = 0; t < iterations; ++t) {
        // u_i = -LSE_j(lb_j + v_j - c_ij), then v_j = -LSE_i(la_i + u_i - c_ij)
        u = neg_lse_rows((-it.c).rowwise() + (it.lb + v).transpose());
        v = neg_lse_rows((-ct).rowwise() + (it.la + u).transpose());
        require(u.allFinite() && v.allFinite(), "nn: sinkhorn: non-finite potentials (infinite costs or zero marginals)");
        it.u.push_back(u);
        it.v.push_back(v);
    }
}

MatD log_plan(const Iterates& it) {
    const VecD& u = it.u.back();
    const VecD& v = it.v.back();
    MatD lp = -it.c;
    lp.colwise() += it.la + u;
    lp.rowwise() += (it.lb + v).transpose();
    return lp;
}

// Reverse pass through the unrolled iterations; G = d loss / d log P.
void backward(const Iterates& it, double eps, const MatD& G, MatD& gC, VecD& gla, VecD& glb) {
    const Eigen::Index m = it.c.cols();
    const int L = static_cast<int>(it.u.size());
    MatD gc = -G;
    gla = G.rowwise().sum();
    glb = G.colwise().sum().transpose();
    VecD du = gla;  // into u^L (the output reads u^L and v^L directly)
    VecD dv = glb;
    MatD W;
    for (int t = L - 1; t >= 0; --t) {
        const VecD& u = it.u[t];
        const VecD& v = it.v[t];
        // v^t_j = -LSE_i(la_i + u^t_i - c_ij): weights Q_ij = exp(la_i + u_i - c_ij + v_j), columns sum to 1
        W = (((-it.c).colwise() + (it.la + u)).rowwise() + v.transpose()).array().exp().matrix();
        W.array().rowwise() *= dv.transpose().array();  // dv_j Q_ij
        gc += W;
        const VecD back_u = W.rowwise().sum();
        gla -= back_u;
        du -= back_u;
        // u^t_i = -LSE_j(lb_j + v^{t-1}_j - c_ij): weights R_ij = exp(lb_j + v^{t-1}_j - c_ij + u_i), rows sum to 1
        const VecD vp = t > 0 ? it.v[t - 1] : VecD::Zero(m);
        W = (((-it.c).rowwise() + (it.lb + vp).transpose()).colwise() + u).array().exp().matrix();
        W.array().colwise() *= du.array();  // du_i R_ij
        gc += W;
        const VecD dvp = -W.colwise().sum().transpose();
        glb += dvp;  // log b enters the u update exactly as v^{t-1} does
        dv = dvp;    // v^0 = 0 is a constant: its share is dropped at t = 0
        du.setZero();
    }
    gC = gc / eps;
}

}  // namespace

Mat<double> log_sinkhorn_values(const Mat<double>& cost, const Mat<double>& log_a, const Mat<double>& log_b,
                                const SinkhornLayerOptions& opt) {
    require(opt.eps > 0 && std::isfinite(opt.eps), "nn: sinkhorn eps must be positive");
    require(opt.iterations >= 1, "nn: sinkhorn needs at least one iteration");
    require(cost.rows() >= 1 && cost.cols() >= 1, "nn: sinkhorn of an empty cost matrix");
    Iterates it;
    it.c = cost / opt.eps;
    it.la = as_vector(log_a, cost.rows(), "log_a");
    it.lb = as_vector(log_b, cost.cols(), "log_b");
    solve(it, opt.iterations);
    return log_plan(it);
}

template <class T>
Var log_sinkhorn(Tape<T>& tape, Var cost, Var log_a, Var log_b, const SinkhornLayerOptions& opt) {
    require(opt.eps > 0 && std::isfinite(opt.eps), "nn: sinkhorn eps must be positive");
    require(opt.iterations >= 1, "nn: sinkhorn needs at least one iteration");
    const MatD C = tape.value(cost).template cast<double>();
    require(C.rows() >= 1 && C.cols() >= 1, "nn: sinkhorn of an empty cost matrix");
    auto it = std::make_shared<Iterates>();
    it->c = C / opt.eps;
    it->la = as_vector(tape.value(log_a).template cast<double>(), C.rows(), "log_a");
    it->lb = as_vector(tape.value(log_b).template cast<double>(), C.cols(), "log_b");
    solve(*it, opt.iterations);
    Mat<T> lp = log_plan(*it).template cast<T>();
    if (!(tape.needs_grad(cost) || tape.needs_grad(log_a) || tape.needs_grad(log_b))) it.reset();
    const double eps = opt.eps;
    const Eigen::Index ra = tape.value(log_a).rows(), ca = tape.value(log_a).cols();
    const Eigen::Index rb = tape.value(log_b).rows(), cb = tape.value(log_b).cols();
    return tape.custom(std::move(lp), {cost, log_a, log_b},
                       [&tape, cost, log_a, log_b, it, eps, ra, ca, rb, cb](const Mat<T>& G) {
                           MatD gC;
                           VecD gla, glb;
                           backward(*it, eps, G.template cast<double>(), gC, gla, glb);
                           tape.add_grad(cost, Mat<T>(gC.template cast<T>()));
                           // the gradients keep the marginals' shapes (row or column)
                           tape.add_grad(log_a, Mat<T>(Eigen::Map<const MatD>(gla.data(), ra, ca).template cast<T>()));
                           tape.add_grad(log_b, Mat<T>(Eigen::Map<const MatD>(glb.data(), rb, cb).template cast<T>()));
                       });
}

template <class T>
Var sinkhorn_plan(Tape<T>& tape, Var cost, Var log_a, Var log_b, const SinkhornLayerOptions& opt) {
    return tape.exp(log_sinkhorn(tape, cost, log_a, log_b, opt));
}

template Var log_sinkhorn<float>(Tape<float>&, Var, Var, Var, const SinkhornLayerOptions&);
template Var log_sinkhorn<double>(Tape<double>&, Var, Var, Var, const SinkhornLayerOptions&);
template Var sinkhorn_plan<float>(Tape<float>&, Var, Var, Var, const SinkhornLayerOptions&);
template Var sinkhorn_plan<double>(Tape<double>&, Var, Var, Var, const SinkhornLayerOptions&);

}  // namespace orbit::nn
