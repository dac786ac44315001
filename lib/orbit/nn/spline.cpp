#include "orbit/nn/spline.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "orbit/nn/tape.hpp"

namespace orbit::nn::spline {

namespace {

// Elements per block: the transposed logits of a block (3K-1 rows) stay in L1/L2.
constexpr Eigen::Index kBlock = 256;

// Aligned buffers and lengths padded to whole packets: every element then goes
// through the same vector code (a scalar remainder or alignment peel rounds
// exp and log differently), so a row's result never depends on its place in the batch.
constexpr Eigen::Index kPad = 16;
Eigen::Index padded(Eigen::Index m) { return std::min(kBlock, (m + kPad - 1) / kPad * kPad); }
using Arr = Eigen::Map<Eigen::ArrayXd, Eigen::AlignedMax>;
using CArr = Eigen::Map<const Eigen::ArrayXd, Eigen::AlignedMax>;

// The logit offset that makes softplus(0 + c) + m = 1, so zero logits give the identity.
double derivative_offset() {
    static const double c = std::log(std::expm1(1.0 - kSplineMinDerivative));
    return c;
}

// Softmax over the K rows z[j*kBlock ..] of a block, for its first m columns, into out (same layout).
void softmax_rows(const double* z, int K, Eigen::Index m, double* out, double* tmp) {
    Arr mx(tmp, m), tot(tmp + kBlock, m);
    mx = CArr(z, m);
    for (int j = 1; j < K; ++j) mx = mx.max(CArr(z + j * kBlock, m));
    tot.setZero();
    for (int j = 0; j < K; ++j) {
        Arr o(out + j * kBlock, m);
        o = (CArr(z + j * kBlock, m) - mx).exp();
        tot += o;
    }
    for (int j = 0; j < K; ++j) Arr(out + j * kBlock, m) /= tot;
}

// Scratch for one block, allocated once per call.
struct Block {
    explicit Block(int K)
        : z(Eigen::ArrayXd::Zero((3 * K - 1) * kBlock)), sw(K * kBlock), sh(K * kBlock), d((K + 1) * kBlock),
          sig((K + 1) * kBlock), tmp(2 * kBlock), r(kBlock), bin(kBlock) {}
    Eigen::ArrayXd z, sw, sh, d, sig, tmp, r;  // rows of kBlock, 64-byte aligned
    std::vector<int> bin;
};

// Normalized widths, heights and interior derivatives of the m splines of a block.
template <class T>
void knots_block(const T* theta, Eigen::Index e0, Eigen::Index n, int K, Block& bk) {
    const int P = 3 * K - 1;
    for (Eigen::Index t = 0; t < n; ++t) {
        const T* th = theta + (e0 + t) * P;
        for (int j = 0; j < P; ++j) bk.z[j * kBlock + t] = double(th[j]);
    }
    // whole packets: the padding holds zero logits (harmless) and is never read back
    const Eigen::Index m = padded(n);
    for (int j = 0; j < P; ++j)
        for (Eigen::Index t = n; t < m; ++t) bk.z[j * kBlock + t] = 0.0;
    softmax_rows(bk.z.data(), K, m, bk.sw.data(), bk.tmp.data());
    softmax_rows(bk.z.data() + K * kBlock, K, m, bk.sh.data(), bk.tmp.data());
    const double c = derivative_offset();
    for (int j = 1; j < K; ++j) {
        Arr z(bk.tmp.data(), m), e(bk.tmp.data() + kBlock, m);
        z = CArr(bk.z.data() + (2 * K + j - 1) * kBlock, m) + c;
        e = (-z.abs()).exp();
        // softplus(z) = max(z, 0) + log1p(exp(-|z|)), and its derivative sigmoid(z), without overflow;
        // log(1 + e) rather than log1p (which Eigen does not vectorize): with e <= 1 its absolute
        // error stays at rounding level, far below the minimum derivative it is added to
        Arr(bk.d.data() + j * kBlock, m) = kSplineMinDerivative + z.max(0.0) + (1.0 + e).log();
        Arr(bk.sig.data() + j * kBlock, m) = (z >= 0.0).select(1.0 / (1.0 + e), e / (1.0 + e));
    }
}

}  // namespace

template <class T>
void forward(const T* x, const T* theta, Eigen::Index n, int K, double B, bool inverse, T* y, double* ld,
             Saved* saved) {
    const double aw = 1 - K * kSplineMinWidth, ah = 1 - K * kSplineMinHeight;
    if (saved) {
        saved->K = K;
        saved->n = n;
        saved->sw.resize(n * K);
        saved->sh.resize(n * K);
        for (auto* v : {&saved->xi, &saved->w, &saved->h, &saved->s, &saved->d0, &saved->d1, &saved->sig0, &saved->sig1})
            v->resize(n);
        saved->bin.resize(n);
    }
    Block bk(K);
    for (Eigen::Index e0 = 0; e0 < n; e0 += kBlock) {
        const Eigen::Index m = std::min(kBlock, n - e0);
        knots_block(theta, e0, m, K, bk);
        for (Eigen::Index t = 0; t < m; ++t) {
            const Eigen::Index e = e0 + t;
            const double v = double(x[e]);
            if (!(v >= -B && v <= B)) {  // linear tails (and NaN passes through)
                y[e] = x[e];
                bk.r[t] = 1;
                bk.bin[std::size_t(t)] = -1;
                if (saved) saved->bin[e] = -1;
                continue;
            }
            // knots by cumulative sums (the same sums forward and inverse, so they round-trip);
            // the bin is decided by the interior knots
            double ax = -B, ay = -B, xkb = -B, ykb = -B, wb = 0, hb = 0;
            int b = 0;
            for (int j = 0; j < K; ++j) {
                const double wj = 2 * B * (kSplineMinWidth + aw * bk.sw[j * kBlock + t]);
                const double hj = 2 * B * (kSplineMinHeight + ah * bk.sh[j * kBlock + t]);
                if (j == 0 || v >= (inverse ? ay : ax)) {
                    b = j;
                    xkb = ax;
                    ykb = ay;
                    wb = wj;
                    hb = hj;
                }
                ax += wj;
                ay += hj;
            }
            const double w = wb, h = hb, s = h / w;
            const double d0 = b == 0 ? 1.0 : bk.d[b * kBlock + t];
            const double d1 = b + 1 == K ? 1.0 : bk.d[(b + 1) * kBlock + t];
            const double C = d0 + d1 - 2 * s;
            double xi;
            if (!inverse) {
                xi = std::clamp((v - xkb) / w, 0.0, 1.0);
                const double q = xi * (1 - xi);
                y[e] = T(ykb + h * (s * xi * xi + d0 * q) / (s + C * q));
            } else {
                const double dl = v - ykb;
                const double qa = h * (s - d0) + dl * C, qb = h * d0 - dl * C, qc = -s * dl;
                // rounding can push the discriminant below zero near knots: clamp it
                const double disc = std::max(qb * qb - 4 * qa * qc, 0.0);
                const double den0 = -qb - std::sqrt(disc);
                xi = std::clamp(den0 != 0 ? 2 * qc / den0 : 0.0, 0.0, 1.0);
                y[e] = T(xkb + xi * w);
            }
            const double q = xi * (1 - xi);
            const double den = s + C * q;
            const double n2 = d1 * xi * xi + 2 * s * q + d0 * (1 - xi) * (1 - xi);
            // log|dy/dx| = 2 log s + log n2 - 2 log den, taken as one log below
            bk.r[t] = (s * s * n2) / (den * den);
            bk.bin[std::size_t(t)] = b;
            if (saved) {
                for (int j = 0; j < K; ++j) {
                    saved->sw[e * K + j] = bk.sw[j * kBlock + t];
                    saved->sh[e * K + j] = bk.sh[j * kBlock + t];
                }
                saved->bin[e] = b;
                saved->xi[e] = xi;
                saved->w[e] = w;
                saved->h[e] = h;
                saved->s[e] = s;
                saved->d0[e] = d0;
                saved->d1[e] = d1;
                saved->sig0[e] = b >= 1 ? bk.sig[b * kBlock + t] : 0.0;
                saved->sig1[e] = b + 1 <= K - 1 ? bk.sig[(b + 1) * kBlock + t] : 0.0;
            }
        }
        const Eigen::Index mp = padded(m);
        for (Eigen::Index t = m; t < mp; ++t) bk.r[t] = 1.0;
        Arr r(bk.r.data(), mp);
        r = r.log();
        const double sign = inverse ? -1.0 : 1.0;
        for (Eigen::Index t = 0; t < m; ++t) ld[e0 + t] = bk.bin[std::size_t(t)] < 0 ? 0.0 : sign * r[t];
    }
}

template <class T>
void backward(const Saved& sv, double B, Eigen::Index F, const T* gy, const T* gl, T* gx, T* gth) {
    const int K = sv.K, P = 3 * K - 1;
    const double aw = 1 - K * kSplineMinWidth, ah = 1 - K * kSplineMinHeight;
    for (Eigen::Index e = 0; e < sv.n; ++e) {
        const double g_y = gy ? double(gy[e]) : 0.0;
        const double g_l = gl ? double(gl[e / F]) : 0.0;
        const int b = sv.bin[e];
        T* out = gth + e * P;
        if (b < 0) {
            gx[e] = T(g_y);
            std::fill(out, out + P, T(0));
            continue;
        }
        const double xi = sv.xi[e], w = sv.w[e], h = sv.h[e], s = sv.s[e], d0 = sv.d0[e], d1 = sv.d1[e];
        const double q = xi * (1 - xi), dq = 1 - 2 * xi;
        const double C = d0 + d1 - 2 * s;
        const double den = s + C * q;
        const double num = s * xi * xi + d0 * q;  // y = yk + h num / den
        const double n2 = d1 * xi * xi + 2 * s * q + d0 * (1 - xi) * (1 - xi);
        // partial derivatives of den, num and n2 with respect to (xi, s, d0, d1)
        const double den_xi = C * dq, den_s = 1 - 2 * q, den_d = q;
        const double num_xi = 2 * s * xi + d0 * dq, num_s = xi * xi, num_d0 = q;
        const double n2_xi = 2 * d1 * xi + 2 * s * dq - 2 * d0 * (1 - xi), n2_s = 2 * q, n2_d0 = (1 - xi) * (1 - xi),
                     n2_d1 = xi * xi;
        const double hd2 = h / (den * den);
        auto dy = [&](double dn, double dd) { return hd2 * (dn * den - num * dd); };
        auto dL = [&](double dn2, double dd) { return dn2 / n2 - 2 * dd / den; };
        const double g_xi = g_y * dy(num_xi, den_xi) + g_l * dL(n2_xi, den_xi);
        const double g_s = g_y * dy(num_s, den_s) + g_l * (2 / s + dL(n2_s, den_s));
        const double g_d0 = g_y * dy(num_d0, den_d) + g_l * dL(n2_d0, den_d);
        const double g_d1 = g_y * dy(0.0, den_d) + g_l * dL(n2_d1, den_d);
        // xi = (x - xk)/w, s = h/w; xk and yk are sums of the widths and heights of the bins below
        gx[e] = T(g_xi / w);
        const double g_xk = -g_xi / w, g_yk = g_y;
        const double g_w = -g_xi * xi / w - g_s * s / w;
        const double g_h = g_y * num / den + g_s / w;
        // back through W_j = 2B (m + a softmax_j): g_j = 2B (g_w [j == b] + g_xk [j < b])
        const double* sw = sv.sw.data() + e * K;
        const double* sh = sv.sh.data() + e * K;
        double below_w = 0, below_h = 0;
        for (int j = 0; j < b; ++j) {
            below_w += sw[j];
            below_h += sh[j];
        }
        const double dot_w = 2 * B * (g_xk * below_w + g_w * sw[b]);
        const double dot_h = 2 * B * (g_yk * below_h + g_h * sh[b]);
        for (int j = 0; j < K; ++j) {
            const double gw = 2 * B * (j == b ? g_w : j < b ? g_xk : 0.0);
            const double gh = 2 * B * (j == b ? g_h : j < b ? g_yk : 0.0);
            out[j] = T(aw * sw[j] * (gw - dot_w));
            out[K + j] = T(ah * sh[j] * (gh - dot_h));
        }
        std::fill(out + 2 * K, out + P, T(0));
        if (b >= 1) out[2 * K + b - 1] = T(g_d0 * sv.sig0[e]);
        if (b + 1 <= K - 1) out[2 * K + b] = T(g_d1 * sv.sig1[e]);
    }
}

template void forward<float>(const float*, const float*, Eigen::Index, int, double, bool, float*, double*, Saved*);
template void forward<double>(const double*, const double*, Eigen::Index, int, double, bool, double*, double*, Saved*);
template void backward<float>(const Saved&, double, Eigen::Index, const float*, const float*, float*, float*);
template void backward<double>(const Saved&, double, Eigen::Index, const double*, const double*, double*, double*);

}  // namespace orbit::nn::spline
