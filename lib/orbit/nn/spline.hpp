#pragma once
// Rational-quadratic spline kernels (Durkan et al. 2019) behind Tape::rq_spline.
//
// The spline of element e (a sample's coordinate) is set by P = 3K-1 logits
// theta[e*P .. e*P+P): K width logits, K height logits, K-1 interior
// derivative logits. The kernels work on blocks of elements with the logits
// transposed so that the softmaxes and softplus run as vector exp/log over
// the block (the transcendentals were most of a training step when done one
// spline at a time), in double whatever the storage type.
//
// The forward pass can keep what the backward pass needs (the normalized
// widths and heights, the bin and the local quantities at the bin), so the
// backward pass is plain arithmetic with no transcendentals.
#include <Eigen/Core>

namespace orbit::nn::spline {

constexpr int kMaxBins = 64;

// Per-element values saved by forward() for backward(); element-major.
struct Saved {
    int K = 0;
    Eigen::Index n = 0;
    // Eigen arrays rather than vectors: resizing leaves them uninitialized (every entry is written)
    Eigen::ArrayXd sw, sh;  // [n*K] softmax of the width and height logits
    Eigen::ArrayXi bin;     // [n] bin of the element, -1 outside [-B, B]
    Eigen::ArrayXd xi, w, h, s, d0, d1, sig0, sig1;  // [n] at the bin
};

// y[e] and ld[e] (log|dy/dx|, per element) for n elements. inverse maps y back
// to x (ld is then log|dx/dy|). saved, when not null, is filled for backward().
template <class T>
void forward(const T* x, const T* theta, Eigen::Index n, int K, double B, bool inverse, T* y, double* ld,
             Saved* saved);

// Gradients for upstream gy [n] (may be null) and gl [n/F] per row of F
// elements (may be null): gx [n] and gth [n*(3K-1)], both overwritten.
template <class T>
void backward(const Saved& sv, double B, Eigen::Index F, const T* gy, const T* gl, T* gx, T* gth);

}  // namespace orbit::nn::spline
