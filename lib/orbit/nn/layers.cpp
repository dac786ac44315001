#include "orbit/nn/layers.hpp"

#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/core/names.hpp"

namespace orbit::nn {

constexpr Spelling<Activation> kActivations[] = {{Activation::relu, "relu"}, {Activation::tanh, "tanh"},
                                                 {Activation::silu, "silu"}, {Activation::silu, "swish"}};

Activation parse_activation(const std::string& name) {
    return parse_spelling(kActivations, name, "unknown activation '" + name + "' (expected relu, tanh or silu)");
}

std::string activation_name(Activation a) { return spelling_of(kActivations, a, "relu"); }

template <class T>
Var activate(Tape<T>& tape, Var x, Activation a) {
    switch (a) {
        case Activation::relu: return tape.relu(x);
        case Activation::tanh: return tape.tanh(x);
        case Activation::silu: return tape.silu(x);
    }
    return x;
}
template Var activate<float>(Tape<float>&, Var, Activation);
template Var activate<double>(Tape<double>&, Var, Activation);

namespace {

template <class T>
void act_inplace(Mat<T>& x, Activation a) {
    switch (a) {
        case Activation::relu: x = x.cwiseMax(T(0)); break;
        case Activation::tanh: x = x.array().tanh().matrix(); break;
        case Activation::silu: x = (x.array() / (T(1) + (-x.array()).exp())).matrix(); break;
    }
}

// Derivative of the activation at pre-activation z.
template <class T>
Mat<T> act_deriv(const Mat<T>& z, Activation a) {
    switch (a) {
        case Activation::relu: return (z.array() > T(0)).template cast<T>().matrix();
        case Activation::tanh: return (T(1) - z.array().tanh().square()).matrix();
        case Activation::silu: {
            auto s = (T(1) / (T(1) + (-z.array()).exp())).eval();
            return (s * (T(1) + z.array() * (T(1) - s))).matrix();
        }
    }
    return z;
}

// x W^T + b. The bias goes in first and the product is added to it: Eigen
// would otherwise zero y before accumulating, one more pass over memory (and
// b + x.w rounds exactly as x.w + b).
template <class T>
void affine_into(const Linear<T>& l, const Mat<T>& x, Mat<T>& y) {
    y.resize(x.rows(), l.W.value.rows());
    y.rowwise() = l.b.value.row(0);
    y.noalias() += x * l.W.value.transpose();
}

template <class T>
Mat<T> affine(const Linear<T>& l, const Mat<T>& x) {
    Mat<T> y;
    affine_into(l, x, y);
    return y;
}

}  // namespace

template <class T>
Linear<T>::Linear(const std::string& name, int in, int out, Rng& rng, double init_scale) {
    require(in >= 1 && out >= 1, "nn: a linear layer needs at least one input and one output");
    W.name = name + ".W";
    b.name = name + ".b";
    const double bound = init_scale >= 0 ? init_scale : 1.0 / std::sqrt(double(in));
    W.value.resize(out, in);
    b.value.resize(1, out);
    for (Eigen::Index i = 0; i < W.value.size(); ++i) W.value.data()[i] = T(rng.uniform(-bound, bound));
    for (Eigen::Index i = 0; i < b.value.size(); ++i) b.value.data()[i] = T(rng.uniform(-bound, bound));
    W.zero_grad();
    b.zero_grad();
}

template <class T>
Var Linear<T>::forward(Tape<T>& tape, Var x) {
    return tape.linear(x, tape.param(W), tape.param(b));
}

template <class T>
ResidualNet<T>::ResidualNet(const std::string& name, int in, int hidden, int out, int blocks, Activation a,
                            Rng& rng, double out_init, double drop)
    : act(a), dropout(drop) {
    require(hidden >= 1 && blocks >= 0, "nn: a residual net needs hidden >= 1 and blocks >= 0");
    first = Linear<T>(name + ".in", in, hidden, rng);
    for (int k = 0; k < blocks; ++k) {
        fc0.emplace_back(name + ".block" + std::to_string(k) + ".fc0", hidden, hidden, rng);
        // small last layer per block, so each block starts close to the identity (as nflows does)
        fc1.emplace_back(name + ".block" + std::to_string(k) + ".fc1", hidden, hidden, rng, 1e-3);
    }
    last = Linear<T>(name + ".out", hidden, out, rng, out_init);
}

template <class T>
Var ResidualNet<T>::forward(Tape<T>& tape, Var x, Rng* rng) {
    Var h = first.forward(tape, x);
    if (fc0.empty()) return last.forward(tape, activate(tape, h, act));
    for (std::size_t k = 0; k < fc0.size(); ++k) {
        Var t = fc0[k].forward(tape, activate(tape, h, act));
        t = activate(tape, t, act);
        if (dropout > 0 && rng) t = tape.dropout(t, T(dropout), *rng);
        t = fc1[k].forward(tape, t);
        h = tape.add(h, t);
    }
    return last.forward(tape, h);
}

template <class T>
void ResidualNet<T>::params(ParamList<T>& out) {
    first.params(out);
    for (std::size_t k = 0; k < fc0.size(); ++k) {
        fc0[k].params(out);
        fc1[k].params(out);
    }
    last.params(out);
}

template <class T>
Mat<T> ResidualNet<T>::infer(const Mat<T>& x) const {
    Mat<T> h = affine(first, x);
    if (fc0.empty()) {
        act_inplace(h, act);
        return affine(last, h);
    }
    Mat<T> a(h.rows(), h.cols()), t(h.rows(), fc0[0].W.value.rows());
    for (std::size_t k = 0; k < fc0.size(); ++k) {
        if (act == Activation::relu) a = h.cwiseMax(T(0));
        else {
            a = h;
            act_inplace(a, act);
        }
        affine_into(fc0[k], a, t);  // t keeps its storage: same shape every block
        act_inplace(t, act);
        // h + fc1(t): accumulate the product into h directly
        h.noalias() += t * fc1[k].W.value.transpose();
        h.rowwise() += fc1[k].b.value.row(0);
    }
    return affine(last, h);
}

template <class T>
Mat<T> ResidualNet<T>::forward_with_trace(const Mat<T>& x, const std::vector<int>& columns, Mat<T>& trace) const {
    const Eigen::Index B = x.rows();
    Mat<T> h = affine(first, x);
    trace = Mat<T>::Zero(B, 1);
    // Keep the pre-activations: the tangents need the activation derivatives there.
    std::vector<Mat<T>> dh_in, dz0;  // derivative of act at h (block input) and at fc0's output
    Mat<T> out;
    if (fc0.empty()) {
        Mat<T> d = act_deriv(h, act);
        act_inplace(h, act);
        out = affine(last, h);
        for (int j : columns) {
            // tangent of h for x[:, j] is the row W_first[:, j]; then through act and the last layer
            Eigen::Matrix<T, 1, Eigen::Dynamic> wcol = first.W.value.col(j).transpose();
            Eigen::Matrix<T, 1, Eigen::Dynamic> wout = last.W.value.row(j);
            Eigen::Matrix<T, 1, Eigen::Dynamic> prod = wcol.cwiseProduct(wout);
            trace.col(0).noalias() += d * prod.transpose();
        }
        return out;
    }
    for (std::size_t k = 0; k < fc0.size(); ++k) {
        dh_in.push_back(act_deriv(h, act));
        Mat<T> a = h;
        act_inplace(a, act);
        Mat<T> z = affine(fc0[k], a);
        dz0.push_back(act_deriv(z, act));
        act_inplace(z, act);
        h += affine(fc1[k], z);
    }
    out = affine(last, h);
    Mat<T> dh(B, h.cols()), t0(B, h.cols()), t1(B, h.cols());
    for (int j : columns) {
        dh.rowwise() = first.W.value.col(j).transpose();
        for (std::size_t k = 0; k < fc0.size(); ++k) {
            t0 = dh.cwiseProduct(dh_in[k]);
            t1.noalias() = t0 * fc0[k].W.value.transpose();
            t1 = t1.cwiseProduct(dz0[k]);
            dh.noalias() += t1 * fc1[k].W.value.transpose();
        }
        trace.col(0).noalias() += dh * last.W.value.row(j).transpose();
    }
    return out;
}

template class Linear<float>;
template class Linear<double>;
template class ResidualNet<float>;
template class ResidualNet<double>;

}  // namespace orbit::nn
