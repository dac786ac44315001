#include "orbit/canon/pca_correction.hpp"

#include <Eigen/Dense>
#include <cmath>

#include "orbit/canon/pca.hpp"
#include "orbit/canon/weighted_frames.hpp"
#include "orbit/core/error.hpp"

namespace orbit::canon {

using nn::Mat;
using nn::Tape;
using nn::Var;

nlohmann::json PcConfig::to_json() const {
    nlohmann::json j = {{"dim", dim}, {"grid", grid}, {"half", half}, {"hidden", hidden}, {"blocks", blocks}, {"average_signs", average_signs}};
    if (members != 1) j["members"] = members;  // files of single networks stay as they were
    return j;
}

PcConfig PcConfig::from_json(const nlohmann::json& j) {
    PcConfig c;
    c.dim = j.at("dim").get<int>();
    c.grid = j.at("grid").get<int>();
    c.half = j.at("half").get<double>();
    c.hidden = j.at("hidden").get<int>();
    c.blocks = j.at("blocks").get<int>();
    c.average_signs = j.at("average_signs").get<bool>();
    c.members = j.value("members", 1);
    if ((c.dim != 2 && c.dim != 3) || c.grid < 2 || c.grid > 64 || !(c.half > 0) || c.hidden < 1 || c.blocks < 0 || c.members < 1 ||
        c.members > 64)
        throw Error("pca-correction config out of range: " + j.dump());
    return c;
}

Eigen::Matrix3d pca_reference_frame(const PointsRef& p) {
    // orbit-canonicalize's PCA frame, its signs from the third moments alone (no extreme-point fallback).
    Options opt;
    opt.group = p.cols() == 2 ? Group::SO2 : Group::SO3;
    opt.sign_tol = 0;
    return pca_canonical(p, opt).transform.topLeftCorner<3, 3>().transpose();
}

template <class T>
void pca_correction_inputs(const PcConfig& cfg, const Mat<T>& points, int n, Mat<T>& frames, std::vector<Mat<T>>& descriptors) {
    const int d = cfg.dim;
    if (points.cols() != d || n < 2 || points.rows() % n != 0)
        throw Error("pca correction: expected clouds of at least 2 points in " + std::to_string(d) + "-D");
    const Eigen::Index b = points.rows() / n;
    const std::vector<Eigen::Vector3d> signs = pca_axis_signs(cfg);
    frames.setZero(b, d * d);
    descriptors.assign(signs.size(), Mat<T>::Zero(b, cfg.descriptor_size()));
    const double wt = cfg.descriptor_size() / 4.0 / n;
    std::vector<T> buf(static_cast<std::size_t>(cfg.descriptor_size()));
    for (Eigen::Index c = 0; c < b; ++c) {
        const Points p = points.middleRows(c * n, n).template cast<double>();
        const Eigen::Matrix3d F = pca_reference_frame(p);
        for (int r = 0; r < d; ++r)
            for (int k = 0; k < d; ++k) frames(c, r * d + k) = static_cast<T>(F(r, k));
        for (std::size_t m = 0; m < signs.size(); ++m) {
            std::fill(buf.begin(), buf.end(), T(0));
            for (int j = 0; j < n; ++j) {
                Eigen::Vector3d q = Eigen::Vector3d::Zero();
                q.head(d) = p.row(j).transpose();
                splat_multilinear(d, cfg.grid, cfg.half, Eigen::Vector3d(signs[m].cwiseProduct(F.transpose() * q)), wt, buf.data());
            }
            for (std::size_t k = 0; k < buf.size(); ++k) descriptors[m](c, static_cast<Eigen::Index>(k)) = buf[k];
        }
    }
}

std::vector<Eigen::Vector3d> pca_axis_signs(const PcConfig& cfg) {
    if (!cfg.average_signs) return {Eigen::Vector3d::Ones()};
    if (cfg.dim == 2) return {Eigen::Vector3d(1, 1, 1), Eigen::Vector3d(-1, -1, 1)};
    return {Eigen::Vector3d(1, 1, 1), Eigen::Vector3d(-1, -1, 1), Eigen::Vector3d(-1, 1, -1), Eigen::Vector3d(1, -1, -1)};
}

template <class T>
PcaCorrectionNet<T>::PcaCorrectionNet(const PcConfig& cfg, Rng& rng) : cfg_(cfg) {
    for (int k = 0; k < cfg.members; ++k)  // member 0 keeps the name of a single network's parameters
        mlps.emplace_back(k == 0 ? "pc.mlp" : "pc.mlp" + std::to_string(k), cfg.descriptor_size(), cfg.hidden, cfg.dim * cfg.outputs(),
                          cfg.blocks, nn::Activation::silu, rng,
                          -1.0);  // a random last layer (the default init): a zero one would start every frame degenerate
}

template <class T>
nn::ParamList<T> PcaCorrectionNet<T>::params() {
    nn::ParamList<T> ps;
    for (auto& mlp : mlps) mlp.params(ps);
    return ps;
}

template <class T>
std::vector<VecVar> PcaCorrectionNet<T>::member_vectors(Tape<T>& tape, const Mat<T>& points, int n) {
    const int d = cfg_.dim;
    Mat<T> frames;
    std::vector<Mat<T>> desc;
    pca_correction_inputs(cfg_, points, n, frames, desc);
    const std::vector<Eigen::Vector3d> signs = pca_axis_signs(cfg_);
    std::vector<Var> inputs;
    for (auto& m : desc) inputs.push_back(tape.constant(std::move(m)));
    std::vector<VecVar> out;
    for (auto& mlp : mlps) {
        // a = 1/|S| sum_s s a0(s x'), column by column (s is diagonal)
        std::vector<Var> acol(static_cast<std::size_t>(cfg_.outputs() * d));
        for (std::size_t m = 0; m < signs.size(); ++m) {
            const Var o = mlp.forward(tape, inputs[m]);
            for (int k = 0; k < cfg_.outputs(); ++k)
                for (int c = 0; c < d; ++c) {
                    const Var t = tape.scale(tape.cols(o, k * d + c, 1), static_cast<T>(signs[m][c] / signs.size()));
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
        out.push_back({cat(comp[0]), cat(comp[1]), d == 2 ? Var{} : cat(comp[2])});
    }
    return out;
}

template <class T>
VecVar mean_vectors(Tape<T>& tape, const std::vector<VecVar>& v) {
    const T w = static_cast<T>(1.0 / static_cast<double>(v.size()));
    auto mean = [&](Var VecVar::*c) {
        Var sum = v[0].*c;
        for (std::size_t k = 1; k < v.size(); ++k) sum = tape.add(sum, v[k].*c);
        return tape.scale(sum, w);
    };
    return {mean(&VecVar::x), mean(&VecVar::y), v[0].planar() ? Var{} : mean(&VecVar::z)};
}

template <class T>
VecVar PcaCorrectionNet<T>::vectors(Tape<T>& tape, const Mat<T>& points, int n) {
    const std::vector<VecVar> v = member_vectors(tape, points, n);
    if (v.size() == 1) return v[0];
    return mean_vectors(tape, v);
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
    nn::copy_params_cast(const_cast<PcaCorrectionNet<T>*>(this)->params(), o.params());
    return o;
}

#define ORBIT_PC(T)                                                                                   \
    template VecVar mean_vectors<T>(Tape<T>&, const std::vector<VecVar>&);                        \
    template void pca_correction_inputs<T>(const PcConfig&, const Mat<T>&, int, Mat<T>&, std::vector<Mat<T>>&); \
    template class PcaCorrectionNet<T>;                                                               \
    template PcaCorrectionNet<float> PcaCorrectionNet<T>::cast<float>() const;                        \
    template PcaCorrectionNet<double> PcaCorrectionNet<T>::cast<double>() const;
ORBIT_PC(float)
ORBIT_PC(double)

}  // namespace orbit::canon
