#include "orbit/core/progress.hpp"

#include <cstdio>
#include <unistd.h>

#include "orbit/core/log.hpp"

namespace orbit {

Progress::Progress(std::string label, std::int64_t total)
    : label_(std::move(label)), total_(total) {
    terminal_ = ::isatty(STDERR_FILENO) == 1;
    enabled_ = log::level() != log::Level::quiet;
    start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
    if (!finished_) finish();
}

void Progress::update(std::int64_t done, const std::string& note) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - start_).count();
    if (terminal_) {
        bool last = total_ > 0 && done >= total_;
        if (!last && now - last_draw_ < std::chrono::milliseconds(100)) return;
        last_draw_ = now;
        constexpr int width = 30;
        std::string bar;
        if (total_ > 0) {
            int filled = static_cast<int>(width * static_cast<double>(done) / static_cast<double>(total_));
            if (filled > width) filled = width;
            bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
        }
        std::fprintf(stderr, "\r%s: %s%s %lld", log::program().c_str(), bar.c_str(), label_.c_str(),
                     static_cast<long long>(done));
        if (total_ > 0) std::fprintf(stderr, "/%lld", static_cast<long long>(total_));
        std::fprintf(stderr, " %.1fs %s\033[K", elapsed, note.c_str());
        std::fflush(stderr);
        drawn_ = true;
    } else {
        // Thin very long loops so a log file gets at most ~100 progress lines.
        std::int64_t stride = total_ > 100 ? (total_ + 99) / 100 : 1;
        bool last = total_ > 0 && done >= total_;
        if (!last && last_line_step_ >= 0 && done - last_line_step_ < stride) return;
        last_line_step_ = done;
        std::string count = std::to_string(done) + (total_ > 0 ? "/" + std::to_string(total_) : "");
        std::fprintf(stderr, "%s: %s %s %.2fs%s%s\n", log::program().c_str(), label_.c_str(), count.c_str(),
                     elapsed, note.empty() ? "" : " ", note.c_str());
    }
}

void Progress::finish(const std::string& note) {
    finished_ = true;
    if (!enabled_) return;
    if (terminal_ && drawn_) {
        std::fprintf(stderr, "\n");
    }
    if (!note.empty()) log::info(label_ + ": " + note);
}

}  // namespace orbit
