// The transport result layout: what write_transport writes, read_transport reads back.
#include <catch2/catch.hpp>

#include "orbit/core/random.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/ot/result_file.hpp"

#include "fixtures.hpp"

using namespace orbit;
using namespace orbit::ot;

namespace {

TransportInput input(int n, int m, std::uint64_t seed) {
    TransportInput in;
    in.x = test::unit_cube_cloud(n, 2, seed), in.y = test::unit_cube_cloud(m, 2, seed + 1);
    in.a = Vector::Constant(n, 1.0 / n), in.b = Vector::Constant(m, 1.0 / m);
    return in;
}

TransportRun round_trip(const TransportRun& run) {
    h5::File f = h5::File::create_in_memory("result");
    write_transport(f, run, 1.5);
    CHECK(f.attr_double("/", "seconds") == 1.5);
    return read_transport(f);
}

}  // namespace

TEST_CASE("one problem: potentials, scalars, sparse plan and gradients read back as written", "[ot][result_file]") {
    TransportRequest q;
    q.sinkhorn.eps = 0.05;
    q.sinkhorn.plan = PlanKind::Sparse;
    q.gradient = true;
    const TransportRun run = solve_transport({input(12, 9, 1)}, q);
    const TransportRun back = round_trip(run);
    REQUIRE(back.results.size() == 1);
    const SinkhornResult &r = run.results[0], &s = back.results[0];
    CHECK(s.f == r.f);
    CHECK(s.g == r.g);
    CHECK(s.cost == r.cost);
    CHECK(s.dual == r.dual);
    CHECK(s.primal == r.primal);
    CHECK(s.iterations == r.iterations);
    CHECK(s.converged == r.converged);
    CHECK(s.storage == r.storage);
    REQUIRE(s.sparse_plan);
    CHECK(s.sparse_plan->data == r.sparse_plan->data);
    CHECK(s.sparse_plan->indptr == r.sparse_plan->indptr);
    REQUIRE(back.gradients.size() == 1);
    CHECK(back.gradients[0].grad_x == run.gradients[0].grad_x);
    CHECK(back.gradients[0].grad_b == run.gradients[0].grad_b);
    CHECK(result_kind(run) == "plan");
}

TEST_CASE("a batch of divergences and a sliced report read back as written", "[ot][result_file]") {
    TransportRequest q;
    q.problem = Problem::Divergence;
    q.sinkhorn.eps = 0.05;
    q.sinkhorn.plan = PlanKind::Dense;
    const TransportRun run = solve_transport({input(10, 8, 3), input(7, 11, 5)}, q);
    const TransportRun back = round_trip(run);
    REQUIRE(back.results.size() == 2);
    CHECK(back.problem == Problem::Divergence);
    CHECK(back.values == run.values);
    for (int k = 0; k < 2; ++k) {
        CHECK(back.results[k].f == run.results[k].f);
        CHECK(back.results[k].cost == run.results[k].cost);
        REQUIRE(back.results[k].plan);
        CHECK(*back.results[k].plan == *run.results[k].plan);
    }
    q.problem = Problem::Sliced;
    const TransportRun sliced = solve_transport({input(10, 8, 3)}, q);
    const TransportRun sback = round_trip(sliced);
    CHECK(sback.problem == Problem::Sliced);
    CHECK(sback.values == sliced.values);
    CHECK(result_kind(sliced) == "report");
}
