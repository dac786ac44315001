#pragma once
// Stochastic interpolants with data-dependent couplings (Albergo, Goldstein,
// Boffi, Ranganath and Vanden-Eijnden): the base point x0 of each pair is
// not drawn independently of the data point x1 but from a coupling that
// depends on it, here a degraded view xi of x1 given row by row (a noisy,
// cropped or partial version of the same point), blurred as in the paper:
// x0 = xi + s zeta, zeta ~ N(0, I) (without the blur the base would be a
// point mass at xi, which no velocity field can spread). The interpolant
//   I_t = (1 - t) x0 + t x1 + gamma(t) z,  gamma(t) = sigma t (1 - t),  z ~ N(0, I),
// meets x0 at t = 0 and x1 at t = 1; a velocity field b(x, t, xi) conditioned
// on the degraded view xi = x0 is regressed on dI_t/dt, and integrating
// dx/dt = b from x(0) = x0 maps a degraded input to a clean one. The
// uncoupled baseline of the paper keeps the same network and conditioning
// but draws x0 from N(0, I) independently of x1.
//
// gamma(t) = sigma t (1 - t) (not the paper's sqrt(2 t (1 - t))) keeps dI/dt
// bounded at both ends, so the regression target has finite variance.
#include <Eigen/Core>
#include <string>

#include "orbit/nn/tape.hpp"

namespace orbit::flows {

// The base of the interpolant: the degraded view itself (the data-dependent
// coupling) or a standard normal draw independent of it (the baseline).
enum class InterpolantBase { source, gaussian };

InterpolantBase parse_interpolant_base(const std::string& name);  // "source" | "gaussian"
std::string interpolant_base_name(InterpolantBase b);

// I_t and dI_t/dt row by row for times t [B]: x0, x1 and z are [B, D].
template <class T>
void stochastic_interpolant(const nn::Mat<T>& x0, const nn::Mat<T>& x1, const nn::Mat<T>& z,
                            const Eigen::Matrix<T, Eigen::Dynamic, 1>& t, double sigma, nn::Mat<T>& it,
                            nn::Mat<T>& dit);

}  // namespace orbit::flows
