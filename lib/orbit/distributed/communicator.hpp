#pragma once
// The processes of one run: MPI's world when a tool is started by mpirun or
// srun and orbit was built with MPI (ORBIT_MPI), else one process.
//
// This is the only place that talks to MPI. Without MPI every function is the
// single-process version (rank 0 of 1, collectives copy or do nothing), so
// algorithms call the same functions either way and carry no #ifdef.
//
// Collectives must be called by every rank, in the same order, with the same
// counts. Nothing here reduces in an order that depends on the number of
// ranks: sums that must not depend on it gather the terms and add them in a
// fixed order (see gather_in_order).
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace orbit::distributed {

// Initializes MPI (when built with it) for the lifetime of a tool's main();
// finalizes it at the end. On ranks other than 0, stdout and stderr are sent
// to /dev/null: messages, the JSON summary and the one-line error come from
// rank 0 only (errors are shared with it by agree(), below).
class Session {
public:
    Session(int& argc, char**& argv);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
};

bool built_with_mpi();
int rank();   // 0 without MPI
int size();   // 1 without MPI
inline bool several() { return size() > 1; }

// A contiguous share [begin, end) of n items; ranks take consecutive shares
// whose boundaries are multiples of `align` (the last one ends at n), as even
// as the alignment allows.
struct Share {
    std::int64_t begin = 0, end = 0;
    std::int64_t size() const { return end - begin; }
};
Share share(std::int64_t n, int rank, int ranks, std::int64_t align = 1);

// all[...] = the concatenation, in rank order, of every rank's `mine`
// (counts[r] values from rank r; all has sum(counts) entries). `mine` may be
// this rank's own place in `all` (in place: no copy of the share).
void allgatherv(const double* mine, double* all, const std::vector<std::int64_t>& counts);
void allgatherv(const float* mine, float* all, const std::vector<std::int64_t>& counts);
// Personalized exchange: rank r sends send[...] to every rank, cut in rank
// order (send_counts[d] values for rank d, concatenated), and receives into
// recv the concatenation, in rank order, of what every rank sent it
// (recv_counts[s] values from rank s). Nothing is added: the caller sums what
// it received in an order of its choosing.
void alltoallv(const float* send, const std::vector<std::int64_t>& send_counts, float* recv,
               const std::vector<std::int64_t>& recv_counts);
void alltoallv(const double* send, const std::vector<std::int64_t>& send_counts, double* recv,
               const std::vector<std::int64_t>& recv_counts);
// Element-wise maximum / minimum over the ranks, in place.
void allreduce_max(double* values, std::int64_t n);
void allreduce_min(std::int64_t* values, std::int64_t n);
// Copies root's text to every rank.
void broadcast(std::string& text, int root = 0);
void barrier();

// "An error on any rank ends every rank": each rank passes the exception it
// caught (or nullptr). When any rank failed, every rank throws the error of
// the lowest failing rank (the same message and kind: orbit::UsageError,
// orbit::Error); otherwise it returns. A collective.
void agree(std::exception_ptr mine);
// Runs fn() on every rank and agree()s on the outcome.
template <class Fn>
void collectively(Fn&& fn) {
    std::exception_ptr e;
    try {
        fn();
    } catch (...) {
        e = std::current_exception();
    }
    agree(e);
}

// Doubles (or floats, counted as halves) this rank sent and received through
// the collectives above (and SharedSegments, below) since the start; for the
// scaling bench.
struct Traffic {
    double sent = 0, received = 0;
};
Traffic traffic();

// Memory that every rank reads directly, where all ranks run on one node (an
// MPI-3 shared-memory window): rank r's segment is written by r and read by
// every rank. A message between two processes of one node is copied through
// the kernel (and its pages pinned), a cost per message that a per-step
// gradient exchange pays at every training step; a read of a shared segment
// is a plain load. available() is false without MPI, with one rank, when the
// ranks span nodes, or when ORBIT_MPI_SHARED_MEMORY=0 (the collectives'
// path, for comparison); callers then exchange by the collectives above.
class SharedSegments {
public:
    SharedSegments() = default;
    ~SharedSegments();
    SharedSegments(const SharedSegments&) = delete;
    SharedSegments& operator=(const SharedSegments&) = delete;
    // Whether this run can use them (the same answer on every rank; a collective the first time).
    static bool available();
    // Makes every rank's segment at least `bytes` long (a collective: every
    // rank asks for the same size). Contents are not kept when it grows.
    void reserve(std::size_t bytes);
    void* mine() { return base_[std::size_t(rank())]; }
    const void* of(int r) const { return base_[std::size_t(r)]; }
    // A collective: what every rank wrote to its segment before it is
    // visible to every rank after it.
    void sync();
    // Counts doubles moved through the segments in the traffic figures.
    static void count(double sent, double received);

private:
    void release();
    void* window_ = nullptr;  // the MPI_Win, when allocated
    std::size_t bytes_ = 0;
    std::vector<void*> base_;
};

}  // namespace orbit::distributed
