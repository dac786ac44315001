#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "orbit/core/parallel.hpp"
#include "orbit/core/random.hpp"

using namespace orbit;

TEST_CASE("random streams are reproducible and independent") {
    Rng a(42, 7), b(42, 7), c(42, 8), d(43, 7);
    for (int i = 0; i < 100; ++i) {
        auto x = a.next_u64();
        REQUIRE(x == b.next_u64());
        REQUIRE(x != c.next_u64());
        REQUIRE(x != d.next_u64());
    }
}

TEST_CASE("uniform and normal draws have the right moments") {
    Rng r(1);
    const int n = 200000;
    double su = 0, su2 = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < n; ++i) {
        double u = r.uniform();
        REQUIRE(u >= 0.0);
        REQUIRE(u < 1.0);
        su += u;
        su2 += u * u;
        double z = r.normal();
        sn += z;
        sn2 += z * z;
    }
    CHECK(std::abs(su / n - 0.5) < 0.005);
    CHECK(std::abs(su2 / n - 1.0 / 3.0) < 0.005);
    CHECK(std::abs(sn / n) < 0.01);
    CHECK(std::abs(sn2 / n - 1.0) < 0.01);
}

TEST_CASE("below is unbiased over a small range and permutation is a permutation") {
    Rng r(3);
    int counts[6] = {};
    for (int i = 0; i < 60000; ++i) counts[r.below(6)]++;
    for (int c : counts) CHECK(std::abs(c - 10000) < 400);
    auto p = r.permutation(1000);
    std::set<std::int64_t> s(p.begin(), p.end());
    CHECK(s.size() == 1000);
    CHECK(*s.begin() == 0);
    CHECK(*s.rbegin() == 999);
}

TEST_CASE("deterministic_sum gives the same bits for any thread count") {
    auto term = [](std::int64_t i) { return std::sin(static_cast<double>(i)) * 1e-3 + 1.0 / (1.0 + i); };
    set_threads(1);
    double one = deterministic_sum(100000, term, 1000);
    set_threads(2);
    double two = deterministic_sum(100000, term, 1000);
    set_threads(4);
    double four = deterministic_sum(100000, term, 1000);
    CHECK(one == two);
    CHECK(one == four);
    double naive = 0;
    for (int i = 0; i < 100000; ++i) naive += term(i);
    CHECK(std::abs(one - naive) < 1e-9);
}
