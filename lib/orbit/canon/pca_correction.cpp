#include "orbit/canon/pca_correction.hpp"

#include <Eigen/Dense>
#include <cmath>

#include "orbit/canon/weighted_frames.hpp"
#include "orbit/core/error.hpp"

namespace orbit::canon {

using nn::Mat;
using nn::Tape;
using nn::Var;

nlohmann::json PcConfig::to_json() const {
    return {{"dim", dim}, {"grid", grid}, {"half", half}, {"hidden", hidden}, {"blocks", blocks}, {"average_signs", average_signs}};
}

PcConfig PcConfig::from_json(const nlohmann::json& j) {
    PcConfig c;
    c.dim = j.at("dim").get<int>();
    c.grid = j.at("grid").get<int>();
    c.half = j.at("half").get<double>();
    c.hidden = j.at("hidden").get<int>();
    c.blocks = j.at("blocks").get<int>();
    c.average_signs = j.at("average_signs").get<bool>();
    if ((c.dim != 2 && c.dim != 3) || c.grid < 2 || c.grid > 64 || !(c.half > 0) || c.hidden < 1 || c.blocks < 0)
        throw Error("pca-correction config out of range: " + j.dump());
    return c;
}

Eigen::Matrix3d pca_reference_frame(const Eigen::MatrixXd& p) {
    const auto d = p.cols();
    Eigen::Matrix3d F = Eigen::Matrix3d::Identity();
    const Eigen::MatrixXd cov = p.transpose() * p / static_cast<double>(p.rows());
    // Third moment along an axis; the axis is flipped where it is negative.
    auto signed_axis = [&](Eigen::VectorXd e) {
        const double m3 = (p * e).array().cube().sum();
        return m3 < 0 ? Eigen::VectorXd(-e) : e;
    };
    if (d == 2) {
        // The major axis in closed form: its angle is half the angle of (c_xx - c_yy, 2 c_xy), which turns by
        // 2 phi when the cloud turns by phi, so the axis turns by phi (mod a half turn, which the sign settles).
        const double a = 0.5 * std::atan2(2 * cov(0, 1), cov(0, 0) - cov(1, 1));
        const Eigen::VectorXd e1 = signed_axis(Eigen::Vector2d(std::cos(a), std::sin(a)));
        F(0, 0) = e1(0), F(1, 0) = e1(1);
        F(0, 1) = -e1(1), F(1, 1) = e1(0);
        return F;
    }
    const Eigen::Matrix3d c3 = cov;
    Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es(c3);
    const Eigen::Vector3d e1 = signed_axis(es.eigenvectors().col(2)), e2 = signed_axis(es.eigenvectors().col(1));
    F.col(0) = e1;
    F.col(1) = e2;
    F.col(2) = e1.cross(e2);
    return F;
}

template <class T>
void pca_correction_inputs(const PcConfig& cfg, const Mat<T>& points, int n, Mat<T>& frames, Mat<T>& descriptors,
                           const Eigen::Vector3d& signs) {
    const int d = cfg.dim;
    if (points.cols() != d || n < 2 || points.rows() % n != 0)
        throw Error("pca correction: expected clouds of at least 2 points in " + std::to_string(d) + "-D");
    const Eigen::Index b = points.rows() / n;
    frames.setZero(b, d * d);
    descriptors.setZero(b, cfg.descriptor_size());
    const double wt = cfg.descriptor_size() / 4.0 / n;
    std::vector<T> buf(static_cast<std::size_t>(cfg.descriptor_size()));
    for (Eigen::Index c = 0; c < b; ++c) {
        const Eigen::MatrixXd p = points.middleRows(c * n, n).template cast<double>();
        const Eigen::Matrix3d F = pca_reference_frame(p);
        for (int r = 0; r < d; ++r)
            for (int k = 0; k < d; ++k) frames(c, r * d + k) = static_cast<T>(F(r, k));
        std::fill(buf.begin(), buf.end(), T(0));
        for (int j = 0; j < n; ++j) {
            Eigen::Vector3d q = Eigen::Vector3d::Zero();
            q.head(d) = p.row(j).transpose();
            splat_multilinear(d, cfg.grid, cfg.half, Eigen::Vector3d(signs.cwiseProduct(F.transpose() * q)), wt, buf.data());
        }
        for (std::size_t k = 0; k < buf.size(); ++k) descriptors(c, static_cast<Eigen::Index>(k)) = buf[k];
    }
}

std::vector<Eigen::Vector3d> pca_axis_signs(const PcConfig& cfg) {
    if (!cfg.average_signs) return {Eigen::Vector3d::Ones()};
    if (cfg.dim == 2) return {Eigen::Vector3d(1, 1, 1), Eigen::Vector3d(-1, -1, 1)};
    return {Eigen::Vector3d(1, 1, 1), Eigen::Vector3d(-1, -1, 1), Eigen::Vector3d(-1, 1, -1), Eigen::Vector3d(1, -1, -1)};
}

template <class T>
PcaCorrectionNet<T>::PcaCorrectionNet(const PcConfig& cfg, Rng& rng)
    : mlp("pc.mlp", cfg.descriptor_size(), cfg.hidden, cfg.dim * cfg.outputs(), cfg.blocks, nn::Activation::silu, rng,
          -1.0),  // a random last layer (the default init): a zero one would start every frame degenerate
      cfg_(cfg) {}

template <class T>
nn::ParamList<T> PcaCorrectionNet<T>::params() {
    nn::ParamList<T> ps;
    mlp.params(ps);
    return ps;
}

template <class T>
VecVar PcaCorrectionNet<T>::vectors(Tape<T>& tape, const Mat<T>& points, int n) {
    const int d = cfg_.dim;
    Mat<T> frames, desc;
    // a = 1/|S| sum_s s a0(s x'), column by column (s is diagonal)
    const std::vector<Eigen::Vector3d> signs = pca_axis_signs(cfg_);
    std::vector<Var> acol(static_cast<std::size_t>(cfg_.outputs() * d));
    for (std::size_t m = 0; m < signs.size(); ++m) {
        pca_correction_inputs(cfg_, points, n, frames, desc, signs[m]);
        const Var out = mlp.forward(tape, tape.constant(std::move(desc)));
        for (int k = 0; k < cfg_.outputs(); ++k)
            for (int c = 0; c < d; ++c) {
                const Var t = tape.scale(tape.cols(out, k * d + c, 1), static_cast<T>(signs[m][c] / signs.size()));
                Var& col = acol[static_cast<std::size_t>(k * d + c)];
                col = m == 0 ? t : tape.add(col, t);
            }
    }
    std::vector<Var> comp[3];
    for (int k = 0; k < cfg_.outputs(); ++k)
        for (int r = 0; r < d; ++r) {
            // component r of phi0 a_k
            Var sum;
            for (int c = 0; c < d; ++c) {
                const Var t = tape.mul(tape.constant(frames.col(r * d + c)), acol[static_cast<std::size_t>(k * d + c)]);
                sum = c == 0 ? t : tape.add(sum, t);
            }
            comp[r].push_back(sum);
        }
    auto cat = [&](const std::vector<Var>& v) { return v.size() == 1 ? v[0] : tape.concat_cols(v); };
    return {cat(comp[0]), cat(comp[1]), d == 2 ? Var{} : cat(comp[2])};
}

template <class T>
Var PcaCorrectionNet<T>::forward(Tape<T>& tape, const Mat<T>& points, int n) {
    return gram_schmidt(tape, vectors(tape, points, n), false, T(1e-30));
}

template <class T>
template <class S>
PcaCorrectionNet<S> PcaCorrectionNet<T>::cast() const {
    Rng rng(0);
    PcaCorrectionNet<S> o(cfg_, rng);
    auto from = const_cast<PcaCorrectionNet<T>*>(this)->params();
    auto to = o.params();
    for (std::size_t i = 0; i < to.size(); ++i) {
        to[i]->value = from[i]->value.template cast<S>();
        to[i]->zero_grad();
    }
    return o;
}

#define ORBIT_PC(T)                                                                                   \
    template void pca_correction_inputs<T>(const PcConfig&, const Mat<T>&, int, Mat<T>&, Mat<T>&,          \
                                           const Eigen::Vector3d&);                                 \
    template class PcaCorrectionNet<T>;                                                               \
    template PcaCorrectionNet<float> PcaCorrectionNet<T>::cast<float>() const;                        \
    template PcaCorrectionNet<double> PcaCorrectionNet<T>::cast<double>() const;
ORBIT_PC(float)
ORBIT_PC(double)

}  // namespace orbit::canon
