#pragma once
// Helpers shared by the tests of networks on the tape: random matrices and the
// finite-difference check of parameter gradients.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

#include "orbit/core/random.hpp"
#include "orbit/nn/layers.hpp"
#include "orbit/nn/tape.hpp"

namespace orbit::test {

// An r x c matrix of values uniform in [lo, hi).
// The parameters of a network (or layer), in its declaration order.
template <class Net>
nn::ParamList<double> params_of(Net& net) {
    nn::ParamList<double> ps;
    net.params(ps);
    return ps;
}

inline nn::Mat<double> random_mat(int r, int c, Rng& rng, double lo = -1.5, double hi = 1.5) {
    nn::Mat<double> m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform(lo, hi);
    return m;
}

// Largest |analytic - numeric| / max(1, |numeric|) over every entry of the
// given parameters, for the scalar sum(out .* R) with a fixed random R
// (central differences with step h).
inline double grad_error_params(const nn::ParamList<double>& ps, const std::function<nn::Var(nn::Tape<double>&)>& f,
                                std::uint64_t seed = 7, double h = 1e-6) {
    Rng rng(seed);
    for (auto* p : ps) p->zero_grad();
    nn::Tape<double> tape(true);
    const nn::Var out = f(tape);
    const nn::Mat<double> R = random_mat(int(tape.value(out).rows()), int(tape.value(out).cols()), rng);
    tape.backward(out, R);
    double worst = 0;
    for (auto* p : ps)
        for (Eigen::Index i = 0; i < p->value.size(); ++i) {
            const double keep = p->value.data()[i];
            auto loss = [&] {
                nn::Tape<double> t(false);
                return t.value(f(t)).cwiseProduct(R).sum();
            };
            p->value.data()[i] = keep + h;
            const double up = loss();
            p->value.data()[i] = keep - h;
            const double dn = loss();
            p->value.data()[i] = keep;
            const double num = (up - dn) / (2 * h);
            worst = std::max(worst, std::abs(p->grad.data()[i] - num) / std::max(1.0, std::abs(num)));
        }
    return worst;
}

}  // namespace orbit::test
