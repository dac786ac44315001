#include "orbit/io/output.hpp"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "orbit/core/version.hpp"

namespace orbit::io {
namespace {

// Temporary files to remove if a signal arrives; fixed storage so the handler
// only touches async-signal-safe state.
constexpr int kSlots = 32;
char g_temp_paths[kSlots][4096];
volatile std::sig_atomic_t g_used[kSlots];
bool g_handlers_installed = false;
bool g_stdout_data = false;
std::string g_invocation = "orbit";

void on_signal(int sig) {
    for (int i = 0; i < kSlots; ++i)
        if (g_used[i]) ::unlink(g_temp_paths[i]);
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

void install_handlers() {
    if (g_handlers_installed) return;
    g_handlers_installed = true;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_signal);
}

int register_temp(const std::string& path) {
    install_handlers();
    if (path.size() >= sizeof g_temp_paths[0]) return -1;
    for (int i = 0; i < kSlots; ++i) {
        if (!g_used[i]) {
            std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
            g_used[i] = 1;
            return i;
        }
    }
    return -1;
}

void release_temp(int slot) {
    if (slot >= 0) g_used[slot] = 0;
}

std::string shell_quote(const std::string& s) {
    bool plain = !s.empty();
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./:=,+@%", c))) plain = false;
    if (plain) return s;
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

}  // namespace

void set_invocation(const std::string& program, const std::vector<std::string>& args) {
    g_invocation = program;
    for (auto& a : args) g_invocation += " " + shell_quote(a);
}

std::string history_line() {
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(stamp) + " " + g_invocation + " (orbit " + ORBIT_VERSION + ")";
}

bool stdout_is_data() { return g_stdout_data; }

std::vector<std::string> read_history(const h5::File& file) {
    std::vector<std::string> lines;
    if (!file.has_attr("/", "history")) return lines;
    std::string text;
    try {
        text = file.attr_string("/", "history");
    } catch (const Error&) {
        return lines;  // a foreign file with a non-string history attribute
    }
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

Output::Output(const std::string& path, const std::string& kind) : path_(path), kind_(kind) {
    if (path.empty()) throw UsageError("no output file given (use -o FILE, or -o - for stdout)");
    if (path == "-") {
        if (::isatty(STDOUT_FILENO))
            throw UsageError("refusing to write binary HDF5 to a terminal; redirect stdout or use -o FILE");
        g_stdout_data = true;
        file_ = h5::File::create_in_memory("<stdout>");
        return;
    }
    temp_ = std::make_unique<TempFile>(path);
    file_ = h5::File::create(temp_->name());
}

Output::~Output() {
    if (!committed_) file_.close();  // before the TempFile removes the file
}

TempFile::TempFile(const std::string& final_path) : final_(final_path) {
    namespace fs = std::filesystem;
    fs::path p(final_path);
    fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw Error("cannot write '" + final_path + "': folder '" + dir.string() + "' does not exist");
    if (fs::is_directory(p, ec)) throw Error("cannot write '" + final_path + "': it is a directory");
    std::string tmpl = (dir / ("." + p.filename().string() + ".tmp-XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    // Hold the signals back until the new file is registered for cleanup: a signal
    // arriving between its creation and its registration would leave it behind.
    sigset_t stop, previous;
    sigemptyset(&stop);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop, sig);
    pthread_sigmask(SIG_BLOCK, &stop, &previous);
    int fd = ::mkstemp(buf.data());
    if (fd < 0) {
        int err = errno;
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        throw Error("cannot write in folder '" + dir.string() + "': " + std::strerror(err));
    }
    temp_ = buf.data();
    slot_ = register_temp(temp_);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    // mkstemp creates the file private (0600); give it the mode any new file would get.
    mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    ::close(fd);
}

TempFile::~TempFile() {
    if (!committed_) ::unlink(temp_.c_str());
    release_temp(slot_);
}

void TempFile::commit() {
    if (committed_) return;
    if (std::rename(temp_.c_str(), final_.c_str()) != 0)
        throw Error("cannot move the finished output into place as '" + final_ + "': " + std::strerror(errno));
    committed_ = true;
}

void Output::inherit_history(const h5::File& input) { add_history_lines(read_history(input)); }

void Output::add_history_lines(const std::vector<std::string>& lines) {
    history_.insert(history_.end(), lines.begin(), lines.end());
}

void Output::commit() {
    if (committed_) return;
    file_.set_attr("/", "orbit_format", "orbit/1");
    file_.set_attr("/", "orbit_kind", kind_);
    file_.set_attr("/", "orbit_version", ORBIT_VERSION);
    std::string history;
    for (auto& l : history_) history += l + "\n";
    history += history_line();
    file_.set_attr("/", "history", history);
    if (path_ == "-") {
        file_.write_image(stdout);
        file_.close();
    } else {
        file_.close();
        temp_->commit();
    }
    committed_ = true;
}

}  // namespace orbit::io
