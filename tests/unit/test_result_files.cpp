// The library's output layouts, written and read back: registration results,
// canonicalization frames and attributes, invariance reports.
#include <catch2/catch.hpp>

#include "orbit/canon/files.hpp"
#include "orbit/core/random.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/invariance/evaluate.hpp"
#include "orbit/invariance/report_file.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/registration/hypotheses_file.hpp"
#include "orbit/registration/result_file.hpp"

using namespace orbit;
namespace reg = orbit::registration;

namespace {

reg::Result result(std::uint64_t k, std::vector<std::string> flags) {
    Rng rng(7, k);
    reg::Result r;
    r.transform = geometry::make_transform(geometry::random_rotation(rng), Eigen::Vector3d(0.1 * k, -0.2, 0.3), 1.0);
    r.fitness = 0.25 * static_cast<double>(k + 1);
    r.inlier_rmse = 0.01 + 0.001 * static_cast<double>(k);
    r.iterations = 10 + static_cast<std::int64_t>(k);
    r.seconds = 0.5;
    r.flags = std::move(flags);
    r.correspondences = {{0, static_cast<std::int64_t>(k)}, {2, 3}};
    return r;
}

void same_results(const reg::Run& a, const reg::Run& b) {
    REQUIRE(a.results.size() == b.results.size());
    CHECK(a.method == b.method);
    CHECK(a.batched == b.batched);
    CHECK(a.first_pair == b.first_pair);
    for (std::size_t i = 0; i < a.results.size(); ++i) {
        CHECK(a.results[i].transform == b.results[i].transform);  // stored as written, bit for bit
        CHECK(a.results[i].fitness == b.results[i].fitness);
        CHECK(a.results[i].inlier_rmse == b.results[i].inlier_rmse);
        CHECK(a.results[i].iterations == b.results[i].iterations);
        CHECK(a.results[i].flags == b.results[i].flags);
        CHECK(a.results[i].correspondences == b.results[i].correspondences);
    }
    REQUIRE(a.errors.size() == b.errors.size());
    for (std::size_t i = 0; i < a.errors.size(); ++i) {
        CHECK(a.errors[i].rre_deg == b.errors[i].rre_deg);
        CHECK(a.errors[i].rte == b.errors[i].rte);
        CHECK(a.errors[i].chamfer == b.errors[i].chamfer);
    }
}

}  // namespace

TEST_CASE("registration results: one pair round trips through the file", "[files][registration]") {
    reg::Run run;
    run.method = reg::Method::icp_plane;
    run.results = {result(0, {"planar", "low_fitness"})};
    run.errors = {reg::Errors{1.5, 0.02, 0.003}};
    auto f = h5::File::create_in_memory("one.h5");
    reg::write_run(f, run, true);
    CHECK(f.info("/transform").shape == std::vector<std::size_t>{4, 4});
    CHECK(f.attr_double("/", "fitness") == run.results[0].fitness);
    CHECK(f.attr_string("/", "method") == "icp-plane");
    CHECK(f.info("/correspondences").shape == std::vector<std::size_t>{2, 2});
    same_results(run, reg::read_run(f));
}

TEST_CASE("registration results: a batch keeps every per-pair value on the first axis", "[files][registration]") {
    reg::Run run;
    run.method = reg::Method::gmm_ot;
    run.batched = true;
    for (std::uint64_t k = 0; k < 3; ++k) run.results.push_back(result(k, k == 1 ? std::vector<std::string>{"not_converged"} : std::vector<std::string>{}));
    auto f = h5::File::create_in_memory("batch.h5");
    reg::write_run(f, run, false);
    for (const char* name : {"/fitness", "/inlier_rmse", "/iterations", "/seconds", "/flags"})
        CHECK(f.info(name).shape == std::vector<std::size_t>{3});
    CHECK(f.read<std::int64_t>("/flags").data == std::vector<std::int64_t>{0, 4, 0});
    CHECK(f.attr_string("/flags", "flags_meaning") == "1 low_fitness, 2 planar, 4 not_converged");
    CHECK_FALSE(f.exists("/rre_deg"));
    CHECK_FALSE(f.has_attr("/", "pair_begin"));
    for (auto& r : run.results) r.correspondences.clear();  // not written
    same_results(run, reg::read_run(f));
}

TEST_CASE("registration results: summaries and an unknown flag", "[files][registration]") {
    reg::Run run;
    run.batched = true;
    run.results = {result(0, {"low_fitness"}), result(1, {}), result(2, {"low_fitness"})};
    run.errors = {reg::Errors{1, 0.01, 0}, reg::Errors{10, 0.01, 0}, reg::Errors{2, 0.2, 0}};
    const nlohmann::json s = reg::summarize(run, 5.0, 0.1);
    CHECK(s["pairs"] == 3);
    CHECK(s["low_fitness_pairs"] == 2);
    CHECK(s["fitness"]["median"].get<double>() == Approx(0.5));
    CHECK(s["recall"]["value"].get<double>() == Approx(1.0 / 3.0));  // only pair 0 is within both thresholds
    CHECK(reg::text_summary(run, 5.0, 0.1).find("recall 0.3333") != std::string::npos);
    run.results[1].flags = {"no_such_flag"};
    auto f = h5::File::create_in_memory("bad.h5");
    CHECK_THROWS_WITH(reg::write_run(f, run, false), Catch::Contains("no_such_flag"));
}

TEST_CASE("canonicalization frames and attributes round trip", "[files][canon]") {
    canon::BatchFrames bf;
    Rng rng(3, 0);
    for (int b = 0; b < 2; ++b) {
        bf.frames.emplace_back();
        bf.copies.emplace_back();
        for (int k = 0; k < 4; ++k) {
            bf.frames.back().push_back(geometry::make_transform(geometry::random_rotation(rng), Eigen::Vector3d(b, k, 0), 1.0));
            bf.copies.back().push_back(Points::Random(5, 3));
        }
    }
    auto f = h5::File::create_in_memory("frames.h5");
    canon::write_frames(f, bf);
    canon::write_method(f, "SO3", "pca", "all", false);
    CHECK(f.info("/points").shape == std::vector<std::size_t>{2, 4, 5, 3});
    CHECK(f.attr_string("/", "canon_frames") == "all");
    CHECK(f.attr_int("/", "canon_scale") == 0);
    const canon::BatchFrames back = canon::read_frames(f);
    REQUIRE(back.frames.size() == 2);
    for (int b = 0; b < 2; ++b)
        for (int k = 0; k < 4; ++k) {
            CHECK(back.frames[b][k] == bf.frames[b][k]);
            CHECK(back.copies[b][k] == bf.copies[b][k]);
        }
    bf.copies[1][2] = Points::Random(6, 3);  // one array cannot hold clouds of different sizes
    auto g = h5::File::create_in_memory("ragged.h5");
    CHECK_THROWS_WITH(canon::write_frames(g, bf), Catch::Contains("equal size"));
}

TEST_CASE("invariance reports round trip", "[files][invariance]") {
    invariance::EvalReport r;
    r.group = "C4";
    r.model = "cmd";
    r.output_type = "invariant";
    r.output_shape = {2};
    r.elements.resize(3);
    for (int k = 0; k < 3; ++k) r.elements[k].t(0, 3) = k;
    r.magnitude = {0, 90, 180};
    r.magnitude_name = "rotation angle (deg)";
    r.abs_max = Matrix::Random(2, 3).cwiseAbs();
    r.abs_mean = r.abs_max / 2;
    r.rel = r.abs_max / 4;
    r.max_abs = r.abs_max.maxCoeff();
    r.mean_abs = r.abs_mean.mean();
    r.max_rel = r.rel.maxCoeff();
    r.mean_rel = r.rel.mean();
    r.normalized_variance = 0.25;
    r.lie = {invariance::LieStat{"rz", 0.5, 1.0, {0.0, 1.0}}};
    r.tolerance = 1e-6;
    r.failures = 4;
    r.evaluations = 8;
    auto f = h5::File::create_in_memory("report.h5");
    invariance::write_report(f, r);
    const invariance::EvalReport back = invariance::read_report(f);
    CHECK(back.abs_max == r.abs_max);
    CHECK(back.abs_mean == r.abs_mean);
    CHECK(back.rel == r.rel);
    CHECK(back.consistent.size() == 0);
    CHECK(back.magnitude == r.magnitude);
    CHECK(back.magnitude_name == r.magnitude_name);
    CHECK(back.elements[2].t == r.elements[2].t);
    REQUIRE(back.lie.size() == 1);
    CHECK(back.lie[0].per_cloud == r.lie[0].per_cloud);
    CHECK(back.lie[0].max == 1.0);
    CHECK(back.normalized_variance == 0.25);
    CHECK(back.failures == 4);
    CHECK(back.json() == r.json());  // the summary says the same of the file as of the run
    CHECK(f.read<double>("/per_element/abs_max").data[1] == r.abs_max.col(1).maxCoeff());
}

TEST_CASE("registration hypotheses: the file holds every pose, its blocks, score and pair", "[files][registration]") {
    reg::Run run;
    run.method = reg::Method::automatic;
    run.first_pair = 3;  // a --shard slice: pairs keep their index in the whole batch
    for (std::uint64_t k = 0; k < 2; ++k) {
        run.results.push_back(result(k, {}));
        for (std::uint64_t j = 0; j < 2 + k; ++j)
            run.results.back().hypotheses.push_back({result(10 * k + j, {}).transform, 5.0 - static_cast<double>(j)});
    }
    const reg::Hypotheses h = reg::collect_hypotheses(run, "src.h5", "ref.h5:/points");
    auto f = h5::File::create_in_memory("hyp.h5");
    reg::write_hypotheses(f, h);
    CHECK(f.info("/rotations").shape == std::vector<std::size_t>{5, 3, 3});
    CHECK(f.info("/translations").shape == std::vector<std::size_t>{5, 3});
    CHECK(f.info("/transforms").shape == std::vector<std::size_t>{5, 4, 4});
    CHECK(f.read<std::int64_t>("/pair").data == std::vector<std::int64_t>{3, 3, 4, 4, 4});
    CHECK(f.read<double>("/scores").data == std::vector<double>{5, 4, 5, 4, 3});
    CHECK(f.attr_string("/", "score") == "verification");
    const auto rot = f.read<double>("/rotations").data, trans = f.read<double>("/translations").data;
    const Transform& t = run.results[1].hypotheses[2].transform;  // hypothesis 4
    for (int r = 0; r < 3; ++r) {
        CHECK(trans[4 * 3 + static_cast<std::size_t>(r)] == t(r, 3));
        for (int c = 0; c < 3; ++c) CHECK(rot[4 * 9 + static_cast<std::size_t>(3 * r + c)] == t(r, c));
    }
    const reg::Hypotheses back = reg::read_hypotheses(f);
    CHECK(back.method == "auto");
    CHECK(back.source == "src.h5");
    CHECK(back.reference == "ref.h5:/points");
    CHECK(back.pair == h.pair);
    CHECK(back.scores == h.scores);
    REQUIRE(back.transforms.size() == 5);
    for (std::size_t k = 0; k < 5; ++k) CHECK(back.transforms[k] == h.transforms[k]);
    CHECK(back.truth_scores.empty());  // no ground truth: no truth scores
    CHECK_FALSE(f.exists("/truth_scores"));
    auto bad = h5::File::create_in_memory("bad.h5");
    reg::write_run(bad, run, false);
    CHECK_THROWS_AS(reg::read_hypotheses(bad), Error);

    // With a ground truth: one score of the true pose (as given, refined) per pair of the run.
    run.results[0].truth_score = 0.5, run.results[0].truth_refined_score = 0.75;
    run.results[1].truth_score = 2.0, run.results[1].truth_refined_score = 1.5;
    auto g = h5::File::create_in_memory("hyp-truth.h5");
    reg::write_hypotheses(g, reg::collect_hypotheses(run, "src.h5", "ref.h5"));
    CHECK(g.read<double>("/truth_scores").data == std::vector<double>{0.5, 2.0});
    CHECK(g.read<double>("/truth_refined_scores").data == std::vector<double>{0.75, 1.5});
    CHECK(g.attr_int("/", "first_pair") == 3);
    const reg::Hypotheses gb = reg::read_hypotheses(g);
    CHECK(gb.truth_scores == std::vector<double>{0.5, 2.0});
    CHECK(gb.truth_refined_scores == std::vector<double>{0.75, 1.5});
    CHECK(gb.first_pair == 3);
    // A pair without one (a method that does not verify) leaves them out for the whole run.
    run.results[1].truth_score = std::numeric_limits<double>::quiet_NaN();
    auto partial = h5::File::create_in_memory("hyp-partial.h5");
    reg::write_hypotheses(partial, reg::collect_hypotheses(run, "src.h5", "ref.h5"));
    CHECK_FALSE(partial.exists("/truth_scores"));
}
