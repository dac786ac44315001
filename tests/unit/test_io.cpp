#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <limits>

#include "orbit/io/h5.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"
#include "fixtures.hpp"

using namespace orbit;
namespace fs = std::filesystem;

using orbit::test::TempDir;

namespace {

template <class T>
void round_trip_type(const std::string& file) {
    h5::Array<T> a;
    a.shape = {2, 3, 4};
    for (std::size_t i = 0; i < a.size(); ++i) a.data.push_back(static_cast<T>(i * 3 % 11));
    {
        auto f = h5::File::create(file);
        f.write("/group/data", a);
    }
    auto f = h5::File::open_read(file);
    auto b = f.read<T>("/group/data", 3);
    CHECK(b.shape == a.shape);
    CHECK(b.data == a.data);
}
}  // namespace

TEST_CASE("arrays of every supported type round-trip with their shapes") {
    TempDir d;
    round_trip_type<float>(d / "f.h5");
    round_trip_type<double>(d / "d.h5");
    round_trip_type<std::int32_t>(d / "i.h5");
    round_trip_type<std::int64_t>(d / "l.h5");
    round_trip_type<std::uint8_t>(d / "u.h5");
}

TEST_CASE("reading checks rank, numeric type and integer-from-float") {
    TempDir d;
    {
        auto f = h5::File::create(d / "x.h5");
        h5::Array<double> a;
        a.shape = {5, 3};
        a.data.assign(15, 1.5);
        f.write("/points", a);
        f.write_strings("/names", {"a", "b"});
    }
    auto f = h5::File::open_read(d / "x.h5");
    CHECK_THROWS_WITH(f.read<double>("/points", 3), Catch::Contains("expected a 3-d array, found shape [5,3]"));
    CHECK_THROWS_WITH(f.read<double>("/names"), Catch::Contains("found strings"));
    CHECK_THROWS_WITH(f.read<std::int64_t>("/points"), Catch::Contains("expected integers, found float64"));
    CHECK_THROWS_WITH(f.read<double>("/nope/deeper"), Catch::Contains("missing dataset '/nope/deeper'"));
    auto fl = f.read<float>("/points");
    CHECK(fl.data[0] == 1.5f);
    CHECK(f.read_strings("/names") == std::vector<std::string>{"a", "b"});
}

TEST_CASE("attributes: strings, numbers, JSON, replacement") {
    TempDir d;
    auto f = h5::File::create(d / "a.h5");
    f.set_attr("/", "s", "hello");
    f.set_attr("/", "x", 2.5);
    f.set_attr("/", "n", std::int64_t{7});
    f.set_attr_json("/", "cfg", nlohmann::json{{"layers", 8}});
    f.set_attr("/", "s", "again");
    CHECK(f.attr_string("/", "s") == "again");
    CHECK(f.attr_double("/", "x") == 2.5);
    CHECK(f.attr_int("/", "n") == 7);
    CHECK(f.attr_json("/", "cfg")["layers"] == 8);
    CHECK_THROWS_WITH(f.attr_string("/", "x"), Catch::Contains("not a string"));
    CHECK_THROWS_WITH(f.attr_string("/", "missing"), Catch::Contains("missing attribute 'missing'"));
}

TEST_CASE("bad files give one-line errors") {
    TempDir d;
    std::ofstream(d / "empty.h5").close();
    { std::ofstream(d / "text.h5") << "not hdf5 at all"; }
    {
        auto f = h5::File::create(d / "good.h5");
        h5::Array<double> a;
        a.shape = {1000, 3};
        a.data.assign(3000, 0.25);
        f.write("/points", a);
    }
    // Truncate a real file in the middle.
    fs::copy_file(d / "good.h5", d / "cut.h5");
    fs::resize_file(d / "cut.h5", fs::file_size(d / "good.h5") / 2);
    CHECK_THROWS_WITH(h5::File::open_read(d / "missing.h5"), Catch::Contains("no such file"));
    CHECK_THROWS_WITH(h5::File::open_read(d / "empty.h5"), Catch::Contains("is empty"));
    CHECK_THROWS_WITH(h5::File::open_read(d / "text.h5"), Catch::Contains("not an HDF5 file"));
    CHECK_THROWS_AS(io::read_point_sets(d / "cut.h5"), Error);
}

TEST_CASE("dataset references split FILE:/path") {
    auto r = h5::parse_ref("data/ply_data_train0.h5:/data");
    CHECK(r.file == "data/ply_data_train0.h5");
    CHECK(r.dataset == "/data");
    CHECK(h5::parse_ref("plain.h5").dataset.empty());
    CHECK(h5::parse_ref("-:/points").file == "-");
}

TEST_CASE("outputs are atomic and stamped with the data model") {
    TempDir d;
    std::string target = d / "out.h5";
    {
        io::Output out(target, "pointset");
        h5::Array<double> a;
        a.shape = {2, 3};
        a.data = {1, 2, 3, 4, 5, 6};
        out.file().write("/points", a);
        // Not committed: nothing may appear under the final name, no temporary left behind.
    }
    CHECK_FALSE(fs::exists(target));
    CHECK(std::distance(fs::directory_iterator(d.path), fs::directory_iterator{}) == 0);
    io::set_invocation("orbit-test", {"a b", "-o", "x.h5"});
    {
        io::Output out(target, "pointset");
        out.add_history_lines({"earlier line"});
        io::PointSets sets;
        io::PointSet p;
        p.points = Points::Random(10, 3);
        sets.items.push_back(p);
        io::write_point_sets(out.file(), sets);
        out.commit();
    }
    auto f = h5::File::open_read(target);
    CHECK(f.attr_string("/", "orbit_format") == "orbit/1");
    CHECK(f.attr_string("/", "orbit_kind") == "pointset");
    auto hist = io::read_history(f);
    REQUIRE(hist.size() == 2);
    CHECK(hist[0] == "earlier line");
    CHECK(hist[1].find("orbit-test 'a b' -o x.h5 (orbit ") != std::string::npos);
}

TEST_CASE("point sets: single, batch, ragged, companions, and checks") {
    TempDir d;
    io::PointSets batch;
    batch.layout = io::PointSets::Layout::batch;
    for (int b = 0; b < 3; ++b) {
        io::PointSet p;
        p.points = Points::Random(5, 3);
        p.weights = Vector::Constant(5, 0.2);
        batch.items.push_back(p);
    }
    {
        auto f = h5::File::create(d / "b.h5");
        io::write_point_sets(f, batch);
    }
    auto back = io::read_point_sets(d / "b.h5");
    REQUIRE(back.size() == 3);
    CHECK(back.layout == io::PointSets::Layout::batch);
    for (int b = 0; b < 3; ++b) {
        CHECK(back[b].points == batch[b].points);
        CHECK(back[b].weights == batch[b].weights);
    }
    // Different sizes -> ragged with offsets.
    batch.items[1].points = Points::Random(7, 3);
    batch.items[1].weights = Vector::Constant(7, 0.1);
    {
        auto f = h5::File::create(d / "r.h5");
        io::write_point_sets(f, batch);
    }
    auto rag = io::read_point_sets(d / "r.h5");
    CHECK(rag.layout == io::PointSets::Layout::ragged);
    CHECK(rag[1].points == batch[1].points);
    CHECK(rag[2].points == batch[2].points);
    // A foreign dataset selected by path, and a NaN rejected.
    {
        auto f = h5::File::create(d / "modelnet.h5");
        h5::Array<float> a;
        a.shape = {2, 4, 3};
        a.data.assign(24, 0.5f);
        f.write("/data", a);
        a.data[5] = std::numeric_limits<float>::quiet_NaN();
        f.write("/bad", a);
    }
    auto mn = io::read_point_sets(d / "modelnet.h5:/data");
    CHECK(mn.size() == 2);
    CHECK(mn[1].points(3, 2) == 0.5);
    CHECK_THROWS_WITH(io::read_point_sets(d / "modelnet.h5:/bad"), Catch::Contains("NaN"));
    CHECK_THROWS_WITH(io::read_point_sets(d / "modelnet.h5"), Catch::Contains("missing dataset '/points'"));
}

TEST_CASE("transforms round-trip and shards partition the items") {
    TempDir d;
    std::vector<Transform> ts(3, Transform::Identity());
    ts[1](0, 3) = 2.0;
    {
        auto f = h5::File::create(d / "t.h5");
        io::write_transforms(f, "/transform", ts, true);
    }
    auto back = io::read_transforms(d / "t.h5");
    REQUIRE(back.size() == 3);
    CHECK(back[1](0, 3) == 2.0);
    std::int64_t covered = 0;
    for (int k = 1; k <= 4; ++k) {
        auto s = io::parse_shard(std::to_string(k) + "/4");
        CHECK(s.begin(10) == covered);
        covered = s.end(10);
    }
    CHECK(covered == 10);
    CHECK_THROWS_AS(io::parse_shard("5/4"), UsageError);
    CHECK_THROWS_AS(io::parse_shard("x"), UsageError);
}

TEST_CASE("in-memory files stream the same bytes as H5Fget_file_image, and read back") {
    // Sizes below and above the core driver's 16 MiB growth step.
    for (std::size_t rows : {std::size_t(10), std::size_t(300000), std::size_t(1200000)}) {
        Points m(static_cast<Eigen::Index>(rows), 3);
        for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = 0.5 * double(i % 1013) - double(i % 7);
        auto f = h5::File::create_in_memory("<test>");
        f.write_matrix("/points", m);
        f.set_attr("/", "note", "streamed");
        H5Fflush(f.id(), H5F_SCOPE_GLOBAL);
        const ssize_t size = H5Fget_file_image(f.id(), nullptr, 0);
        REQUIRE(size > 0);
        std::vector<char> expected(static_cast<std::size_t>(size));
        REQUIRE(H5Fget_file_image(f.id(), expected.data(), expected.size()) == size);
        std::FILE* tmp = std::tmpfile();
        REQUIRE(tmp);
        f.write_image(tmp);
        std::vector<char> streamed(static_cast<std::size_t>(std::ftell(tmp)));
        std::rewind(tmp);
        REQUIRE(std::fread(streamed.data(), 1, streamed.size(), tmp) == streamed.size());
        std::fclose(tmp);
        INFO(rows << " rows");
        REQUIRE(streamed == expected);
        auto back = h5::File::open_image(streamed, "<back>");
        REQUIRE(back.read_matrix("/points") == m);
        REQUIRE(back.attr_string("/", "note") == "streamed");
    }
}
