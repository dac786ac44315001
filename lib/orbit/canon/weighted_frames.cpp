#include "orbit/canon/weighted_frames.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/nn/pointcloud.hpp"

namespace orbit::canon {

using nn::Mat;
using nn::Tape;
using nn::Var;

nlohmann::json WfConfig::to_json() const {
    return {{"dim", dim}, {"grid", grid}, {"half", half}, {"hidden", hidden}, {"blocks", blocks}, {"neighbors", neighbors}};
}

WfConfig WfConfig::from_json(const nlohmann::json& j) {
    WfConfig c;
    c.dim = j.at("dim").get<int>();
    c.grid = j.at("grid").get<int>();
    c.half = j.at("half").get<double>();
    c.hidden = j.at("hidden").get<int>();
    c.blocks = j.at("blocks").get<int>();
    c.neighbors = j.at("neighbors").get<int>();
    if ((c.dim != 2 && c.dim != 3) || c.grid < 2 || c.grid > 64 || !(c.half > 0) || c.hidden < 1 || c.blocks < 0 ||
        c.neighbors < 1)
        throw Error("weighted-frames config out of range: " + j.dump());
    return c;
}

int WfConfig::descriptor_size() const { return (dim == 2 ? grid * grid : grid * grid * grid) + 1; }

// Splats q (dim coordinates) with weight wt onto the grid^dim cells of `out` (multilinear, clamped to the grid).
template <class T>
void splat_multilinear(int dim, int grid, double half, const Eigen::Vector3d& q, double wt, T* out) {
    int i0[3] = {0, 0, 0};
    double f[3] = {0, 0, 0};
    for (int a = 0; a < dim; ++a) {
        const double u = std::clamp((q[a] + half) / (2 * half) * (grid - 1), 0.0, grid - 1 - 1e-9);
        i0[a] = static_cast<int>(std::floor(u));
        f[a] = u - i0[a];
    }
    for (int corner = 0; corner < (1 << dim); ++corner) {
        double w = wt;
        int idx = 0;
        for (int a = 0; a < dim; ++a) {
            const int bit = (corner >> a) & 1;
            w *= bit ? f[a] : 1 - f[a];
            idx = idx * grid + i0[a] + bit;
        }
        out[idx] += static_cast<T>(w);
    }
}

namespace {

// The unit frame F_i (columns) of point p and its weight gamma; m: its neighbourhood mean (3-D only).
Eigen::Matrix3d point_frame(const Eigen::Vector3d& p, const Eigen::Vector3d& m, int dim, double& gamma) {
    constexpr double tau = 0.02;  // in units of the RMS radius: a second direction shorter than this is down-weighted
    const double r = p.norm();
    const Eigen::Vector3d u = r > 0 ? Eigen::Vector3d(p / r) : Eigen::Vector3d::UnitX();
    Eigen::Matrix3d F = Eigen::Matrix3d::Identity();
    F.col(0) = u;
    if (dim == 2) {
        F.col(1) = Eigen::Vector3d(-u.y(), u.x(), 0);
        gamma = r;
        return F;
    }
    Eigen::Vector3d w = m - p;
    w -= w.dot(u) * u;
    const double wn = w.norm();
    F.col(1) = wn > 0 ? Eigen::Vector3d(w / wn) : u.unitOrthogonal();
    F.col(2) = F.col(0).cross(F.col(1));
    gamma = r * wn / (wn + tau);
    return F;
}

}  // namespace

template <class T>
void weighted_frame_inputs(const WfConfig& cfg, const Mat<T>& points, int n, Mat<T>& frames, Mat<T>& descriptors) {
    const int d = cfg.dim;
    if (points.cols() != d || n < 2 || points.rows() % n != 0)
        throw Error("weighted frames: expected clouds of at least 2 points in " + std::to_string(d) + "-D");
    const Eigen::Index rows = points.rows();
    std::vector<int> graph;
    const int k = std::min(cfg.neighbors, n - 1);
    if (d == 3) graph = nn::knn_graph(points, n, k, false);
    auto point = [&](Eigen::Index i) {
        Eigen::Vector3d p = Eigen::Vector3d::Zero();
        for (int a = 0; a < d; ++a) p[a] = static_cast<double>(points(i, a));
        return p;
    };
    frames.setZero(rows, d * d);
    descriptors.setZero(rows, cfg.descriptor_size());
    const double inv_n = 1.0 / n;
    for (Eigen::Index i = 0; i < rows; ++i) {
        const Eigen::Index start = i - i % n;
        Eigen::Vector3d m = Eigen::Vector3d::Zero();
        if (d == 3) {
            for (int j = 0; j < k; ++j) m += point(graph[static_cast<std::size_t>(i * k + j)]);
            m /= k;
        }
        double gamma = 0;
        const Eigen::Vector3d p = point(i);
        const Eigen::Matrix3d F = point_frame(p, m, d, gamma);
        for (int r = 0; r < d; ++r)
            for (int c = 0; c < d; ++c) frames(i, r * d + c) = static_cast<T>(gamma * F(r, c));
        // The descriptor matrix is column-major: splat into a row buffer, then copy.
        std::vector<T> buf(static_cast<std::size_t>(cfg.descriptor_size() - 1), T(0));
        for (Eigen::Index j = start; j < start + n; ++j) splat_multilinear(cfg.dim, cfg.grid, cfg.half, Eigen::Vector3d(F.transpose() * point(j)), inv_n, buf.data());
        for (std::size_t c = 0; c < buf.size(); ++c) descriptors(i, static_cast<Eigen::Index>(c)) = buf[c];
        descriptors(i, cfg.descriptor_size() - 1) = static_cast<T>(p.norm());
    }
}

template <class T>
WeightedFramesNet<T>::WeightedFramesNet(const WfConfig& cfg, Rng& rng)
    : mlp("wf.mlp", cfg.descriptor_size(), cfg.hidden, 1 + cfg.dim * cfg.outputs(), cfg.blocks, nn::Activation::silu, rng,
          -1.0),
      cfg_(cfg) {}

template <class T>
nn::ParamList<T> WeightedFramesNet<T>::params() {
    nn::ParamList<T> ps;
    mlp.params(ps);
    return ps;
}

template <class T>
VecVar WeightedFramesNet<T>::vectors(Tape<T>& tape, const Mat<T>& points, int n) {
    const int d = cfg_.dim;
    Mat<T> frames, desc;
    weighted_frame_inputs(cfg_, points, n, frames, desc);
    const Var out = mlp.forward(tape, tape.constant(std::move(desc)));
    // softmax of the scores over the points of each cloud (soft-clamped so exp cannot overflow)
    const Var e = tape.exp(tape.softclamp(tape.cols(out, 0, 1), T(20)));
    const Var w = tape.div(e, tape.repeat_rows(tape.segment_sum(e, n), n));
    std::vector<Var> comp[3];
    for (int k = 0; k < cfg_.outputs(); ++k)
        for (int r = 0; r < d; ++r) {
            // component r of gamma_i F_i o_ik
            Var sum;
            for (int c = 0; c < d; ++c) {
                const Var t = tape.mul(tape.constant(frames.col(r * d + c)), tape.cols(out, 1 + k * d + c, 1));
                sum = c == 0 ? t : tape.add(sum, t);
            }
            comp[r].push_back(tape.segment_sum(tape.mul(w, sum), n));
        }
    auto cat = [&](const std::vector<Var>& v) { return v.size() == 1 ? v[0] : tape.concat_cols(v); };
    return {cat(comp[0]), cat(comp[1]), d == 2 ? Var{} : cat(comp[2])};
}

template <class T>
Var WeightedFramesNet<T>::forward(Tape<T>& tape, const Mat<T>& points, int n) {
    return gram_schmidt(tape, vectors(tape, points, n), false, T(1e-30));
}

template <class T>
template <class S>
WeightedFramesNet<S> WeightedFramesNet<T>::cast() const {
    Rng rng(0);
    WeightedFramesNet<S> o(cfg_, rng);
    nn::copy_params_cast(const_cast<WeightedFramesNet<T>*>(this)->params(), o.params());
    return o;
}

#define ORBIT_WF(T)                                                                                              \
    template void splat_multilinear<T>(int, int, double, const Eigen::Vector3d&, double, T*);                   \
    template void weighted_frame_inputs<T>(const WfConfig&, const Mat<T>&, int, Mat<T>&, Mat<T>&);              \
    template class WeightedFramesNet<T>;                                                                         \
    template WeightedFramesNet<float> WeightedFramesNet<T>::cast<float>() const;                                 \
    template WeightedFramesNet<double> WeightedFramesNet<T>::cast<double>() const;
ORBIT_WF(float)
ORBIT_WF(double)

}  // namespace orbit::canon
