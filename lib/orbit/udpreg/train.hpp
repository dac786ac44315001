#pragma once
// Unsupervised training of the UDPReg model.
//
// Training pairs are drawn on the fly from any point sets by the RPM-Net
// protocol with the code orbit-transform uses (geometry::perturb): each
// side is the normalised shape, cropped by its own random plane, the source
// moved by a random rotation (Euler angles up to a bound, or uniform on
// SO(3)) and translation, both resampled and given clipped Gaussian noise.
//
// A step, per pair: the network gives features and posteriors of both
// clouds; they are aligned from the data alone (the model's posteriors and
// features drive the GMM+OT match and weighted Kabsch; FPFH+RANSAC adds a few
// hypotheses; every hypothesis gets a short ICP and the highest fitness
// wins); the three losses are evaluated under that alignment and their
// gradients seed the tape. The pose a pair was
// made with is never read (TrainingPair::truth serves validation only).
//
// An epoch draws `pairs` pairs, computes their descriptors once (the FPFH
// is most of a pair's cost) and makes `passes` shuffled passes over them.
//
// Determinism: every pair, shuffle and step draws from a stream named by
// (seed, epoch, pass or step, pair); pairs run in parallel on their own tapes and their
// gradients are added in pair order, so any thread count gives the same bits.
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"
#include "orbit/udpreg/model.hpp"

namespace orbit::udpreg {

struct PairProtocol {
    double overlap = 0.7;          // fraction of the points each side keeps
    bool uniform_rotation = false; // Haar on SO(3); else Euler angles in [0, rotation_deg]
    double rotation_deg = 45;
    double translation = 0.5;      // uniform in [-t, t]^3
    int points = 717;              // resampled size of each side
    double noise = 0.01;           // Gaussian sigma, clipped to +-noise_clip
    double noise_clip = 0.05;
};

struct TrainingPair {
    Points source, target;
    Transform truth = Transform::Identity();  // source -> target; for validation metrics only
};

// One pair from a shape, all randomness from rng.
TrainingPair draw_pair(const Points& shape, const PairProtocol& protocol, Rng& rng);

// Training and validation sets: a seeded shuffle of `sets`, the first
// round(share * count) (at least 1 when share > 0 and there are two sets or
// more, and never all of them) held out for validation.
std::pair<std::vector<Points>, std::vector<Points>> split_validation(const std::vector<Points>& sets, double share,
                                                                     std::uint64_t seed);
// Which of `count` sets split_validation holds out, in its order.
std::vector<std::int64_t> validation_indices(std::int64_t count, double share, std::uint64_t seed);

struct LossWeights {
    double self = 0.5;         // self-consistency
    double cross = 1.0;        // cross-consistency
    double contrastive = 0.5;  // local contrastive
    double balance = 4.0;      // KL(pi || uniform) inside self-consistency (at 1 the posteriors collapse onto one component)
    double spread = 1.0;       // component_spread inside self-consistency (pulls near-uniform posteriors into patches)
    // point_entropy inside self-consistency (each point picks a component; IIC with the balance). Off:
    // on the validation split, every weight tried either left the posteriors uniform or collapsed them
    // onto one component (docs/udpreg.md).
    double sharpen = 0.0;
    double temperature = 0.1;  // of the local contrastive loss
    int warmup = 2;            // epochs over which cross and contrastive ramp up from 1/warmup to 1
};

struct TrainOptions {
    int epochs = 30;            // chosen on the validation split: 10 epochs gave no gain over an untrained network
    int pairs = 64;             // training pairs drawn per epoch
    int passes = 2;             // optimisation passes over them (their descriptors are computed once)
    int batch = 4;              // pairs per step
    double lr = 1e-3, lr_min = 1e-4;
    double clip = 5.0;          // global gradient norm (0: off)
    int val_pairs = 32;         // fixed validation pairs (0: none)
    int stop_after = 0;         // stop after this many epochs of this run (resume later); 0: off
    PairProtocol protocol;
    LossWeights weights;
    std::uint64_t seed = 0;
};

struct Losses {
    double self = 0, cross = 0, contrastive = 0, total = 0;
    Losses& operator+=(const Losses& o);
    Losses scaled(double s) const;
};

// How far the posteriors are from uniform, on pairs with known poses (an
// evaluation only: nothing here enters training). entropy: mean per-point
// entropy over log K (1: uniform); max_gamma: mean largest posterior;
// agreement: share of truly corresponding points (aligned source point with
// a reference point within the inlier distance) whose argmax components
// agree, against `chance`, the rate if the argmaxes were independent with
// the same histograms. grad_*: root-mean-square per point of each
// self-consistency term's gradient carried to the softmax logits (gamma o
// (g - <gamma, g>), the posterior smoothing ignored), and of the
// cross-consistency under the true alignment.
struct PosteriorStats {
    double entropy = 0, max_gamma = 0, agreement = 0, chance = 0;
    double grad_ce = 0, grad_balance = 0, grad_spread = 0, grad_sharpen = 0, grad_cross = 0;
    // Every figure with its report name (the JSON keys; "val_" + name in the history).
    static constexpr std::pair<const char*, double PosteriorStats::*> fields[] = {
        {"entropy", &PosteriorStats::entropy},           {"max_gamma", &PosteriorStats::max_gamma},
        {"agreement", &PosteriorStats::agreement},       {"agreement_chance", &PosteriorStats::chance},
        {"grad_ce", &PosteriorStats::grad_ce},           {"grad_balance", &PosteriorStats::grad_balance},
        {"grad_spread", &PosteriorStats::grad_spread},   {"grad_sharpen", &PosteriorStats::grad_sharpen},
        {"grad_cross", &PosteriorStats::grad_cross}};
};
struct EpochInfo {
    int epoch = 0, epochs = 0;
    Losses train, val;
    double val_recall = std::numeric_limits<double>::quiet_NaN();  // RRE < 5 deg and RTE < 0.1
    PosteriorStats val_posteriors;  // on the validation pairs (evaluation only)
    double lr = 0, seconds = 0;
};

// The losses of one pair under the current model; with `grads`, their
// gradients are added (scaled by `grad_scale`) to the parameters' grad.
// `ramp` scales the cross and contrastive terms (warm-up).
Losses pair_losses(Model& model, const TrainingPair& pair, const TrainOptions& options, double ramp, Rng& rng,
                   bool grads = false, double grad_scale = 1.0);

// One optimisation step on these pairs (pair b draws from rng stream b of `stream`).
Losses train_step(Model& model, const std::vector<TrainingPair>& pairs, const TrainOptions& options, double ramp,
                  std::uint64_t stream, double lr);

// Share of pairs that orbit-register --method udpreg with this model gets right.
double validation_recall(const std::shared_ptr<Model>& model, const std::vector<TrainingPair>& pairs, std::uint64_t seed);

PosteriorStats posterior_stats(const Model& model, const std::vector<TrainingPair>& pairs, const TrainOptions& options);

// Trains from the model's state up to options.epochs. Returns the report (also in model.training).
nlohmann::json train(const std::shared_ptr<Model>& model, const std::vector<Points>& train_sets,
                     const std::vector<Points>& val_sets, const TrainOptions& options,
                     const std::function<void(const EpochInfo&)>& on_epoch = {});

// The recipe (everything but the seed) as JSON, for the model file.
nlohmann::json recipe_json(const TrainOptions& options);

}  // namespace orbit::udpreg
