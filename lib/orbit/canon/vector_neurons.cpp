#include "orbit/canon/vector_neurons.hpp"

#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/nn/pointcloud.hpp"

namespace orbit::canon {

using nn::Mat;
using nn::Tape;
using nn::Var;

template <class T>
VecVar vn_linear(Tape<T>& tape, const VecVar& v, Var W) {
    return {tape.matmul(v.x, W), tape.matmul(v.y, W), v.planar() ? Var{} : tape.matmul(v.z, W)};
}

template <class T>
Var vn_dot(Tape<T>& tape, const VecVar& a, const VecVar& b) {
    const Var xy = tape.add(tape.mul(a.x, b.x), tape.mul(a.y, b.y));
    return a.planar() ? xy : tape.add(xy, tape.mul(a.z, b.z));
}

template <class T>
VecVar vn_leaky_relu(Tape<T>& tape, const VecVar& q, const VecVar& d, T slope, T eps) {
    // coef = relu(-<q,d>) / (|d|^2 + eps): zero where q already points along d.
    const Var coef = tape.div(tape.relu(tape.scale(vn_dot(tape, q, d), T(-1))), tape.add_scalar(vn_dot(tape, d, d), eps));
    auto one = [&](Var qc, Var dc) {
        const Var relu = tape.add(qc, tape.mul(coef, dc));
        if (slope == T(0)) return relu;
        return tape.add(tape.scale(qc, slope), tape.scale(relu, T(1) - slope));
    };
    return {one(q.x, d.x), one(q.y, d.y), q.planar() ? Var{} : one(q.z, d.z)};
}

template <class T>
VecVar vn_segment_mean(Tape<T>& tape, const VecVar& v, int group) {
    return {tape.segment_mean(v.x, group), tape.segment_mean(v.y, group),
            v.planar() ? Var{} : tape.segment_mean(v.z, group)};
}

template <class T>
VecVar vn_concat(Tape<T>& tape, const VecVar& a, const VecVar& b) {
    return {tape.concat_cols({a.x, b.x}), tape.concat_cols({a.y, b.y}), a.planar() ? Var{} : tape.concat_cols({a.z, b.z})};
}

template <class T>
VecVar vn_cross(Tape<T>& tape, const VecVar& a, const VecVar& b) {
    return {tape.sub(tape.mul(a.y, b.z), tape.mul(a.z, b.y)), tape.sub(tape.mul(a.z, b.x), tape.mul(a.x, b.z)),
            tape.sub(tape.mul(a.x, b.y), tape.mul(a.y, b.x))};
}

template <class T>
Var gram_schmidt(Tape<T>& tape, const VecVar& v, bool reflections, T eps) {
    auto col = [&](int c) {
        return VecVar{tape.cols(v.x, c, 1), tape.cols(v.y, c, 1), v.planar() ? Var{} : tape.cols(v.z, c, 1)};
    };
    auto normalize = [&](const VecVar& a) {
        const Var n = tape.sqrt(tape.add_scalar(vn_dot(tape, a, a), eps));
        return VecVar{tape.div(a.x, n), tape.div(a.y, n), a.planar() ? Var{} : tape.div(a.z, n)};
    };
    if (v.planar()) {
        // SO(2): R = [e1, J e1] with J the quarter turn, which commutes with every rotation.
        const VecVar e1 = normalize(col(0));
        return tape.concat_cols({e1.x, tape.scale(e1.y, T(-1)), e1.y, e1.x});
    }
    // a - <a,e> e
    auto reject = [&](const VecVar& a, const VecVar& e) {
        const Var p = vn_dot(tape, a, e);
        return VecVar{tape.sub(a.x, tape.mul(p, e.x)), tape.sub(a.y, tape.mul(p, e.y)), tape.sub(a.z, tape.mul(p, e.z))};
    };
    const VecVar e1 = normalize(col(0));
    const VecVar e2 = normalize(reject(col(1), e1));
    VecVar e3;
    if (reflections) {
        e3 = normalize(reject(reject(col(2), e1), e2));
    } else {
        e3 = vn_cross(tape, e1, e2);
    }
    // Row r of R holds the r-th components of e1, e2, e3.
    return tape.concat_cols({e1.x, e2.x, e3.x, e1.y, e2.y, e3.y, e1.z, e2.z, e3.z});
}

nlohmann::json VnConfig::to_json() const {
    return {{"hidden", hidden}, {"layers", layers}, {"neighbors", neighbors}, {"slope", slope},
            {"reflections", reflections}, {"dim", dim}, {"chiral", chiral}, {"gated", gated}};
}

VnConfig VnConfig::from_json(const nlohmann::json& j) {
    VnConfig c;
    c.hidden = j.at("hidden").get<int>();
    c.layers = j.at("layers").get<int>();
    c.neighbors = j.at("neighbors").get<int>();
    c.slope = j.at("slope").get<double>();
    c.reflections = j.at("reflections").get<bool>();
    c.dim = j.value("dim", 3);
    c.chiral = j.value("chiral", false);
    c.gated = j.value("gated", false);
    if ((c.dim != 2 && c.dim != 3) || (c.dim == 2 && c.reflections) || (c.chiral && c.reflections) || c.hidden < 1 || c.layers < 0 || c.neighbors < 1 || !(c.slope >= 0 && c.slope < 1))
        throw Error("vector-neuron config out of range: " + j.dump());
    return c;
}

namespace {

template <class T>
nn::Param<T> uniform_param(const std::string& name, int in, int out, Rng& rng) {
    nn::Param<T> p;
    p.name = name;
    p.value.resize(in, out);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    for (Eigen::Index i = 0; i < p.value.size(); ++i) p.value.data()[i] = static_cast<T>(rng.uniform(-bound, bound));
    p.zero_grad();
    return p;
}

}  // namespace

template <class T>
VnCanonicalizerNet<T>::VnCanonicalizerNet(const VnConfig& cfg, Rng& rng) : cfg_(cfg) {
    const int h = cfg.hidden;
    layers.resize(static_cast<std::size_t>(1 + cfg.layers));
    for (std::size_t l = 0; l < layers.size(); ++l) {
        const int in = l == 0 ? 2 : 2 * h;  // edges: [x_j - x_i, x_i]; points: [v_i, mean_i v_i]
        const std::string base = "vn" + std::to_string(l);
        layers[l].W = uniform_param<T>(base + ".W", in, h, rng);
        layers[l].U = uniform_param<T>(base + ".U", in, h, rng);
        if (cfg.gated && l > 0) {
            layers[l].Q = uniform_param<T>(base + ".gate.Q", h, h, rng);
            layers[l].A = uniform_param<T>(base + ".gate.A", cfg.chiral && cfg.dim == 2 ? 2 * h : h, h, rng);
            layers[l].a = uniform_param<T>(base + ".gate.a", 1, h, rng);
            layers[l].G = uniform_param<T>(base + ".gate.G", h, h, rng);
            layers[l].g = uniform_param<T>(base + ".gate.g", 1, h, rng);
        }
    }
    out = uniform_param<T>("vn.out", cfg.chiral ? 2 * h : h, cfg.dim == 2 ? 1 : cfg.reflections ? 3 : 2, rng);
    if (cfg.chiral && cfg.dim == 3) {
        chiral_a = uniform_param<T>("vn.chiral.a", h, h, rng);
        chiral_b = uniform_param<T>("vn.chiral.b", h, h, rng);
    }
}

template <class T>
nn::ParamList<T> VnCanonicalizerNet<T>::params() {
    nn::ParamList<T> ps;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        auto& l = layers[i];
        ps.push_back(&l.W);
        ps.push_back(&l.U);
        if (cfg_.gated && i > 0)
            for (auto* p : {&l.Q, &l.A, &l.a, &l.G, &l.g}) ps.push_back(p);
    }
    ps.push_back(&out);
    if (cfg_.chiral && cfg_.dim == 3) {
        ps.push_back(&chiral_a);
        ps.push_back(&chiral_b);
    }
    return ps;
}

namespace {

// v scaled per point and channel by 2 sigmoid(MLP(<v, v Q>)) (see Layer).
template <class T>
VecVar gate(Tape<T>& tape, typename VnCanonicalizerNet<T>::Layer& l, const VecVar& v, bool chiral) {
    const VecVar vq = vn_linear(tape, v, tape.param(l.Q));
    Var s = vn_dot(tape, v, vq);
    if (chiral && v.planar()) s = tape.concat_cols({s, vn_dot(tape, VecVar{tape.scale(v.y, T(-1)), v.x, Var{}}, vq)});
    const Var h = tape.relu(tape.add_row(tape.matmul(s, tape.param(l.A)), tape.param(l.a)));
    const Var g = tape.scale(tape.sigmoid(tape.add_row(tape.matmul(h, tape.param(l.G)), tape.param(l.g))), T(2));
    return {tape.mul(v.x, g), tape.mul(v.y, g), v.planar() ? Var{} : tape.mul(v.z, g)};
}

}  // namespace

template <class T>
VecVar VnCanonicalizerNet<T>::vectors(Tape<T>& tape, const Mat<T>& points, int n) {
    if (points.cols() != cfg_.dim || n < 2 || points.rows() % n != 0)
        throw Error("vector-neuron canonicalizer: expected clouds of at least 2 points in " + std::to_string(cfg_.dim) + "-D");
    const int k = std::min(cfg_.neighbors, n - 1);
    const std::vector<int> graph = nn::knn_graph(points, n, k, false);
    const T slope = static_cast<T>(cfg_.slope), eps = T(1e-6);

    // Edge vectors [x_j - x_i, x_i], one row per (point, neighbour).
    auto edge = [&](int c) {
        const Var p = tape.constant(points.col(c));
        const Var self = tape.repeat_rows(p, k);
        return tape.concat_cols({tape.sub(tape.gather_rows(p, graph), self), self});
    };
    VecVar v{edge(0), edge(1), cfg_.dim == 2 ? Var{} : edge(2)};
    auto layer = [&](Layer& l, const VecVar& in) {
        return vn_leaky_relu(tape, vn_linear(tape, in, tape.param(l.W)), vn_linear(tape, in, tape.param(l.U)), slope, eps);
    };
    v = vn_segment_mean(tape, layer(layers[0], v), k);
    for (std::size_t l = 1; l < layers.size(); ++l) {
        const VecVar g = vn_segment_mean(tape, v, n);
        const VecVar gb{tape.repeat_rows(g.x, n), tape.repeat_rows(g.y, n), g.planar() ? Var{} : tape.repeat_rows(g.z, n)};
        v = layer(layers[l], vn_concat(tape, v, gb));
        if (cfg_.gated) v = gate<T>(tape, layers[l], v, cfg_.chiral);
    }
    VecVar g = vn_segment_mean(tape, v, n);
    if (cfg_.chiral) {
        VecVar c;
        if (g.planar()) {
            c = {tape.scale(g.y, T(-1)), g.x, Var{}};  // J g
        } else {
            const VecVar a = vn_linear(tape, g, tape.param(chiral_a)), b = vn_linear(tape, g, tape.param(chiral_b));
            c = vn_cross(tape, a, b);
        }
        g = vn_concat(tape, g, c);
    }
    return vn_linear(tape, g, tape.param(out));
}

template <class T>
Var VnCanonicalizerNet<T>::forward(Tape<T>& tape, const Mat<T>& points, int n) {
    return gram_schmidt(tape, vectors(tape, points, n), cfg_.reflections, T(1e-30));
}

template <class T>
template <class S>
VnCanonicalizerNet<S> VnCanonicalizerNet<T>::cast() const {
    Rng rng(0);
    VnConfig c = cfg_;
    VnCanonicalizerNet<S> o(c, rng);
    for (std::size_t l = 0; l < layers.size(); ++l) {
        o.layers[l].W.value = layers[l].W.value.template cast<S>();
        o.layers[l].U.value = layers[l].U.value.template cast<S>();
        o.layers[l].Q.value = layers[l].Q.value.template cast<S>();
        o.layers[l].A.value = layers[l].A.value.template cast<S>();
        o.layers[l].a.value = layers[l].a.value.template cast<S>();
        o.layers[l].G.value = layers[l].G.value.template cast<S>();
        o.layers[l].g.value = layers[l].g.value.template cast<S>();
    }
    o.out.value = out.value.template cast<S>();
    o.chiral_a.value = chiral_a.value.template cast<S>();
    o.chiral_b.value = chiral_b.value.template cast<S>();
    for (auto* p : o.params()) p->zero_grad();
    return o;
}

#define ORBIT_VN(T)                                                                               \
    template VecVar vn_linear<T>(Tape<T>&, const VecVar&, Var);                                   \
    template Var vn_dot<T>(Tape<T>&, const VecVar&, const VecVar&);                               \
    template VecVar vn_leaky_relu<T>(Tape<T>&, const VecVar&, const VecVar&, T, T);               \
    template VecVar vn_segment_mean<T>(Tape<T>&, const VecVar&, int);                             \
    template VecVar vn_concat<T>(Tape<T>&, const VecVar&, const VecVar&);                         \
    template VecVar vn_cross<T>(Tape<T>&, const VecVar&, const VecVar&);                          \
    template Var gram_schmidt<T>(Tape<T>&, const VecVar&, bool, T);                               \
    template class VnCanonicalizerNet<T>;                                                         \
    template VnCanonicalizerNet<float> VnCanonicalizerNet<T>::cast<float>() const;                \
    template VnCanonicalizerNet<double> VnCanonicalizerNet<T>::cast<double>() const;
ORBIT_VN(float)
ORBIT_VN(double)

}  // namespace orbit::canon
