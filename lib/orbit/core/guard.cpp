#include "orbit/core/guard.hpp"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <thread>

namespace orbit::guard {
namespace {

// Everything a signal handler reads is fixed storage written before it is
// published through an atomic flag.
constexpr int kSlots = 64;
char g_temp_paths[kSlots][4096];
std::atomic<int> g_used[kSlots];

char g_program[256] = "orbit";
std::atomic<bool> g_installed{false};

constexpr int kDepth = 8;
struct Section {
    char file[1024];
    double deadline;           // monotonic seconds
    long rss_limit_pages;      // resident pages allowed while open
    double seconds;            // the time limit, for the message
};
Section g_sections[kDepth];
std::atomic<int> g_depth{0};
std::mutex g_sections_mutex;

std::atomic<bool> g_committed{false};   // an output was renamed, none started since
std::atomic<bool> g_committing{false};  // an output is being renamed
std::atomic<int> g_held_signal{0};
std::atomic<double> g_held_since{0};

double now_seconds() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// write(2) of NUL-terminated pieces; async-signal-safe.
void put(const char* s) noexcept {
    std::size_t n = std::strlen(s);
    while (n > 0) {
        ssize_t w = ::write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w;
        n -= static_cast<std::size_t>(w);
    }
}

void put_number(unsigned long v) noexcept {
    char buf[24];
    int i = 23;
    buf[i] = '\0';
    do {
        buf[--i] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v > 0 && i > 0);
    put(buf + i);
}

// "orbit-x: error: FILE: damaged HDF5 file (the HDF5 library WHAT)", temporaries removed, exit 1.
[[noreturn]] void fail_reading(const char* file, const char* what, unsigned long number, const char* unit) noexcept {
    remove_temps();
    put(g_program);
    put(": error: ");
    put(file);
    put(": damaged HDF5 file (the HDF5 library ");
    put(what);
    if (unit) {
        put_number(number);
        put(unit);
    }
    put(")\n");
    ::_exit(1);
}

long resident_pages() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long size = 0, resident = 0;
    if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    std::fclose(f);
    return resident;
}

long page_bytes() {
    static const long page = [] {
        long p = sysconf(_SC_PAGESIZE);
        return p > 0 ? p : 4096;
    }();
    return page;
}

[[noreturn]] void die_by(int sig) noexcept {
    remove_temps();
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    ::kill(::getpid(), sig);
    ::raise(sig);
    ::_exit(128 + sig);
}

bool temps_pending() noexcept {
    for (int i = 0; i < kSlots; ++i)
        if (g_used[i].load(std::memory_order_acquire)) return true;
    return false;
}

void on_stop_signal(int sig) {
    // Just after an output was renamed into place, with nothing else being
    // written, the run is complete on disk: hold the signal back and let the
    // run finish (the watchdog delivers it if the run goes on for long).
    if (g_committing.load() || (g_committed.load() && !temps_pending())) {
        int none = 0;
        if (g_held_signal.compare_exchange_strong(none, sig)) g_held_since.store(now_seconds());
        return;
    }
    die_by(sig);
}

void on_crash(int sig, siginfo_t*, void*) {
    int depth = g_depth.load(std::memory_order_acquire);
    if (depth > 0) fail_reading(g_sections[depth - 1].file, "crashed reading it", 0, nullptr);
    remove_temps();
    put(g_program);
    put(": error: internal error (");
    put(sig == SIGSEGV ? "segmentation fault" : sig == SIGBUS ? "bus error" : sig == SIGFPE ? "arithmetic fault"
                                                                                              : "illegal instruction");
    put("); please report it with the command line\n");
    // Die by the signal so that the crash stays visible to the caller.
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    ::raise(sig);
}

void watchdog_loop() {
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
        const double now = now_seconds();
        int held = g_held_signal.load();
        if (held != 0 && now - g_held_since.load() > 1.0) die_by(held);
        std::lock_guard<std::mutex> lock(g_sections_mutex);
        int depth = g_depth.load();
        if (depth == 0) continue;
        const Section& s = g_sections[depth - 1];
        if (now > s.deadline)
            fail_reading(s.file, "did not finish reading it in ", static_cast<unsigned long>(s.seconds + 0.5), " s");
        long rss = resident_pages();
        if (s.rss_limit_pages > 0 && rss > s.rss_limit_pages) {
            unsigned long mib = static_cast<unsigned long>(rss) * static_cast<unsigned long>(page_bytes()) >> 20;
            fail_reading(s.file, "kept allocating memory reading it: ", mib, " MiB");
        }
    }
}

// An exception that escapes a thread (an OpenMP worker out of memory, say)
// ends the run with one line and no leftovers instead of abort().
[[noreturn]] void on_terminate() {
    std::string what = "internal error (unhandled exception)";
    if (auto e = std::current_exception()) {
        try {
            std::rethrow_exception(e);
        } catch (const std::bad_alloc&) {
            what = "out of memory";
        } catch (const std::exception& x) {
            what = x.what();
        } catch (...) {
        }
    }
    for (auto& c : what)
        if (c == '\n') c = ' ';
    remove_temps();
    std::fprintf(stderr, "%s: error: %s\n", g_program, what.c_str());
    std::fflush(stderr);
    ::_exit(1);
}

// The watchdog thread of this process (a forked child has none until it
// starts its own; the section table's lock is held across fork so that the
// child never inherits it locked).
std::mutex g_start_mutex;
pid_t g_watchdog_pid = 0;

void start_watchdog() {
    std::lock_guard<std::mutex> lock(g_start_mutex);
    if (g_watchdog_pid == ::getpid()) return;
    static bool atfork = false;
    if (!atfork) {
        atfork = true;
        pthread_atfork([] { g_sections_mutex.lock(); }, [] { g_sections_mutex.unlock(); },
                       [] { g_sections_mutex.unlock(); });
    }
    // Signals go to the main thread, never to the watchdog.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    std::thread(watchdog_loop).detach();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    g_watchdog_pid = ::getpid();
}

double env_number(const char* name, double fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    double x = std::strtod(v, &end);
    return end && *end == '\0' && x > 0 && x < 1e9 ? x : fallback;
}

}  // namespace

ReadLimits read_limits() {
    ReadLimits l;
    l.base_seconds = env_number("ORBIT_READ_TIMEOUT", 10);
    l.base_memory = static_cast<std::size_t>(env_number("ORBIT_READ_MEMORY", 1024) * 1048576.0);
    return l;
}

void install(const std::string& program) {
    bool expected = false;
    if (!g_installed.compare_exchange_strong(expected, true)) return;
    std::snprintf(g_program, sizeof g_program, "%s", program.c_str());

    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction old{};
        sigaction(sig, nullptr, &old);
        if (old.sa_handler == SIG_IGN) continue;  // ignored by whoever started us: stays ignored
        struct sigaction sa{};
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&sa.sa_mask, s);
        sigaction(sig, &sa, nullptr);
    }

    std::set_terminate(on_terminate);

    static char alt_stack[1 << 16];
    stack_t ss{};
    ss.ss_sp = alt_stack;
    ss.ss_size = sizeof alt_stack;
    sigaltstack(&ss, nullptr);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
        struct sigaction sa{};
        sa.sa_sigaction = on_crash;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, nullptr);
    }
}

int register_temp(const std::string& path) {
    if (!g_installed.load()) install(g_program);
    if (path.size() >= sizeof g_temp_paths[0]) return -1;
    static std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    for (int i = 0; i < kSlots; ++i) {
        if (!g_used[i].load()) {
            std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
            g_used[i].store(1, std::memory_order_release);
            return i;
        }
    }
    return -1;
}

void release_temp(int slot) {
    if (slot >= 0 && slot < kSlots) g_used[slot].store(0, std::memory_order_release);
}

void remove_temps() noexcept {
    for (int i = 0; i < kSlots; ++i)
        if (g_used[i].load(std::memory_order_acquire)) ::unlink(g_temp_paths[i]);
}

void commit_begin() noexcept { g_committing.store(true); }

void commit_end(bool renamed) noexcept {
    if (renamed) {
        g_committed.store(true);
        try {
            start_watchdog();
        } catch (...) {
        }
    }
    g_committing.store(false);
    int held = g_held_signal.load();
    if (!renamed && held != 0) die_by(held);
}

void output_starting() {
    g_committed.store(false);
    int held = g_held_signal.load();
    if (held != 0) die_by(held);
}

bool signal_held() noexcept { return g_held_signal.load() != 0; }

Reading::Reading(const std::string& file, std::size_t expected_bytes, std::size_t memory_limit) {
    start_watchdog();
    const ReadLimits l = read_limits();
    const double seconds = l.base_seconds + static_cast<double>(expected_bytes) / l.bytes_per_second;
    const double memory = memory_limit > 0 ? static_cast<double>(memory_limit)
                                           : static_cast<double>(l.base_memory) + 2.0 * static_cast<double>(expected_bytes);
    std::lock_guard<std::mutex> lock(g_sections_mutex);
    int depth = g_depth.load();
    if (depth >= kDepth) return;  // deeper nesting keeps the outer section's limits
    Section& s = g_sections[depth];
    std::snprintf(s.file, sizeof s.file, "%s", file.c_str());
    s.seconds = seconds;
    s.deadline = now_seconds() + seconds;
    s.rss_limit_pages = resident_pages() + static_cast<long>(memory / static_cast<double>(page_bytes()));
    depth_ = depth;
    g_depth.store(depth + 1, std::memory_order_release);
}

Reading::~Reading() {
    if (depth_ < 0) return;
    std::lock_guard<std::mutex> lock(g_sections_mutex);
    g_depth.store(depth_, std::memory_order_release);
}

}  // namespace orbit::guard
