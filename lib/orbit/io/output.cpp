#include "orbit/io/output.hpp"

#include <pthread.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <csignal>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "orbit/core/guard.hpp"
#include "orbit/core/version.hpp"

namespace orbit::io {
namespace {

bool g_stdout_data = false;
std::string g_invocation = "orbit";

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

OutputTarget check_output(const std::string& path, bool binary) {
    namespace fs = std::filesystem;
    if (path.empty()) throw UsageError("no output file given (use -o FILE, or -o - for stdout)");
    if (path == "-") {
        if (binary && ::isatty(STDOUT_FILENO))
            throw UsageError("refusing to write binary HDF5 to a terminal; redirect stdout or use -o FILE");
        return OutputTarget::standard_output;
    }
    const std::string quoted = "'" + path + "'";
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) throw Error("cannot write " + quoted + ": it is a directory");
        if (!S_ISREG(st.st_mode)) {
            // A device, fifo or socket is written into, never replaced.
            if (S_ISSOCK(st.st_mode)) throw Error("cannot write " + quoted + ": it is a socket");
            if (binary && S_ISCHR(st.st_mode)) {
                int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
                bool tty = fd >= 0 && ::isatty(fd);
                if (fd >= 0) ::close(fd);
                if (tty) throw UsageError("refusing to write binary output to the terminal " + quoted);
            }
            if (::access(path.c_str(), W_OK) != 0)
                throw Error("cannot write " + quoted + ": " + std::strerror(errno));
            return OutputTarget::stream;
        }
    }
    fs::path p(path);
    fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw Error("cannot write " + quoted + ": folder '" + dir.string() + "' does not exist");
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw Error("cannot write " + quoted + ": folder '" + dir.string() + "' is not writable (" +
                    std::strerror(errno) + ")");
    struct statvfs vfs;
    if (::statvfs(dir.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
        throw Error("cannot write " + quoted + ": folder '" + dir.string() + "' is on a read-only file system");
    return OutputTarget::file;
}

bool is_text_output(const std::string& path) {
    std::string e = std::filesystem::path(path).extension().string();
    for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return e == ".csv" || e == ".xyz" || e == ".txt" || e == ".pts" || e == ".svg" || e == ".json";
}

Output::Output(const std::string& path, const std::string& kind) : path_(path), kind_(kind) {
    if (check_output(path, true) == OutputTarget::standard_output) {
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
    // A signal held back since the previous output was finished ends the run
    // here, before anything new exists.
    guard::output_starting();
    stream_ = check_output(final_path, false) == OutputTarget::stream;
    fs::path p(final_path);
    // A device or fifo gets the finished bytes copied into it; the temporary
    // file then lives in the temporary folder, never beside the device.
    fs::path dir = stream_ ? fs::temp_directory_path() : p.has_parent_path() ? p.parent_path() : fs::path(".");
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
    slot_ = guard::register_temp(temp_);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    // mkstemp creates the file private (0600); give it the mode any new file would get.
    mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    ::close(fd);
}

TempFile::~TempFile() {
    if (!committed_) ::unlink(temp_.c_str());
    guard::release_temp(slot_);
}

namespace {
// Copies the finished temporary file into a device or fifo.
void copy_into(const std::string& from, const std::string& to) {
    int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) throw Error("cannot read back '" + from + "': " + std::strerror(errno));
    int out = ::open(to.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (out < 0) {
        int err = errno;
        ::close(in);
        throw Error("cannot write '" + to + "': " + std::strerror(err));
    }
    // A reader that goes away is an error here, not a silent death by SIGPIPE.
    struct sigaction ign{}, old{};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    std::vector<char> buf(1 << 20);
    int err = 0;
    for (;;) {
        ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n < 0) err = errno;
            break;
        }
        for (ssize_t done = 0; done < n && err == 0;) {
            ssize_t w = ::write(out, buf.data() + done, static_cast<std::size_t>(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) err = w < 0 ? errno : ENOSPC;
            else done += w;
        }
        if (err) break;
    }
    sigaction(SIGPIPE, &old, nullptr);
    ::close(in);
    if (::close(out) != 0 && err == 0 && errno != EINVAL) err = errno;
    if (err) throw Error("cannot write '" + to + "': " + std::strerror(err));
}
}  // namespace

void TempFile::commit() {
    if (committed_) return;
    if (stream_) {
        copy_into(temp_, final_);
        ::unlink(temp_.c_str());
        committed_ = true;
        return;
    }
    // Only a regular file (or nothing) is ever replaced: whatever appeared
    // under the name since the start is checked again right before the rename.
    struct stat st;
    if (::lstat(final_.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
        throw Error("cannot move the finished output into place as '" + final_ + "': it is no longer a regular file");
    guard::commit_begin();
    int rc = std::rename(temp_.c_str(), final_.c_str());
    int err = errno;
    if (rc == 0) {
        committed_ = true;
        guard::release_temp(slot_);
        slot_ = -1;
    }
    guard::commit_end(rc == 0);
    if (rc != 0)
        throw Error("cannot move the finished output into place as '" + final_ + "': " + std::strerror(err));
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
