// lib/orbit/distributed under mpirun -n P (and as one process): shares cover
// the range on aligned boundaries, allgatherv concatenates in rank order, an
// error thrown on one rank reaches every rank with its message and kind, and
// sum_shards adds the shards' gradients in shard order whatever P is.
// Exit 0 on every rank when all checks pass; rank 0 prints the failures.
#include <Eigen/Core>
#include <cstdio>
#include <string>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/distributed/communicator.hpp"
#include "orbit/distributed/data_parallel.hpp"

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

    double bad = failures.empty() ? 0 : 1;
    mp::allreduce_max(&bad, 1);
    for (const auto& f : failures) std::fprintf(stderr, "FAIL (rank %d of %d): %s\n", r, P, f.c_str());
    if (r == 0 && bad == 0) std::printf("distributed: %d rank(s): shares, allgatherv, agree and sum_shards pass\n", P);
    return bad == 0 ? 0 : 1;
}
