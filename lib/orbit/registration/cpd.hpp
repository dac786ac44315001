#pragma once
// Rigid coherent point drift (Myronenko and Song, 2010).
//
// The source points are the centroids of an isotropic Gaussian mixture with a
// shared variance sigma^2 plus a uniform outlier component of weight w; EM
// alternates posteriors (E) with the closed-form weighted Procrustes update of
// scale, rotation and translation and the variance (M). Costs N*M per iteration.
#include "orbit/core/types.hpp"

namespace orbit::registration {

struct CpdOptions {
    double outlier_weight = 0.1;  // w in [0, 1)
    bool with_scale = false;
    int max_iterations = 100;
    double tolerance = 1e-6;      // on the relative change of the objective
};

struct CpdResult {
    Transform transform = Transform::Identity();
    int iterations = 0;
    bool converged = false;
    double sigma2 = 0;
};

CpdResult cpd(const Points& source, const Points& target, const Transform& init, const CpdOptions& options);

}  // namespace orbit::registration
