#pragma once
// Batch canonicalization behind one interface, and the inverse mapping of
// outputs back to each cloud's original frame.
//
// A Canonicalizer returns, for one cloud, the group element that maps it to
// its canonical copy. PCA frames implement it here; learned canonicalizers
// (an equivariant network that predicts the element) implement the same
// interface later and get batching, sharding, inverses and the tools for free.
#include <memory>
#include <string>
#include <vector>

#include "orbit/canon/pca.hpp"
#include "orbit/io/h5.hpp"

namespace orbit::canon {

class Canonicalizer {
public:
    virtual ~Canonicalizer() = default;
    virtual std::string name() const = 0;
    // The group element (original -> canonical) of one cloud, with its diagnostics.
    virtual Canonical canonicalize(const PointsRef& x) const = 0;
};

class PcaCanonicalizer : public Canonicalizer {
public:
    explicit PcaCanonicalizer(Options opt) : opt_(std::move(opt)) {}
    std::string name() const override { return "pca-" + group_name(opt_.group); }
    Canonical canonicalize(const PointsRef& x) const override { return pca_canonical(x, opt_); }
    const Options& options() const { return opt_; }

private:
    Options opt_;
};

struct BatchCanonical {
    std::vector<Points> clouds;        // canonical copies
    std::vector<Transform> transforms; // original -> canonical, one per cloud
    std::vector<Diagnostics> diag;
    std::int64_t unstable = 0;         // how many clouds are flagged unstable
};

// Canonicalizes every cloud, in parallel over clouds (results do not depend on
// the thread count). Errors name the cloud: "cloud 12: ...".
BatchCanonical canonicalize_batch(const Canonicalizer& c, const std::vector<const Points*>& clouds);

// Fast path for a dense batch [B,N,D] in one buffer (as read from HDF5): every
// cloud is replaced by its canonical copy in place, no per-cloud copies.
struct InPlaceResult {
    std::vector<Transform> transforms;
    std::vector<Diagnostics> diag;
    std::int64_t unstable = 0;
};
InPlaceResult canonicalize_in_place(const Canonicalizer& c, double* data, std::size_t b, std::size_t n, std::size_t d);

struct BatchFrames {
    std::vector<std::vector<Transform>> frames;  // [B][F]
    std::vector<std::vector<Points>> copies;     // [B][F] canonical copies (empty unless asked)
    std::vector<Diagnostics> diag;
    std::int64_t unstable = 0;
};
BatchFrames frames_batch(const Options& opt, const std::vector<const Points*>& clouds, bool with_copies);

// How a dataset moves under a transform T (used by --inverse and by equivariance checks).
enum class Kind {
    points,     // x -> A x + b, rows of D = 2 or 3 values
    vectors,    // v -> A v
    transform   // a 4x4 pose P -> T P
};
Kind parse_kind(const std::string& text);
std::string kind_name(Kind k);

// Applies transforms[i] to item i of `data`. The data's leading dimensions
// must equal `lead` (the leading dimensions of the transforms: [] for one,
// [B] or [B,F]); the rest is [N,D] or [D] for points/vectors and [4,4] for
// transforms. `where` names the data in error messages.
void apply_to_array(h5::Array<double>& data, const std::vector<std::size_t>& lead,
                    const std::vector<Transform>& transforms, Kind kind, const std::string& where);

// Parses "x", "y", "z" or "a,b,c" into a unit axis (UsageError otherwise).
Eigen::Vector3d parse_axis(const std::string& text);

}  // namespace orbit::canon
