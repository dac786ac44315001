#pragma once
// Transformation groups acting on point clouds: sampling, exhaustive
// enumeration of finite groups, and Lie-algebra generators.
//
// A group is a product of factors written with '+' or ',': "SO3",
// "SE3+perm", "C4", "scaling,T3". Factors:
//   SO2        rotations about the axis (z unless set)
//   SO3, O3    rotations (Haar), rotations and reflections
//   T3         translations, uniform in [-h,h]^3 (also "translations")
//   SE3, E3    SO3 or O3 together with T3
//   scaling    x -> s x, log s uniform in [-log m, log m] (also "scale")
//   perm       permutations of the points (also "permutations", "SN")
//   Cn         the n rotations by 2 pi k / n about the axis (C4, C6, ...)
// An element acts on a cloud by permuting its rows, then x -> A x + b with A
// = s R (R orthogonal). 2-D clouds are embedded as z = 0 (only groups that
// keep the plane make sense there: SO2 and Cn about z, scaling, perm, T3 in x,y).
#include <cstdint>
#include <string>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"

namespace orbit::invariance {

enum class Factor { SO2, SO3, O3, T3, scaling, perm, Cn };

struct GroupOptions {
    Eigen::Vector3d axis = Eigen::Vector3d::UnitZ();
    double max_translation = 1.0;  // h
    double max_scale = 2.0;        // m > 1
};

struct Group {
    std::vector<Factor> factors;
    int n = 0;  // order of Cn
    GroupOptions opt;
    std::string name;

    bool finite() const;           // only Cn factors
    std::int64_t order() const;    // for finite groups
    bool has(Factor f) const;
    bool rotates() const;          // any factor that rotates (SO2, SO3, O3, Cn)
};

// Throws UsageError naming the unknown factor.
Group parse_group(const std::string& text, const GroupOptions& opt = {});

struct Element {
    Transform t = Transform::Identity();  // x -> A x + b
    bool permute = false;                 // rows permuted by permutation(cloud index, N)
    std::uint64_t perm_seed = 0;
    double angle_deg = 0;                 // rotation angle of the orthogonal part (after removing a reflection)
    double translation = 0;               // |b|
    double log_scale = 0;                 // log s
    bool reflection = false;
    std::string label;                    // for finite groups ("C4^2") and reports

    // The row permutation for cloud `cloud` with n points: row i of the result is row perm[i] of the input.
    std::vector<std::int64_t> permutation(std::uint64_t cloud, std::int64_t n) const;
};

// Element k of a sample of size `count`, from stream (seed, k) (the same element for every cloud).
Element sample(const Group& g, std::uint64_t seed, std::uint64_t k);
// Every element of a finite group, identity first.
std::vector<Element> enumerate(const Group& g);
Element identity_element();

// x -> g x for cloud index `cloud` (used for the permutation).
Points act(const Element& e, const Points& x, std::uint64_t cloud);

// One-parameter subgroups exp(tX) of the continuous factors: rotations about
// x, y, z (or the SO2 axis), translations along x, y, z, and scaling.
struct Generator {
    std::string name;
    Eigen::Matrix4d x;  // Lie algebra element (4x4 homogeneous)
    Transform exp(double t) const;
};
std::vector<Generator> generators(const Group& g);

// Rotation angle (degrees) of the orthogonal part of A = s R, reflections removed.
double rotation_angle_deg(const Eigen::Matrix3d& a);

}  // namespace orbit::invariance
