#include "orbit/canon/pca_correction.hpp"

#include <Eigen/Dense>
#include <algorithm>
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
    if (angle_bins != 0) j["angle_bins"] = angle_bins;  // and so do files of the vector head
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
    c.angle_bins = j.value("angle_bins", 0);
    if ((c.dim != 2 && c.dim != 3) || c.grid < 2 || c.grid > 64 || !(c.half > 0) || c.hidden < 1 || c.blocks < 0 || c.members < 1 ||
        c.members > 64)
        throw Error("pca-correction config out of range: " + j.dump());
    if (c.angle_bins != 0 && (c.angle_bins < 4 || c.angle_bins > 720 || c.angle_bins % 2 != 0 || c.dim != 2 || c.members != 1))
        throw Error("pca-correction angle bins: an even number from 4 to 720, for SO2 and one member: " + j.dump());
    return c;
}

int parse_correction_head(const std::string& text) {
    if (text == "vectors") return 0;
    if (text == "angle-bins") return 36;
    const std::string prefix = "angle-bins:";
    if (text.rfind(prefix, 0) == 0) {
        const std::string k = text.substr(prefix.size());
        if (!k.empty() && k.size() <= 3 && std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            const int bins = std::stoi(k);
            if (bins >= 4 && bins <= 720 && bins % 2 == 0) return bins;
        }
    }
    throw UsageError("unknown correction head '" + text + "' (vectors, angle-bins or angle-bins:K with K even, 4 to 720)");
}

double upright_correction(double f00, double f10) { return -std::atan2(f10, f00); }

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
        mlps.emplace_back(k == 0 ? "pc.mlp" : "pc.mlp" + std::to_string(k), cfg.descriptor_size(), cfg.hidden, cfg.mlp_outputs(),
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
    if (cfg_.angle_bins > 0) return {decode(tape, angle_head(tape, points, n))};
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
AngleHead<T> PcaCorrectionNet<T>::angle_head(Tape<T>& tape, const Mat<T>& points, int n) {
    const int K = cfg_.angle_bins;
    if (K <= 0) throw Error("pca correction: the network has no angle-bins head");
    AngleHead<T> h;
    std::vector<Mat<T>> desc;
    pca_correction_inputs(cfg_, points, n, h.frames, desc);
    // The sign -I turns the correction by a half turn: bin k of x' is bin k + K/2 of -x'.
    std::vector<int> shift(static_cast<std::size_t>(K));
    for (int k = 0; k < K; ++k) shift[static_cast<std::size_t>(k)] = (k + K / 2) % K;
    const T w = static_cast<T>(1.0 / static_cast<double>(desc.size()));
    for (std::size_t m = 0; m < desc.size(); ++m) {
        const Var o = mlps[0].forward(tape, tape.constant(std::move(desc[m])));
        Var l = tape.cols(o, 0, K), r = tape.cols(o, K, K);
        if (m == 1) l = tape.gather_cols(l, shift), r = tape.gather_cols(r, shift);
        h.logits = m == 0 ? l : tape.add(h.logits, l);
        h.residual = m == 0 ? r : tape.add(h.residual, r);
    }
    if (desc.size() > 1) h.logits = tape.scale(h.logits, w), h.residual = tape.scale(h.residual, w);
    return h;
}

template <class T>
VecVar PcaCorrectionNet<T>::decode(Tape<T>& tape, const AngleHead<T>& h) const {
    const Mat<T>& l = tape.value(h.logits);
    const Mat<T>& r = tape.value(h.residual);
    const Eigen::Index b = l.rows();
    Mat<T> vx(b, 1), vy(b, 1);
    const double width = 2 * M_PI / cfg_.angle_bins;
    for (Eigen::Index c = 0; c < b; ++c) {
        Eigen::Index k = 0;
        l.row(c).maxCoeff(&k);  // the first of equal logits
        const double delta = width * (static_cast<double>(k) + std::clamp(static_cast<double>(r(c, k)), -0.5, 0.5));
        // The length: the margin of the highest logit over the opposite bin's (at most 1), so that a cloud
        // symmetric under the half turn, whose opposite bins tie, gets a vanishing vector and is flagged.
        const double margin = std::min(1.0, static_cast<double>(l(c, k) - l(c, (k + cfg_.angle_bins / 2) % cfg_.angle_bins)));
        const double co = margin * std::cos(delta), si = margin * std::sin(delta);
        const auto& f = h.frames;  // row-major phi0: v = phi0 (cos delta, sin delta)
        vx(c, 0) = static_cast<T>(static_cast<double>(f(c, 0)) * co + static_cast<double>(f(c, 1)) * si);
        vy(c, 0) = static_cast<T>(static_cast<double>(f(c, 2)) * co + static_cast<double>(f(c, 3)) * si);
    }
    return {tape.constant(std::move(vx)), tape.constant(std::move(vy)), Var{}};
}

template <class T>
Var PcaCorrectionNet<T>::angle_prior_loss(Tape<T>& tape, const Mat<T>& points, int n, T beta, VecVar* vectors) {
    const AngleHead<T> h = angle_head(tape, points, n);
    const int K = cfg_.angle_bins;
    const Eigen::Index b = h.frames.rows();
    Mat<T> onehot = Mat<T>::Zero(b, K), target = Mat<T>::Zero(b, K);
    for (Eigen::Index c = 0; c < b; ++c) {
        const double u = upright_correction(static_cast<double>(h.frames(c, 0)), static_cast<double>(h.frames(c, 2))) * K / (2 * M_PI);
        const double k = std::round(u);
        const auto bin = static_cast<Eigen::Index>(((static_cast<long long>(k) % K) + K) % K);
        onehot(c, bin) = T(1);
        target(c, bin) = static_cast<T>(u - k);
    }
    const Var mask = tape.constant(onehot);
    const Var ce = tape.scale(tape.sum(tape.mul(tape.log_softmax_rows(h.logits), mask)), T(-1));
    const Var res = tape.sum(tape.square(tape.sub(tape.mul(h.residual, mask), tape.constant(std::move(target)))));
    if (vectors) *vectors = decode(tape, h);
    return tape.scale(tape.add(ce, res), beta / static_cast<T>(b));
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
