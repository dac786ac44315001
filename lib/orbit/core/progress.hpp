#pragma once
// Progress reporting on stderr for long work.
//
// On a terminal a single bar is redrawn in place (at most ~10 times a second);
// when stderr is a file or pipe, one line per step is written (thinned to at
// most ~100 lines for very long loops) so batch logs stay readable. Nothing is
// printed with --quiet. Safe to call update() from one thread only.
#include <chrono>
#include <cstdint>
#include <string>

namespace orbit {

class Progress {
public:
    // label: what is being done ("sinkhorn", "epoch"); total: number of steps (0 if unknown).
    Progress(std::string label, std::int64_t total);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // Marks step `done` (1-based count of finished steps) with an optional note such as "loss 1.23".
    void update(std::int64_t done, const std::string& note = "");
    // Finishes the bar (newline on a terminal). Called by the destructor too.
    void finish(const std::string& note = "");

private:
    std::string label_;
    std::int64_t total_;
    std::int64_t last_line_step_ = -1;
    bool terminal_;
    bool enabled_;
    bool finished_ = false;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace orbit
