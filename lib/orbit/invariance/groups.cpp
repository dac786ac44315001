#include "orbit/invariance/groups.hpp"

#include <Eigen/Geometry>
#include <Eigen/LU>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <unsupported/Eigen/MatrixFunctions>

#include "orbit/core/error.hpp"
#include "orbit/geometry/rotation.hpp"

namespace orbit::invariance {
namespace {

std::string upper(std::string s) {
    std::string o;
    for (char c : s)
        if (c != '(' && c != ')' && c != '_' && c != ' ') o += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return o;
}

Eigen::Matrix3d skew(const Eigen::Vector3d& w) {
    Eigen::Matrix3d m;
    m << 0, -w[2], w[1], w[2], 0, -w[0], -w[1], w[0], 0;
    return m;
}

}  // namespace

bool Group::finite() const {
    return !factors.empty() && std::all_of(factors.begin(), factors.end(), [](Factor f) { return f == Factor::Cn; });
}
std::int64_t Group::order() const { return finite() ? n : 0; }
bool Group::has(Factor f) const { return std::find(factors.begin(), factors.end(), f) != factors.end(); }
bool Group::rotates() const {
    return has(Factor::SO2) || has(Factor::SO3) || has(Factor::O3) || has(Factor::Cn);
}

Group parse_group(const std::string& text, const GroupOptions& opt) {
    Group g;
    g.opt = opt;
    g.name = text;
    if (!(opt.axis.norm() > 0)) throw UsageError("the axis must be a non-zero vector");
    g.opt.axis = opt.axis.normalized();
    if (!(opt.max_translation >= 0) || !std::isfinite(opt.max_translation))
        throw UsageError("the translation bound must be finite and >= 0");
    if (!(opt.max_scale > 1) || !std::isfinite(opt.max_scale)) throw UsageError("the scale bound must be finite and > 1");
    std::string part;
    std::vector<std::string> parts;
    for (char c : text + "+") {
        if (c == '+' || c == ',') {
            if (!part.empty()) parts.push_back(part);
            part.clear();
        } else {
            part += c;
        }
    }
    if (parts.empty()) throw UsageError("the group is empty");
    auto add = [&](Factor f) {
        if (g.has(f)) throw UsageError("group '" + text + "' names a factor twice");
        g.factors.push_back(f);
    };
    for (auto& p : parts) {
        const std::string u = upper(p);
        if (u == "SO2") add(Factor::SO2);
        else if (u == "SO3") add(Factor::SO3);
        else if (u == "O3") add(Factor::O3);
        else if (u == "T3" || u == "TRANSLATIONS" || u == "TRANSLATION") add(Factor::T3);
        else if (u == "SE3") { add(Factor::SO3); add(Factor::T3); }
        else if (u == "E3") { add(Factor::O3); add(Factor::T3); }
        else if (u == "SCALING" || u == "SCALE") add(Factor::scaling);
        else if (u == "PERM" || u == "PERMUTATIONS" || u == "SN") add(Factor::perm);
        else if (u.size() >= 2 && u[0] == 'C' && std::all_of(u.begin() + 1, u.end(), ::isdigit)) {
            g.n = std::stoi(u.substr(1));
            if (g.n < 1 || g.n > 100000) throw UsageError("cyclic group order must be between 1 and 100000, found " + p);
            add(Factor::Cn);
        } else {
            throw UsageError("unknown group '" + p +
                             "' (expected SO2, SO3, O3, T3, SE3, E3, scaling, perm or Cn such as C4, joined by '+')");
        }
    }
    const int rot = g.has(Factor::SO2) + g.has(Factor::SO3) + g.has(Factor::O3) + g.has(Factor::Cn);
    if (rot > 1) throw UsageError("group '" + text + "' has more than one rotation factor");
    return g;
}

std::vector<std::int64_t> Element::permutation(std::uint64_t cloud, std::int64_t n) const {
    if (!permute) {
        std::vector<std::int64_t> p(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = i;
        return p;
    }
    Rng r(perm_seed, cloud);
    return r.permutation(n);
}

double rotation_angle_deg(const Eigen::Matrix3d& a) {
    const double det = a.determinant();
    if (!(std::abs(det) > 0)) return 0;
    const double s = std::cbrt(std::abs(det));
    Eigen::Matrix3d r = a / s;
    if (det < 0) r = -r;
    const double c = std::clamp((r.trace() - 1) / 2, -1.0, 1.0);
    return std::acos(c) * 180.0 / M_PI;
}

Element identity_element() {
    Element e;
    e.label = "identity";
    return e;
}

static void finish(Element& e) {
    const Eigen::Matrix3d a = e.t.topLeftCorner<3, 3>();
    e.angle_deg = rotation_angle_deg(a);
    e.translation = e.t.topRightCorner<3, 1>().norm();
    const double det = a.determinant();
    e.reflection = det < 0;
    e.log_scale = std::log(std::cbrt(std::abs(det)));
}

Element sample(const Group& g, std::uint64_t seed, std::uint64_t k) {
    Rng rng(seed, mix64(k, 0x1a7e5a3b9c2dULL));
    Element e;
    Eigen::Matrix3d a = Eigen::Matrix3d::Identity();
    Eigen::Vector3d b = Eigen::Vector3d::Zero();
    for (Factor f : g.factors) {
        switch (f) {
            case Factor::SO2: a = geometry::axis_angle(g.opt.axis, rng.uniform(0, 2 * M_PI)) * a; break;
            case Factor::SO3: a = geometry::random_rotation(rng) * a; break;
            case Factor::O3: {
                Eigen::Matrix3d r = geometry::random_rotation(rng);
                if (rng.uniform() < 0.5) r = -r;  // Haar on O(3): a random rotation times +-I
                a = r * a;
                break;
            }
            case Factor::Cn: {
                const auto j = static_cast<int>(rng.below(static_cast<std::uint64_t>(g.n)));
                a = geometry::axis_angle(g.opt.axis, 2 * M_PI * j / g.n) * a;
                e.label = "C" + std::to_string(g.n) + "^" + std::to_string(j);
                break;
            }
            case Factor::scaling: a *= std::exp(rng.uniform(-1, 1) * std::log(g.opt.max_scale)); break;
            case Factor::T3:
                for (int i = 0; i < 3; ++i) b[i] = rng.uniform(-1, 1) * g.opt.max_translation;
                break;
            case Factor::perm:
                e.permute = true;
                e.perm_seed = rng.next_u64();
                break;
        }
    }
    e.t.topLeftCorner<3, 3>() = a;
    e.t.topRightCorner<3, 1>() = b;
    if (e.label.empty()) e.label = "sample " + std::to_string(k);
    finish(e);
    return e;
}

std::vector<Element> enumerate(const Group& g) {
    if (!g.finite()) throw UsageError("group '" + g.name + "' is not finite: its elements cannot be enumerated, only sampled");
    std::vector<Element> out;
    for (int j = 0; j < g.n; ++j) {
        Element e;
        e.t.topLeftCorner<3, 3>() = geometry::axis_angle(g.opt.axis, 2 * M_PI * j / g.n);
        e.label = "C" + std::to_string(g.n) + "^" + std::to_string(j);
        finish(e);
        out.push_back(e);
    }
    return out;
}

Points act(const Element& e, const Points& x, std::uint64_t cloud) {
    const Eigen::Index n = x.rows(), d = x.cols();
    if (d != 2 && d != 3) throw Error("group action: expected points with 2 or 3 coordinates, found " + std::to_string(d));
    const Eigen::Matrix3d a = e.t.topLeftCorner<3, 3>();
    const Eigen::Vector3d b = e.t.topRightCorner<3, 1>();
    if (d == 2 && (std::abs(a(2, 0)) + std::abs(a(2, 1)) + std::abs(a(0, 2)) + std::abs(a(1, 2)) > 1e-12))
        throw UsageError("group action: this group element moves 2-D points out of their plane (use SO2 or Cn about z)");
    std::vector<std::int64_t> perm;
    if (e.permute) perm = e.permutation(cloud, n);
    Points y(n, d);
    for (Eigen::Index i = 0; i < n; ++i) {
        const Eigen::Index src = e.permute ? perm[static_cast<std::size_t>(i)] : i;
        Eigen::Vector3d p(x(src, 0), x(src, 1), d == 3 ? x(src, 2) : 0.0);
        p = a * p + b;
        for (Eigen::Index k = 0; k < d; ++k) y(i, k) = p[k];
    }
    return y;
}

Transform Generator::exp(double t) const {
    Eigen::Matrix4d m = t * x;
    return m.exp();
}

std::vector<Generator> generators(const Group& g) {
    std::vector<Generator> out;
    auto rot = [&](const std::string& name, const Eigen::Vector3d& w) {
        Generator gen{name, Eigen::Matrix4d::Zero()};
        gen.x.topLeftCorner<3, 3>() = skew(w);
        out.push_back(gen);
    };
    if (g.has(Factor::SO3) || g.has(Factor::O3)) {
        rot("rotate_x", Eigen::Vector3d::UnitX());
        rot("rotate_y", Eigen::Vector3d::UnitY());
        rot("rotate_z", Eigen::Vector3d::UnitZ());
    }
    if (g.has(Factor::SO2)) rot("rotate_axis", g.opt.axis);
    if (g.has(Factor::T3)) {
        const char* names[3] = {"translate_x", "translate_y", "translate_z"};
        for (int k = 0; k < 3; ++k) {
            Generator gen{names[k], Eigen::Matrix4d::Zero()};
            gen.x(k, 3) = 1;
            out.push_back(gen);
        }
    }
    if (g.has(Factor::scaling)) {
        Generator gen{"scale", Eigen::Matrix4d::Zero()};
        gen.x.topLeftCorner<3, 3>().setIdentity();
        out.push_back(gen);
    }
    return out;
}

}  // namespace orbit::invariance
