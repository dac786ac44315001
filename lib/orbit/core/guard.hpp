#pragma once
// Last-resort protection of a run against inputs a user did not make.
//
// Three things live here, because the signal handlers need all of them:
//  - the temporary outputs to remove when the process dies early (an
//    async-signal-safe table; io::TempFile registers its files here);
//  - handlers for SIGINT/SIGTERM/SIGHUP (remove the temporaries, then die by
//    the signal) and for SIGSEGV/SIGBUS/SIGFPE/SIGILL on an alternate stack
//    (remove the temporaries, print one line naming the file being read, exit 1);
//  - a watchdog thread that ends the run with one line and exit 1 when a read
//    of a file by a third-party library (HDF5) does not finish in time or grows
//    the process's memory far beyond what the read needs.
//
// A signal that was ignored when the program started (nohup, background jobs
// of a non-interactive shell) stays ignored: orbit never installs a handler
// for it. A signal that arrives after an output was renamed into place, while
// no other output is being written, does not undo that output: the run is
// allowed up to one second to finish and exit normally, after which the signal
// takes effect (see docs/robustness.md).
#include <cstddef>
#include <string>

namespace orbit::guard {

// Installs the signal handlers and the alternate stack (once; the first call
// also records the program name used in the one-line messages).
void install(const std::string& program);

// Temporary outputs: register before anything is written to the path, release
// once it is renamed or removed. register_temp returns a slot (or -1 when the
// table is full or the path too long: the file is then only removed by its owner).
int register_temp(const std::string& path);
void release_temp(int slot);
// Removes every registered temporary now (async-signal-safe).
void remove_temps() noexcept;

// Bracket the rename of a finished output: a stop signal arriving from
// commit_begin() on is held back. When the rename succeeded the output is
// complete and the held signal only takes effect if the run goes on for more
// than a second or starts another output; when it failed, it takes effect
// at once. output_starting() is called before a new output is created.
void commit_begin() noexcept;
void commit_end(bool renamed) noexcept;
void output_starting();
// True when a signal was held back after the last commit (the run then ends
// normally, its outputs complete).
bool signal_held() noexcept;

// A stretch of code in which a third-party library reads `file`. While one is
// open the watchdog ends the run ("FILE: damaged HDF5 file (...)", exit 1,
// temporaries removed) when it lasts longer than its time limit or the
// process's resident memory grows by more than its memory limit, and a crash
// inside it is reported as damage to `file`. Sections nest (the innermost
// names the file). `expected_bytes` is what the read legitimately needs
// (its destination buffer); it widens both limits.
class Reading {
public:
    // memory_limit (bytes, 0 for the default) replaces the memory limit when the
    // caller knows a tighter bound (an attribute cannot be longer than its file).
    explicit Reading(const std::string& file, std::size_t expected_bytes = 0, std::size_t memory_limit = 0);
    ~Reading();
    Reading(const Reading&) = delete;
    Reading& operator=(const Reading&) = delete;

private:
    int depth_ = -1;
};

// Limits of a Reading: seconds = base + expected_bytes / rate, memory =
// base + 2 * expected_bytes. The base values come from ORBIT_READ_TIMEOUT
// (seconds, default 20) and ORBIT_READ_MEMORY (MiB, default 2048) when set.
struct ReadLimits {
    double base_seconds = 20;
    double bytes_per_second = 8e6;  // slowest credible rate of a legitimate read (compressed, slow disk)
    std::size_t base_memory = std::size_t(2048) << 20;
};
ReadLimits read_limits();

}  // namespace orbit::guard
