#pragma once
// The bytes of foreign-format files: inputs mapped whole, outputs written
// atomically in pieces.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace orbit::io::formats {

// A whole input file, mapped rather than copied: reading a large binary file
// then costs no more than the conversion into the destination matrix.
class MappedFile {
public:
    // Maps `path`; throws orbit::Error for a missing, empty or non-regular file.
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    const char* begin() const { return ptr_; }
    const char* end() const { return ptr_ + size_; }
    std::size_t size() const { return size_; }

private:
    const char* ptr_ = nullptr;
    std::size_t size_ = 0;
};

// Receives the bytes of an output in pieces.
using Put = std::function<void(const char*, std::size_t)>;

// Writes what `produce` emits to a temporary file in the destination folder,
// then renames it into place; on any failure the temporary file is removed.
void write_atomic(const std::string& path, const std::function<void(const Put&)>& produce);

// Collects small writes into 1 MiB pieces, so large outputs need no
// full-size staging buffer.
class Chunks {
public:
    explicit Chunks(const Put& put) : put_(put), buf_(kSize) {}
    // Room for at least n more bytes; flushes when needed.
    char* reserve(std::size_t n) {
        if (used_ + n > buf_.size()) flush();
        if (n > buf_.size()) buf_.resize(n);
        return buf_.data() + used_;
    }
    void commit(char* end) { used_ = static_cast<std::size_t>(end - buf_.data()); }
    void flush() {
        if (used_) put_(buf_.data(), used_);
        used_ = 0;
    }

private:
    static constexpr std::size_t kSize = 1 << 20;
    const Put& put_;
    std::vector<char> buf_;
    std::size_t used_ = 0;
};

}  // namespace orbit::io::formats
