#pragma once
// Layers built on the tape: linear layers and residual MLPs.
//
// Layers own their parameters (Param<T>) and expose them as a flat list for
// the optimizer and for saving; forward() records on a tape. Parameter names
// are stable ("net3.block1.fc0.W") because model files store weights by name.
#include <memory>
#include <string>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/nn/tape.hpp"

namespace orbit::nn {

enum class Activation { relu, tanh, silu };
Activation parse_activation(const std::string& name);
std::string activation_name(Activation a);

template <class T>
Var activate(Tape<T>& tape, Var x, Activation a);

template <class T>
using ParamList = std::vector<Param<T>*>;

// Copies the values of `from` into `to`, the same parameters in another scalar type
// (a network cast to float or double); the gradients of `to` are zeroed.
template <class T, class S>
void copy_params_cast(const ParamList<T>& from, const ParamList<S>& to) {
    for (std::size_t i = 0; i < to.size(); ++i) {
        to[i]->value = from[i]->value.template cast<S>();
        to[i]->zero_grad();
    }
}

// y = x W^T + b. Initialized like PyTorch's nn.Linear (uniform, bound 1/sqrt(in)),
// or with every weight in [-init_scale, init_scale] when init_scale >= 0 (0: zeros).
template <class T>
class Linear {
public:
    Linear() = default;
    Linear(const std::string& name, int in, int out, Rng& rng, double init_scale = -1.0);
    Var forward(Tape<T>& tape, Var x);
    void params(ParamList<T>& out) {
        out.push_back(&W);
        out.push_back(&b);
    }
    int in() const { return static_cast<int>(W.value.cols()); }
    int out() const { return static_cast<int>(W.value.rows()); }
    Param<T> W, b;
};

// A residual network (the shape nflows calls ResidualNet): a linear layer into
// `hidden` features, `blocks` residual blocks h + fc1(act(fc0(act(h)))) with
// optional dropout, then a linear layer out. blocks = 0 gives a plain
// two-layer MLP in -> hidden -> act -> out. The last layer starts at
// `out_init` scale (0 makes a coupling layer start as the identity).
template <class T>
class ResidualNet {
public:
    ResidualNet() = default;
    ResidualNet(const std::string& name, int in, int hidden, int out, int blocks, Activation act, Rng& rng,
                double out_init = 0.0, double dropout = 0.0);
    // rng is used by dropout only (pass nullptr at inference).
    Var forward(Tape<T>& tape, Var x, Rng* rng = nullptr);
    void params(ParamList<T>& out);
    int in() const { return first.in(); }
    int out() const { return last.out(); }

    // forward() at inference (no dropout) without a tape: products straight into
    // a few reused buffers, bias and activation in place. A tape would keep every
    // intermediate, and on large inference chunks the page faults of that memory
    // cost as much as the arithmetic.
    Mat<T> infer(const Mat<T>& x) const;

    // Forward-mode derivative for inference: returns the output for x and,
    // for each column j in `columns`, d out[:, j] / d x[:, j] summed over j
    // (the trace of the Jacobian restricted to those columns).
    Mat<T> forward_with_trace(const Mat<T>& x, const std::vector<int>& columns, Mat<T>& trace) const;

    Linear<T> first, last;
    std::vector<Linear<T>> fc0, fc1;
    Activation act = Activation::relu;
    double dropout = 0.0;
};

extern template class Linear<float>;
extern template class Linear<double>;
extern template class ResidualNet<float>;
extern template class ResidualNet<double>;

}  // namespace orbit::nn
