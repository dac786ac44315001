#pragma once
// Perturbations that build benchmark inputs from clean shapes: normalisation
// to the unit sphere, partial views (crop by a random plane through the
// centroid, or by a random viewpoint), rigid or similarity transforms (fixed
// or random), resampling, clipped Gaussian noise and shuffling.
//
// The order follows the ModelNet/RPM-Net protocol: normalise, crop, transform,
// resample, add noise, shuffle. The returned transform maps input coordinates
// to output coordinates (noise aside), and `indices` gives, for each output
// point, the row of the input it came from.
#include <cstdint>
#include <optional>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"

namespace orbit::geometry {

struct PerturbOptions {
    bool normalize = false;          // centre on the centroid, scale so the farthest point is at radius 1
    double keep_fraction = 1.0;      // crop keeping this fraction of the points (1: no crop)
    enum class CropMode { plane, viewpoint } crop_mode = CropMode::plane;
    std::optional<Transform> fixed;  // applied first when given (after normalisation and crop)
    bool uniform_rotation = false;   // Haar on SO(3)
    double euler_max_deg = 0.0;      // else each Euler angle uniform in [0, max]
    double translation = 0.0;        // uniform in [-t, t]^3
    std::int64_t resample = 0;       // output size (0: keep all); without replacement when possible
    double noise = 0.0;              // Gaussian sigma
    double noise_clip = 0.05;        // each noise component clipped to +-clip
    bool shuffle = false;
};

struct Perturbed {
    Points points;
    Points normals;  // empty when the input had none
    Transform transform = Transform::Identity();
    std::vector<std::int64_t> indices;
};

// One cloud; all randomness comes from `rng` (one stream per cloud).
Perturbed perturb(const Points& points, const Points& normals, const PerturbOptions& options, Rng& rng);

// The rows kept by cropping with a random plane through the centroid (RPM-Net):
// the `fraction` of points farthest along a random direction.
std::vector<std::int64_t> crop_plane(const Points& points, double fraction, Rng& rng);
// The `fraction` of points nearest to a random viewpoint on a sphere around the cloud.
std::vector<std::int64_t> crop_viewpoint(const Points& points, double fraction, Rng& rng);

}  // namespace orbit::geometry
