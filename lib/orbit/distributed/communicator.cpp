#include "orbit/distributed/communicator.hpp"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <numeric>
#include <sys/mman.h>
#include <time.h>
#include <type_traits>
#include <unistd.h>

#include "orbit/core/error.hpp"

#if ORBIT_HAVE_MPI
#include <mpi.h>
#endif

namespace orbit::distributed {
namespace {

int g_rank = 0, g_size = 1;
bool g_started_mpi = false;
Traffic g_traffic;

// What agree() sends about a failure: its kind and message.
enum Kind : int { kError = 1, kUsage = 2 };

#if ORBIT_HAVE_MPI
void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) throw Error(std::string("MPI: ") + what + " failed");
}
// Waits for a nonblocking collective. Open MPI moves a nonblocking
// collective forward only inside MPI_Test, so a large message (a training
// step's gradients) needs many tests in a row: the first 2 ms are spent
// testing without pause. After that the rank is waiting for slower ones, and
// it tests every 20 microseconds and sleeps in between, so that it takes no
// CPU (MPI's blocking calls spin), which matters on shared or oversubscribed
// nodes and keeps CPU time a measure of work.
void wait(MPI_Request& request, const char* what) {
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    for (;;) {
        int done = 0;
        check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
        if (done) return;
        if (std::chrono::steady_clock::now() < spin_until) continue;
        const timespec pause{0, 20000};
        nanosleep(&pause, nullptr);
    }
}
std::vector<int> as_int(const std::vector<std::int64_t>& v) {
    std::vector<int> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        require(v[i] >= 0 && v[i] <= 0x7fffffff, "MPI: a message of more than 2^31 values");
        out[i] = int(v[i]);
    }
    return out;
}
template <class T>
void gather(const T* mine, T* all, const std::vector<std::int64_t>& counts) {
    const MPI_Datatype type = std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
    require(int(counts.size()) == g_size, "allgatherv: expected one count per rank");
    if (g_size == 1) {  // also when MPI was not started (no launcher)
        if (mine != all) std::copy(mine, mine + counts[0], all);
        return;
    }
    const std::vector<int> c = as_int(counts);
    std::vector<int> displs(c.size(), 0);
    for (std::size_t r = 1; r < c.size(); ++r) displs[r] = displs[r - 1] + c[r - 1];
    // In place when this rank's share already sits at its offset in `all`.
    const void* send = mine == all + displs[std::size_t(g_rank)] ? MPI_IN_PLACE : mine;
    MPI_Request request;
    check(MPI_Iallgatherv(send, c[std::size_t(g_rank)], type, all, c.data(), displs.data(), type, MPI_COMM_WORLD, &request),
          "MPI_Iallgatherv");
    wait(request, "MPI_Iallgatherv");
    const double scale = sizeof(T) / 8.0;
    const double total = double(std::accumulate(counts.begin(), counts.end(), std::int64_t(0)));
    g_traffic.sent += scale * double(counts[std::size_t(g_rank)]);
    g_traffic.received += scale * (total - double(counts[std::size_t(g_rank)]));
}
template <class T>
void exchange(const T* send, const std::vector<std::int64_t>& send_counts, T* recv, const std::vector<std::int64_t>& recv_counts) {
    const MPI_Datatype type = std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
    require(int(send_counts.size()) == g_size && int(recv_counts.size()) == g_size, "alltoallv: expected one count per rank");
    if (g_size == 1) {
        require(send_counts[0] == recv_counts[0], "alltoallv: one rank sends itself what it receives");
        std::copy(send, send + send_counts[0], recv);
        return;
    }
    const std::vector<int> sc = as_int(send_counts), rc = as_int(recv_counts);
    std::vector<int> sd(sc.size(), 0), rd(rc.size(), 0);
    for (std::size_t r = 1; r < sc.size(); ++r) sd[r] = sd[r - 1] + sc[r - 1], rd[r] = rd[r - 1] + rc[r - 1];
    MPI_Request request;
    check(MPI_Ialltoallv(send, sc.data(), sd.data(), type, recv, rc.data(), rd.data(), type, MPI_COMM_WORLD, &request),
          "MPI_Ialltoallv");
    wait(request, "MPI_Ialltoallv");
    const double scale = sizeof(T) / 8.0;
    const auto self = std::size_t(g_rank);
    g_traffic.sent += scale * double(std::accumulate(sc.begin(), sc.end(), std::int64_t(0)) - sc[self]);
    g_traffic.received += scale * double(std::accumulate(rc.begin(), rc.end(), std::int64_t(0)) - rc[self]);
}
#else
template <class T>
void gather(const T* mine, T* all, const std::vector<std::int64_t>& counts) {
    require(counts.size() == 1, "allgatherv: expected one count per rank");
    if (mine != all) std::copy(mine, mine + counts[0], all);
}
template <class T>
void exchange(const T* send, const std::vector<std::int64_t>& send_counts, T* recv, const std::vector<std::int64_t>& recv_counts) {
    require(send_counts.size() == 1 && recv_counts.size() == 1 && send_counts[0] == recv_counts[0],
            "alltoallv: one rank sends itself what it receives");
    std::copy(send, send + send_counts[0], recv);
}
#endif

#if ORBIT_HAVE_MPI
// An input named '-' (or '-:/dataset'; not the '-' of -o/--output, which is
// standard output) in the command line of every rank.
bool reads_stdin(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const bool output = std::strcmp(argv[i - 1], "-o") == 0 || std::strcmp(argv[i - 1], "--output") == 0;
        if (!output && (std::strcmp(argv[i], "-") == 0 || std::strncmp(argv[i], "-:", 2) == 0)) return true;
    }
    return false;
}

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "orbit: error: %s\n", what);
    std::exit(1);
}

// The launcher hands its standard input to rank 0 only. Rank 0 reads it once
// and broadcasts it; every rank then reads those bytes as its standard input
// (a memory file), so an input '-' means the same data on every rank.
void share_stdin() {
    std::string bytes;
    if (g_rank == 0 && !::isatty(STDIN_FILENO)) {
        char buf[1 << 16];
        for (;;) {
            const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n == 0) break;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fail("reading standard input failed");
            bytes.append(buf, std::size_t(n));
        }
    }
    broadcast(bytes);
    if (bytes.empty()) return;  // a terminal or nothing: the readers' own messages say so
    const int fd = ::memfd_create("orbit-stdin", 0);
    if (fd < 0) fail("cannot hold standard input in memory");
    for (std::size_t at = 0; at < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + at, bytes.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("cannot hold standard input in memory");
        at += std::size_t(n);
    }
    if (::lseek(fd, 0, SEEK_SET) != 0 || ::dup2(fd, STDIN_FILENO) < 0) fail("cannot hand standard input to the ranks");
    ::close(fd);
}
#endif

}  // namespace

Session::Session(int& argc, char**& argv) {
#if ORBIT_HAVE_MPI
    int ready = 0;
    MPI_Initialized(&ready);
    // Only a run started by an MPI launcher pays for (and needs) MPI: a plain
    // `orbit-sinkhorn ...` stays a single process, as without MPI.
    const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") ||
                          std::getenv("PMIX_RANK") || std::getenv("MPI_LOCALNRANKS");
    if (!ready && launched) {
        int provided = 0;
        if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            std::fprintf(stderr, "orbit: error: MPI could not be initialized\n");
            std::exit(1);
        }
        g_started_mpi = true;
    }
    MPI_Initialized(&ready);
    if (ready) {
        MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    }
    if (g_size > 1 && reads_stdin(argc, argv)) share_stdin();
#else
    (void)argc, (void)argv;
#endif
    if (g_rank > 0) {
        std::fflush(stdout), std::fflush(stderr);
        const int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) ::dup2(null, 1), ::dup2(null, 2), ::close(null);
    }
}

Session::~Session() {
#if ORBIT_HAVE_MPI
    if (g_started_mpi) {
        std::fflush(stdout), std::fflush(stderr);
        MPI_Finalize();
    }
#endif
}

bool built_with_mpi() {
#if ORBIT_HAVE_MPI
    return true;
#else
    return false;
#endif
}

int rank() { return g_rank; }
int size() { return g_size; }

Share share(std::int64_t n, int r, int ranks, std::int64_t align) {
    align = std::max<std::int64_t>(1, align);
    const std::int64_t blocks = (n + align - 1) / align;
    Share s;
    s.begin = std::min(n, blocks * r / ranks * align);
    s.end = std::min(n, blocks * (r + 1) / ranks * align);
    return s;
}

void allgatherv(const double* mine, double* all, const std::vector<std::int64_t>& counts) { gather(mine, all, counts); }
void allgatherv(const float* mine, float* all, const std::vector<std::int64_t>& counts) { gather(mine, all, counts); }
void alltoallv(const float* send, const std::vector<std::int64_t>& send_counts, float* recv,
               const std::vector<std::int64_t>& recv_counts) {
    exchange(send, send_counts, recv, recv_counts);
}
void alltoallv(const double* send, const std::vector<std::int64_t>& send_counts, double* recv,
               const std::vector<std::int64_t>& recv_counts) {
    exchange(send, send_counts, recv, recv_counts);
}

// In-place element-wise reduction over the ranks (MPI_MAX, MPI_MIN, ...).
#if ORBIT_HAVE_MPI
#define ORBIT_REDUCE(values, n, type, op) reduce(values, n, type, op)
template <class T>
void reduce(T* values, std::int64_t n, MPI_Datatype type, MPI_Op op) {
    if (g_size == 1) return;
    MPI_Request request;
    check(MPI_Iallreduce(MPI_IN_PLACE, values, int(n), type, op, MPI_COMM_WORLD, &request), "MPI_Iallreduce");
    wait(request, "MPI_Iallreduce");
}
#else
#define ORBIT_REDUCE(values, n, type, op) ((void)(values), (void)(n))
#endif

void allreduce_max(double* values, std::int64_t n) { ORBIT_REDUCE(values, n, MPI_DOUBLE, MPI_MAX); }
void allreduce_min(std::int64_t* values, std::int64_t n) { ORBIT_REDUCE(values, n, MPI_INT64_T, MPI_MIN); }

void broadcast(std::string& text, int root) {
#if ORBIT_HAVE_MPI
    if (g_size == 1) return;
    std::int64_t len = std::int64_t(text.size());
    check(MPI_Bcast(&len, 1, MPI_INT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
    text.resize(std::size_t(len));
    for (std::int64_t at = 0; at < len; at += std::int64_t(1) << 30)  // MPI counts are ints: 1 GiB pieces
        check(MPI_Bcast(text.data() + at, int(std::min<std::int64_t>(len - at, std::int64_t(1) << 30)), MPI_CHAR, root,
                        MPI_COMM_WORLD),
              "MPI_Bcast");
#else
    (void)text, (void)root;
#endif
}

void barrier() {
#if ORBIT_HAVE_MPI
    if (g_size > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void agree(std::exception_ptr mine) {
    if (g_size == 1) {
        if (mine) std::rethrow_exception(mine);
        return;
    }
    std::int64_t first = mine ? g_rank : g_size;
    allreduce_min(&first, 1);
    if (first == g_size) return;
    // Every rank learns the failing rank's message and kind (the text's first byte).
    std::string text;
    if (first == g_rank) {
        try {
            std::rethrow_exception(mine);
        } catch (const UsageError& e) {
            text = char(kUsage) + std::string(e.what());
        } catch (const std::bad_alloc&) {
            text = char(kError) + std::string("out of memory");
        } catch (const std::exception& e) {
            text = char(kError) + std::string(e.what());
        } catch (...) {
            text = char(kError) + std::string("unknown error");
        }
    }
    broadcast(text, int(first));
    if (first == g_rank) std::rethrow_exception(mine);  // the original, with its type
    const bool usage = !text.empty() && text[0] == char(kUsage);
    const std::string what = text.empty() ? "rank " + std::to_string(first) + " failed" : text.substr(1);
    if (usage) throw UsageError(what);
    throw Error(what);
}

Traffic traffic() { return g_traffic; }

void SharedSegments::count(double sent, double received) {
    g_traffic.sent += sent;
    g_traffic.received += received;
}

#if ORBIT_HAVE_MPI
bool SharedSegments::available() {
    static int answer = -1;  // decided once, by every rank together
    if (answer >= 0) return answer == 1;
    if (g_size == 1) return (answer = 0) == 1;
    const char* env = std::getenv("ORBIT_MPI_SHARED_MEMORY");
    std::int64_t ok = env && std::strcmp(env, "0") == 0 ? 0 : 1;
    MPI_Comm node;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
    int node_size = 0;
    MPI_Comm_size(node, &node_size);
    MPI_Comm_free(&node);
    if (node_size != g_size) ok = 0;
    allreduce_min(&ok, 1);  // one answer for all: a rank that opted out opts every rank out
    answer = int(ok);
    return answer == 1;
}

void SharedSegments::reserve(std::size_t bytes) {
    if (bytes <= bytes_ && window_) return;
    require(available(), "shared segments: not available in this run");
    release();
    // Rounded up to a cache line, so that no two ranks' segments share one.
    const std::size_t size = std::max<std::size_t>(64, (bytes + 63) / 64 * 64);
    void* mine = nullptr;
    MPI_Win win;
    check(MPI_Win_allocate_shared(MPI_Aint(size), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &mine, &win), "MPI_Win_allocate_shared");
    check(MPI_Win_lock_all(MPI_MODE_NOCHECK, win), "MPI_Win_lock_all");
    window_ = new MPI_Win(win);
    bytes_ = size;
    base_.assign(std::size_t(g_size), nullptr);
    for (int r = 0; r < g_size; ++r) {
        MPI_Aint got = 0;
        int unit = 0;
        check(MPI_Win_shared_query(win, r, &got, &unit, &base_[std::size_t(r)]), "MPI_Win_shared_query");
    }
}

void SharedSegments::sync() {
    require(window_ != nullptr, "shared segments: sync before reserve");
    MPI_Win& win = *static_cast<MPI_Win*>(window_);
    check(MPI_Win_sync(win), "MPI_Win_sync");  // this rank's stores reach the window
    MPI_Request request;
    check(MPI_Ibarrier(MPI_COMM_WORLD, &request), "MPI_Ibarrier");
    wait(request, "MPI_Ibarrier");
    check(MPI_Win_sync(win), "MPI_Win_sync");  // and the others' are seen
}

void SharedSegments::release() {
    if (!window_) return;
    MPI_Win* win = static_cast<MPI_Win*>(window_);
    MPI_Win_unlock_all(*win);
    MPI_Win_free(win);  // a collective: every rank releases its segments together
    delete win;
    window_ = nullptr;
    bytes_ = 0;
    base_.clear();
}
#else
bool SharedSegments::available() { return false; }
void SharedSegments::reserve(std::size_t) { throw Error("shared segments: orbit was built without MPI"); }
void SharedSegments::sync() { throw Error("shared segments: orbit was built without MPI"); }
void SharedSegments::release() {}
#endif

// Freeing the window is a collective. While an exception unwinds (an error
// agreed by every rank, or one rank's own) the segments are left to
// MPI_Finalize instead, so that a rank failing alone does not wait here for
// ranks that will never free them.
SharedSegments::~SharedSegments() {
    if (std::uncaught_exceptions() == 0) release();
}

}  // namespace orbit::distributed
