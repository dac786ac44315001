#pragma once
// Distribution-level registration in the manner of UDPReg (Mei et al. 2023),
// with posteriors from geometry and descriptors instead of a network.
//
//   1. posteriors gamma [N,K] of each cloud over K mixture components
//      (a PosteriorModel; the default fits an isotropic GMM to the coordinates
//      by EM, a learned model can replace it);
//   2. mixture parameters from the posteriors (pi, mu, sigma; gmm/gmm.hpp) and a
//      descriptor per component: the posterior-weighted mean of the point
//      descriptors (FPFH), compared by 2 (1 - cos) as in OGMM;
//   3. entropic OT (ot::sinkhorn) between the two clouds' components with the
//      mixing weights as marginals, plus one slack slot per side that takes the
//      mass of components outside the overlap at a fixed cost;
//   4. hypotheses: the plan-weighted Kabsch on all matched centroids, and the
//      best triples of strongly matched centroid pairs (every triple is tried,
//      scored by the plan mass they explain); the caller verifies them.
#include <memory>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"
#include "orbit/gmm/gmm.hpp"

namespace orbit::registration {

struct GmmOtOptions {
    int components = 24;
    double eps = 0.05;         // Sinkhorn eps as a fraction of the median component cost
    int hypotheses = 6;
    bool with_scale = false;
    double slack_quantile = 0.3;  // cost of the slack slot: this quantile of the component costs
};

// The replaceable posterior step: soft assignments of points to components.
class PosteriorModel {
public:
    virtual ~PosteriorModel() = default;
    // x: N x 3 coordinates, features: N x F descriptors (may be empty). Returns N x K, rows summing to 1.
    virtual Matrix posteriors(const Points& x, const Points& features, Rng& rng) const = 0;
    // The posteriors and the per-point descriptors whose posterior-weighted
    // means the component match compares. A learned model returns its own
    // point features here; the default passes the input descriptors through.
    struct Inference {
        Matrix gamma;
        Points descriptors;
    };
    virtual Inference infer(const Points& x, const Points& features, Rng& rng) const {
        return {posteriors(x, features, rng), features};
    }
    // Further pose hypotheses for the verified pool (source -> target), for
    // example from matches of a learned model's point features; `distance` is
    // the inlier distance. The default has none.
    virtual std::vector<Transform> hypotheses(const Points& source, const Points& source_features, const Points& target,
                                              const Points& target_features, double distance, Rng& rng) const {
        (void)source, (void)source_features, (void)target, (void)target_features, (void)distance, (void)rng;
        return {};
    }
};

// Default: EM on the coordinates with farthest-point seeds (moves with the cloud).
class GeometricPosteriors : public PosteriorModel {
public:
    explicit GeometricPosteriors(int components) : components_(components) {}
    Matrix posteriors(const Points& x, const Points& features, Rng& rng) const override;

private:
    int components_;
};

struct ComponentMatch {
    gmm::Mixture source, target;
    Points source_desc, target_desc;  // K x F, unit rows
    Matrix plan;                      // (Ks + 1) x (Kt + 1), last row/column: slack
};

ComponentMatch match_components(const Points& source, const Points& source_features, const Points& target,
                                const Points& target_features, const GmmOtOptions& options, Rng& rng,
                                const PosteriorModel* model = nullptr);

std::vector<Transform> udpreg_gmm_ot_hypotheses(const Points& source, const Points& source_features, const Points& target,
                                         const Points& target_features, const GmmOtOptions& options, Rng& rng,
                                         const PosteriorModel* model = nullptr);

}  // namespace orbit::registration
