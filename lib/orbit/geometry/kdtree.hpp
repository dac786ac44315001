#pragma once
// Exact nearest-neighbour search over the rows of a point matrix (nanoflann).
//
// The tree copies the points, so it stays valid when the caller's matrix goes
// away. Queries are const and thread-safe: parallel loops may share one tree.
// Distances are returned squared, as nanoflann computes them.
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "orbit/core/types.hpp"

namespace orbit::geometry {

struct Neighbor {
    std::int64_t index;
    double dist2;
};

class KdTree {
public:
    KdTree();
    explicit KdTree(const Points& points);  // any dimension >= 1
    ~KdTree();
    KdTree(KdTree&&) noexcept;
    KdTree& operator=(KdTree&&) noexcept;

    std::int64_t size() const;
    int dim() const;
    const Points& points() const;

    // The closest point to q (q has dim() values). Requires a non-empty tree.
    Neighbor nearest(const double* q) const;
    // The closest point within `radius` (not squared), or {-1, +inf} when there
    // is none. Faster than nearest() when most queries are far: the search
    // prunes with the radius from the start.
    Neighbor nearest_within(const double* q, double radius) const;
    // The k closest points, nearest first (fewer when the tree has fewer points).
    std::vector<Neighbor> knn(const double* q, std::int64_t k) const;
    // Every point within `radius` (not squared), nearest first.
    std::vector<Neighbor> radius(const double* q, double radius) const;
    // Up to max_nn points within radius, nearest first (the hybrid search of Open3D).
    std::vector<Neighbor> hybrid(const double* q, double radius, std::int64_t max_nn) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace orbit::geometry
