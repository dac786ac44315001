#pragma once
// Internal: explicit SIMD for the Sinkhorn passes, written with GCC vector
// extensions so the same source compiles to AVX-512, AVX2 or SSE2 code.
//
// Why not `omp simd` loops: GCC keeps the lanes of an `omp simd reduction`
// in a stack array, so every element paid a store-to-load round trip, and it
// turned the strided coordinate loads into gathers. Vector types keep the
// accumulators in registers and let a pass reuse one load across several
// outputs.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace orbit::ot::detail::simd {

#if defined(__AVX512F__)
inline constexpr int W = 8;
#elif defined(__AVX__)
inline constexpr int W = 4;
#else
inline constexpr int W = 2;
#endif

typedef double vd __attribute__((vector_size(W * 8)));
typedef std::int64_t vi __attribute__((vector_size(W * 8)));

inline vd splat(double x) { return vd{} + x; }
inline vd load(const double* p) {
    vd v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store(double* p, vd v) { std::memcpy(p, &v, sizeof v); }

// Lanes [0, count) of v, zero elsewhere (for the last, partial vector).
inline vd keep_first(vd v, int count) {
    vi lane;
    for (int t = 0; t < W; ++t) lane[t] = t;
    return lane < count ? v : splat(0.0);
}

// Sum of the lanes in a fixed order (same bits on every run).
inline double hsum(vd v) {
    double s = 0;
    for (int t = 0; t < W; ++t) s += v[t];
    return s;
}

inline vd sqrt(vd v) {
    for (int t = 0; t < W; ++t) v[t] = std::sqrt(v[t]);
    return v;
}

// exp(x) lane by lane, relative error < 3e-13 (the scalar vexp's algorithm).
// Inputs are clamped to [-708, 709]: tiny results are ~1e-308 rather than 0
// and huge ones ~1e308 rather than inf; callers detect both from their sums.
inline vd exp(vd x) {
    x = x < -708.0 ? splat(-708.0) : x;
    x = x > 709.0 ? splat(709.0) : x;
    const vd shifter = splat(6755399441055744.0);  // 1.5 * 2^52: rounds to an integer in the low bits
    vd kd = x * 1.4426950408889634 + shifter;
    const vi ki = (vi)kd;
    kd -= shifter;
    // Cody-Waite reduction: kd * ln2_hi is exact for |k| < 2^11.
    vd r = x - kd * 0.693145751953125;
    r = r - kd * 1.42860682030941723212e-6;
    // Taylor polynomial of degree 10 on |r| <= ln2/2 in Estrin's form.
    const vd r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const vd p01 = r + 1.0;
    const vd p23 = r * (1.0 / 6) + 0.5;
    const vd p45 = r * (1.0 / 120) + 1.0 / 24;
    const vd p67 = r * (1.0 / 5040) + 1.0 / 720;
    const vd p89 = r * (1.0 / 362880) + 1.0 / 40320;
    const vd p03 = r2 * p23 + p01;
    const vd p47 = r2 * p67 + p45;
    const vd p8a = r2 * (1.0 / 3628800) + p89;
    const vd p = r8 * p8a + (r4 * p47 + p03);
    const vi bits = (ki + 1023) << 52;
    return p * (vd)bits;
}

}  // namespace orbit::ot::detail::simd
