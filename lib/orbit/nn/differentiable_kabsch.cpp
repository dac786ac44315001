#include "orbit/nn/differentiable_kabsch.hpp"

#include <Eigen/LU>
#include <Eigen/SVD>
#include <cmath>
#include <memory>
#include <string>

#include "orbit/core/error.hpp"

namespace orbit::nn {

namespace {

using MatD = Mat<double>;
using M3 = Eigen::Matrix3d;
using V3 = Eigen::Vector3d;

struct Solved {
    MatD x, y;       // [M,3]
    Eigen::VectorXd w;
    double sw = 0;
    V3 xc, yc;
    M3 R, V;         // R and the right singular vectors of H
    V3 s;            // signed singular values s' (the last one carries the reflection sign)
};

void solve(Solved& k) {
    const Eigen::Index M = k.x.rows();
    k.sw = 0;
    k.xc.setZero();
    k.yc.setZero();
    for (Eigen::Index i = 0; i < M; ++i) {
        const double wi = k.w[i];
        require(wi >= 0 && std::isfinite(wi), "nn: kabsch: weights must be finite and non-negative");
        k.sw += wi;
        k.xc += wi * k.x.row(i).transpose();
        k.yc += wi * k.y.row(i).transpose();
    }
    require(k.sw > 0 && std::isfinite(k.sw), "nn: kabsch: the weights sum to zero");
    k.xc /= k.sw;
    k.yc /= k.sw;
    // H = sum w (x - xc)(y - yc)^T; R maximizes tr(R H)
    M3 H = M3::Zero();
    for (Eigen::Index i = 0; i < M; ++i)
        H += k.w[i] * (k.x.row(i).transpose() - k.xc) * (k.y.row(i).transpose() - k.yc).transpose();
    Eigen::JacobiSVD<M3> svd(H, Eigen::ComputeFullU | Eigen::ComputeFullV);
    const M3 U = svd.matrixU();
    k.V = svd.matrixV();
    const double d = (k.V * U.transpose()).determinant() < 0 ? -1.0 : 1.0;
    k.R = k.V * V3(1, 1, d).asDiagonal() * U.transpose();
    k.s = svd.singularValues();
    k.s[2] *= d;
}

}  // namespace

template <class T>
KabschVars weighted_kabsch(Tape<T>& tape, Var x, Var y, Var w) {
    const Mat<T>& X = tape.value(x);
    const Mat<T>& Y = tape.value(y);
    const Mat<T>& W = tape.value(w);
    require(X.cols() == 3 && Y.cols() == 3 && X.rows() == Y.rows() && X.rows() >= 1,
            "nn: kabsch expects paired [M,3] points, found [" + std::to_string(X.rows()) + "," +
                std::to_string(X.cols()) + "] and [" + std::to_string(Y.rows()) + "," + std::to_string(Y.cols()) + "]");
    require(W.rows() == X.rows() && W.cols() == 1, "nn: kabsch expects weights [M,1]");
    auto k = std::make_shared<Solved>();
    k->x = X.template cast<double>();
    k->y = Y.template cast<double>();
    k->w = W.col(0).template cast<double>();
    solve(*k);
    // R (rows 0..2) and t (row 3) in one node, split by row slices
    Mat<T> packed(4, 3);
    packed.topRows(3) = k->R.cast<T>();
    const V3 tv = k->yc - k->R * k->xc;
    for (int c = 0; c < 3; ++c) packed(3, c) = T(tv[c]);
    Var node = tape.custom(std::move(packed), {x, y, w}, [&tape, x, y, w, k](const Mat<T>& Gp) {
        const MatD G = Gp.template cast<double>();
        const V3 gt = G.row(3).transpose();
        // t = yc - R xc
        const M3 GR = G.topRows(3) - gt * k->xc.transpose();
        const V3 gyc = gt, gxc = -k->R.transpose() * gt;
        // dR = -A R, V^T A V = V^T (R dH - dH^T R^T) V / (s'_i + s'_j)
        const M3& R = k->R;
        const M3& V = k->V;
        const M3 Z = V.transpose() * GR * R.transpose() * V;
        const double floor = 1e-9 * std::max(std::abs(k->s[0]), 1e-300);
        M3 Y = M3::Zero();
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) {
                if (i == j) continue;
                double den = k->s[i] + k->s[j];
                if (std::abs(den) < floor) den = den < 0 ? -floor : floor;  // degenerate: see the header
                Y(i, j) = (Z(i, j) - Z(j, i)) / den;
            }
        const M3 GH = -R.transpose() * V * Y * V.transpose();
        const Eigen::Index M = k->x.rows();
        const bool nx = tape.needs_grad(x), ny = tape.needs_grad(y), nw = tape.needs_grad(w);
        Mat<T> gx(nx ? M : 0, 3), gy(ny ? M : 0, 3), gw(nw ? M : 0, 1);
        for (Eigen::Index i = 0; i < M; ++i) {
            const V3 xt = k->x.row(i).transpose() - k->xc;
            const V3 yt = k->y.row(i).transpose() - k->yc;
            const double wi = k->w[i];
            if (nx) gx.row(i) = (wi * (GH * yt) + (wi / k->sw) * gxc).transpose().cast<T>();
            if (ny) gy.row(i) = (wi * (GH.transpose() * xt) + (wi / k->sw) * gyc).transpose().cast<T>();
            if (nw) gw(i, 0) = T(xt.dot(GH * yt) + (xt.dot(gxc) + yt.dot(gyc)) / k->sw);
        }
        if (nx) tape.add_grad(x, std::move(gx));
        if (ny) tape.add_grad(y, std::move(gy));
        if (nw) tape.add_grad(w, std::move(gw));
    });
    return {tape.rows(node, 0, 3), tape.rows(node, 3, 1)};
}

template KabschVars weighted_kabsch<float>(Tape<float>&, Var, Var, Var);
template KabschVars weighted_kabsch<double>(Tape<double>&, Var, Var, Var);

}  // namespace orbit::nn
