#include "orbit/udpreg/inputs.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>

#include "orbit/core/error.hpp"
#include "orbit/geometry/features.hpp"
#include "orbit/geometry/kdtree.hpp"

namespace orbit::udpreg {

DescriptorScales descriptor_scales(const Points& reference) {
    geometry::KdTree tree(reference);
    DescriptorScales s;
    s.spacing = std::max(geometry::mean_spacing(reference, tree), 1e-12);
    s.normal_radius = 4 * s.spacing;
    s.feature_radius = 12 * s.spacing;
    return s;
}

Points registration_fpfh(const Points& x, const DescriptorScales& s) {
    geometry::KdTree tree(x);
    Points normals = geometry::estimate_normals(x, tree, s.normal_radius, 30);
    return geometry::compute_fpfh(x, normals, tree, s.feature_radius, 100, true);
}

namespace {
// linearity, planarity, scattering, surface variation of the neighbours' covariance
Eigen::Vector4d local_shape(const Points& x, const std::vector<geometry::Neighbor>& nb) {
    Eigen::RowVector3d c = Eigen::RowVector3d::Zero();
    for (const auto& n : nb) c += x.row(n.index);
    c /= double(nb.size());
    Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
    for (const auto& n : nb) {
        Eigen::RowVector3d d = x.row(n.index) - c;
        cov += d.transpose() * d;
    }
    Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es(cov, Eigen::EigenvaluesOnly);
    Eigen::Vector3d l = es.eigenvalues().cwiseMax(0.0);  // ascending
    const double l1 = std::max(l[2], 1e-300), sum = std::max(l.sum(), 1e-300);
    return {(l[2] - l[1]) / l1, (l[1] - l[0]) / l1, l[0] / l1, l[0] / sum};
}
}  // namespace

Points network_inputs(const Points& x, const Points& fpfh) {
    require(x.cols() == 3 && x.rows() >= 3, "udpreg: expected at least 3 points of 3 coordinates");
    require(fpfh.rows() == x.rows() && fpfh.cols() == 33, "udpreg: expected one 33-bin FPFH row per point");
    const Eigen::Index n = x.rows();
    Points h = fpfh;
    for (Eigen::Index i = 0; i < n; ++i)
        for (int g = 0; g < 3; ++g) {
            double s = h.row(i).segment(11 * g, 11).sum();
            if (s > 0) h.row(i).segment(11 * g, 11) /= s;
        }
    geometry::KdTree tree(x);
    const std::int64_t k_small = std::min<std::int64_t>(16, n), k_large = std::min<std::int64_t>(48, n);
    std::vector<std::vector<geometry::Neighbor>> nbs(static_cast<std::size_t>(n));
    double spacing = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        nbs[static_cast<std::size_t>(i)] = tree.knn(x.row(i).data(), k_large);
        if (nbs[static_cast<std::size_t>(i)].size() > 1) spacing += std::sqrt(nbs[static_cast<std::size_t>(i)][1].dist2);
    }
    spacing = std::max(spacing / double(n), 1e-300);
    Points out(n, kInputWidth);
    for (Eigen::Index i = 0; i < n; ++i) {
        const auto& all = nbs[static_cast<std::size_t>(i)];
        std::vector<geometry::Neighbor> small(all.begin(), all.begin() + std::min<std::size_t>(all.size(), std::size_t(k_small)));
        Eigen::RowVectorXd mean_h = Eigen::RowVectorXd::Zero(33);
        double mean_d = 0;
        for (const auto& nb : small) {
            mean_h += h.row(nb.index);
            mean_d += std::sqrt(nb.dist2);
        }
        mean_h /= double(small.size());
        mean_d /= double(std::max<std::size_t>(1, small.size() - 1));  // the point itself is at distance 0
        Eigen::Vector4d a = local_shape(x, small), b = local_shape(x, all);
        out.row(i).segment(0, 33) = h.row(i);
        out.row(i).segment(33, 33) = mean_h;
        out.row(i).segment(66, 3) = a.head<3>().transpose();
        out.row(i).segment(69, 3) = b.head<3>().transpose();
        out(i, 72) = mean_d / spacing;
        out(i, 73) = a[3];
    }
    return out;
}

}  // namespace orbit::udpreg
