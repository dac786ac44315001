#include "orbit/geometry/kdtree.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nanoflann.hpp>

#include "orbit/core/error.hpp"

namespace orbit::geometry {

namespace {
struct Adaptor {
    const Points* pts;
    std::size_t kdtree_get_point_count() const { return static_cast<std::size_t>(pts->rows()); }
    double kdtree_get_pt(std::size_t i, std::size_t d) const { return (*pts)(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(d)); }
    template <class BBox>
    bool kdtree_get_bbox(BBox&) const { return false; }
};
using TreeN = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, Adaptor>, Adaptor, -1, std::uint32_t>;
// A fixed dimension lets the compiler unroll the distance loops (most trees are 3-d).
using Tree3 = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, Adaptor>, Adaptor, 3, std::uint32_t>;
}  // namespace

struct KdTree::Impl {
    Points pts;
    Adaptor adaptor;
    std::unique_ptr<TreeN> treen;
    std::unique_ptr<Tree3> tree3;
    template <class R>
    void find(R& rs, const double* q, const nanoflann::SearchParams& sp) const {
        if (tree3) tree3->findNeighbors(rs, q, sp);
        else treen->findNeighbors(rs, q, sp);
    }
};

KdTree::KdTree() = default;
KdTree::~KdTree() = default;
KdTree::KdTree(KdTree&&) noexcept = default;
KdTree& KdTree::operator=(KdTree&&) noexcept = default;

KdTree::KdTree(const Points& points) : impl_(std::make_unique<Impl>()) {
    require(points.cols() >= 1, "kd-tree: points need at least one coordinate");
    impl_->pts = points;
    impl_->adaptor.pts = &impl_->pts;
    if (points.cols() == 3) {
        impl_->tree3 = std::make_unique<Tree3>(3, impl_->adaptor, nanoflann::KDTreeSingleIndexAdaptorParams(10));
        if (points.rows() > 0) impl_->tree3->buildIndex();
    } else {
        impl_->treen = std::make_unique<TreeN>(static_cast<int>(points.cols()), impl_->adaptor,
                                               nanoflann::KDTreeSingleIndexAdaptorParams(10));
        if (points.rows() > 0) impl_->treen->buildIndex();
    }
}

std::int64_t KdTree::size() const { return impl_ ? impl_->pts.rows() : 0; }
int KdTree::dim() const { return impl_ ? static_cast<int>(impl_->pts.cols()) : 0; }
const Points& KdTree::points() const { return impl_->pts; }

Neighbor KdTree::nearest(const double* q) const {
    require(size() > 0, "kd-tree: nearest-neighbour query on an empty set");
    std::uint32_t idx = 0;
    double d2 = 0;
    nanoflann::KNNResultSet<double, std::uint32_t> rs(1);
    rs.init(&idx, &d2);
    impl_->find(rs, q, nanoflann::SearchParams());
    return {static_cast<std::int64_t>(idx), d2};
}

namespace {
// A nanoflann result set holding the single closest point below a bound.
struct BoundedNearest {
    double best;
    std::uint32_t index = 0;
    bool found = false;
    bool full() const { return true; }
    bool addPoint(double dist, std::uint32_t i) {
        if (dist < best) {  // ties keep the first found, as KNNResultSet does
            best = dist;
            index = i;
            found = true;
        }
        return true;
    }
    double worstDist() const { return best; }
};
}  // namespace

Neighbor KdTree::nearest_within(const double* q, double radius) const {
    if (size() == 0) return {-1, std::numeric_limits<double>::infinity()};
    BoundedNearest rs{radius * radius};
    impl_->find(rs, q, nanoflann::SearchParams());
    if (!rs.found) return {-1, std::numeric_limits<double>::infinity()};
    return {static_cast<std::int64_t>(rs.index), rs.best};
}

std::vector<Neighbor> KdTree::knn(const double* q, std::int64_t k) const {
    std::vector<Neighbor> out;
    if (size() == 0 || k <= 0) return out;
    std::size_t kk = static_cast<std::size_t>(std::min<std::int64_t>(k, size()));
    std::vector<std::uint32_t> idx(kk);
    std::vector<double> d2(kk);
    nanoflann::KNNResultSet<double, std::uint32_t> rs(kk);
    rs.init(idx.data(), d2.data());
    impl_->find(rs, q, nanoflann::SearchParams());
    out.reserve(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i) out.push_back({static_cast<std::int64_t>(idx[i]), d2[i]});
    return out;
}

std::vector<Neighbor> KdTree::radius(const double* q, double r) const {
    std::vector<Neighbor> out;
    if (size() == 0 || !(r > 0)) return out;
    std::vector<std::pair<std::uint32_t, double>> m;
    nanoflann::RadiusResultSet<double, std::uint32_t> rs(r * r, m);
    impl_->find(rs, q, nanoflann::SearchParams(32, 0.f, true));
    std::sort(m.begin(), m.end(), nanoflann::IndexDist_Sorter());
    out.reserve(m.size());
    for (auto& [i, d] : m) out.push_back({static_cast<std::int64_t>(i), d});
    return out;
}

std::vector<Neighbor> KdTree::hybrid(const double* q, double r, std::int64_t max_nn) const {
    std::vector<Neighbor> out;
    if (size() == 0 || max_nn <= 0 || !(r >= 0)) return out;
    std::size_t kk = static_cast<std::size_t>(std::min<std::int64_t>(max_nn, size()));
    std::vector<std::uint32_t> idx(kk);
    std::vector<double> d2(kk);
    nanoflann::KNNResultSet<double, std::uint32_t> rs(kk);
    rs.init(idx.data(), d2.data());
    // The k-nearest search prunes with its k-th distance, which starts out
    // unbounded; starting it at the radius skips the far branches (the set
    // found is the same: the k nearest among the points within r).
    const double r2 = r * r;
    d2[kk - 1] = std::nextafter(r2, std::numeric_limits<double>::infinity());
    impl_->find(rs, q, nanoflann::SearchParams());
    out.reserve(rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i)
        if (d2[i] <= r2) out.push_back({static_cast<std::int64_t>(idx[i]), d2[i]});
    return out;
}

}  // namespace orbit::geometry
