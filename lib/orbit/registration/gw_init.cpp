#include "orbit/registration/gw_init.hpp"

#include <algorithm>

#include "orbit/core/error.hpp"
#include "orbit/geometry/kabsch.hpp"
#include "orbit/geometry/sampling.hpp"
#include "orbit/ot/gromov.hpp"

namespace orbit::registration {
namespace {

Points rows_of(const Points& p, const std::vector<std::int64_t>& idx) {
    Points out(Eigen::Index(idx.size()), p.cols());
    for (std::size_t k = 0; k < idx.size(); ++k) out.row(Eigen::Index(k)) = p.row(idx[k]);
    return out;
}

}  // namespace

GwInit gw_initial_pose(const Points& source, const Points& target, const GwInitOptions& o) {
    require(o.points >= 3, "gw registration: at least 3 sample points are needed");
    require(source.cols() == 3 && target.cols() == 3, "gw registration: expected 3-D points");
    const Points s = rows_of(source, geometry::farthest_point_sample(source, o.points));
    const Points t = rows_of(target, geometry::farthest_point_sample(target, o.points));
    Matrix cs = ot::distance_matrix(s), ct = ot::distance_matrix(t);
    const double scale = std::max(cs.maxCoeff(), ct.maxCoeff());
    require(scale > 0, "gw registration: the clouds are single points");
    cs /= scale, ct /= scale;
    const Vector p = Vector::Constant(s.rows(), 1.0 / double(s.rows()));
    const Vector q = Vector::Constant(t.rows(), 1.0 / double(t.rows()));
    ot::GromovOptions go;
    go.eps = o.eps;
    go.eps_start = o.eps_start;
    go.max_iter = o.max_iter;
    go.tol = 1e-7;
    go.inner_tol = 1e-7;
    const ot::GromovResult g = ot::entropic_gromov_wasserstein(cs, ct, p, q, go);
    // Plan-barycentric matches, weighted by the mass each sample sends.
    const Vector mass = g.plan.rowwise().sum();
    Points match = (mass.cwiseMax(1e-300).cwiseInverse().asDiagonal() * (g.plan * t)).eval();
    GwInit r;
    r.transform = geometry::kabsch(s, match, mass);
    r.iterations = g.iterations;
    r.gw_value = g.value;
    return r;
}

}  // namespace orbit::registration
