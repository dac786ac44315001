#pragma once
// What the unit tests share: temporary folders, the message of an expected
// error, and the synthetic clouds and weights they are built on. Each helper
// is deterministic for its seed, so a test's tolerances stay what they are.
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"

namespace orbit::test {

// A fresh folder of its own under the temporary directory, removed with its contents.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "orbit-test-XXXXXX").string();
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        REQUIRE(::mkdtemp(buf.data()) != nullptr);
        path = buf.data();
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    // The path of `name` in the folder.
    std::string name(const std::string& n) const { return (path / n).string(); }
    std::string operator/(const std::string& n) const { return name(n); }
    // Writes `content` to `name` and returns its path.
    std::string file(const std::string& n, const std::string& content) const {
        std::string p = name(n);
        std::ofstream(p, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
        return p;
    }
    // Regular files in the folder (temporary files left behind would show here).
    std::size_t entries() const {
        std::size_t n = 0;
        for (auto& e : std::filesystem::directory_iterator(path)) n += e.is_regular_file();
        return n;
    }
};

// The whole content of a file.
inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The message of the orbit::Error that f throws (the test fails when none is
// thrown); the message must be one line.
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const orbit::Error& e) {
        std::string m = e.what();
        UNSCOPED_INFO("message: " << m);
        CHECK(m.find('\n') == std::string::npos);
        return m;
    }
    FAIL("no orbit::Error thrown");
    return "";
}

// Each point's squared distance to the centroid: invariant under E(3), follows permutations.
inline std::vector<double> squared_centroid_distances(const Points& x) {
    const Eigen::RowVector3d c = x.colwise().mean();
    std::vector<double> d;
    for (Eigen::Index i = 0; i < x.rows(); ++i) d.push_back((x.row(i) - c).squaredNorm());
    return d;
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Appends the bytes of a value in the requested byte order (for hand-made binary files).
template <class T>
void put(std::string& s, T v, bool big) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    if (big == (std::endian::native == std::endian::little)) std::reverse(b, b + sizeof(T));
    s.append(b, sizeof(T));
}

// n points uniform in [-1, 1]^d.
inline Points uniform_points(Rng& rng, Eigen::Index n, int d = 3) {
    Points p(n, d);
    for (Eigen::Index i = 0; i < n; ++i)
        for (int j = 0; j < d; ++j) p(i, j) = rng.uniform(-1, 1);
    return p;
}

// n points uniform in [shift, shift + 1)^d, from the stream `seed`.
inline Points unit_cube_cloud(int n, int d, std::uint64_t seed, double shift = 0) {
    Rng r(seed);
    Points p(n, d);
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < d; ++k) p(i, k) = r.uniform() + shift;
    return p;
}

// n positive weights summing to one, each within a factor 3 of the others.
inline Vector random_weights(int n, std::uint64_t seed) {
    Rng r(seed, 99);
    Vector w(n);
    for (int i = 0; i < n; ++i) w[i] = 0.5 + r.uniform();
    return w / w.sum();
}

// n Gaussian points whose axis j has standard deviation j + 1 (no symmetric axes).
inline Points anisotropic_gaussian(int n, std::uint64_t seed) {
    Rng r(seed);
    Points p(n, 3);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < 3; ++j) p(i, j) = r.normal() * (j + 1);
    return p;
}

// A bumpy, asymmetric closed surface (no rotational symmetry), sampled at random.
inline Points blob(Rng& rng, Eigen::Index n) {
    Points p(n, 3);
    for (Eigen::Index i = 0; i < n; ++i) {
        double z = rng.uniform(-1, 1), phi = rng.uniform(0, 2 * std::numbers::pi);
        double s = std::sqrt(1 - z * z);
        Eigen::Vector3d u(s * std::cos(phi), s * std::sin(phi), z);
        double r = 1 + 0.25 * std::sin(3 * u.x() + 1) * std::cos(2 * u.y()) + 0.15 * u.z() * u.z() * u.x() + 0.1 * u.y();
        p.row(i) = r * u.transpose();
    }
    return p;
}

// n nearly uniform points on the sphere of radius r (the Fibonacci lattice).
inline Points fibonacci_sphere(Eigen::Index n, double r = 1.0) {
    Points p(n, 3);
    const double golden = std::numbers::pi * (3 - std::sqrt(5.0));
    for (Eigen::Index i = 0; i < n; ++i) {
        double z = 1 - (2.0 * static_cast<double>(i) + 1) / static_cast<double>(n), s = std::sqrt(1 - z * z);
        p.row(i) << r * s * std::cos(golden * static_cast<double>(i)), r * s * std::sin(golden * static_cast<double>(i)), r * z;
    }
    return p;
}

}  // namespace orbit::test
