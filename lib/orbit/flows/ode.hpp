#pragma once
// Explicit ODE integrators for batched states (an Eigen matrix, one sample
// per row, all rows sharing the time grid): Euler, midpoint, classic RK4 with
// a fixed number of steps, and adaptive Dormand-Prince 5(4) with error
// control on the whole batch (RMS of the scaled local error).
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "orbit/core/error.hpp"

namespace orbit::flows {

enum class OdeMethod { euler, midpoint, rk4, dopri5 };
OdeMethod parse_ode_method(const std::string& name);
std::string ode_method_name(OdeMethod m);

struct OdeOptions {
    OdeMethod method = OdeMethod::dopri5;
    int steps = 100;         // fixed-step methods
    double rtol = 1e-5, atol = 1e-5;  // dopri5
    int max_steps = 100000;  // dopri5: give up beyond this many attempts
};

struct OdeStats {
    long nfe = 0;       // evaluations of the right-hand side
    long steps = 0;     // accepted steps
    long rejected = 0;  // rejected steps (dopri5)
};

// Integrates dy/dt = f(t, y) from t0 to t1 (t1 < t0 integrates backwards).
// f has the signature void(double t, const S& y, S& dy); after_step(y) runs
// after every accepted step (a projection back onto a manifold).
template <class S, class F, class P>
OdeStats integrate(F&& f, S& y, double t0, double t1, const OdeOptions& o, P&& after_step) {
    OdeStats st;
    if (t0 == t1) return st;
    auto call = [&](double t, const S& x, S& dx) {
        f(t, x, dx);
        ++st.nfe;
    };
    using Scalar = typename S::Scalar;
    S k1(y.rows(), y.cols()), k2(y.rows(), y.cols()), k3(y.rows(), y.cols()), k4(y.rows(), y.cols()),
        tmp(y.rows(), y.cols());
    if (o.method != OdeMethod::dopri5) {
        require(o.steps >= 1, "ode: the number of steps must be >= 1");
        const double h = (t1 - t0) / o.steps;
        const Scalar hs = Scalar(h);
        for (int i = 0; i < o.steps; ++i) {
            const double t = t0 + i * h;
            call(t, y, k1);
            if (o.method == OdeMethod::euler) {
                y += hs * k1;
            } else {  // midpoint and rk4 both start from the midpoint slope
                tmp = y + Scalar(h / 2) * k1;
                call(t + h / 2, tmp, k2);
                if (o.method == OdeMethod::midpoint) {
                    y += hs * k2;
                } else {
                    tmp = y + Scalar(h / 2) * k2;
                    call(t + h / 2, tmp, k3);
                    tmp = y + hs * k3;
                    call(t + h, tmp, k4);
                    y += Scalar(h / 6) * (k1 + Scalar(2) * k2 + Scalar(2) * k3 + k4);
                }
            }
            after_step(y);
            ++st.steps;
        }
        return st;
    }
    // Dormand-Prince 5(4), first-same-as-last.
    constexpr double c2 = 1. / 5, c3 = 3. / 10, c4 = 4. / 5, c5 = 8. / 9;
    constexpr double a21 = 1. / 5, a31 = 3. / 40, a32 = 9. / 40, a41 = 44. / 45, a42 = -56. / 15, a43 = 32. / 9,
                     a51 = 19372. / 6561, a52 = -25360. / 2187, a53 = 64448. / 6561, a54 = -212. / 729,
                     a61 = 9017. / 3168, a62 = -355. / 33, a63 = 46732. / 5247, a64 = 49. / 176, a65 = -5103. / 18656,
                     b1 = 35. / 384, b3 = 500. / 1113, b4 = 125. / 192, b5 = -2187. / 6784, b6 = 11. / 84,
                     e1 = 71. / 57600, e3 = -71. / 16695, e4 = 71. / 1920, e5 = -17253. / 339200, e6 = 22. / 525,
                     e7 = -1. / 40;
    S k5(y.rows(), y.cols()), k6(y.rows(), y.cols()), k7(y.rows(), y.cols()), ynew(y.rows(), y.cols()),
        err(y.rows(), y.cols());
    const double dir = t1 > t0 ? 1.0 : -1.0, span = std::abs(t1 - t0);
    double t = t0, h = dir * std::min(span, 0.05 * span + 1e-3);
    call(t, y, k1);
    long attempts = 0;
    while (dir * (t1 - t) > 1e-12 * span) {
        if (++attempts > o.max_steps) throw Error("ode: dopri5 did not reach the end time within max_steps");
        if (dir * (t + h - t1) > 0) h = t1 - t;
        auto S_ = [](double v) { return Scalar(v); };
        tmp = y + S_(h * a21) * k1;
        call(t + c2 * h, tmp, k2);
        tmp = y + S_(h * a31) * k1 + S_(h * a32) * k2;
        call(t + c3 * h, tmp, k3);
        tmp = y + S_(h * a41) * k1 + S_(h * a42) * k2 + S_(h * a43) * k3;
        call(t + c4 * h, tmp, k4);
        tmp = y + S_(h * a51) * k1 + S_(h * a52) * k2 + S_(h * a53) * k3 + S_(h * a54) * k4;
        call(t + c5 * h, tmp, k5);
        tmp = y + S_(h * a61) * k1 + S_(h * a62) * k2 + S_(h * a63) * k3 + S_(h * a64) * k4 + S_(h * a65) * k5;
        call(t + h, tmp, k6);
        ynew = y + S_(h * b1) * k1 + S_(h * b3) * k3 + S_(h * b4) * k4 + S_(h * b5) * k5 + S_(h * b6) * k6;
        call(t + h, ynew, k7);
        err = S_(h * e1) * k1 + S_(h * e3) * k3 + S_(h * e4) * k4 + S_(h * e5) * k5 + S_(h * e6) * k6 + S_(h * e7) * k7;
        double sq = 0;
        for (Eigen::Index i = 0; i < y.size(); ++i) {
            const double sc = o.atol + o.rtol * std::max(std::abs(double(y.data()[i])), std::abs(double(ynew.data()[i])));
            const double r = double(err.data()[i]) / sc;
            sq += r * r;
        }
        const double en = std::sqrt(sq / double(std::max<Eigen::Index>(1, y.size())));
        if (!std::isfinite(en)) throw Error("ode: the state became NaN or infinite");
        if (en <= 1.0) {
            t += h;
            y = ynew;
            after_step(y);
            k1 = k7;  // first same as last (before the projection: off by rounding only)
            ++st.steps;
        } else {
            ++st.rejected;
        }
        const double factor = en == 0 ? 5.0 : std::clamp(0.9 * std::pow(en, -0.2), 0.2, 5.0);
        h *= en <= 1.0 ? factor : std::min(1.0, factor);
    }
    return st;
}

template <class S, class F>
OdeStats integrate(F&& f, S& y, double t0, double t1, const OdeOptions& o) {
    return integrate(std::forward<F>(f), y, t0, t1, o, [](S&) {});
}

}  // namespace orbit::flows
