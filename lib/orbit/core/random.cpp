#include "orbit/core/random.hpp"

#include <cmath>
#include <numbers>

namespace orbit {
namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
inline std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

std::uint64_t mix64(std::uint64_t a, std::uint64_t b) {
    std::uint64_t x = a ^ (b * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    return splitmix64(x);
}

Rng::Rng(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {
    std::uint64_t x = mix64(seed, stream);
    for (auto& w : s_) w = splitmix64(x);
}

Rng Rng::split(std::uint64_t stream) const { return Rng(mix64(seed_, stream_), stream); }

std::uint64_t Rng::next_u64() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

double Rng::normal() {
    if (has_spare_) {
        has_spare_ = false;
        return spare_;
    }
    // Box-Muller; 1 - uniform() lies in (0, 1] so the log is finite.
    double u1 = 1.0 - uniform();
    double u2 = uniform();
    double r = std::sqrt(-2.0 * std::log(u1));
    double a = 2.0 * std::numbers::pi * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
}

std::uint64_t Rng::below(std::uint64_t n) {
    if (n <= 1) return 0;
    // Lemire's rejection keeps the draw unbiased.
    std::uint64_t threshold = (0 - n) % n;
    for (;;) {
        std::uint64_t r = next_u64();
        if (r >= threshold) return r % n;
    }
}

std::vector<std::int64_t> Rng::permutation(std::int64_t n) {
    std::vector<std::int64_t> p(static_cast<size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
    for (std::int64_t i = n - 1; i > 0; --i) {
        auto j = static_cast<std::int64_t>(below(static_cast<std::uint64_t>(i + 1)));
        std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
    }
    return p;
}

}  // namespace orbit
