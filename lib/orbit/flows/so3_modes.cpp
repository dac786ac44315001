#include "orbit/flows/so3_modes.hpp"

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <numbers>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/flows/manifolds.hpp"
#include "orbit/geometry/rotation.hpp"

namespace orbit::flows {

std::vector<Eigen::Matrix3d> rows_to_rotations(const Points& rows) {
    require(rows.cols() == 9, "rotations need 9 numbers per row");
    std::vector<Eigen::Matrix3d> out(static_cast<std::size_t>(rows.rows()));
    for (Eigen::Index i = 0; i < rows.rows(); ++i)
        for (int j = 0; j < 9; ++j) out[static_cast<std::size_t>(i)](j / 3, j % 3) = rows(i, j);
    return out;
}

namespace {

// S(M) = sum_i w_i K(R_i, M) R_i and f(M) = sum_i w_i K(R_i, M).
Eigen::Matrix3d kernel_sum(const std::vector<Eigen::Matrix3d>& R, const Vector& w, const Eigen::Matrix3d& M,
                           double kappa, double& f) {
    Eigen::Matrix3d S = Eigen::Matrix3d::Zero();
    f = 0;
    for (std::size_t i = 0; i < R.size(); ++i) {
        const double k = w(Eigen::Index(i)) * std::exp(0.5 * kappa * ((M.transpose() * R[i]).trace() - 3));
        S += k * R[i];
        f += k;
    }
    return S;
}

}  // namespace

std::vector<So3Mode> so3_mean_shift_modes(const std::vector<Eigen::Matrix3d>& R, const Vector& w_in,
                                          const So3ModeOptions& o) {
    const std::size_t n = R.size();
    require(n >= 1, "mode finding needs at least one rotation");
    require(o.bandwidth_deg > 0 && o.bandwidth_deg < 180, "the mode bandwidth must lie in (0, 180) degrees");
    const Vector w = w_in.size() == 0 ? Vector::Ones(Eigen::Index(n)) : w_in;
    require(w.size() == Eigen::Index(n), "mode finding: one weight per rotation");
    for (Eigen::Index i = 0; i < w.size(); ++i)
        if (!std::isfinite(w(i)) || w(i) < 0)
            throw Error("mode finding: weight " + std::to_string(i) + " is " + std::to_string(w(i)) +
                        "; weights must be finite and >= 0");
    const double total = w.sum();
    if (!(total > 0)) throw Error("mode finding: all weights are 0");
    const double deg = std::numbers::pi / 180, kappa = 1 / std::pow(o.bandwidth_deg * deg, 2);
    const double merge = o.merge_deg > 0 ? o.merge_deg : o.bandwidth_deg;
    std::vector<Eigen::Matrix3d> end(n);
    std::vector<double> dens(n);
    parallel_for(std::int64_t(n), [&](std::int64_t s) {
        Eigen::Matrix3d M = R[static_cast<std::size_t>(s)];
        double f = 0;
        for (int it = 0; it < o.max_iter; ++it) {
            const Eigen::Matrix3d next = geometry::project_to_rotation(kernel_sum(R, w, M, kappa, f));
            const double step = geometry::rotation_error_deg(M, next);
            M = next;
            if (step < o.tol_deg) break;
        }
        kernel_sum(R, w, M, kappa, f);
        end[static_cast<std::size_t>(s)] = M;
        dens[static_cast<std::size_t>(s)] = f / total;
    });
    // Merge in a fixed order (densest climb first), so the modes do not depend on threads.
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return dens[a] > dens[b]; });
    std::vector<So3Mode> modes;
    for (std::size_t i : order) {
        auto it = std::find_if(modes.begin(), modes.end(),
                               [&](const So3Mode& m) { return geometry::rotation_error_deg(m.rotation, end[i]) < merge; });
        if (it == modes.end()) {
            modes.push_back(So3Mode{end[i], 0.0, 0, dens[i]});
            it = modes.end() - 1;
        }
        it->mass += w(Eigen::Index(i)) / total;
        it->members += 1;
    }
    std::stable_sort(modes.begin(), modes.end(), [](const So3Mode& a, const So3Mode& b) { return a.mass > b.mass; });
    return modes;
}

void write_so3_modes(h5::File& file, const std::vector<So3Mode>& modes, const Vector& logp) {
    const std::size_t k = modes.size();
    h5::Array<double> rot, mass, dens, lp;
    h5::Array<std::int64_t> members;
    rot.shape = {k, 3, 3};
    mass.shape = dens.shape = members.shape = lp.shape = {k};
    for (std::size_t i = 0; i < k; ++i) {
        for (int j = 0; j < 9; ++j) rot.data.push_back(modes[i].rotation(j / 3, j % 3));
        mass.data.push_back(modes[i].mass);
        dens.data.push_back(modes[i].density);
        members.data.push_back(modes[i].members);
        if (logp.size() == Eigen::Index(k)) lp.data.push_back(logp(Eigen::Index(i)));
    }
    file.write("/rotations", rot);
    file.write("/mass", mass);
    file.write("/members", members);
    file.write("/density", dens);
    if (logp.size() == Eigen::Index(k)) file.write("/logp", lp);
}

nlohmann::json so3_modes_json(const std::vector<So3Mode>& modes, const Vector& logp) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < modes.size(); ++i) {
        const Eigen::Matrix3d& R = modes[i].rotation;
        const Eigen::Vector3d w = so3_log(R);
        const double angle = w.norm();
        const Eigen::Vector3d axis = angle > 1e-12 ? Eigen::Vector3d(w / angle) : Eigen::Vector3d::UnitZ();
        const Eigen::Vector4d q = matrix_to_quaternion(R);
        nlohmann::json m = {{"rotation", std::vector<double>{R(0, 0), R(0, 1), R(0, 2), R(1, 0), R(1, 1), R(1, 2), R(2, 0), R(2, 1), R(2, 2)}},
                            {"quaternion_xyzw", std::vector<double>{q(0), q(1), q(2), q(3)}},
                            {"angle_deg", angle * 180 / std::numbers::pi},
                            {"axis", std::vector<double>{axis(0), axis(1), axis(2)}},
                            {"mass", modes[i].mass},
                            {"members", modes[i].members},
                            {"density", modes[i].density}};
        if (logp.size() == Eigen::Index(modes.size())) m["logp"] = logp(Eigen::Index(i));
        out.push_back(m);
    }
    return out;
}

}  // namespace orbit::flows
