// lib/orbit/distributed under mpirun -n P (and as one process): shares cover
// the range on aligned boundaries, allgatherv concatenates in rank order, an
// error thrown on one rank reaches every rank with its message and kind, and
// sum_shards adds the shards' gradients in shard order whatever P is, and the
// sharded optimizer (each rank sums, clips and updates its slice) gives the
// parameters and moments of one process.
// Exit 0 on every rank when all checks pass; rank 0 prints the failures.
#include <Eigen/Core>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/distributed/communicator.hpp"
#include "orbit/distributed/data_parallel.hpp"
#include "orbit/distributed/sharded_optimizer.hpp"
#include "orbit/nn/optim.hpp"

namespace mp = orbit::distributed;

namespace {

std::vector<std::string> failures;
void check(bool ok, const std::string& what) {
    if (!ok) failures.push_back(what);
}

struct FakeParam {
    Eigen::MatrixXf value, grad;
    void zero_grad() { grad.setZero(value.rows(), value.cols()); }
};
// Shard k's gradient: values whose float sum depends on the order of addition.
struct FakeTape {
    FakeParam* p = nullptr;
    int k = 0;
    bool recorded = false;
    void add_param_grads() {
        const float terms[] = {1e8f, 1.0f, -1e8f, 3.0f, 0.25f};
        for (Eigen::Index t = 0; t < p->grad.size(); ++t) p->grad.data()[t] += terms[(k + t) % 5] * float(1 + t);
    }
};

// Shard k's gradients of several parameters (each seen once, in reverse
// order as a tape visits them), values whose sum depends on the order.
struct ShardTape {
    std::vector<orbit::nn::Param<float>*> ps;
    int k = 0;
    std::vector<orbit::nn::Mat<float>> grads;  // the parameters' own layout, as a tape's
    void record() {
        const float terms[] = {1e7f, 1.0f, -1e7f, 3.0f, 0.25f, -0.5f};
        grads.clear();
        for (std::size_t i = 0; i < ps.size(); ++i) {
            orbit::nn::Mat<float> g(ps[i]->value.rows(), ps[i]->value.cols());
            for (Eigen::Index t = 0; t < g.size(); ++t)
                g.data()[t] = terms[(k + t + Eigen::Index(i)) % 6] * float(1 + (t % 7)) * (k % 3 == 2 ? 40.0f : 1.0f);
            grads.push_back(g);
        }
    }
    template <class F>
    void for_param_grads(F&& f) const {
        // Shards 0 and 3 have no gradient for one parameter each (as a tape
        // that never used it): the sum skips them, on any rank.
        const std::size_t skip = k % 7 == 0 ? 3 : k % 7 == 3 ? 1 : ps.size();
        for (std::size_t i = ps.size(); i-- > 0;)
            if (i != skip) f(*ps[i], grads[i]);
    }
};

// Parameters of awkward sizes (slices cut them), initial values fixed.
std::vector<orbit::nn::Param<float>> sharded_params() {
    const int rows[] = {3, 200, 1, 77, 41}, cols[] = {7, 3, 1, 5, 13};
    std::vector<orbit::nn::Param<float>> out(5);
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i].value = orbit::nn::Mat<float>(rows[i], cols[i]);
        for (Eigen::Index t = 0; t < out[i].value.size(); ++t) out[i].value.data()[t] = float(std::sin(double(t + 31 * i)));
        out[i].zero_grad();
    }
    return out;
}

// Three steps of 7 shards through ShardedOptimizer on P ranks against one
// process's sum in shard order, blocked clipping and full Adam step.
void check_sharded_optimizer() {
    namespace nn = orbit::nn;
    auto mine = sharded_params(), ref = sharded_params();
    nn::ParamList<float> pm, pr;
    for (std::size_t i = 0; i < mine.size(); ++i) pm.push_back(&mine[i]), pr.push_back(&ref[i]);
    const nn::AdamOptions ao{0.01, 0.9, 0.999, 1e-8, 0.01};
    nn::Adam<float> opt(pm, ao), want(pr, ao);
    mp::ShardedOptimizer<nn::Adam<float>> sharded(opt);
    // One node: the exchanges go through shared segments, unless switched off (the messages' path).
    const char* env = std::getenv("ORBIT_MPI_SHARED_MEMORY");
    const bool want_shared = mp::several() && !(env && std::string(env) == "0");
    check(sharded.shared_memory() == want_shared, "sharded: shared memory " + std::string(want_shared ? "expected" : "not expected"));
    std::vector<ShardTape> tapes(7), ref_tapes(7);
    double norms[2] = {0, 0};
    for (int step = 0; step < 3; ++step) {
        std::vector<double> values(tapes.size());
        for (std::size_t k = 0; k < tapes.size(); ++k) tapes[k] = {pm, int(k) + step, {}}, ref_tapes[k] = {pr, int(k) + step, {}};
        const double clip = step == 1 ? 1e9 : 50.0;  // clipped in steps 0 and 2, not in 1
        // Step 2 clips on its own after an unclipped exchange; steps 0 and 1 within the exchange.
        const auto summed = sharded.sum_shards(
            tapes, values,
            [&](int k) {
                tapes[std::size_t(k)].record();
                values[std::size_t(k)] = 0.5 * k;
            },
            step == 2 ? 0.0 : clip);
        check(summed.total == 0.5 * 21, "sharded sum_shards: the total loss");
        for (std::size_t k = 0; k < values.size(); ++k)
            check(values[k] == 0.5 * double(k), "sharded sum_shards: every shard's value on every rank");
        norms[0] = step == 2 ? sharded.clip_grad_norm(clip) : summed.norm;
        check(step == 2 ? summed.norm == 0 : summed.norm > 0, "sharded sum_shards: the norm only when clipping");
        sharded.step(0.01);
        // One process: zeroed grads, the shards' gradients added in shard order, blocked norm, full step.
        want.zero_grad();
        for (auto& t : ref_tapes) {
            t.record();
            t.for_param_grads([](nn::Param<float>& p, const nn::Mat<float>& g) { p.grad += g; });
        }
        norms[1] = mp::blocked_grad_norm(pr);
        if (norms[1] > clip)
            for (auto* p : pr) p->grad *= float(clip / (norms[1] + 1e-6));
        want.step(0.01);
        check(norms[0] == norms[1], "sharded clip_grad_norm: the norm differs from one process's, step " + std::to_string(step));
        for (std::size_t i = 0; i < mine.size(); ++i)
            check(mine[i].value == ref[i].value, "sharded step: parameter " + std::to_string(i) + " differs, step " + std::to_string(step));
    }
    check(norms[1] > 50.0, "sharded: the test's clipping never applied");
    sharded.gather_state();
    for (std::size_t i = 0; i < mine.size(); ++i)
        check(opt.m()[i] == want.m()[i] && opt.v()[i] == want.v()[i], "sharded gather_state: moments of parameter " + std::to_string(i));
    check(opt.steps() == want.steps(), "sharded: step counts");

    // A shard that fails on one rank: every rank throws its message, and the
    // next step still works (no rank was left inside a collective).
    std::vector<double> values(tapes.size());
    std::string caught;
    try {
        sharded.sum_shards(tapes, values, [&](int k) {
            if (k == 5) throw orbit::Error("shard five failed");
            tapes[std::size_t(k)].record();
        }, 1.0);
    } catch (const orbit::Error& e) {
        caught = e.what();
    }
    check(caught == "shard five failed", "sharded sum_shards: a shard's error on every rank (got '" + caught + "')");
    const auto again = sharded.sum_shards(tapes, values, [&](int k) { tapes[std::size_t(k)].record(); values[std::size_t(k)] = 1; });
    check(again.total == 7, "sharded sum_shards: a step after a failed one");
}

}  // namespace

int main(int argc, char** argv) {
    mp::Session session(argc, argv);
    const int P = mp::size(), r = mp::rank();
    if (argc > 1) check(P == std::stoi(argv[1]), "expected " + std::string(argv[1]) + " ranks, found " + std::to_string(P));

    // Shares: contiguous, in rank order, starting at multiples of the alignment.
    for (std::int64_t n : {0, 5, 16, 100, 1000}) {
        std::int64_t next = 0;
        for (int q = 0; q < P; ++q) {
            const mp::Share s = mp::share(n, q, P, 16);
            check(s.begin == next && s.end >= s.begin && (s.begin % 16 == 0 || s.begin == n), "share of " + std::to_string(n));
            next = s.end;
        }
        check(next == n, "shares of " + std::to_string(n) + " do not cover it");
    }

    // allgatherv: rank q sends q + 1 values q*10 + i.
    std::vector<std::int64_t> counts;
    for (int q = 0; q < P; ++q) counts.push_back(q + 1);
    std::vector<double> mine(std::size_t(r + 1)), all(std::size_t(P * (P + 1) / 2));
    for (int i = 0; i <= r; ++i) mine[std::size_t(i)] = r * 10 + i;
    mp::allgatherv(mine.data(), all.data(), counts);
    std::size_t at = 0;
    for (int q = 0; q < P; ++q)
        for (int i = 0; i <= q; ++i) check(all[at++] == q * 10 + i, "allgatherv order");

    // agree(): the last rank fails, every rank learns it.
    std::string seen;
    try {
        mp::collectively([&] {
            if (r == P - 1) throw orbit::Error("broken input on rank " + std::to_string(r));
        });
    } catch (const orbit::UsageError&) {
        seen = "usage";
    } catch (const orbit::Error& e) {
        seen = e.what();
    }
    check(seen == "broken input on rank " + std::to_string(P - 1), "agree: rank " + std::to_string(r) + " saw '" + seen + "'");
    // ... the kind survives, and no error means no exception.
    bool usage = false;
    try {
        mp::collectively([&] {
            if (r == 0) throw orbit::UsageError("bad option");
        });
    } catch (const orbit::UsageError& e) {
        usage = std::string(e.what()) == "bad option";
    } catch (...) {
    }
    check(usage, "agree: a usage error must stay a usage error");
    bool quiet = true;
    try {
        mp::collectively([] {});
    } catch (...) {
        quiet = false;
    }
    check(quiet, "agree without an error threw");

    // sum_shards: 7 shards, gradients added onto zero in shard order.
    FakeParam p;
    p.value = Eigen::MatrixXf::Zero(3, 4);
    std::vector<FakeTape> tapes(7);
    std::vector<double> values(tapes.size() * 2);
    for (std::size_t k = 0; k < tapes.size(); ++k) tapes[k].p = &p, tapes[k].k = int(k);
    std::vector<FakeParam*> params = {&p};
    const double total = mp::sum_shards(tapes, params, values, [&](int k) {
        tapes[std::size_t(k)].recorded = true;
        values[std::size_t(2 * k)] = 0.5 + k, values[std::size_t(2 * k + 1)] = -k;
    });
    FakeParam want;
    want.value = p.value;
    want.zero_grad();
    double want_total = 0;
    for (std::size_t k = 0; k < tapes.size(); ++k) {
        FakeParam one = want;
        one.zero_grad();
        FakeTape t{&one, int(k)};
        t.add_param_grads();
        want.grad += one.grad;
        want_total += 0.5 + double(k);
    }
    check(p.grad == want.grad, "sum_shards: gradients differ from the shard-order sum");
    check(total == want_total, "sum_shards: the total loss differs");
    for (std::size_t k = 0; k < tapes.size(); ++k)
        check(values[2 * k] == 0.5 + double(k) && values[2 * k + 1] == -double(k), "sum_shards: values of shard " + std::to_string(k));

    check_sharded_optimizer();

    double bad = failures.empty() ? 0 : 1;
    mp::allreduce_max(&bad, 1);
    for (const auto& f : failures) std::fprintf(stderr, "FAIL (rank %d of %d): %s\n", r, P, f.c_str());
    if (r == 0 && bad == 0) std::printf("distributed: %d rank(s): shares, allgatherv, agree, sum_shards and the sharded optimizer pass\n", P);
    return bad == 0 ? 0 : 1;
}
