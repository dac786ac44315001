// A program built against an installed liborbit: reads a cloud (any file
// orbit-convert reads, or an orbit HDF5 file), moves it by a known rigid
// motion, registers the moved copy back with point-to-plane ICP and prints
// the rotation and translation errors.
//
//   align CLOUD            e.g. align bunny.h5
#include <cstdio>
#include <exception>
#include <numbers>

#include "orbit/core/version.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/io/pointset.hpp"
#include "orbit/registration/register.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: align CLOUD\n");
        return 2;
    }
    try {
        orbit::io::PointSets sets = orbit::io::read_point_sets(argv[1]);
        const orbit::Points& target = sets[0].points;
        // A known motion: 10 degrees about (1, 2, 3) and a small shift.
        Eigen::Matrix3d r = Eigen::AngleAxisd(10.0 * std::numbers::pi / 180.0, Eigen::Vector3d(1, 2, 3).normalized()).toRotationMatrix();
        Eigen::RowVector3d t(0.02, -0.01, 0.03);
        orbit::Points source = (target * r.transpose()).rowwise() + t;  // source = R x + t
        orbit::Transform truth = orbit::Transform::Identity();     // maps source back onto target
        truth.topLeftCorner<3, 3>() = r.transpose();
        truth.topRightCorner<3, 1>() = -(r.transpose() * t.transpose());

        orbit::registration::Options options;
        options.method = orbit::registration::Method::icp_plane;
        orbit::Rng rng(1);
        orbit::registration::Result result = orbit::registration::register_pair(source, target, options, rng);
        orbit::registration::Errors e = orbit::registration::evaluate(source, target, result.transform, truth);
        std::printf("liborbit %s: %lld points, RRE %.4f deg, RTE %.5f, fitness %.3f\n", orbit::version,
                    static_cast<long long>(target.rows()), e.rre_deg, e.rte, result.fitness);
        return e.rre_deg < 1.0 && e.rte < 0.01 ? 0 : 1;
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "align: error: %s\n", ex.what());
        return 1;
    }
}
