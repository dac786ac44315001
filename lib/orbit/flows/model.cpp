#include "orbit/flows/model.hpp"

#include <Eigen/Core>
#include <cmath>
#include <exception>
#include <mutex>
#include <numbers>
#include <set>
#include <thread>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/distributed/sharded_optimizer.hpp"
#include "orbit/io/pointset.hpp"
#include "orbit/nn/store.hpp"

namespace orbit::flows {

namespace {

constexpr const char* kFormat = "orbit-flow/1";

// Smallest shard of a training batch (smaller ones lose more to per-shard
// overhead and thinner products than a second core gains).
constexpr std::int64_t kMinShardRows = 64;

// Rows per parallel work item at inference for coupling flows.
constexpr std::int64_t kFlowChunk = 1024;

// Runs body(c) for every chunk in parallel and rethrows the first exception outside the parallel region.
void for_chunks(std::int64_t rows, std::int64_t chunk, const std::function<void(std::int64_t, std::int64_t, std::int64_t)>& body) {
    const std::int64_t n = (rows + chunk - 1) / chunk;
    std::exception_ptr err;
    std::mutex mu;
    parallel_for(n, [&](std::int64_t c) {
        try {
            body(c, c * chunk, std::min(rows, (c + 1) * chunk));
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu);
            if (!err) err = std::current_exception();
        }
    });
    if (err) std::rethrow_exception(err);
}

// Rows `idx` of m.
template <class M>
M take_rows(const M& m, const std::vector<std::int64_t>& idx) {
    M out(static_cast<Eigen::Index>(idx.size()), m.cols());
    for (std::size_t i = 0; i < idx.size(); ++i) out.row(Eigen::Index(i)) = m.row(idx[i]);
    return out;
}

}  // namespace

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

void check_training_data(const Points& x, int batch, const std::string& what) {
    if (x.rows() == 0 || x.cols() == 0) throw Error(what + ": no data (" + std::to_string(x.rows()) + " rows)");
    for (Eigen::Index i = 0; i < x.rows(); ++i)
        for (Eigen::Index j = 0; j < x.cols(); ++j)
            if (!std::isfinite(x(i, j)))
                throw Error(what + ": row " + std::to_string(i) + " column " + std::to_string(j) +
                            " is NaN or infinite; remove or impute such rows before training");
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
        const double lo = x.col(j).minCoeff(), hi = x.col(j).maxCoeff();
        if (hi - lo <= 1e-12 * std::max(1.0, std::abs(hi)))
            throw Error(what + ": column " + std::to_string(j) + " is constant (" + std::to_string(lo) +
                        "); a density needs variation in every column, drop it first");
    }
    if (batch > 0 && x.rows() < batch)
        throw Error(what + ": " + std::to_string(x.rows()) + " training rows, fewer than the batch size " +
                    std::to_string(batch) + " (a smaller batch or validation fraction)");
}

void split_rows(const Points& x, double val_fraction, std::uint64_t seed, Points& train, Points& val) {
    require(val_fraction >= 0 && val_fraction < 1, "the validation fraction must lie in [0, 1)");
    const std::int64_t n = x.rows();
    const std::int64_t nv = static_cast<std::int64_t>(std::floor(val_fraction * double(n)));
    Rng rng(seed, 0x5b117);
    auto perm = rng.permutation(n);
    train.resize(n - nv, x.cols());
    val.resize(nv, x.cols());
    for (std::int64_t i = 0; i < n - nv; ++i) train.row(i) = x.row(perm[static_cast<std::size_t>(i)]);
    for (std::int64_t i = 0; i < nv; ++i) val.row(i) = x.row(perm[static_cast<std::size_t>(n - nv + i)]);
}

void split_rows(const Dataset& x, double val_fraction, std::uint64_t seed, Dataset& train, Dataset& val) {
    split_rows(x.x, val_fraction, seed, train.x, val.x);
    if (x.context.cols() == 0) {
        train.context.resize(0, 0);
        val.context.resize(0, 0);
        return;
    }
    require(x.context.rows() == x.x.rows(), "the context needs one row per data row");
    split_rows(x.context, val_fraction, seed, train.context, val.context);  // the same shuffle
}

Model Model::create(const ModelSpec& spec, const Dataset& data, std::uint64_t seed, const Points& val) {
    Model m;
    m.kind_ = spec.kind;
    m.seed_ = seed;
    const Points& train = data.x;
    const int D = static_cast<int>(train.cols());
    require(train.rows() >= 2, "training data needs at least 2 rows");
    const bool interp = spec.kind == "interpolant";
    if (interp && (data.context.rows() != train.rows() || data.context.cols() != D))
        throw Error("an interpolant needs a source (degraded view) of " + std::to_string(D) + " columns for each of the " +
                    std::to_string(train.rows()) + " target rows");
    if (data.context.cols() > 0 && !interp) {
        if (data.context.rows() != train.rows())
            throw Error("the context has " + std::to_string(data.context.rows()) + " rows, the data " +
                        std::to_string(train.rows()));
        m.ctx_ = ContextEncoding::fit(data.context);
    }
    Rng rng(seed, 0x1417);
    if (spec.kind == "rfm") {  // points of a manifold: no standardization
        m.mean_ = Eigen::RowVectorXd::Zero(D);
        m.std_ = Eigen::RowVectorXd::Ones(D);
        RfmConfig c = spec.rfm;
        c.dim = D;
        c.context = m.ctx_.width();
        fit_rfm_base(c, train, seed, val);  // a vMF base: EM on the training rows
        m.rfm_ = std::make_unique<RiemannianField<float>>(c, rng);
        return m;
    }
    m.mean_ = train.colwise().mean();
    m.std_ = ((train.rowwise() - m.mean_).array().square().colwise().sum() / double(train.rows() - 1)).sqrt();
    for (int j = 0; j < D; ++j)
        require(m.std_(j) > 0, "column " + std::to_string(j) + " is constant; a density needs variation in every column");
    if (spec.kind == "nsf" || spec.kind == "realnvp") {
        CouplingConfig c = spec.coupling;
        c.dim = D;
        c.transform = spec.kind == "nsf" ? "spline" : "affine";
        c.context = m.ctx_.width();
        m.flow_ = std::make_unique<CouplingFlow<float>>(c, rng);
        if (c.actnorm) {
            const Eigen::Index nb = std::min<Eigen::Index>(train.rows(), 1024);
            m.flow_->init_actnorm(m.standardize(train.topRows(nb)),
                                  m.conditional() ? m.ctx_.encode(data.context.topRows(nb)) : Mat<float>());
        }
    } else if (interp) {
        CfmConfig c = spec.cfm;
        c.dim = D;
        c.context = c.context < 0 ? 0 : D;  // -1: the field does not see the sources
        if (c.base.empty()) c.base = "source";
        if (c.coupling != "none") throw UsageError("a minibatch coupling applies to ot-cfm models");
        m.field_ = std::make_unique<VelocityField<float>>(c, rng);
    } else if (spec.kind == "cfm" || spec.kind == "ot-cfm") {
        CfmConfig c = spec.cfm;
        c.dim = D;
        c.context = m.ctx_.width();
        if (!c.base.empty()) throw UsageError("a base (source or gaussian) applies to interpolant models");
        if (spec.kind == "cfm" && c.coupling != "none") throw UsageError("a minibatch coupling applies to ot-cfm models");
        if (spec.kind == "ot-cfm" && c.coupling == "none") c.coupling = "exact";
        if (spec.kind == "ot-cfm" && m.conditional())
            throw UsageError("ot-cfm is unconditional (its minibatch coupling would mix the contexts); use cfm");
        m.field_ = std::make_unique<VelocityField<float>>(c, rng);
    } else {
        throw UsageError("unknown model '" + spec.kind + "' (expected nsf, realnvp, cfm, ot-cfm, rfm or interpolant)");
    }
    return m;
}

nn::ParamList<float> Model::params() const {
    return flow_ ? flow_->params() : field_ ? field_->params() : rfm_->params();
}

std::int64_t Model::parameter_count() const {
    std::int64_t n = 0;
    for (auto* p : params()) n += p->value.size();
    return n;
}

std::int64_t Model::steps_done() const { return opt_ ? opt_->steps() : 0; }

nlohmann::json Model::config() const {
    nlohmann::json j = {{"format", kFormat}, {"kind", kind_}, {"dim", dim()}};
    j["architecture"] = flow_ ? flow_->config().to_json() : field_ ? field_->config().to_json() : rfm_->config().to_json();
    if (conditional()) j["context"] = ctx_.to_json();
    return j;
}

void Model::check_dim(const Points& x, const std::string& what) const {
    if (x.cols() != dim())
        throw Error(what + " has " + std::to_string(x.cols()) + " columns but the model was trained on " +
                    std::to_string(dim()) + "-dimensional data");
}

Mat<float> Model::standardize(const Points& x) const {
    return ((x.rowwise() - mean_).array().rowwise() / std_.array()).cast<float>().matrix();
}

Points Model::unstandardize(const Mat<float>& z) const {
    Points x = z.cast<double>();
    x = (x.array().rowwise() * std_.array()).matrix();
    x.rowwise() += mean_;
    return x;
}

double Model::log_std_sum() const { return std_.array().log().sum(); }

Mat<float> Model::encode_context(const Points& context, Eigen::Index rows) const {
    if (interpolant()) {  // the degraded views, in the targets' standardized coordinates
        if (context.rows() != rows || context.cols() != dim())
            throw Error("the interpolant maps sources to targets: it needs a source of " + std::to_string(dim()) +
                        " columns for each of the " + std::to_string(rows) + " rows (got " +
                        std::to_string(context.rows()) + " x " + std::to_string(context.cols()) + ")");
        return standardize(context);
    }
    if (!conditional()) {
        if (context.cols() > 0) throw Error("the model is unconditional: it takes no context");
        return {};
    }
    if (context.cols() == 0)
        throw Error("the model is conditional (" + ctx_.describe() + "): it needs a context for every row");
    if (context.rows() != rows)
        throw Error("the context has " + std::to_string(context.rows()) + " rows, the data " + std::to_string(rows));
    return ctx_.encode(context);
}

namespace {

// A resumed run keeps the criterion it started with: the validation loss, or
// the validation likelihood every E epochs (the best so far is one of them).
void check_selection_resume(const nlohmann::json& history, int epoch, int every) {
    const int was = history.value("select_every", 0);
    if (epoch == 0 || was == every) return;
    throw UsageError(was > 0 ? "this model was selected by likelihood every " + std::to_string(was) +
                                   " epochs; resume it with --select-every " + std::to_string(was)
                             : "this model was trained without --select-every; resume it without");
}

}  // namespace

void Model::select_by_likelihood(const Dataset& val, const nn::ParamList<float>& ps) {
    const double ll = log_prob(val.x, {}, val.context).mean();
    for (auto key : {"select_epoch", "val_log_likelihood"})
        if (!history_.contains(key)) history_[key] = nlohmann::json::array();
    history_["select_epoch"].push_back(epoch_);
    history_["val_log_likelihood"].push_back(ll);
    if (stopper_.improved(-ll)) keep_best(ps);
}

void Model::keep_best(const nn::ParamList<float>& ps) {
    best_.clear();
    for (auto* p : ps) best_.push_back(p->value);
}

nlohmann::json Model::train(const Dataset& train_set, const Dataset& val, const TrainOptions& o,
                            const std::function<void(const EpochInfo&)>& on_epoch) {
    const Points& train = train_set.x;
    check_dim(train, "the training data");
    if (val.x.rows() > 0) check_dim(val.x, "the validation data");
    const Mat<float> cs = encode_context(train_set.context, train.rows());
    require(o.batch >= 1 && o.epochs >= 0 && o.lr > 0, "training needs batch >= 1, epochs >= 0 and lr > 0");
    if (train.rows() < o.batch)
        throw Error("the training split has " + std::to_string(train.rows()) + " rows, fewer than the batch size " +
                    std::to_string(o.batch));
    // One thread for the networks: Eigen's blocking depends on its thread count,
    // and training must give the same bits whatever -j says.
    Eigen::setNbThreads(1);
    auto ps = params();
    start_optimizer(o);
    // Under mpirun -n P each rank sums, clips and updates its slice of the
    // parameters only (one process: all of them), with the bits of one process.
    distributed::ShardedOptimizer<nn::Adam<float>> sharded(*opt_);
    check_selection_resume(history_, epoch_, o.select_every);
    stopper_.patience = o.patience;
    const bool select = o.select_every > 0;
    if (select) {
        require(is_cfm() && !interpolant() && val.x.rows() > 0,
                "likelihood selection (--select-every) is for cfm, ot-cfm and rfm models with a validation split");
        history_["select_every"] = o.select_every;
        if (epoch_ == 0) select_by_likelihood(val, ps);
    }
    const Mat<float> xs = standardize(train);
    const std::int64_t n = xs.rows(), B = o.batch, spe = n / B;
    const std::int64_t total = std::int64_t(o.epochs) * spe;
    const double shift = log_std_sum();
    Timer timer;
    double train_seconds = 0;
    std::int64_t run_steps = 0;
    int run_epochs = 0;
    bool stopped = false;
    for (auto key : {"train_loss", "val_loss", "lr", "seconds"})
        if (!history_.contains(key)) history_[key] = nlohmann::json::array();
    Mat<float> xb(B, xs.cols()), cb(cs.rows() > 0 ? B : 0, cs.cols());
    Matrix rb(rfm_ ? B : 0, rfm_ ? train.cols() : 0);
    // Flows: the batch is cut into a fixed number of shards (by batch size, never
    // by thread count), each with its own tape; the shards' gradients are added
    // in shard order, so the bits do not depend on -j.
    const int shards = flow_ && B >= 2 * kMinShardRows ? 2 : 1;
    std::vector<Tape<float>> tapes;
    for (int k = 0; k < shards; ++k) {
        tapes.emplace_back(true);
        if (shards > 1) tapes.back().set_parallel_products(false);
    }
    opt_->zero_grad();
    while (epoch_ < o.epochs) {
        Timer et;
        Rng shuffle(seed_, mix64(0x5eed, std::uint64_t(epoch_)));
        const auto perm = shuffle.permutation(n);
        double sum = 0;
        double lr = o.lr;
        for (std::int64_t s = 0; s < spe; ++s) {
            for (std::int64_t i = 0; i < B; ++i) {
                const auto r = perm[static_cast<std::size_t>(s * B + i)];
                xb.row(i) = xs.row(r);
                if (cb.rows() > 0) cb.row(i) = cs.row(r);
                if (rfm_) rb.row(i) = train.row(r);
            }
            const std::uint64_t stream = mix64(std::uint64_t(epoch_) + 1, std::uint64_t(s) + 1);
            // Under mpirun a flow step writes its slice of the (sized, below)
            // gradients whole (sum_shards); the rest of them nothing reads.
            if (!(flow_ && distributed::several())) opt_->zero_grad();
            // flow_step clips too (under mpirun inside its gradient exchange)
            const double lv = flow_ ? flow_step(xb, cb, stream, tapes, sharded, o.clip) : field_step(xb, rb, cb, stream);
            if (!std::isfinite(lv))
                throw Error("training diverged at epoch " + std::to_string(epoch_ + 1) + " (loss is NaN or inf); a lower learning rate may help");
            if (!flow_ && o.clip > 0) sharded.clip_grad_norm(o.clip);
            lr = o.cosine ? nn::cosine_lr(o.lr, o.lr_min, opt_->steps(), total) : o.lr;
            sharded.step(lr);
            sum += lv;
            ++run_steps;
        }
        sharded.gather_state();  // every rank holds the moments of one process again (checkpoints)
        train_seconds += et.seconds();
        EpochInfo info;
        info.epoch = epoch_ + 1;
        info.epochs = o.epochs;
        info.train_loss = sum / double(std::max<std::int64_t>(1, spe)) + (flow_ ? shift : 0.0);
        info.val_loss = val.x.rows() > 0 ? loss(val, seed_) : info.train_loss;
        info.lr = lr;
        info.seconds = et.seconds();
        history_["train_loss"].push_back(info.train_loss);
        history_["val_loss"].push_back(info.val_loss);
        history_["lr"].push_back(info.lr);
        history_["seconds"].push_back(info.seconds);
        ++epoch_;
        ++run_epochs;
        if (select) {
            if (epoch_ % o.select_every == 0 || epoch_ == o.epochs) select_by_likelihood(val, ps);
        } else if (stopper_.improved(info.val_loss) && o.patience > 0) {
            keep_best(ps);
        }
        if (on_epoch) on_epoch(info);
        if (stopper_.stop()) {
            stopped = true;
            break;
        }
        if (o.stop_after > 0 && run_epochs >= o.stop_after) break;
    }
    const bool finished = stopped || epoch_ >= o.epochs;
    if (finished && (o.patience > 0 || select) && best_.size() == ps.size())
        for (std::size_t i = 0; i < ps.size(); ++i) ps[i]->value = best_[i];
    nlohmann::json rep = {{"epochs_run", run_epochs},
                          {"epochs_done", epoch_},
                          {"steps", run_steps},
                          {"seconds", timer.seconds()},
                          {"train_seconds", train_seconds},
                          {"steps_per_second", train_seconds > 0 ? double(run_steps) / train_seconds : 0.0},
                          {"stopped_early", stopped},
                          {"finished", finished},
                          {"best_val_loss", stopper_.best}};
    if (select) rep["best_val_log_likelihood"] = -stopper_.best;
    const auto& tl = history_["train_loss"];
    if (!tl.empty()) {
        rep["final_train_loss"] = tl.back();
        rep["final_val_loss"] = history_["val_loss"].back();
    }
    rep["loss"] = flow_ ? "negative log-likelihood (nats, data coordinates)"
                  : rfm_ ? "Riemannian flow-matching mean squared error"
                         : "flow-matching mean squared error";
    return rep;
}

void Model::start_optimizer(const TrainOptions& o) {
    nn::AdamOptions ao;
    ao.lr = o.lr;
    ao.weight_decay = o.weight_decay;
    auto fresh = std::make_unique<nn::Adam<float>>(params(), ao);
    if (opt_) {  // resumed: keep the moments and the step count
        fresh->m() = opt_->m();
        fresh->v() = opt_->v();
        fresh->set_steps(opt_->steps());
    }
    opt_ = std::move(fresh);
}

double Model::field_step(const Mat<float>& xb, const Matrix& rb, const Mat<float>& cb, std::uint64_t stream) {
    Rng rng(seed_, stream);
    Tape<float> tape(true);
    Var loss = field_ ? field_->loss(tape, xb, rng, cb) : rfm_->loss(tape, rb, cb, rng);
    tape.backward(loss);
    return double(tape.value(loss)(0, 0));
}

double Model::flow_step(const Mat<float>& xb, const Mat<float>& cb, std::uint64_t stream, std::vector<Tape<float>>& tapes,
                        distributed::ShardedOptimizer<nn::Adam<float>>& sharded, double clip) {
    const int shards = static_cast<int>(tapes.size());
    const Eigen::Index B = xb.rows();
    std::vector<double> lv(static_cast<std::size_t>(shards), 0.0);
    std::exception_ptr err;
    std::mutex mu;
    auto run = [&](int k) {
        try {
            const Eigen::Index r0 = B * k / shards, r1 = B * (k + 1) / shards;
            Rng rng(seed_, k == 0 ? stream : mix64(stream, std::uint64_t(k)));
            Tape<float>& tape = tapes[static_cast<std::size_t>(k)];
            tape.clear();
            Var ctx = cb.rows() > 0 ? tape.constant(cb.middleRows(r0, r1 - r0)) : Var{};
            Var lp = flow_->log_prob(tape, tape.constant(xb.middleRows(r0, r1 - r0)), &rng, ctx);
            // each shard's share of the batch mean
            Var loss = tape.scale(tape.sum(lp), -1.0f / float(B));
            tape.backward_detached(loss);
            lv[static_cast<std::size_t>(k)] = double(tape.value(loss)(0, 0));
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu);
            if (!err) err = std::current_exception();
        }
    };
    if (distributed::several())  // mpirun -n P: each rank records its shards and sums its slice, the bits of one process
        return sharded.sum_shards(tapes, lv, [&](int k) { run(k); if (err) std::rethrow_exception(err); }, clip).total;
    // Plain threads that block in join() rather than an OpenMP team: its workers
    // spin between steps, which on a loaded machine takes the core the main
    // thread needs (measured: more CPU and a slower wall clock than one thread).
    if (threads() > 1 && shards > 1) {
        std::vector<std::thread> helpers;
        for (int k = 1; k < shards; ++k) helpers.emplace_back(run, k);
        run(0);
        for (auto& h : helpers) h.join();
    } else {
        for (int k = 0; k < shards; ++k) run(k);
    }
    if (err) std::rethrow_exception(err);
    double total = 0;
    for (int k = 0; k < shards; ++k) {
        tapes[static_cast<std::size_t>(k)].add_param_grads();
        total += lv[static_cast<std::size_t>(k)];
    }
    if (clip > 0) sharded.clip_grad_norm(clip);
    return total;
}

double Model::loss(const Dataset& data, std::uint64_t seed) const {
    const Points& x = data.x;
    check_dim(x, "the data");
    if (x.rows() == 0) return 0.0;
    if (flow_) return -log_prob(x, {}, data.context).mean();
    const Mat<float> xs = standardize(x), cs = encode_context(data.context, x.rows());
    const std::int64_t chunk = 1024, nc = (xs.rows() + chunk - 1) / chunk;
    std::vector<double> part(static_cast<std::size_t>(nc));
    for_chunks(xs.rows(), chunk, [&](std::int64_t c, std::int64_t b, std::int64_t e) {
        Rng rng(seed, mix64(0xc0ffee, std::uint64_t(c)));
        Tape<float> tape(false);
        const Mat<float> cc = cs.rows() > 0 ? Mat<float>(cs.middleRows(b, e - b)) : Mat<float>();
        Var l = field_ ? field_->loss(tape, xs.middleRows(b, e - b), rng, cc) : rfm_->loss(tape, x.middleRows(b, e - b), cc, rng);
        part[static_cast<std::size_t>(c)] = double(tape.value(l)(0, 0)) * double(e - b);
    });
    double s = 0;
    for (double p : part) s += p;
    return s / double(xs.rows());
}

std::int64_t Model::work_chunk(const InferOptions& o) const {
    // A coupling flow maps each row on its own, so its chunks only split the work:
    // small ones keep the activations in cache and share rows evenly among threads.
    // (Flow matching integrates each chunk with one adaptive step size, so its chunk stays.)
    return flow_ ? std::min(o.chunk, kFlowChunk) : o.chunk;
}

Vector Model::log_prob(const Points& x, const InferOptions& o, const Points& context) const {
    check_dim(x, "the data");
    if (interpolant_base() == "source" && !(field_->config().source_noise > 0))
        throw Error("an interpolant from the sources with no source noise has no density (its base is a point mass "
                    "at each source)");
    const Mat<float> xs = standardize(x), cs = encode_context(context, x.rows());
    Vector out(x.rows());
    const double shift = log_std_sum();
    const int D = dim();
    for_chunks(xs.rows(), work_chunk(o), [&](std::int64_t, std::int64_t b, std::int64_t e) {
        const Mat<float> cc = cs.rows() > 0 ? Mat<float>(cs.middleRows(b, e - b)) : Mat<float>();
        if (flow_) {
            Tape<float> tape(false);
            Var ctx = cc.rows() > 0 ? tape.constant(cc) : Var{};
            const Mat<float>& lp = tape.value(flow_->log_prob(tape, tape.constant(xs.middleRows(b, e - b)), nullptr, ctx));
            for (std::int64_t i = b; i < e; ++i) out(i) = double(lp(i - b, 0)) - shift;
            return;
        }
        if (rfm_) {  // [x, l] from t = 1 back to 0 with dl/dt = div v; log p1(x) = log p0 + l(0)
            Matrix s(e - b, D + 1);
            s.leftCols(D) = x.middleRows(b, e - b);
            s.col(D).setZero();
            integrate_on_manifold(
                [&](double t, const Matrix& y, Matrix& dy) {
                    Vector div;
                    dy.resize(y.rows(), y.cols());
                    dy.leftCols(D) = rfm_->velocity_div(y.leftCols(D), t, cc, div);
                    dy.col(D) = div;
                },
                s, 1.0, 0.0, o.ode, rfm_->manifold());
            for (std::int64_t i = b; i < e; ++i) out(i) = s(i - b, D) + rfm_->base_log_density(s.row(i - b).head(D));
            return;
        }
        // state [x, l] from t = 1 back to 0 with dl/dt = div v; log p1(x) = log N(x(0)) + l(0)
        Mat<float> s(e - b, D + 1);
        s.leftCols(D) = xs.middleRows(b, e - b);
        s.col(D).setZero();
        auto f = [&](double t, const Mat<float>& y, Mat<float>& dy) {
            Mat<float> div;
            dy.resize(y.rows(), y.cols());
            dy.leftCols(D) = field_->velocity_div(y.leftCols(D), t, div, cc);
            dy.col(D) = div.col(0);
        };
        integrate(f, s, 1.0, 0.0, o.ode);
        // the base: N(0, I), or for an interpolant from the sources N(source, noise^2 I)
        const double sd = interpolant_base() == "source" ? field_->config().source_noise : 1.0;
        if (sd != 1.0) s.leftCols(D) = (s.leftCols(D) - cc) / float(sd);
        const double c = -0.5 * D * std::log(2 * std::numbers::pi) - D * std::log(sd);
        for (std::int64_t i = b; i < e; ++i)
            out(i) = c - 0.5 * double(s.row(i - b).head(D).squaredNorm()) + double(s(i - b, D)) - shift;
    });
    return out;
}

Matrix Model::rfm_flow(const Matrix& x, const Mat<float>& ctx, double t0, double t1, const OdeOptions& o) const {
    Matrix s = x;
    integrate_on_manifold([&](double t, const Matrix& y, Matrix& dy) { dy = rfm_->velocity(y, t, ctx); }, s, t0, t1, o,
                          rfm_->manifold());
    return s;
}

Points Model::to_latent(const Points& x, const InferOptions& o, const Points& context) const {
    check_dim(x, "the data");
    return map_rows(x, o, context, false);
}

Points Model::from_latent(const Points& z, const InferOptions& o, const Points& context) const {
    check_dim(z, "the latent data");
    return map_rows(z, o, context, true);
}

Points Model::map_rows(const Points& in, const InferOptions& o, const Points& context, bool to_data) const {
    // data rows are standardized first and latent rows taken as they are (and back at the end)
    const Mat<float> xs = to_data ? Mat<float>(in.cast<float>()) : standardize(in), cs = encode_context(context, in.rows());
    const double t0 = to_data ? 0.0 : 1.0, t1 = 1.0 - t0;
    Points out(in.rows(), dim());
    for_chunks(xs.rows(), work_chunk(o), [&](std::int64_t, std::int64_t b, std::int64_t e) {
        const Mat<float> cc = cs.rows() > 0 ? Mat<float>(cs.middleRows(b, e - b)) : Mat<float>();
        if (rfm_) {
            out.middleRows(b, e - b) = rfm_flow(in.middleRows(b, e - b), cc, t0, t1, o.ode);
            return;
        }
        Mat<float> s = xs.middleRows(b, e - b);
        if (flow_ && to_data) {
            s = flow_->inverse(s, nullptr, cc);
        } else if (flow_) {
            Tape<float> tape(false);
            s = tape.value(flow_->forward(tape, tape.constant(s), nullptr, cc.rows() > 0 ? tape.constant(cc) : Var{}).first);
        } else {
            integrate([&](double t, const Mat<float>& y, Mat<float>& dy) { dy = field_->velocity(y, t, cc); }, s, t0,
                      t1, o.ode);
        }
        out.middleRows(b, e - b) = to_data ? unstandardize(s) : Points(s.cast<double>());
    });
    return out;
}

Points Model::sample(std::int64_t n, std::uint64_t seed, const InferOptions& o, const Points& context) const {
    require(n >= 1, "the number of samples must be >= 1");
    require(o.temperature > 0 && std::isfinite(o.temperature), "the sampling temperature must be > 0");
    Points z(n, dim());
    // one stream per chunk of 4096 rows, whatever the chunk used for the work
    const std::int64_t zc = 4096;
    parallel_for((n + zc - 1) / zc, [&](std::int64_t c) {
        Rng rng(seed, mix64(0x5a3b1e, std::uint64_t(c)));
        for (std::int64_t i = c * zc; i < std::min(n, (c + 1) * zc); ++i) {
            if (rfm_) {
                z.row(i) = rfm_->draw_base(rng);
                continue;
            }
            for (int j = 0; j < dim(); ++j) z(i, j) = o.temperature * rng.normal();
        }
    });
    if (interpolant_base() == "source")  // the coupling's x0: each source, blurred by the source noise
        z = encode_context(context, n).cast<double>() + field_->config().source_noise * z;
    return from_latent(z, o, context);
}

Matrix Model::log_prob_grid(double x0, double x1, double y0, double y1, int n, const InferOptions& o) const {
    require(dim() == 2, "density grids need a 2-D model");
    require(n >= 2, "grid size must be >= 2");
    Points g(std::int64_t(n) * n, 2);
    for (int iy = 0; iy < n; ++iy)
        for (int ix = 0; ix < n; ++ix) {
            g(std::int64_t(iy) * n + ix, 0) = x0 + (x1 - x0) * (ix + 0.5) / n;
            g(std::int64_t(iy) * n + ix, 1) = y0 + (y1 - y0) * (iy + 0.5) / n;
        }
    Vector lp = log_prob(g, o);
    Matrix out(n, n);
    for (int iy = 0; iy < n; ++iy)
        for (int ix = 0; ix < n; ++ix) out(iy, ix) = lp(std::int64_t(iy) * n + ix);
    return out;
}

void Model::save(h5::File& file, bool with_state) const {
    file.create_group("/model");
    file.set_attr_json("/model", "config", config());
    h5::Array<double> a;
    a.shape = {static_cast<std::size_t>(dim())};
    a.data.assign(mean_.data(), mean_.data() + dim());
    file.write("/model/mean", a);
    a.data.assign(std_.data(), std_.data() + dim());
    file.write("/model/std", a);
    nn::save_params(file, "/model/weights", params());
    nlohmann::json tr = {{"epoch", epoch_}, {"seed", seed_}, {"steps", steps_done()},
                         {"best_val_loss", std::isfinite(stopper_.best) ? nlohmann::json(stopper_.best) : nlohmann::json()},
                         {"bad_epochs", stopper_.bad_epochs}, {"history", history_}};
    file.set_attr_json("/model", "training", tr);
    if (with_state && opt_) {
        nn::save_mats(file, "/model/optimizer/m", opt_->m());
        nn::save_mats(file, "/model/optimizer/v", opt_->v());
        if (!best_.empty()) nn::save_mats(file, "/model/best", best_);
    }
}

Model Model::load(const std::string& path) {
    auto f = h5::File::open_read(path);
    return load(f);
}

Model Model::load(const h5::File& file) {
    const std::string where = file.name();
    if (!file.exists("/model") || !file.has_attr("/model", "config"))
        throw Error(where + ": not an orbit flow model (no /model group with a config attribute)");
    nlohmann::json cfg;
    try {
        cfg = file.attr_json("/model", "config");
        if (cfg.value("format", "") != kFormat) throw Error("format is '" + cfg.value("format", "") + "'");
    } catch (const std::exception& e) {
        throw Error(where + ": /model config is not an " + std::string(kFormat) + " model: " + e.what());
    }
    Model m;
    try {
        m.kind_ = cfg.at("kind").get<std::string>();
        Rng rng(0, 0);
        if (m.kind_ == "nsf" || m.kind_ == "realnvp")
            m.flow_ = std::make_unique<CouplingFlow<float>>(CouplingConfig::from_json(cfg.at("architecture")), rng);
        else if (m.kind_ == "cfm" || m.kind_ == "ot-cfm" || m.kind_ == "interpolant")
            m.field_ = std::make_unique<VelocityField<float>>(CfmConfig::from_json(cfg.at("architecture")), rng);
        else if (m.kind_ == "rfm")
            m.rfm_ = std::make_unique<RiemannianField<float>>(RfmConfig::from_json(cfg.at("architecture")), rng);
        else
            throw Error("unknown kind '" + m.kind_ + "'");
        if (cfg.contains("context")) m.ctx_ = ContextEncoding::from_json(cfg.at("context"));
        const nlohmann::json& a = cfg.at("architecture");
        if (m.kind_ != "interpolant" && m.ctx_.width() != a.value("context", 0))
            throw Error("the context encoding does not match the networks' context width");
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + ": /model config is incomplete: " + e.what());
    }
    const int D = cfg.at("dim").get<int>();
    auto mean = file.read<double>("/model/mean", 1), sd = file.read<double>("/model/std", 1);
    if (int(mean.size()) != D || int(sd.size()) != D)
        throw Error(where + ": /model/mean and /model/std must hold " + std::to_string(D) + " values");
    m.mean_ = Eigen::Map<Eigen::RowVectorXd>(mean.data.data(), D);
    m.std_ = Eigen::Map<Eigen::RowVectorXd>(sd.data.data(), D);
    for (int j = 0; j < D; ++j)
        if (!(m.std_(j) > 0) || !std::isfinite(m.mean_(j))) throw Error(where + ": /model/std must be positive and finite");
    auto ps = m.params();
    nn::load_params(file, "/model/weights", ps);
    if (file.has_attr("/model", "training")) {
        auto tr = file.attr_json("/model", "training");
        m.epoch_ = tr.value("epoch", 0);
        m.seed_ = tr.value("seed", std::uint64_t(0));
        m.history_ = tr.value("history", nlohmann::json::object());
        if (tr.contains("best_val_loss") && tr["best_val_loss"].is_number()) m.stopper_.best = tr["best_val_loss"].get<double>();
        m.stopper_.bad_epochs = tr.value("bad_epochs", 0);
        if (file.exists("/model/optimizer/m")) {
            m.opt_ = std::make_unique<nn::Adam<float>>(ps, nn::AdamOptions{});
            nn::load_mats(file, "/model/optimizer/m", m.opt_->m());
            nn::load_mats(file, "/model/optimizer/v", m.opt_->v());
            m.opt_->set_steps(tr.value("steps", std::int64_t(0)));
        }
        if (file.exists("/model/best")) {
            for (auto* p : ps) m.best_.push_back(p->value);
            nn::load_mats(file, "/model/best", m.best_);
        }
    }
    return m;
}

Points toy_data(const std::string& name, std::int64_t n, std::uint64_t seed) {
    require(n >= 1, "toy data needs n >= 1");
    Rng rng(seed, 0x70e);
    Points x(n, 2);
    if (name == "checkerboard") {
        for (std::int64_t i = 0; i < n; ++i) {
            const double x1 = rng.uniform() * 4 - 2;
            const double x2 = rng.uniform() - double(rng.below(2)) * 2 + std::fmod(std::floor(x1) + 4, 2.0);
            x(i, 0) = 2 * x1;
            x(i, 1) = 2 * x2;
        }
    } else if (name == "moons") {
        for (std::int64_t i = 0; i < n; ++i) {
            const double t = std::numbers::pi * rng.uniform();
            double a, b;
            if (i % 2 == 0) {
                a = std::cos(t);
                b = std::sin(t);
            } else {
                a = 1 - std::cos(t);
                b = 1 - std::sin(t) - 0.5;
            }
            x(i, 0) = 2 * (a + 0.1 * rng.normal()) - 1;
            x(i, 1) = 2 * (b + 0.1 * rng.normal()) - 0.2;
        }
    } else if (name == "8gaussians") {
        const double r = 1 / std::sqrt(2.0);
        const double cx[8] = {1, -1, 0, 0, r, r, -r, -r}, cy[8] = {0, 0, 1, -1, r, -r, r, -r};
        for (std::int64_t i = 0; i < n; ++i) {
            const auto k = rng.below(8);
            x(i, 0) = (0.5 * rng.normal() + 4 * cx[k]) / 1.414;
            x(i, 1) = (0.5 * rng.normal() + 4 * cy[k]) / 1.414;
        }
    } else {
        throw UsageError("unknown toy data '" + name + "' (expected checkerboard, moons or 8gaussians)");
    }
    return x;
}

Points read_rows_for(const Model& model, const std::string& data, const std::string& model_path) {
    if (!model.manifold().empty()) return read_manifold_points(data, model.manifold(), model.dim());
    io::PointSets sets = io::read_point_sets(data);
    if (sets.size() != 1)
        throw Error(data + ": expected one table of points [N,D], found " + std::to_string(sets.size()) + " sets");
    Points x = std::move(sets[0].points);
    if (x.cols() != model.dim())
        throw Error(data + " has " + std::to_string(x.cols()) + " columns but the model in " + model_path +
                    " was trained on " + std::to_string(model.dim()) + "-dimensional data");
    return x;
}

void write_rows_for(const Model& model, h5::File& file, const Points& rows, bool quaternions) {
    if (model.manifold() == "so3") {
        h5::Array<double> a;
        const std::size_t n = static_cast<std::size_t>(rows.rows());
        a.shape = quaternions ? std::vector<std::size_t>{n, 4} : std::vector<std::size_t>{n, 3, 3};
        a.data.reserve(a.size());
        for (Eigen::Index i = 0; i < rows.rows(); ++i) {
            Eigen::Matrix3d R;
            for (int j = 0; j < 9; ++j) R(j / 3, j % 3) = rows(i, j);
            if (quaternions) {
                const Eigen::Vector4d q = matrix_to_quaternion(R);
                a.data.insert(a.data.end(), q.data(), q.data() + 4);
            } else {
                for (int j = 0; j < 9; ++j) a.data.push_back(rows(i, j));
            }
        }
        file.write("/points", a);
        file.set_attr("/points", "layout", quaternions ? "quaternion xyzw" : "rotation matrix");
        return;
    }
    if (quaternions) throw Error("quaternions apply to SO(3) models only");
    io::PointSets sets;
    sets.items.push_back(io::PointSet{rows, {}, {}, {}});
    io::write_point_sets(file, sets);
}

}  // namespace orbit::flows
