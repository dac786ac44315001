#include "orbit/canon/canonicalizer.hpp"

#include <cmath>
#include <exception>
#include <sstream>

#include "orbit/core/error.hpp"
#include "orbit/core/names.hpp"
#include "orbit/core/parallel.hpp"

namespace orbit::canon {
namespace {

// Runs body(i) for every cloud in parallel; the first error (lowest index) is rethrown with the cloud named.
template <class Body>
void for_clouds(std::size_t n, Body&& body) {
    std::vector<std::string> errors(n);
    std::vector<char> usage(n, 0);
    parallel_for(static_cast<std::int64_t>(n), [&](std::int64_t i) {
        try {
            body(static_cast<std::size_t>(i));
        } catch (const UsageError& e) {
            errors[static_cast<std::size_t>(i)] = e.what();
            usage[static_cast<std::size_t>(i)] = 1;
        } catch (const std::exception& e) {
            errors[static_cast<std::size_t>(i)] = e.what();
        }
    });
    for (std::size_t i = 0; i < n; ++i)
        if (!errors[i].empty()) {
            if (usage[i]) throw UsageError(errors[i]);
            throw Error("cloud " + std::to_string(i) + ": " + errors[i]);
        }
}

// Sizes out.diag for n clouds, runs body(i) for each (for_clouds), then counts the unstable ones.
template <class Batch, class Body>
void fill_batch(Batch& out, std::size_t n, Body&& body) {
    out.diag.resize(n);
    for_clouds(n, body);
    for (auto& d : out.diag) out.unstable += d.unstable() ? 1 : 0;
}

}  // namespace

BatchCanonical canonicalize_batch(const Canonicalizer& c, const std::vector<const Points*>& clouds) {
    BatchCanonical out;
    out.clouds.resize(clouds.size());
    out.transforms.resize(clouds.size());
    fill_batch(out, clouds.size(), [&](std::size_t i) {
        Canonical r = c.canonicalize(*clouds[i]);
        out.clouds[i] = transform_points(r.transform, *clouds[i]);
        out.transforms[i] = r.transform;
        out.diag[i] = r.diag;
    });
    return out;
}

InPlaceResult canonicalize_in_place(const Canonicalizer& c, double* data, std::size_t b, std::size_t n, std::size_t d) {
    InPlaceResult out;
    out.transforms.resize(b);
    fill_batch(out, b, [&](std::size_t i) {
        Eigen::Map<Points> x(data + i * n * d, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
        Canonical r = c.canonicalize(x);
        transform_points_in_place(r.transform, x);
        out.transforms[i] = r.transform;
        out.diag[i] = r.diag;
    });
    return out;
}

BatchFrames frames_batch(const Options& opt, const std::vector<const Points*>& clouds, bool with_copies) {
    BatchFrames out;
    out.frames.resize(clouds.size());
    out.copies.resize(clouds.size());
    fill_batch(out, clouds.size(), [&](std::size_t i) {
        out.frames[i] = pca_frames(*clouds[i], opt, &out.diag[i]);
        if (with_copies)
            for (auto& t : out.frames[i]) out.copies[i].push_back(transform_points(t, *clouds[i]));
    });
    return out;
}

constexpr Spelling<Kind> kKinds[] = {{Kind::points, "points"}, {Kind::vectors, "vectors"}, {Kind::transform, "transform"},
                                     {Kind::transform, "transforms"}};

Kind parse_kind(const std::string& text) {
    return parse_spelling(kKinds, text, "expected points, vectors or transform, found '" + text + "'");
}

std::string kind_name(Kind k) { return spelling_of(kKinds, k); }

void apply_to_array(h5::Array<double>& data, const std::vector<std::size_t>& lead,
                    const std::vector<Transform>& transforms, Kind kind, const std::string& where) {
    std::size_t items = 1;
    for (auto d : lead) items *= d;
    if (items != transforms.size())
        throw Error(where + ": " + std::to_string(transforms.size()) + " transforms for " + std::to_string(items) +
                    " items");
    bool lead_ok = data.rank() > lead.size();
    for (std::size_t k = 0; lead_ok && k < lead.size(); ++k) lead_ok = data.shape[k] == lead[k];
    const std::vector<std::size_t> rest(data.shape.begin() + static_cast<long>(std::min(lead.size(), data.rank())),
                                        data.shape.end());
    const std::string expected_lead = shape_string(lead);
    if (kind == Kind::transform) {
        if (!lead_ok || rest != std::vector<std::size_t>{4, 4})
            throw Error(where + ": expected transforms of shape " + expected_lead + " followed by [4,4], found " + shape_string(data.shape));
        for (std::size_t i = 0; i < items; ++i) {
            Eigen::Map<Eigen::Matrix<double, 4, 4, Eigen::RowMajor>> p(data.data.data() + i * 16);
            Transform q = transforms[i] * Transform(p);
            p = q;
        }
        return;
    }
    if (!lead_ok || rest.empty() || rest.size() > 2 || (rest.back() != 2 && rest.back() != 3))
        throw Error(where + ": expected " + kind_name(kind) + " of shape " + expected_lead +
                    " followed by [N,3], [N,2], [3] or [2], found " + shape_string(data.shape));
    const std::size_t d = rest.back();
    const std::size_t per_item = rest.size() == 2 ? rest[0] : 1;
    for (std::size_t i = 0; i < items; ++i) {
        Eigen::Map<Points> block(data.data.data() + i * per_item * d, static_cast<Eigen::Index>(per_item),
                                 static_cast<Eigen::Index>(d));
        Points moved = kind == Kind::points ? transform_points(transforms[i], block)
                                            : transform_vectors(transforms[i], block);
        block = moved;
    }
}

Eigen::Vector3d parse_axis(const std::string& text) {
    if (text == "x" || text == "X") return Eigen::Vector3d::UnitX();
    if (text == "y" || text == "Y") return Eigen::Vector3d::UnitY();
    if (text == "z" || text == "Z") return Eigen::Vector3d::UnitZ();
    Eigen::Vector3d a;
    std::stringstream ss(text);
    std::string part;
    int k = 0;
    try {
        while (std::getline(ss, part, ',')) {
            if (k >= 3) throw std::invalid_argument("");
            std::size_t used = 0;
            a[k++] = std::stod(part, &used);
            if (used != part.size()) throw std::invalid_argument("");
        }
    } catch (const std::exception&) {
        k = -1;
    }
    if (k != 3 || !std::isfinite(a.norm()) || !(a.norm() > 0))
        throw UsageError("expected x, y, z or three numbers a,b,c (not all zero), found '" + text + "'");
    return a.normalized();
}

}  // namespace orbit::canon
