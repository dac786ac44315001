#pragma once
// Optimizers and schedules: Adam and AdamW, global-norm gradient clipping,
// cosine learning-rate decay, and a small early-stopping tracker.
#include <cstdint>
#include <limits>

#include "orbit/nn/layers.hpp"

namespace orbit::nn {

struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double weight_decay = 0.0;  // decoupled (AdamW) when > 0
};

template <class T>
class Adam {
public:
    Adam(ParamList<T> params, AdamOptions opt);
    // One update with learning rate lr (the schedule's value for this step).
    void step(double lr);
    // The same update of the elements [begin, end) of the parameters seen as
    // one flat vector (the parameters in list order, each in storage order); the
    // rest stay as they are. The step count advances as in step(); each
    // element gets exactly the arithmetic of step(), so ranks that update
    // disjoint slices with the same lr together give the bits of step().
    void step(double lr, std::int64_t begin, std::int64_t end);
    void zero_grad();
    // Moments, for checkpoints: m and v per parameter, in the order of the list.
    std::vector<Mat<T>>& m() { return m_; }
    std::vector<Mat<T>>& v() { return v_; }
    std::int64_t steps() const { return t_; }
    void set_steps(std::int64_t t) { t_ = t; }
    const ParamList<T>& params() const { return params_; }

private:
    ParamList<T> params_;
    AdamOptions opt_;
    std::vector<Mat<T>> m_, v_;
    std::int64_t t_ = 0;
};

// Scales all gradients so that their joint L2 norm is at most max_norm; returns the norm before.
template <class T>
double clip_grad_norm(const ParamList<T>& params, double max_norm);

// Cosine decay from lr to lr_min over total steps (constant lr when total <= 0).
double cosine_lr(double lr, double lr_min, std::int64_t step, std::int64_t total);

// Early stopping on a validation loss: improved() records a value and says
// whether it is the best so far; stop() once `patience` epochs passed without one.
struct EarlyStopping {
    int patience = 0;  // 0: never stop
    double best = std::numeric_limits<double>::infinity();
    int bad_epochs = 0;
    bool improved(double loss) {
        if (loss < best) {
            best = loss;
            bad_epochs = 0;
            return true;
        }
        ++bad_epochs;
        return false;
    }
    bool stop() const { return patience > 0 && bad_epochs >= patience; }
};

extern template class Adam<float>;
extern template class Adam<double>;

}  // namespace orbit::nn
