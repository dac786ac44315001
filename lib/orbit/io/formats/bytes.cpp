#include "orbit/io/formats/bytes.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "orbit/core/error.hpp"
#include "orbit/io/output.hpp"

namespace orbit::io::formats {

MappedFile::MappedFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw Error("cannot open '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error("cannot read '" + path + "': not a regular file");
    }
    if (st.st_size == 0) {
        ::close(fd);
        throw Error(path + ": file is empty");
    }
    void* m = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    int err = errno;
    ::close(fd);
    if (m == MAP_FAILED) throw Error("cannot read '" + path + "': " + std::strerror(err));
    ::madvise(m, static_cast<std::size_t>(st.st_size), MADV_SEQUENTIAL);
    ptr_ = static_cast<const char*>(m);
    size_ = static_cast<std::size_t>(st.st_size);
}

MappedFile::~MappedFile() {
    if (ptr_) ::munmap(const_cast<char*>(ptr_), size_);
}

void write_atomic(const std::string& path, const std::function<void(const Put&)>& produce) {
    TempFile temp(path);  // removed on failure and on SIGINT/SIGTERM/SIGHUP
    int fd = ::open(temp.name().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) throw Error("cannot write '" + path + "': " + std::strerror(errno));
    bool ok = true;
    int err = 0;
    Put put = [&](const char* p, std::size_t n) {
        while (ok && n > 0) {
            ssize_t w = ::write(fd, p, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                ok = false;
                err = w < 0 ? errno : ENOSPC;
                return;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    };
    try {
        produce(put);
    } catch (...) {
        ::close(fd);
        throw;
    }
    if (::close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) throw Error("cannot write '" + path + "': " + std::strerror(err));
    temp.commit();
}

}  // namespace orbit::io::formats
