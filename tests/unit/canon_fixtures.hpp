// Shared helpers of the learned-canonicalizer tests: random planar or spatial
// rotations, the frame a network predicts for a cloud, and a test cloud with no
// exact symmetry.
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <vector>

#include "nn_fixtures.hpp"
#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/nn/tape.hpp"

namespace orbit::test {

// A uniform rotation of the plane (dim 2, as the x, y block of a 3 x 3) or of space (dim 3).
inline Eigen::Matrix3d random_rotation(Rng& rng, int dim) {
    Eigen::Matrix3d q = Eigen::Matrix3d::Identity();
    if (dim == 2) {
        const double a = rng.uniform(-M_PI, M_PI);
        q.topLeftCorner<2, 2>() << std::cos(a), -std::sin(a), std::sin(a), std::cos(a);
        return q;
    }
    return geometry::random_rotation(rng);
}

// The frame net predicts for a centred copy of x, as 3 x 3 (2-D: the x, y block, z fixed).
template <template <class> class Net, class T>
Eigen::Matrix3d network_frame(Net<T>& net, const Points& x) {
    nn::Tape<T> tape(false);
    const Points c = x.rowwise() - x.colwise().mean();
    const nn::Mat<double> r = tape.value(net.forward(tape, c.cast<T>(), int(x.rows()))).template cast<double>();
    const int d = int(x.cols());
    Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
    for (int i = 0; i < d * d; ++i) R(i / d, i % d) = r(0, i);
    return R;
}

// An anisotropic, asymmetric cloud with no exact symmetry.
inline Points test_cloud(int n, int dim, Rng& rng) {
    Points x = random_mat(n, dim, rng);
    x.col(0) *= 2.0;
    x.col(1) += 0.3 * x.col(0).cwiseAbs2();
    return x;
}

// Upright 2-D clouds: noisy, rescaled, shifted copies of one template.
inline std::vector<Points> upright_copies(const Points& tmpl, int count, Rng& rng) {
    std::vector<Points> data;
    for (int k = 0; k < count; ++k) {
        Points x = tmpl;
        for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] += 0.03 * rng.normal();
        x *= rng.uniform(0.5, 2.0);
        x.rowwise() += Eigen::RowVector2d(rng.normal(), rng.normal());
        data.push_back(x);
    }
    return data;
}

}  // namespace orbit::test
