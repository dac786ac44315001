#include "orbit/nn/optim.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <type_traits>

namespace orbit::nn {

template <class T>
Adam<T>::Adam(ParamList<T> params, AdamOptions opt) : params_(std::move(params)), opt_(opt) {
    for (auto* p : params_) {
        m_.push_back(Mat<T>::Zero(p->value.rows(), p->value.cols()));
        v_.push_back(Mat<T>::Zero(p->value.rows(), p->value.cols()));
        if (p->grad.rows() != p->value.rows() || p->grad.cols() != p->value.cols()) p->zero_grad();
    }
}

template <class T>
void Adam<T>::zero_grad() {
    for (auto* p : params_) p->grad.setZero();
}

template <class T>
void Adam<T>::step(double lr) {
    std::int64_t width = 0;
    for (auto* p : params_) width += p->value.size();
    step(lr, 0, width);
}

template <class T>
void Adam<T>::step(double lr, std::int64_t begin, std::int64_t end) {
    ++t_;
    const double bc1 = 1 - std::pow(opt_.beta1, double(t_));
    const double bc2 = 1 - std::pow(opt_.beta2, double(t_));
    const T b1 = T(opt_.beta1), b2 = T(opt_.beta2);
    const T step = T(lr / bc1), eps = T(opt_.eps), inv_sqrt_bc2 = T(1 / std::sqrt(bc2));
    const T decay = T(1 - lr * opt_.weight_decay);
    const bool wd = opt_.weight_decay > 0;
    std::int64_t at = 0;  // flat index of parameter i's first element
    for (std::size_t i = 0; i < params_.size(); ++i) {
        auto& p = *params_[i];
        const std::int64_t size = p.value.size();
        const std::int64_t lo = std::max(begin, at) - at, hi = std::min(end, at + size) - at;
        at += size;
        if (lo >= hi) continue;
        // one pass over parameter, gradient and moments (the same arithmetic as
        // three Eigen statements, a third of the memory traffic); a loop
        // without branches, so that it vectorizes (CMakeLists.txt: -fno-math-errno)
        T* __restrict pv = p.value.data() + lo;
        const T* __restrict g = p.grad.data() + lo;
        T* __restrict m = m_[i].data() + lo;
        T* __restrict v = v_[i].data() + lo;
        const std::int64_t n = hi - lo;
        auto update = [&](auto decayed) {
            for (std::int64_t k = 0; k < n; ++k) {
                m[k] = b1 * m[k] + (T(1) - b1) * g[k];
                v[k] = b2 * v[k] + (T(1) - b2) * (g[k] * g[k]);
                if constexpr (decltype(decayed)::value) pv[k] *= decay;  // AdamW: decay outside the adaptive step
                pv[k] -= step * m[k] / (std::sqrt(v[k]) * inv_sqrt_bc2 + eps);
            }
        };
        if (wd)
            update(std::true_type{});
        else
            update(std::false_type{});
    }
}

template <class T>
double clip_grad_norm(const ParamList<T>& params, double max_norm) {
    double sq = 0;
    for (auto* p : params) sq += double(p->grad.squaredNorm());
    const double norm = std::sqrt(sq);
    if (max_norm > 0 && norm > max_norm) {
        const T f = T(max_norm / (norm + 1e-6));
        for (auto* p : params) p->grad *= f;
    }
    return norm;
}

double cosine_lr(double lr, double lr_min, std::int64_t step, std::int64_t total) {
    if (total <= 0) return lr;
    const double f = std::min(1.0, double(step) / double(total));
    return lr_min + 0.5 * (lr - lr_min) * (1 + std::cos(std::numbers::pi * f));
}

template class Adam<float>;
template class Adam<double>;
template double clip_grad_norm<float>(const ParamList<float>&, double);
template double clip_grad_norm<double>(const ParamList<double>&, double);

}  // namespace orbit::nn
