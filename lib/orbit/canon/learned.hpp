#pragma once
// Learned canonicalization (Kaba et al. 2023, "Equivariance with learned
// canonicalization functions"): an equivariant network predicts each cloud's
// rotation, and the cloud is mapped to R(x)^T x. Because R(g x) = g R(x), the
// canonical copy is exactly invariant whatever the weights are; training only
// chooses WHICH pose is canonical.
//
// Training by the canonicalization prior (Mondal et al. 2023, "Equivariant
// adaptation of large pretrained models"): on data in its usual (upright)
// pose, the loss beta * |R(x) - I|_F^2 pulls the predicted element toward the
// identity, so canonical poses look like the poses a downstream model was
// trained on. No gradients of that model are needed.
//
// The network sees each cloud centred on its centroid and divided by its RMS
// radius, so R is also translation and scale invariant. The model file holds
// /model with a "config" attribute (JSON: format, method, group, architecture)
// and the float32 weights under /model/weights (the nn store format), and a
// "training" attribute with the seed and the per-epoch history.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orbit/canon/canonicalizer.hpp"
#include "orbit/canon/network.hpp"
#include "orbit/io/h5.hpp"

namespace orbit::canon {

class LearnedCanonicalizer : public Canonicalizer {
public:
    // group: SO3 or O3 (rotations about the origin), SE3 or E3 (also centred),
    // SO2 (2-D clouds, planar vector neurons, rotations about the origin).
    LearnedCanonicalizer(Group group, CanonNet<float> net);
    static LearnedCanonicalizer load(const std::string& path);
    static LearnedCanonicalizer load(const h5::File& file, const std::string& where);
    void save(h5::File& file) const;

    std::string name() const override { return "learned-" + group_name(group_); }
    // Runs the network in float64 (the float32 weights widened). Diagnostics:
    // eigenvalues of the covariance; gaps[0] = sine of the angle between the
    // two output vectors (0: the frame can turn freely), gaps[1] the same for
    // the third vector with reflections (1 otherwise). Collapsed clouds and
    // gaps below gap_tol are flagged (flag_collapsed, flag_eigen_gap) and
    // handled by on_unstable, as in the PCA path.
    Canonical canonicalize(const PointsRef& x) const override;
    // The predicted rotation R(x) (columns: canonical axes in input coordinates; 2-D: the x,y block).
    Eigen::Matrix3d frame(const PointsRef& x) const;

    Group group() const { return group_; }
    // gap_tol, scale and on_unstable apply; group comes from the model.
    void set_options(const Options& opt);
    const Options& options() const { return opt_; }
    CanonNet<float>& net() { return net_; }
    nlohmann::json& training() { return training_; }
    const nlohmann::json& training() const { return training_; }
    // Adam's moments while training, saved under /model/optimizer so that a
    // run can resume bit for bit (the step count and epoch live in training()).
    std::vector<nn::Mat<float>>& optimizer_m() { return adam_m_; }
    std::vector<nn::Mat<float>>& optimizer_v() { return adam_v_; }
    // With a validation split the model holds the weights of the best epoch; the weights of the last
    // epoch, from which a resumed run continues, are saved under /model/last (empty otherwise).
    std::vector<nn::Mat<float>>& last_weights() { return last_; }

private:
    Group group_;
    Options opt_;
    CanonNet<float> net_;
    CanonNet<double> net64_;
    nlohmann::json training_ = nlohmann::json::object();
    std::vector<nn::Mat<float>> adam_m_, adam_v_, last_;
};

// Whether a file holds a learned canonicalizer (a /model group with config format "orbit-canonicalizer").
bool is_learned_canonicalizer(const h5::File& file);

// The group a learned canonicalizer is trained for: SO3, O3, SE3, E3, or SO2 for 2-D clouds (UsageError otherwise).
Group parse_learned_group(const std::string& text);

// The form of the prior (both pull R(x) toward the identity on upright clouds):
//   frame    beta |R(x) - I|_F^2 on the Gram-Schmidt frame. Its gradient
//            vanishes where R is a half turn from I (4 sin(theta) in 2-D),
//            so clouds predicted upside down stay there.
//   vectors  beta sum_j |v_j(x) - e_j|^2 on the network's output vectors
//            before Gram-Schmidt (v1 -> e1, v2 -> e2, v3 -> e3 with
//            reflections). At v1 = -e1 the gradient is -4 e1, not zero: the
//            vector shrinks through the origin and the frame turns over.
enum class PriorForm { frame, vectors };
PriorForm parse_prior_form(const std::string& text);  // "frame" or "vectors" (UsageError otherwise)
std::string prior_form_name(PriorForm f);

struct PriorTrainOptions {
    Group group = Group::SO3;
    PriorForm prior = PriorForm::vectors;
    std::string method = "vector-neurons";  // or "weighted-frames", "pca-correction" (SO2, SO3, SE3)
    // chiral features (ignored for groups with reflections) and gates by default; see VnConfig
    VnConfig net = [] { VnConfig c; c.chiral = true; c.gated = true; return c; }();
    WfConfig frames;  // weighted frames (dim comes from the group)
    PcConfig correction;  // pca-correction (dim comes from the group)
    int epochs = 30;
    int batch = 16;
    double lr = 5e-3;
    double beta = 1.0;  // weight of |R - I|_F^2
    std::uint64_t seed = 0;
    int stop_after = 0;  // stop after this many epochs of this run (resume later); 0: off
    // Pose-preserving augmentation, drawn afresh for every cloud and epoch from (seed, epoch, cloud):
    // resample: the points drawn with replacement from the cloud; jitter: Gaussian noise of this
    // standard deviation (in units of the RMS radius) added to every point. The cloud is centred and
    // scaled again afterwards. Neither moves the pose, so the prior's target stays the identity.
    bool resample = false;
    double jitter = 0.0;
    double weight_decay = 0.0;  // decoupled (AdamW)
    // Validation: this fraction of the clouds (a seeded choice) is held out of training; after each epoch
    // the prior loss on them (unaugmented) is measured and the model keeps the weights of the epoch where
    // it was lowest. patience > 0 ends training once that many epochs have passed without a new lowest.
    double val = 0.0;
    int patience = 0;
};

struct PriorEpoch {
    int epoch = 0, epochs = 0;
    double loss = 0;        // mean of the prior loss over the training clouds
    double angle_deg = 0;   // mean rotation angle of R, in degrees (0: every cloud upright)
    double val_loss = 0, val_angle_deg = 0;  // the same on the held-out clouds (0 without validation)
    int best_epoch = 0;     // the epoch whose weights the model keeps (with validation)
    double seconds = 0;
};

// The clouds as the network sees them: centred, divided by the RMS radius, stacked [B*N, dim].
// Requires equal sizes N >= 2 and dim coordinates; collapsed clouds are an error naming the cloud.
nn::Mat<float> normalized_clouds(const std::vector<const Points*>& clouds, int dim, int& n);

// beta * sum_b |R_b - I|_F^2 / B for frames r [B, d*d] of B clouds.
template <class T>
nn::Var frame_prior_of(nn::Tape<T>& tape, nn::Var r, int d, T b, T beta) {
    nn::Mat<T> minus_identity = nn::Mat<T>::Zero(1, d * d);
    for (int i = 0; i < d; ++i) minus_identity(0, i * d + i) = T(-1);
    const nn::Var diff = tape.add_row(r, tape.constant(minus_identity));
    return tape.scale(tape.sum(tape.square(diff)), beta / b);
}

// beta * sum_b sum_j |v_bj - e_j|^2 / B for output vectors v of B clouds.
template <class T>
nn::Var vector_prior_of(nn::Tape<T>& tape, const VecVar& v, T b, T beta) {
    const int m = static_cast<int>(tape.value(v.x).cols());
    // |v_j - e_j|^2 summed over the components: component c of e_j is 1 where c == j.
    auto part = [&](nn::Var comp, int c) {
        nn::Mat<T> minus_e = nn::Mat<T>::Zero(1, m);
        if (c < m) minus_e(0, c) = T(-1);
        return tape.sum(tape.square(tape.add_row(comp, tape.constant(minus_e))));
    };
    nn::Var total = tape.add(part(v.x, 0), part(v.y, 1));
    if (!v.planar()) total = tape.add(total, part(v.z, 2));
    return tape.scale(total, beta / b);
}

// The canonicalization-prior loss of a batch on a tape: beta * sum_b |R_b - I|_F^2 / B
// (frames, when given, receives the node of R [B, 9]). Net: any canonicalizer network.
template <class T, class Net>
nn::Var canonicalization_prior_loss(nn::Tape<T>& tape, Net& net, const nn::Mat<T>& points, int n, T beta,
                                    nn::Var* frames = nullptr) {
    const nn::Var r = net.forward(tape, points, n);
    if (frames) *frames = r;
    return frame_prior_of(tape, r, static_cast<int>(points.cols()), static_cast<T>(points.rows() / n), beta);
}

// The vectors form: beta * sum_b sum_j |v_bj - e_j|^2 / B on the output vectors
// before Gram-Schmidt (frames as above).
template <class T, class Net>
nn::Var vector_prior_loss(nn::Tape<T>& tape, Net& net, const nn::Mat<T>& points, int n, T beta,
                          nn::Var* frames = nullptr) {
    const VecVar v = net.vectors(tape, points, n);
    if (frames) *frames = gram_schmidt(tape, v, static_cast<int>(tape.value(v.x).cols()) == 3, T(1e-30));
    return vector_prior_of(tape, v, static_cast<T>(points.rows() / n), beta);
}

// The loss training minimizes: the prior of the given form on the network's output, or for an ensemble
// (members > 1) the mean of the priors on each member's own output, so that the members learn
// independently; for an angle-bins head, its classification prior whatever the form. frames receives
// R of the network's output (for an ensemble, of the members' mean).
template <class T>
nn::Var training_prior_loss(nn::Tape<T>& tape, CanonNet<T>& net, const nn::Mat<T>& points, int n, T beta, PriorForm form,
                            nn::Var& frames) {
    if (net.angle_bins() > 0) {
        VecVar v;
        const nn::Var loss = net.angle_prior_loss(tape, points, n, beta, &v);
        frames = gram_schmidt(tape, v, false, T(1e-30));
        return loss;
    }
    if (net.members() == 1)
        return form == PriorForm::vectors ? vector_prior_loss(tape, net, points, n, beta, &frames)
                                          : canonicalization_prior_loss(tape, net, points, n, beta, &frames);
    const std::vector<VecVar> v = net.member_vectors(tape, points, n);
    const bool refl = net.reflections();
    const int d = static_cast<int>(points.cols());
    const T b = static_cast<T>(points.rows() / n), w = beta / static_cast<T>(v.size());
    nn::Var total;
    for (std::size_t k = 0; k < v.size(); ++k) {
        const nn::Var l = form == PriorForm::vectors ? vector_prior_of(tape, v[k], b, w)
                                                     : frame_prior_of(tape, gram_schmidt(tape, v[k], refl, T(1e-30)), d, b, w);
        total = k == 0 ? l : tape.add(total, l);
    }
    frames = gram_schmidt(tape, mean_vectors(tape, v), refl, T(1e-30));
    return total;
}

// Trains a new canonicalizer by the prior on upright clouds (no augmentation
// that moves them off their pose); on_epoch sees each epoch. Deterministic for
// a seed whatever the thread count. The history lands in training().
LearnedCanonicalizer train_canonicalization_prior(const std::vector<const Points*>& clouds, const PriorTrainOptions& opt,
                                                  const std::function<void(const PriorEpoch&)>& on_epoch = {});

// Continues training a model up to opt.epochs from the epoch, optimizer state
// and history it carries (a fresh model has none). Each epoch's minibatch order
// comes from (seed, epoch) alone, so a run stopped after k epochs (stop_after)
// and resumed gives the same bits as one that never stopped. The clouds must be
// as many, and of as many points, as the model was trained on so far.
void continue_canonicalization_prior(LearnedCanonicalizer& model, const std::vector<const Points*>& clouds,
                                     const PriorTrainOptions& opt,
                                     const std::function<void(const PriorEpoch&)>& on_epoch = {});

}  // namespace orbit::canon

namespace orbit::canon {

// The canonicalizer orbit-canonicalize uses: PCA frames without a model file,
// the learned canonicalizer in it otherwise, whose group then replaces
// opt.group (a --group that was given and differs is a UsageError).
std::unique_ptr<Canonicalizer> make_canonicalizer(Options& opt, const std::string& model_path, bool group_given);

}  // namespace orbit::canon
