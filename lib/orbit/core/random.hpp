#pragma once
// Deterministic random streams.
//
// A stream is identified by (seed, stream id). Work that runs in parallel
// draws from the stream of its item (cloud index, pair index, batch index),
// never from a shared generator, so results do not depend on the number of
// threads or on scheduling. The generator is xoshiro256** seeded through
// splitmix64; the distributions are implemented here rather than taken from
// <random> so the numbers are the same with every standard library.
#include <array>
#include <cstdint>
#include <vector>

namespace orbit {

class Rng {
public:
    explicit Rng(std::uint64_t seed = 0, std::uint64_t stream = 0);

    // A child stream, independent of this one and of other ids.
    Rng split(std::uint64_t stream) const;

    std::uint64_t next_u64();
    double uniform();                   // [0, 1)
    double uniform(double lo, double hi);
    double normal();                    // standard normal
    std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n), unbiased

    // Fisher-Yates shuffle of indices 0..n-1.
    std::vector<std::int64_t> permutation(std::int64_t n);

    std::uint64_t seed() const { return seed_; }
    std::uint64_t stream() const { return stream_; }

private:
    std::array<std::uint64_t, 4> s_{};
    std::uint64_t seed_, stream_;
    bool has_spare_ = false;
    double spare_ = 0.0;
};

// Mixes two 64-bit values into one (splitmix64 finalizer); used to derive stream ids.
std::uint64_t mix64(std::uint64_t a, std::uint64_t b);

}  // namespace orbit
