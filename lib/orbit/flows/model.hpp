#pragma once
// A density model as the tools see it: a coupling flow (nsf, realnvp) or a
// flow-matching field (cfm, ot-cfm) in float32, behind the standardization
// of the training data, or a Riemannian flow-matching field (rfm) on the
// sphere or SO(3); any of them optionally conditional on a context vector.
// It offers training, sampling, log-densities, the latent map both ways, and
// saving/loading under /model in HDF5 (configuration and training state as
// JSON attributes, weights and Adam moments as datasets), so a saved model
// can be resumed.
//
// Determinism: training draws every random number from a stream named by
// (seed, epoch, step); a coupling flow's batch is cut into fixed shards (by
// batch size, not thread count) whose gradients are added in shard order;
// inference splits rows into fixed chunks, each with its own stream, run in
// parallel. The same seed gives the same bits for any thread count.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "orbit/core/types.hpp"
#include "orbit/flows/cfm.hpp"
#include "orbit/flows/context.hpp"
#include "orbit/flows/coupling.hpp"
#include "orbit/flows/riemannian_fm.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/nn/optim.hpp"

namespace orbit::distributed {
template <class Opt>
class ShardedOptimizer;
}

namespace orbit::flows {

struct TrainOptions {
    int epochs = 100;
    int batch = 256;
    double lr = 1e-3;
    double lr_min = 0.0;
    bool cosine = true;
    double weight_decay = 0.0;  // AdamW when > 0
    double clip = 5.0;          // global gradient norm (0: off)
    int patience = 0;           // early stopping on the validation loss (0: off)
    // Flow matching: every this many epochs (and before the first) the mean
    // log-likelihood of the validation rows (an ODE solve per row) picks the
    // model kept, instead of the flow-matching loss, which is no likelihood;
    // patience then counts these evaluations (0: off).
    int select_every = 0;
    int stop_after = 0;         // stop after this many epochs of this run (resume later); 0: off
    std::uint64_t seed = 0;
};

struct EpochInfo {
    int epoch = 0, epochs = 0;
    double train_loss = 0, val_loss = 0, lr = 0, seconds = 0;
};

// What to build. `kind` picks the part that applies: coupling for nsf and
// realnvp (its transform follows the kind), cfm for cfm and ot-cfm, rfm for
// rfm (set rfm.manifold). The data fix the dimensions and the context width.
struct ModelSpec {
    std::string kind = "nsf";  // nsf | realnvp | cfm | ot-cfm | rfm | interpolant (cfm.base)
    CouplingConfig coupling;
    CfmConfig cfm;
    RfmConfig rfm;
};

// Rows of data and, for a conditional model, each row's raw context (empty: none);
// for an interpolant, the context holds each target row's source.
struct Dataset {
    Points x;
    Points context;
};

struct InferOptions {
    OdeOptions ode;                 // flow matching only
    std::int64_t chunk = 4096;      // rows per parallel work item
    double temperature = 1.0;       // sample(): standard normal latents scaled by this (manifolds: unused)
};

class Model {
public:
    // A fresh model for the training data (a context in train.context makes it conditional).
    // val: the validation rows, which choose the size of a "vmf" base (rfm; else unused).
    static Model create(const ModelSpec& spec, const Dataset& train, std::uint64_t seed, const Points& val = Points());
    static Model create(const ModelSpec& spec, const Points& train, std::uint64_t seed) {
        return create(spec, Dataset{train, {}}, seed);
    }
    // Reads /model from an orbit model file ("-" reads stdin).
    static Model load(const h5::File& file);
    static Model load(const std::string& path);
    // Writes /model into the file (with the optimizer state when with_state).
    void save(h5::File& file, bool with_state = true) const;

    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    ~Model();

    const std::string& kind() const { return kind_; }
    int dim() const { return static_cast<int>(mean_.size()); }
    bool is_cfm() const { return field_ || rfm_; }
    // "" for models of R^d, else "sphere" or "so3".
    std::string manifold() const { return rfm_ ? rfm_->config().manifold : std::string(); }
    const ContextEncoding& context() const { return ctx_; }
    bool conditional() const { return ctx_.conditional(); }
    // A stochastic interpolant (interpolant.hpp): its `context` arguments are the
    // sources (degraded views, one per row, in data coordinates), and sample()
    // maps them to targets. Its base: "source" or "gaussian" ("" for other kinds).
    bool interpolant() const { return kind_ == "interpolant"; }
    std::string interpolant_base() const { return interpolant() ? field_->config().base : std::string(); }
    nlohmann::json config() const;
    const nlohmann::json& history() const { return history_; }
    int epochs_done() const { return epoch_; }
    std::int64_t steps_done() const;
    std::int64_t parameter_count() const;

    // Trains from the current state up to opt.epochs; on_epoch is called after each epoch.
    // Returns the training report (also merged into history()).
    nlohmann::json train(const Dataset& train, const Dataset& val, const TrainOptions& opt,
                         const std::function<void(const EpochInfo&)>& on_epoch = {});
    nlohmann::json train(const Points& train, const Points& val, const TrainOptions& opt,
                         const std::function<void(const EpochInfo&)>& on_epoch = {}) {
        return this->train(Dataset{train, {}}, Dataset{val, {}}, opt, on_epoch);
    }

    // The `context` arguments hold each row's raw context (conditional models only).
    // Log-density of each row in data coordinates (on a manifold: with respect to
    // its uniform measure, see manifolds.hpp).
    Vector log_prob(const Points& x, const InferOptions& o = {}, const Points& context = {}) const;
    // n samples; a conditional model needs n context rows.
    Points sample(std::int64_t n, std::uint64_t seed, const InferOptions& o = {}, const Points& context = {}) const;
    // Data -> latent (standard normal, or the base on the manifold: uniform or a vMF mixture) and back.
    Points to_latent(const Points& x, const InferOptions& o = {}, const Points& context = {}) const;
    Points from_latent(const Points& z, const InferOptions& o = {}, const Points& context = {}) const;
    // Mean flow-matching (or negative log-likelihood) loss over rows, with a fixed stream.
    double loss(const Dataset& data, std::uint64_t seed) const;
    double loss(const Points& x, std::uint64_t seed) const { return loss(Dataset{x, {}}, seed); }
    // log p on an n x n grid over [x0,x1] x [y0,y1] (2-D models), row 0 at y0.
    Matrix log_prob_grid(double x0, double x1, double y0, double y1, int n, const InferOptions& o = {}) const;

private:
    Model() = default;
    std::string kind_;
    std::unique_ptr<CouplingFlow<float>> flow_;
    std::unique_ptr<VelocityField<float>> field_;
    std::unique_ptr<RiemannianField<float>> rfm_;
    ContextEncoding ctx_;
    Eigen::RowVectorXd mean_, std_;
    std::unique_ptr<nn::Adam<float>> opt_;
    std::vector<Mat<float>> best_;  // best parameters so far (early stopping, likelihood selection)
    nn::EarlyStopping stopper_;
    int epoch_ = 0;
    std::uint64_t seed_ = 0;
    nlohmann::json history_ = nlohmann::json::object();
    nn::ParamList<float> params() const;
    void check_dim(const Points& x, const std::string& what) const;
    std::int64_t work_chunk(const InferOptions& o) const;
    // One maximum-likelihood step of a coupling flow: loss and gradients of the
    // batch, as many shards as tapes; returns the loss, adds into the grads.
    // Under several ranks only this rank's slice of the grads (sharded.mine()) gets the sum.
    // Clips the summed gradients to a global norm of clip (clip <= 0: off).
    double flow_step(const Mat<float>& xb, const Mat<float>& cb, std::uint64_t stream, std::vector<Tape<float>>& tapes,
                     distributed::ShardedOptimizer<nn::Adam<float>>& sharded, double clip);
    // One flow-matching step (Euclidean batch xb, or manifold batch rb); returns the loss, adds into the grads.
    double field_step(const Mat<float>& xb, const Matrix& rb, const Mat<float>& cb, std::uint64_t stream);
    // Likelihood selection (TrainOptions::select_every): the validation rows'
    // mean log-likelihood now, in the history; keeps these weights when best.
    void select_by_likelihood(const Dataset& val, const nn::ParamList<float>& ps);
    // Copies the current parameters into best_ (early stopping, likelihood selection).
    void keep_best(const nn::ParamList<float>& ps);
    // A fresh Adam for this run that keeps the moments and step count of a resumed one.
    void start_optimizer(const TrainOptions& o);
    // The encoded context of rows (empty for an unconditional model); checks the row count.
    Mat<float> encode_context(const Points& context, Eigen::Index rows) const;
    // to_latent (to_data false: data rows, standardized, from t = 1 to 0) and from_latent (latent rows to data).
    Points map_rows(const Points& in, const InferOptions& o, const Points& context, bool to_data) const;
    // Integrates the Riemannian field over rows of points from t0 to t1.
    Matrix rfm_flow(const Matrix& x, const Mat<float>& ctx, double t0, double t1, const OdeOptions& o) const;
    Mat<float> standardize(const Points& x) const;
    Points unstandardize(const Mat<float>& z) const;
    double log_std_sum() const;
};

// Splits rows into a training and a validation set with a seeded shuffle
// (the context rows, when there are any, with their data rows).
void split_rows(const Points& x, double val_fraction, std::uint64_t seed, Points& train, Points& val);
void split_rows(const Dataset& x, double val_fraction, std::uint64_t seed, Dataset& train, Dataset& val);

// Checks data for training: finite, enough rows, no constant column. `what` names the source.
void check_training_data(const Points& x, int batch, const std::string& what);

// 2-D toy distributions (FFJORD's definitions): checkerboard, moons, 8gaussians.
Points toy_data(const std::string& name, std::int64_t n, std::uint64_t seed);

// Reads one table of points [N,D] from `data` (FILE, FILE:/dataset or '-') and checks that
// its dimension is the model's; `model_path` names the model in the error message.
// For a manifold model, reads its points (see read_manifold_points).
Points read_rows_for(const Model& model, const std::string& data, const std::string& model_path);

// Writes rows of a model's space as /points: [N,D]; for SO(3) models [N,3,3]
// matrices, or [N,4] quaternions (scalar last) when `quaternions`.
void write_rows_for(const Model& model, h5::File& file, const Points& rows, bool quaternions = false);

}  // namespace orbit::flows
