// The guard around reading files a user did not make: declared sizes checked
// against the file, the watchdog (time and memory), the crash handler, the
// signal contract around committing outputs, and out-of-memory in a thread.
#include <hdf5.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/core/guard.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/io/output.hpp"

namespace fs = std::filesystem;
using namespace orbit;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/orbit-guard-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

struct ChildResult {
    int exit_code = -1;  // -1 when killed by a signal
    int signal = 0;
    std::string err;
};

// Runs fn in a child process (exit 0 when it returns) and collects its stderr.
ChildResult in_child(const std::function<void()>& fn) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(fds[1], STDERR_FILENO);
        ::close(fds[0]);
        try {
            fn();
        } catch (...) {
            ::_exit(99);
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    ChildResult r;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.err.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    return r;
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// A file with one float64 dataset `name` of `dims`, chunked (chunk rows
// `chunk_rows`, 0: contiguous) and optionally deflated, with `write_rows`
// rows written (the rest never written).
void make_dataset(const std::string& path, std::vector<hsize_t> dims, hsize_t chunk_rows, bool deflate,
                  hsize_t write_rows) {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk_rows > 0) {
        std::vector<hsize_t> chunk = dims;
        chunk[0] = chunk_rows;
        H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
        if (deflate) H5Pset_deflate(dcpl, 9);
    }
    hid_t ds = H5Dcreate2(f, "/points", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (write_rows > 0) {
        std::vector<hsize_t> count = dims, start(dims.size(), 0);
        count[0] = write_rows;
        hsize_t n = 1;
        for (auto c : count) n *= c;
        std::vector<double> values(n, 0.0);
        for (std::size_t i = 0; i < values.size(); i += 97) values[i] = static_cast<double>(i % 7);
        hid_t mem = H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
        H5Dwrite(ds, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, values.data());
        H5Sclose(mem);
    }
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
}

std::string open_error(const std::string& path) {
    try {
        h5::File::open_read(path);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a dataset declaring 10^12 rows with nothing stored is refused on opening", "[guard]") {
    TempDir dir;
    const std::string path = dir / "huge.h5";
    make_dataset(path, {1000000000000ull, 3}, 1024, false, 0);
    REQUIRE(fs::file_size(path) < 100000);
    const std::string e = open_error(path);
    CHECK(e.find("huge.h5:/points") != std::string::npos);
    CHECK(e.find("never-written") != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);
}

TEST_CASE("legitimate sparse, compressed and partly written datasets still open", "[guard]") {
    TempDir dir;
    // 24 MB of zeros compressed about 1000:1, all chunks written.
    make_dataset(dir / "zeros.h5", {1000000, 3}, 65536, true, 1000000);
    CHECK(open_error(dir / "zeros.h5").empty());
    auto m = h5::File::open_read(dir / "zeros.h5").read_matrix("/points");
    CHECK(m.rows() == 1000000);
    // Half written, the other half fill values (12 MB, well within the fill allowance).
    make_dataset(dir / "half.h5", {1000000, 3}, 4096, false, 500000);
    CHECK(open_error(dir / "half.h5").empty());
    // Contiguous, never written, small: reads as fill values.
    make_dataset(dir / "empty.h5", {1000, 3}, 0, false, 0);
    CHECK(open_error(dir / "empty.h5").empty());
}

TEST_CASE("a truncated contiguous dataset is refused before reading", "[guard]") {
    TempDir dir;
    const std::string path = dir / "cut.h5";
    make_dataset(path, {100000, 3}, 0, false, 100000);
    fs::resize_file(path, fs::file_size(path) / 2);
    const std::string e = open_error(path);
    INFO(e);
    CHECK(!e.empty());
    CHECK(e.find('\n') == std::string::npos);
}

namespace {
std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void put_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}
void put_le(std::string& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}
// A global heap collection of `size` bytes whose only object is the free space.
std::string collection(std::uint64_t size, std::uint64_t free_bytes) {
    std::string c(size, '\0');
    c.replace(0, 8, std::string("GCOL\1\0\0\0", 8));
    put_le(c, 8, size, 8);
    put_le(c, 16 + 8, free_bytes, 8);  // object 0 (free space): index 0, references 0, reserved 0
    return c;
}
// A small file whose root carries a variable-length string attribute (kept in a global heap).
std::string file_with_heap(const TempDir& dir) {
    const std::string path = dir / "heap.h5";
    auto f = h5::File::create(path);
    f.write_matrix("/points", Points(Points::Zero(4, 3)));
    f.set_attr("/", "history", "orbit-convert in.off -o heap.h5");
    f.close();
    return path;
}
}  // namespace

TEST_CASE("a damaged global heap is refused on opening, also with a signature planted inside it", "[guard]") {
    TempDir dir;
    const std::string good = file_with_heap(dir);
    std::string b = file_bytes(good);
    const std::size_t at = b.find(std::string("GCOL\1\0\0\0", 8));
    REQUIRE(at != std::string::npos);
    // Walk to the free-space object (index 0) and empty it: HDF5 1.10 loops forever on it.
    std::size_t p = at + 16;
    while (b[p] != 0 || b[p + 1] != 0) {
        std::uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(b[p + 8 + static_cast<std::size_t>(i)]);
        p += 16 + ((n + 7) & ~std::uint64_t(7));
    }
    put_le(b, p + 8, 0, 8);
    put_bytes(dir / "empty_free.h5", b);
    std::string e = open_error(dir / "empty_free.h5");
    CHECK(e.find("global heap") != std::string::npos);
    CHECK(e.find("empty free-space object") != std::string::npos);
    // A second signature inside it (of no collection: size 0) does not make it a leftover.
    b.replace(p + 16, 16, std::string("GCOL\1\0\0\0\0\0\0\0\0\0\0\0", 16));
    put_bytes(dir / "planted.h5", b);
    e = open_error(dir / "planted.h5");
    CHECK(e.find("empty free-space object") != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);
}

TEST_CASE("a damaged leftover collection under a clean one does not refuse the file", "[guard]") {
    TempDir dir;
    const std::string good = file_with_heap(dir);
    REQUIRE(open_error(good).empty());
    // Bytes past the end of what HDF5 allocated are scanned too, and HDF5 ignores them.
    std::string stale = collection(8192, 0);  // an empty free-space object: damaged
    put_bytes(dir / "stale.h5", file_bytes(good) + stale);
    CHECK(open_error(dir / "stale.h5").find("empty free-space object") != std::string::npos);
    // A clean collection written over it: the damaged one is a leftover of freed space.
    stale.replace(64, 4096, collection(4096, 4096 - 16));
    put_bytes(dir / "reused.h5", file_bytes(good) + stale);
    CHECK(open_error(dir / "reused.h5").empty());
    CHECK(h5::File::open_read(dir / "reused.h5").attr_string("/", "history") == "orbit-convert in.off -o heap.h5");
}

TEST_CASE("a damaged collection that a heap ID names is refused, also with a clean copy over it", "[guard]") {
    TempDir dir;
    std::string b = file_bytes(file_with_heap(dir));
    const std::size_t at = b.find(std::string("GCOL\1\0\0\0", 8));
    REQUIRE(at != std::string::npos);
    const std::string clean = b.substr(at, 4096);
    // Empty the free-space object (HDF5 1.10 loops forever on it), as above.
    std::size_t p = at + 16;
    while (b[p] != 0 || b[p + 1] != 0) {
        std::uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(b[p + 8 + static_cast<std::size_t>(i)]);
        p += 16 + ((n + 7) & ~std::uint64_t(7));
    }
    put_le(b, p + 8, 0, 8);
    // A copy of the clean collection just past the emptied header: the damaged
    // one now looks like freed space a live collection was written over, but
    // the history attribute still names it (what a fuzzer found; HDF5 loops).
    const std::size_t copy_at = p + 32;
    if (b.size() < copy_at + clean.size()) b.resize(copy_at + clean.size(), '\0');
    b.replace(copy_at, clean.size(), clean);
    put_bytes(dir / "named.h5", b);
    const std::string e = open_error(dir / "named.h5");
    INFO(e);
    CHECK(e.find("global heap at byte " + std::to_string(at)) != std::string::npos);
    CHECK(e.find("empty free-space object") != std::string::npos);
}

TEST_CASE("the watchdog ends a read that does not finish, with one line and no temporaries", "[guard]") {
    TempDir dir;
    const std::string temp = dir / "partial.tmp";
    auto r = in_child([&] {
        ::setenv("ORBIT_READ_TIMEOUT", "0.3", 1);
        guard::install("orbit-test");
        std::ofstream(temp) << "partial";
        guard::register_temp(temp);
        guard::Reading reading("stuck.h5");
        std::this_thread::sleep_for(std::chrono::seconds(5));
    });
    CHECK(r.exit_code == 1);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find("orbit-test: error: stuck.h5: damaged HDF5 file (the HDF5 library did not finish reading") == 0);
    CHECK(!fs::exists(temp));
}

TEST_CASE("the watchdog ends a read whose memory grows without bound", "[guard]") {
    auto r = in_child([&] {
        guard::install("orbit-test");
        guard::Reading reading("grows.h5", 0, std::size_t(32) << 20);
        std::vector<std::vector<char>> blocks;
        for (int i = 0; i < 200; ++i) {
            blocks.emplace_back(std::size_t(8) << 20, char(1));  // touched: resident
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    });
    CHECK(r.exit_code == 1);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find("grows.h5: damaged HDF5 file (the HDF5 library kept allocating memory") != std::string::npos);
}

TEST_CASE("a crash while reading names the file, removes temporaries and exits 1", "[guard]") {
    TempDir dir;
    const std::string temp = dir / "out.tmp";
    auto r = in_child([&] {
        guard::install("orbit-test");
        std::ofstream(temp) << "partial";
        guard::register_temp(temp);
        guard::Reading reading("bad.h5");
        ::raise(SIGSEGV);
    });
    CHECK(r.exit_code == 1);
    CHECK(r.err == "orbit-test: error: bad.h5: damaged HDF5 file (the HDF5 library crashed reading it)\n");
    CHECK(!fs::exists(temp));
}

TEST_CASE("a stop signal just after an output was renamed does not undo the run", "[guard]") {
    TempDir dir;
    const std::string out = dir / "done.bin";
    auto r = in_child([&] {
        io::TempFile t(out);
        std::ofstream(t.name()) << "complete";
        t.commit();
        ::raise(SIGTERM);  // held back: the output is complete and nothing else is being written
        if (!guard::signal_held()) ::_exit(3);
    });
    CHECK(r.signal == 0);
    CHECK(r.exit_code == 0);
    CHECK(fs::exists(out));
    // The held signal takes effect when the run starts another output.
    auto r2 = in_child([&] {
        io::TempFile t(out);
        std::ofstream(t.name()) << "complete";
        t.commit();
        ::raise(SIGTERM);
        io::TempFile next(dir / "next.bin");
        ::_exit(4);
    });
    CHECK(r2.signal == SIGTERM);
    CHECK(!fs::exists(dir / "next.bin"));
    for (auto& e : fs::directory_iterator(dir.path)) CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("a stop signal ignored by whoever started the tool stays ignored", "[guard]") {
    TempDir dir;
    auto r = in_child([&] {
        ::signal(SIGINT, SIG_IGN);
        guard::install("orbit-test");
        io::TempFile t(dir / "x.bin");  // creating an output installs no handler over the ignore either
        ::raise(SIGINT);
        std::ofstream(t.name()) << "x";
        t.commit();
    });
    CHECK(r.signal == 0);
    CHECK(r.exit_code == 0);
    CHECK(fs::exists(dir / "x.bin"));
}

TEST_CASE("out of memory in a worker thread is one line, exit 1, no temporaries", "[guard]") {
    TempDir dir;
    const std::string temp = dir / "t.tmp";
    auto r = in_child([&] {
        guard::install("orbit-test");
        std::ofstream(temp) << "partial";
        guard::register_temp(temp);
        std::thread([] { throw std::bad_alloc(); }).join();
    });
    CHECK(r.exit_code == 1);
    CHECK(r.err == "orbit-test: error: out of memory\n");
    CHECK(!fs::exists(temp));
}

TEST_CASE("a device or fifo given as output is written into, never replaced", "[guard]") {
    TempDir dir;
    const std::string fifo = dir / "pipe";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(io::check_output(fifo, true) == io::OutputTarget::stream);
    std::string received;
    std::thread reader([&] {
        std::ifstream in(fifo, std::ios::binary);
        received.assign(std::istreambuf_iterator<char>(in), {});
    });
    {
        io::TempFile t(fifo);
        std::ofstream(t.name()) << "streamed bytes";
        t.commit();
    }
    reader.join();
    CHECK(received == "streamed bytes");
    struct stat st;
    REQUIRE(::stat(fifo.c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    CHECK(io::check_output("/dev/null", true) == io::OutputTarget::stream);
    CHECK_THROWS_AS(io::check_output(dir / "missing/x.h5", true), Error);
    CHECK_THROWS_AS(io::check_output(dir.path.string(), true), Error);
}
