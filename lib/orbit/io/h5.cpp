#include "orbit/io/h5.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <type_traits>

#include "orbit/core/guard.hpp"
#include "orbit/core/memory.hpp"

namespace orbit::h5 {
namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

template <class T>
hid_t native_type() {
    if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
    else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
    else if constexpr (std::is_same_v<T, std::int8_t>) return H5T_NATIVE_INT8;
    else if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
    else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
    else if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
    else if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
    else static_assert(sizeof(T) == 0, "unsupported element type");
}

DType classify(hid_t type) {
    H5T_class_t cls = H5Tget_class(type);
    std::size_t size = H5Tget_size(type);
    if (cls == H5T_FLOAT) return size == 4 ? DType::f32 : size == 8 ? DType::f64 : DType::other;
    if (cls == H5T_INTEGER) {
        bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
        switch (size) {
            case 1: return is_signed ? DType::i8 : DType::u8;
            case 2: return is_signed ? DType::i16 : DType::u16;
            case 4: return is_signed ? DType::i32 : DType::u32;
            case 8: return is_signed ? DType::i64 : DType::u64;
            default: return DType::other;
        }
    }
    if (cls == H5T_STRING) return DType::string;
    return DType::other;
}

std::size_t physical_memory_bytes() {
    long pages = sysconf(_SC_PHYS_PAGES);
    long page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0) return std::size_t(1) << 40;
    return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page);
}

std::vector<std::size_t> space_shape(hid_t space) {
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0) throw Error("cannot read a dataspace");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    return {dims.begin(), dims.end()};
}

// "3.1 KB", "24 TB": sizes in messages.
std::string bytes_text(double b) {
    const char* units[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
    int u = 0;
    while (b >= 1000 && u < 6) {
        b /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return buf;
}

// The descriptions on HDF5's error stack, innermost last, joined by "; ".
std::string error_stack_text() {
    std::string text;
    auto cb = [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        auto* t = static_cast<std::string*>(data);
        if (e && e->desc) {
            if (!t->empty()) *t += "; ";
            *t += e->desc;
        }
        return 0;
    };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, cb, &text);
    return text;
}

// Why H5Fopen refused `path`, in one line a user can act on.
std::string open_failure(const std::string& path) {
    std::string why = error_stack_text();
    for (auto& c : why) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (why.find("unable to lock") != std::string::npos || why.find("lock the file") != std::string::npos)
        return "cannot open '" + path + "': it is locked by another program that has it open (HDF5 file locking); "
               "wait for that program to finish, or set HDF5_USE_FILE_LOCKING=FALSE to read it anyway";
    if (why.find("already open for write") != std::string::npos)
        return "cannot open '" + path + "': it is open for writing in another program, or that program did not close "
               "it (run 'h5clear -s " + path + "' if no program is writing it; HDF5_USE_FILE_LOCKING=FALSE does not help here)";
    return "cannot open '" + path + "' as HDF5: the file is truncated or damaged";
}

// Reads may expand what a file stores by at most the best ratio of the filter
// chain (deflate peaks near 1032:1; 4096 leaves room for n-bit packing in
// front of it), plus at most this many bytes of never-written fill values.
constexpr double kMaxFilterExpansion = 4096;
constexpr double kMaxFillBytes = 256.0 * (1 << 20);

// Refuses a dataset whose declared size cannot be backed by the file: it
// needs more stored bytes than the file has, or reading it would produce far
// more values than the file holds (see docs/robustness.md).
void check_storage(hid_t ds, double file_bytes, const std::string& where) {
    Handle type(H5Dget_type(ds), H5Tclose);
    Handle space(H5Dget_space(ds), H5Sclose);
    Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
    if (!type || !space || !dcpl) throw Error(where + ": damaged HDF5 file (unreadable dataset header)");
    const double element = static_cast<double>(H5Tget_size(type.get()));
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (element <= 0 || rank < 0) throw Error(where + ": damaged HDF5 file (unreadable type or shape)");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    double logical = element;
    for (hsize_t d : dims) logical *= static_cast<double>(d);
    const std::string shape = shape_string(dims);
    if (H5Pget_external_count(dcpl.get()) > 0)
        throw Error(where + ": its values are stored in external files, which orbit does not read");
    const H5D_layout_t layout = H5Pget_layout(dcpl.get());
    if (layout == H5D_VIRTUAL) throw Error(where + ": a virtual dataset (values in other files), which orbit does not read");
    const double stored = static_cast<double>(H5Dget_storage_size(ds));
    if (stored > file_bytes)
        throw Error(where + ": damaged HDF5 file (" + bytes_text(stored) + " of stored values in a file of " +
                    bytes_text(file_bytes) + ")");
    double backed = stored;
    if (layout == H5D_CONTIGUOUS) {
        const haddr_t offset = H5Dget_offset(ds);
        if (offset != HADDR_UNDEF) {
            if (static_cast<double>(offset) + logical > file_bytes)
                throw Error(where + ": the file is truncated (shape " + shape + " needs " + bytes_text(logical) +
                            " from offset " + std::to_string(offset) + ", the file has " + bytes_text(file_bytes) + ")");
            backed = logical;
        }
    } else if (layout == H5D_CHUNKED && H5Pget_nfilters(dcpl.get()) > 0) {
        backed = stored * kMaxFilterExpansion;
    }
    // Fill values are counted as read (float64 at most eight times a stored byte).
    const double widening = std::max(element, 8.0) / element;
    if ((logical - backed) * widening > kMaxFillBytes)
        throw Error(where + ": shape " + shape + " declares " + bytes_text(logical) + " but the file stores " +
                    bytes_text(stored) + " of it (a damaged or never-written dataset)");
}

std::uint64_t little_endian(const unsigned char* p, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// Checks the global heap collections in `window` (bytes [offset, offset+size)
// of a file): HDF5 keeps variable-length strings there, and
// HDF5 1.10 trusts their object sizes, so that an object of size 0 makes it
// loop forever and an oversized one makes it read past its buffer. A
// collection is "GCOL", version 1, three zero bytes, its size (8 bytes), then
// objects of 16-byte headers (index 2, references 2, reserved 4, size 8) and
// data padded to 8 bytes; object 0 is the free space to the end. This is a
// check ahead of the library, not a proof: the guard's watchdog and crash
// handler remain behind it.
namespace {
struct HeapCandidate {
    std::size_t begin, end;  // bytes of the window
    bool clean;              // its objects tile it as HDF5 writes them
    std::string damage;      // why not, when it is damaged
    std::vector<std::uint64_t> objects;  // indices of its objects before the damage
};

// Walks the objects of the collection at `hit` (`coll` bytes): "" when they
// tile it (or stop at a header HDF5 did not write: a leftover overwritten in
// part), else what is wrong.
std::string heap_damage(const unsigned char* hit, std::uint64_t coll, bool& leftover,
                        std::vector<std::uint64_t>& objects) {
    leftover = false;
    for (std::uint64_t p = 16; p + 16 <= coll;) {
        const unsigned char* h = hit + p;
        const std::uint64_t index = little_endian(h, 2), bytes = little_endian(h + 8, 8);
        // HDF5 writes zeros in the reserved bytes; anything else is not an
        // object header written by HDF5 (a leftover overwritten in part).
        if (little_endian(h + 4, 4) != 0) {
            leftover = true;
            return "";
        }
        if (bytes > coll) return "object " + std::to_string(index) + " is larger than its collection";
        const std::uint64_t need = index == 0 ? bytes : 16 + ((bytes + 7) & ~std::uint64_t(7));
        if (need == 0) return "an empty free-space object";
        if (p + need > coll) return "object " + std::to_string(index) + " runs past its collection";
        if (index == 0) break;
        objects.push_back(index);
        p += need;
    }
    return "";
}

// Whether `window` holds a heap ID naming an object of the collection at file
// address `address`: its 8 address bytes followed by the 4-byte index of one of
// its `objects` (the form of a variable-length value stored in an attribute or
// dataset). Other addresses equal to it (the superblock's end of file, say)
// are not followed by such an index.
bool heap_referenced(const unsigned char* window, std::size_t size, std::uint64_t address,
                     const std::vector<std::uint64_t>& objects) {
    unsigned char pattern[8];
    for (int i = 0; i < 8; ++i) pattern[i] = static_cast<unsigned char>(address >> (8 * i));
    const unsigned char* end = window + size;
    for (const unsigned char* q = window; q + 12 <= end;) {
        auto* hit = static_cast<const unsigned char*>(::memmem(q, static_cast<std::size_t>(end - q), pattern, 8));
        if (!hit || hit + 12 > end) return false;
        const std::uint64_t index = little_endian(hit + 8, 4);
        if (std::find(objects.begin(), objects.end(), index) != objects.end()) return true;
        q = hit + 1;
    }
    return false;
}
}  // namespace

void check_global_heaps(const unsigned char* window, std::size_t size, std::size_t offset, const std::string& name) {
    static const unsigned char sig[8] = {'G', 'C', 'O', 'L', 1, 0, 0, 0};
    const unsigned char* end = window + size;
    std::vector<HeapCandidate> found;
    for (const unsigned char* q = window; q + 16 <= end;) {
        auto* hit = static_cast<const unsigned char*>(::memmem(q, static_cast<std::size_t>(end - q), sig, sizeof sig));
        if (!hit || hit + 16 > end) break;
        q = hit + 1;
        const std::uint64_t coll = little_endian(hit + 8, 8);
        // One that does not fit in what was scanned is skipped: a live one
        // cut short by the end of the file fails in HDF5's own checks.
        if (coll < 16 || coll > static_cast<std::uint64_t>(end - hit)) continue;
        bool leftover = false;
        std::vector<std::uint64_t> objects;
        std::string damage = heap_damage(hit, coll, leftover, objects);
        const std::size_t b = static_cast<std::size_t>(hit - window);
        found.push_back({b, b + static_cast<std::size_t>(coll), damage.empty() && !leftover, std::move(damage),
                         std::move(objects)});
    }
    // HDF5 does not wipe freed space, so a freed collection can linger where
    // a live one was written over it later. A damaged collection is taken for
    // such a leftover only when a clean collection overlaps it (live ones
    // never overlap); a signature alone inside it is not enough, since the
    // strings a live collection holds can contain anything. Nor is an overlap
    // enough when a heap ID in the file names the damaged collection: that
    // one is live (the clean one a copy over it), and HDF5 would read it.
    std::size_t clean_end = 0;  // furthest end of a clean collection so far
    for (std::size_t i = 0; i < found.size(); ++i) {
        const HeapCandidate& c = found[i];
        if (!c.damage.empty()) {
            bool overlapped = clean_end > c.begin;
            for (std::size_t j = i + 1; !overlapped && j < found.size() && found[j].begin < c.end; ++j)
                overlapped = found[j].clean;
            if (!overlapped || heap_referenced(window, size, offset + c.begin, c.objects))
                throw Error(name + ": damaged HDF5 file (global heap at byte " + std::to_string(offset + c.begin) +
                            ": " + c.damage + ")");
        }
        if (c.clean) clean_end = std::max(clean_end, c.end);
    }
}

// Scans a whole file (or, above 256 MiB, its first and last 64 MiB, where
// HDF5 keeps the heaps of attributes) for damaged global heaps.
void check_file_heaps(const std::string& path, double file_bytes, const std::string& name) {
    const std::size_t total = static_cast<std::size_t>(file_bytes);
    const std::size_t window = std::size_t(64) << 20;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // H5Fopen has read it; a vanished file fails on the next read
    auto scan = [&](std::size_t offset, std::size_t bytes) {
        const std::size_t page = 4096, start = offset / page * page;
        void* m = ::mmap(nullptr, bytes + (offset - start), PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(start));
        if (m == MAP_FAILED) return;
        try {
            check_global_heaps(static_cast<const unsigned char*>(m) + (offset - start), bytes, offset, name);
        } catch (...) {
            ::munmap(m, bytes + (offset - start));
            throw;
        }
        ::munmap(m, bytes + (offset - start));
    };
    try {
        if (total <= 4 * window) {
            scan(0, total);
        } else {
            scan(0, window);
            scan(total - window, window);
        }
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
}

// Hard links to datasets below `group`, in name order (soft and external
// links are not followed: they may point anywhere).
std::vector<std::string> dataset_paths(hid_t file, const std::string& group, std::size_t limit) {
    struct Ctx {
        std::string base;
        std::vector<std::string> names;
        std::size_t limit;
    } ctx{group == "/" ? "" : group, {}, limit};
    auto cb = [](hid_t loc, const char* name, const H5L_info_t* info, void* data) -> herr_t {
        auto* c = static_cast<Ctx*>(data);
        if (!info || info->type != H5L_TYPE_HARD) return 0;
        hid_t obj = H5Oopen(loc, name, H5P_DEFAULT);
        if (obj >= 0) {
            if (H5Iget_type(obj) == H5I_DATASET) c->names.push_back(c->base + "/" + name);
            H5Oclose(obj);
        }
        return c->names.size() >= c->limit ? 1 : 0;
    };
    Handle g(H5Gopen2(file, group.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g) return {};
    H5Lvisit(g.get(), H5_INDEX_NAME, H5_ITER_INC, cb, &ctx);
    return ctx.names;
}

Handle string_type() {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return Handle(t, H5Tclose);
}

}  // namespace

std::string dtype_name(DType t) {
    switch (t) {
        case DType::f32: return "float32";
        case DType::f64: return "float64";
        case DType::i8: return "int8";
        case DType::i16: return "int16";
        case DType::i32: return "int32";
        case DType::i64: return "int64";
        case DType::u8: return "uint8";
        case DType::u16: return "uint16";
        case DType::u32: return "uint32";
        case DType::u64: return "uint64";
        case DType::string: return "string";
        default: return "other";
    }
}

void silence_errors() {
    static bool done = false;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        done = true;
    }
}

bool looks_like_hdf5(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char sig[8] = {};
    in.read(sig, 8);
    return in.gcount() == 8 && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

DatasetRef parse_ref(const std::string& arg) {
    // "FILE:/path" selects a dataset; a bare FILE names the whole file.
    auto pos = arg.find(":/");
    if (pos == std::string::npos || pos == 0) return {arg, ""};
    return {arg.substr(0, pos), arg.substr(pos + 1)};
}

bool ImageBuffer::reserve(std::size_t bytes) {
    if (bytes <= capacity) return true;
    const std::size_t page = 1 << 12;
    const std::size_t want = (std::max(bytes, capacity * 2) + page - 1) / page * page;
    void* p = data ? ::mremap(data, capacity, want, MREMAP_MAYMOVE)
                   : ::mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    data = static_cast<char*>(p);
    capacity = want;
    advise_huge_pages(data, capacity);
    return true;
}

void ImageBuffer::release() {
    if (data) ::munmap(data, capacity);
    data = nullptr;
    size = capacity = 0;
}

File File::open_read(const std::string& path) {
    silence_errors();
    if (path == "-") {
        if (::isatty(STDIN_FILENO)) throw UsageError("input '-' is a terminal; pipe an HDF5 file into it");
        auto image = std::make_shared<ImageBuffer>();
        // A redirected regular file tells its size; a pipe grows the buffer.
        struct stat st;
        std::size_t first = std::size_t(1) << 22;
        if (::fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
            first = static_cast<std::size_t>(st.st_size) + 1;
        if (!image->reserve(first)) throw std::bad_alloc();
        ssize_t n;
        while ((n = ::read(STDIN_FILENO, image->data + image->size, image->capacity - image->size)) != 0) {
            if (n < 0) {
                if (errno == EINTR) continue;
                throw Error(std::string("reading standard input failed: ") + std::strerror(errno));
            }
            image->size += static_cast<std::size_t>(n);
            if (image->size == image->capacity && !image->reserve(image->capacity * 2)) throw std::bad_alloc();
        }
        if (image->size == 0) throw Error("standard input is empty: expected an HDF5 file image");
        return open_image_buffer(std::move(image), "<stdin>");
    }
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw Error("cannot open " + quoted(path) + ": no such file");
    if (std::filesystem::is_directory(path, ec)) throw Error("cannot open " + quoted(path) + ": is a directory");
    if (std::filesystem::file_size(path, ec) == 0) throw Error(quoted(path) + " is empty: expected an HDF5 file");
    if (!looks_like_hdf5(path)) throw Error(quoted(path) + " is not an HDF5 file (no HDF5 signature)");
    File f;
    f.name_ = path;
    f.file_bytes_ = static_cast<double>(std::filesystem::file_size(path, ec));
    f.reading_ = true;
    guard::Reading reading(path);
    H5Eclear2(H5E_DEFAULT);
    hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) throw Error(open_failure(path));
    f.file_ = Handle(id, H5Fclose);
    f.check_all_storage();
    check_file_heaps(path, f.file_bytes_, path);
    return f;
}

void File::check_all_storage() const {
    guard::Reading reading(name_);
    for (const std::string& path : dataset_paths(id(), "/", 100000)) {
        Handle ds(H5Dopen2(id(), path.c_str(), H5P_DEFAULT), H5Dclose);
        if (!ds) throw Error(name_ + ":" + path + ": damaged HDF5 file (the dataset cannot be opened)");
        check_storage(ds.get(), file_bytes_, name_ + ":" + path);
    }
}

namespace {
// Zero-copy, read-only file image callbacks: every "copy" HDF5 asks for is the
// caller's buffer itself, and nothing is freed by HDF5. (The high-level
// H5LTopen_file_image does the same but leaks its bookkeeping in HDF5 1.10.)
void* image_malloc(size_t, H5FD_file_image_op_t, void* udata) { return static_cast<ImageBuffer*>(udata)->data; }
void* image_memcpy(void* dest, const void* src, size_t size, H5FD_file_image_op_t, void*) {
    if (dest != src) std::memcpy(dest, src, size);
    return dest;
}
void* image_realloc(void*, size_t, H5FD_file_image_op_t, void*) { return nullptr; }  // read only
herr_t image_free(void*, H5FD_file_image_op_t, void*) { return 0; }
void* udata_copy(void* udata) { return udata; }
herr_t udata_free(void*) { return 0; }

// Callbacks that let an in-memory file keep its bytes in an ImageBuffer of
// ours, so write_image() can write them out without H5Fget_file_image's copy.
// The core driver holds one buffer at a time, so it is always b->data.
void* memory_malloc(size_t size, H5FD_file_image_op_t, void* udata) {
    auto* b = static_cast<ImageBuffer*>(udata);
    b->release();
    if (!b->reserve(std::max<std::size_t>(size, 1))) return nullptr;
    b->size = size;
    return b->data;
}
void* memory_realloc(void* ptr, size_t size, H5FD_file_image_op_t op, void* udata) {
    auto* b = static_cast<ImageBuffer*>(udata);
    if (!ptr) return memory_malloc(size, op, udata);
    if (ptr != b->data || !b->reserve(std::max<std::size_t>(size, 1))) return nullptr;
    b->size = size;
    return b->data;
}
herr_t memory_free(void* ptr, H5FD_file_image_op_t, void* udata) {
    auto* b = static_cast<ImageBuffer*>(udata);
    if (ptr && ptr == b->data) b->release();
    return 0;
}
}  // namespace

File File::open_image(std::vector<char> image, const std::string& display_name) {
    auto buffer = std::make_shared<ImageBuffer>();
    if (!buffer->reserve(std::max<std::size_t>(image.size(), 1))) throw std::bad_alloc();
    if (!image.empty()) std::memcpy(buffer->data, image.data(), image.size());
    buffer->size = image.size();
    return open_image_buffer(std::move(buffer), display_name);
}

File File::open_image_buffer(std::shared_ptr<ImageBuffer> image, const std::string& display_name) {
    silence_errors();
    if (image->size < 8 || std::memcmp(image->data, "\x89HDF\r\n\x1a\n", 8) != 0)
        throw Error(display_name + " is not an HDF5 file image (no HDF5 signature)");
    File f;
    f.image_ = std::move(image);
    f.name_ = display_name;
    f.file_bytes_ = static_cast<double>(f.image_->size);
    f.reading_ = true;
    guard::Reading reading(display_name);
    Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    H5Pset_fapl_core(fapl.get(), 1 << 16, 0);
    H5FD_file_image_callbacks_t cb = {image_malloc, image_memcpy, image_realloc, image_free,
                                      udata_copy,   udata_free,   f.image_.get()};
    H5Pset_file_image_callbacks(fapl.get(), &cb);
    H5Pset_file_image(fapl.get(), f.image_->data, f.image_->size);
    static int counter = 0;
    std::string internal = "orbit-image-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".h5";
    hid_t id = H5Fopen(internal.c_str(), H5F_ACC_RDONLY, fapl.get());
    if (id < 0) throw Error("cannot open " + display_name + " as HDF5: the image is truncated or damaged");
    f.file_ = Handle(id, H5Fclose);
    f.check_all_storage();
    check_global_heaps(reinterpret_cast<const unsigned char*>(f.image_->data), f.image_->size, 0, display_name);
    return f;
}

File File::create(const std::string& path) {
    silence_errors();
    hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (id < 0) throw Error("cannot create " + quoted(path) + " (is the folder writable?)");
    File f;
    f.file_ = Handle(id, H5Fclose);
    f.name_ = path;
    return f;
}

File File::create_in_memory(const std::string& display_name) {
    silence_errors();
    Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    H5Pset_fapl_core(fapl.get(), std::size_t(1) << 24, 0);  // large steps: few reallocations
    File f;
    f.image_ = std::make_shared<ImageBuffer>();
    f.image_writable_ = true;
    H5FD_file_image_callbacks_t cb = {memory_malloc, image_memcpy, memory_realloc, memory_free,
                                      udata_copy,    udata_free,   f.image_.get()};
    H5Pset_file_image_callbacks(fapl.get(), &cb);
    // The name must be unique among open in-memory files of this process.
    static int counter = 0;
    std::string internal = "orbit-memory-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".h5";
    hid_t id = H5Fcreate(internal.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
    if (id < 0) throw Error("cannot create an in-memory HDF5 file");
    f.file_ = Handle(id, H5Fclose);
    f.name_ = display_name;
    return f;
}

void File::close() {
    if (reading_ && file_) {
        // Closing frees what the reads cached: damaged metadata can bite here too.
        guard::Reading reading(name_);
        file_.reset();
    }
    file_.reset();
    image_.reset();
}

void File::write_image(std::FILE* out) {
    H5Fflush(id(), H5F_SCOPE_GLOBAL);
    // With no buffer, H5Fget_file_image only reports the image's size (the
    // end of allocated space), which the core driver's buffer covers.
    ssize_t size = H5Fget_file_image(id(), nullptr, 0);
    if (size < 0) throw Error("cannot take the image of " + name_);
    const char* bytes = nullptr;
    std::unique_ptr<char[]> copy;
    // The superblock's status flags record that the file is open for writing;
    // H5Fget_file_image clears them in its copy, and so does this header.
    char header[24];
    std::size_t header_size = 0;
    if (image_writable_ && image_ && image_->data && image_->size >= static_cast<std::size_t>(size) &&
        size >= 24 && std::memcmp(image_->data, "\x89HDF\r\n\x1a\n", 8) == 0 && image_->data[8] <= 3) {
        bytes = image_->data;
        header_size = sizeof header;
        std::memcpy(header, bytes, header_size);
        if (header[8] < 2) std::memset(header + 20, 0, 4);  // versions 0, 1: four bytes at 20
        else header[11] = 0;                               // versions 2, 3: one byte at 11
    } else {
        // Uninitialised storage: the image overwrites every byte, zero-filling would double the cost.
        copy.reset(new char[static_cast<std::size_t>(size)]);
        if (H5Fget_file_image(id(), copy.get(), static_cast<std::size_t>(size)) < 0)
            throw Error("cannot take the image of " + name_);
        bytes = copy.get();
    }
    std::size_t written = header_size ? std::fwrite(header, 1, header_size, out) : 0;
    written += std::fwrite(bytes + header_size, 1, static_cast<std::size_t>(size) - header_size, out);
    std::fflush(out);
    if (written != static_cast<std::size_t>(size)) throw Error("writing the HDF5 stream failed (closed pipe?)");
}

Handle File::open_object(const std::string& path) const {
    guard::Reading reading(name_);
    if (!exists(path)) throw Error(name_ + ": no dataset or group " + quoted(path));
    hid_t id = H5Oopen(this->id(), path.c_str(), H5P_DEFAULT);
    if (id < 0) throw Error(name_ + ": cannot open " + quoted(path));
    return Handle(id, H5Oclose);
}

Handle File::open_dataset(const std::string& path) const {
    guard::Reading reading(name_);
    if (!exists(path)) throw Error(name_ + ": missing dataset " + quoted(path));
    hid_t id = H5Dopen2(this->id(), path.c_str(), H5P_DEFAULT);
    if (id < 0) throw Error(name_ + ": " + quoted(path) + " is not a dataset");
    Handle ds(id, H5Dclose);
    // Again here: a damaged group can hide a dataset from the walk made on
    // opening (a fuzzed file declared 10 GB in 6.9 KB that way).
    if (reading_) check_storage(ds.get(), file_bytes_, name_ + ":" + path);
    return ds;
}

bool File::exists(const std::string& path) const {
    guard::Reading reading(name_);
    if (path == "/" || path.empty()) return true;
    // Check each component, since H5Lexists fails on a missing intermediate group.
    std::size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        std::string prefix = path.substr(0, pos);
        if (prefix.empty() || prefix == "/") continue;
        if (H5Lexists(id(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
        if (H5Oexists_by_name(id(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    return true;
}

bool File::is_dataset(const std::string& path) const {
    guard::Reading reading(name_);
    if (!exists(path)) return false;
    hid_t obj = H5Oopen(id(), path.c_str(), H5P_DEFAULT);
    if (obj < 0) return false;
    bool ds = H5Iget_type(obj) == H5I_DATASET;
    H5Oclose(obj);
    return ds;
}

DatasetInfo File::info(const std::string& path) const {
    guard::Reading reading(name_);
    Handle ds = open_dataset(path);
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    Handle space(H5Dget_space(ds.get()), H5Sclose);
    return {path, classify(type.get()), space_shape(space.get())};
}

std::vector<DatasetInfo> File::list_datasets(const std::string& group) const {
    guard::Reading reading(name_);
    Handle g(H5Gopen2(id(), group.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g) throw Error(name_ + ": no group " + quoted(group));
    g.reset();
    std::vector<DatasetInfo> out;
    for (auto& n : dataset_paths(id(), group, std::size_t(-1))) out.push_back(info(n));
    return out;
}

template <class T>
Array<T> File::read(const std::string& path, int expected_rank) const {
    Array<T> a;
    read_checked<T>(path, expected_rank, [&](const std::vector<std::size_t>& shape) {
        a.shape = shape;
        a.data.reserve(a.size());  // allocate, advise, then zero-fill
        advise_huge_pages(a.data.data(), a.size() * sizeof(T));
        a.data.resize(a.size());
        return a.data.data();
    });
    return a;
}

// Opens `path`, checks it is numeric (integers for integral T) of the expected
// rank and fits in memory, asks `destination(shape)` where to put the values
// and reads them there converted to T.
template <class T, class Destination>
void File::read_checked(const std::string& path, int expected_rank, Destination&& destination) const {
    std::optional<guard::Reading> header(std::in_place, name_);
    Handle ds = open_dataset(path);
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    Handle space(H5Dget_space(ds.get()), H5Sclose);
    DType dt = classify(type.get());
    std::string where = name_ + ":" + path;
    if (dt == DType::string || dt == DType::other)
        throw Error(where + ": expected a numeric array, found " +
                    (dt == DType::string ? std::string("strings") : std::string("a non-numeric type")));
    if constexpr (std::is_integral_v<T>) {
        if (dt == DType::f32 || dt == DType::f64)
            throw Error(where + ": expected integers, found " + dtype_name(dt));
    }
    const std::vector<std::size_t> shape = space_shape(space.get());
    if (expected_rank >= 0 && shape.size() != static_cast<std::size_t>(expected_rank))
        throw Error(where + ": expected a " + std::to_string(expected_rank) + "-d array, found shape " +
                    shape_string(shape));
    std::size_t n = 1;
    for (std::size_t s : shape) n *= s;
    if (n > physical_memory_bytes() / sizeof(T))
        throw Error(where + ": shape " + shape_string(shape) + " needs more memory than this machine has");
    header.reset();
    T* out = destination(shape);
    guard::Reading reading(name_, n * sizeof(T));
    if (n > 0 && H5Dread(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        throw Error(where + ": read failed (the file is truncated or damaged)");
}

Points File::read_matrix(const std::string& path) const {
    // Straight into the matrix: HDF5's C order is Points' row-major order, and
    // skipping an intermediate array saves a pass over fresh memory.
    Points m;
    read_checked<double>(path, 2, [&](const std::vector<std::size_t>& shape) {
        m.resize(static_cast<Eigen::Index>(shape[0]), static_cast<Eigen::Index>(shape[1]));
        advise_huge_pages(m.data(), static_cast<std::size_t>(m.size()) * sizeof(double));
        return m.data();
    });
    return m;
}

bool File::is_numeric(const std::string& path) const {
    if (!is_dataset(path)) return false;
    Handle ds = open_dataset(path);
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    const H5T_class_t c = H5Tget_class(type.get());
    return c == H5T_FLOAT || c == H5T_INTEGER;
}

namespace {
// The hyperslab of rows [begin, begin + count) of a 2-D dataset, and a memory space of that size.
struct RowBlock {
    Handle file_space, mem_space;
    RowBlock(hid_t ds, std::size_t begin, std::size_t count) : file_space(H5Dget_space(ds), H5Sclose) {
        hsize_t dims[2] = {0, 0};
        if (!file_space || H5Sget_simple_extent_ndims(file_space.get()) != 2) return;
        H5Sget_simple_extent_dims(file_space.get(), dims, nullptr);
        hsize_t start[2] = {begin, 0}, n[2] = {count, dims[1]};
        if (begin + count > dims[0] ||
            H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, n, nullptr) < 0)
            return;
        mem_space = Handle(H5Screate_simple(2, n, nullptr), H5Sclose);
    }
    explicit operator bool() const { return static_cast<bool>(mem_space); }
};
}  // namespace

void File::read_rows(const std::string& path, std::size_t begin, std::size_t count, double* out) const {
    Handle ds = open_dataset(path);
    RowBlock block(ds.get(), begin, count);
    if (!block || H5Dread(ds.get(), H5T_NATIVE_DOUBLE, block.mem_space.get(), block.file_space.get(), H5P_DEFAULT, out) < 0)
        throw Error(name_ + ":" + path + ": cannot read rows " + std::to_string(begin) + ".." +
                    std::to_string(begin + count - 1) + " (file damaged?)");
}

void File::create_matrix(const std::string& path, std::size_t rows, std::size_t cols) {
    ensure_parents(path);
    if (exists(path)) H5Ldelete(id(), path.c_str(), H5P_DEFAULT);
    hsize_t dims[2] = {rows, cols};
    Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
    Handle ds(H5Dcreate2(id(), path.c_str(), native_type<double>(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
    if (!ds) throw Error(name_ + ": cannot create dataset " + quoted(path));
}

void File::write_rows(const std::string& path, std::size_t begin, std::size_t count, const double* values) {
    Handle ds = open_dataset(path);
    RowBlock block(ds.get(), begin, count);
    if (!block || H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, block.mem_space.get(), block.file_space.get(), H5P_DEFAULT, values) < 0)
        throw Error(name_ + ": cannot write dataset " + quoted(path) + " (disk full?)");
}

std::vector<std::string> File::read_strings(const std::string& path) const {
    guard::Reading reading(name_);
    Handle ds = open_dataset(path);
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    Handle space(H5Dget_space(ds.get()), H5Sclose);
    if (H5Tget_class(type.get()) != H5T_STRING) throw Error(name_ + ":" + path + ": expected strings");
    hssize_t n = H5Sget_simple_extent_npoints(space.get());
    std::vector<std::string> out;
    if (H5Tis_variable_str(type.get()) > 0) {
        std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
        Handle mt = string_type();
        if (n > 0 && H5Dread(ds.get(), mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
            throw Error(name_ + ":" + path + ": read failed");
        for (auto* p : ptrs) out.emplace_back(p ? p : "");
        if (n > 0) H5Dvlen_reclaim(mt.get(), space.get(), H5P_DEFAULT, ptrs.data());
    } else {
        std::size_t len = H5Tget_size(type.get());
        std::vector<char> buf(static_cast<std::size_t>(n) * len);
        if (n > 0 && H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
            throw Error(name_ + ":" + path + ": read failed");
        for (hssize_t i = 0; i < n; ++i) {
            const char* p = buf.data() + static_cast<std::size_t>(i) * len;
            out.emplace_back(p, strnlen(p, len));
        }
    }
    return out;
}

void File::create_group(const std::string& path) {
    if (exists(path)) return;
    Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    Handle g(H5Gcreate2(id(), path.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g) throw Error(name_ + ": cannot create group " + quoted(path));
}

void File::ensure_parents(const std::string& path) {
    auto pos = path.rfind('/');
    if (pos != std::string::npos && pos > 0) create_group(path.substr(0, pos));
}

template <class T>
void File::write(const std::string& path, const Array<T>& array, bool compress) {
    if (array.data.size() != array.size())
        throw Error("internal: array data does not match its shape " + shape_string(array.shape));
    write_raw(path, array.shape, array.data.data(), compress);
}

template <class T>
void File::write_raw(const std::string& path, const std::vector<std::size_t>& shape, const T* values, bool compress) {
    ensure_parents(path);
    if (exists(path)) H5Ldelete(id(), path.c_str(), H5P_DEFAULT);
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    std::size_t count = 1;
    for (std::size_t d : shape) count *= d;
    Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                              : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                 H5Sclose);
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (compress && !dims.empty() && count > 4096) {
        std::vector<hsize_t> chunk = dims;
        // Chunks of about 1 MB along the first axis.
        hsize_t row = 1;
        for (std::size_t i = 1; i < chunk.size(); ++i) row *= chunk[i];
        hsize_t rows = std::max<hsize_t>(1, (1 << 20) / (row * sizeof(T)));
        chunk[0] = std::min<hsize_t>(dims[0], rows);
        for (auto& c : chunk) c = std::max<hsize_t>(c, 1);
        H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
        H5Pset_shuffle(dcpl.get());
        H5Pset_deflate(dcpl.get(), 4);
    }
    Handle ds(H5Dcreate2(id(), path.c_str(), native_type<T>(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
              H5Dclose);
    if (!ds) throw Error(name_ + ": cannot create dataset " + quoted(path));
    if (count > 0 && H5Dwrite(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0)
        throw Error(name_ + ": cannot write dataset " + quoted(path) + " (disk full?)");
}

// Matrices are written from their own storage (row-major = HDF5's C order).
void File::write_matrix(const std::string& path, const Points& m) {
    write_raw(path, {static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())}, m.data(), false);
}

void File::write_matrix(const std::string& path, const PointsF& m) {
    write_raw(path, {static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())}, m.data(), false);
}

void File::write_strings(const std::string& path, const std::vector<std::string>& values) {
    ensure_parents(path);
    if (exists(path)) H5Ldelete(id(), path.c_str(), H5P_DEFAULT);
    hsize_t n = values.size();
    Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    Handle t = string_type();
    Handle ds(H5Dcreate2(id(), path.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    if (!ds) throw Error(name_ + ": cannot create dataset " + quoted(path));
    std::vector<const char*> ptrs;
    for (auto& v : values) ptrs.push_back(v.c_str());
    if (n > 0) H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
}

bool File::has_attr(const std::string& object, const std::string& name) const {
    guard::Reading reading(name_);
    if (!exists(object)) return false;
    return H5Aexists_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> File::attr_names(const std::string& object) const {
    guard::Reading reading(name_, 0, attribute_budget());
    Handle obj = open_object(object);
    // Names one by one, each by its index: unlike H5Aiterate2, a damaged
    // attribute then fails its own lookup instead of the whole iteration.
    H5O_info_t oi;
    if (H5Oget_info2(obj.get(), &oi, H5O_INFO_NUM_ATTRS) < 0)
        throw Error(name_ + ":" + object + ": damaged HDF5 file (unreadable object header)");
    if (reading_ && static_cast<double>(oi.num_attrs) * 8 > file_bytes_)
        throw Error(name_ + ":" + object + ": damaged HDF5 file (" + std::to_string(oi.num_attrs) + " attributes)");
    std::vector<std::string> names;
    for (hsize_t i = 0; i < oi.num_attrs; ++i) {
        ssize_t len = H5Aget_name_by_idx(obj.get(), ".", H5_INDEX_NAME, H5_ITER_NATIVE, i, nullptr, 0, H5P_DEFAULT);
        if (len < 0 || (reading_ && static_cast<double>(len) > file_bytes_ + 1))
            throw Error(name_ + ":" + object + ": damaged HDF5 file (attribute " + std::to_string(i) + " is unreadable)");
        std::string n(static_cast<std::size_t>(len) + 1, '\0');
        if (H5Aget_name_by_idx(obj.get(), ".", H5_INDEX_NAME, H5_ITER_NATIVE, i, n.data(), n.size(), H5P_DEFAULT) < 0)
            throw Error(name_ + ":" + object + ": damaged HDF5 file (attribute " + std::to_string(i) + " is unreadable)");
        n.resize(static_cast<std::size_t>(len));
        names.push_back(std::move(n));
    }
    std::sort(names.begin(), names.end());
    return names;
}

namespace {
template <class Writer>
void replace_attr(hid_t file, const std::string& object, const std::string& name, hid_t type, hid_t space,
                  const std::string& where, Writer&& writer) {
    if (H5Aexists_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT) > 0)
        H5Adelete_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT);
    Handle a(H5Acreate_by_name(file, object.c_str(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT,
                               H5P_DEFAULT),
             H5Aclose);
    if (!a) throw Error(where + ": cannot write attribute '" + name + "'");
    if (writer(a.get()) < 0) throw Error(where + ": cannot write attribute '" + name + "'");
}
}  // namespace

void File::set_attr(const std::string& object, const std::string& name, const std::string& value) {
    Handle t = string_type();
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    const char* p = value.c_str();
    replace_attr(id(), object, name, t.get(), space.get(), name_,
                 [&](hid_t a) { return H5Awrite(a, t.get(), &p); });
}

void File::set_attr(const std::string& object, const std::string& name, double value) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    replace_attr(id(), object, name, H5T_NATIVE_DOUBLE, space.get(), name_,
                 [&](hid_t a) { return H5Awrite(a, H5T_NATIVE_DOUBLE, &value); });
}

void File::set_attr(const std::string& object, const std::string& name, std::int64_t value) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    replace_attr(id(), object, name, H5T_NATIVE_INT64, space.get(), name_,
                 [&](hid_t a) { return H5Awrite(a, H5T_NATIVE_INT64, &value); });
}

void File::set_attr_json(const std::string& object, const std::string& name, const nlohmann::json& value) {
    set_attr(object, name, value.dump());
}

// An attribute's value is stored in the file uncompressed, so reading one can
// never legitimately need much more memory than the file's size.
std::size_t File::attribute_budget() const {
    if (!reading_) return 0;  // a file of ours being written: the default limits
    return (std::size_t(64) << 20) + 2 * static_cast<std::size_t>(std::min(file_bytes_, 1e15));
}

std::string File::attr_string(const std::string& object, const std::string& name) const {
    std::string where = name_ + ":" + object;
    guard::Reading reading(name_, 0, attribute_budget());
    if (!has_attr(object, name)) throw Error(where + ": missing attribute '" + name + "'");
    Handle a(H5Aopen_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    Handle type(H5Aget_type(a.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING)
        throw Error(where + ": attribute '" + name + "' is not a string");
    Handle space(H5Aget_space(a.get()), H5Sclose);
    if (H5Sget_simple_extent_npoints(space.get()) != 1)
        throw Error(where + ": attribute '" + name + "' is not a single string");
    if (H5Tis_variable_str(type.get()) > 0) {
        char* p = nullptr;
        Handle mt = string_type();
        if (H5Aread(a.get(), mt.get(), &p) < 0) throw Error(where + ": cannot read attribute '" + name + "'");
        std::string s = p ? p : "";
        H5free_memory(p);
        if (reading_ && static_cast<double>(s.size()) > file_bytes_)
            throw Error(where + ": damaged HDF5 file (attribute '" + name + "' is longer than the file)");
        return s;
    }
    std::size_t len = H5Tget_size(type.get());
    if (reading_ && static_cast<double>(len) > file_bytes_)
        throw Error(where + ": damaged HDF5 file (attribute '" + name + "' declares " + bytes_text(double(len)) +
                    ", longer than the file)");
    std::vector<char> buf(len + 1, '\0');
    if (H5Aread(a.get(), type.get(), buf.data()) < 0) throw Error(where + ": cannot read attribute '" + name + "'");
    return std::string(buf.data(), strnlen(buf.data(), len));
}

double File::attr_double(const std::string& object, const std::string& name) const {
    guard::Reading reading(name_);
    std::string where = name_ + ":" + object;
    if (!has_attr(object, name)) throw Error(where + ": missing attribute '" + name + "'");
    Handle a(H5Aopen_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    Handle type(H5Aget_type(a.get()), H5Tclose);
    auto cls = H5Tget_class(type.get());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) throw Error(where + ": attribute '" + name + "' is not a number");
    double v = 0;
    if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) throw Error(where + ": cannot read attribute '" + name + "'");
    return v;
}

std::int64_t File::attr_int(const std::string& object, const std::string& name) const {
    return static_cast<std::int64_t>(attr_double(object, name));
}

nlohmann::json File::attr_json(const std::string& object, const std::string& name) const {
    std::string text = attr_string(object, name);
    try {
        return nlohmann::json::parse(text);
    } catch (const std::exception&) {
        throw Error(name_ + ":" + object + ": attribute '" + name + "' is not valid JSON");
    }
}

nlohmann::json File::attr_any(const std::string& object, const std::string& name) const {
    guard::Reading reading(name_);
    Handle a(H5Aopen_by_name(id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!a) return nullptr;
    Handle type(H5Aget_type(a.get()), H5Tclose);
    Handle space(H5Aget_space(a.get()), H5Sclose);
    auto cls = H5Tget_class(type.get());
    hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (cls == H5T_STRING && n == 1) return attr_string(object, name);
    if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && n >= 1 && n <= 4096) {
        std::vector<double> v(static_cast<std::size_t>(n));
        H5Aread(a.get(), H5T_NATIVE_DOUBLE, v.data());
        nlohmann::json j = n == 1 ? nlohmann::json(v[0]) : nlohmann::json(v);
        if (cls == H5T_INTEGER) {
            // An integer type wider than 64 bits (a damaged file) may not fit
            // in int64: keep such a value as the double it was read as.
            auto integer = [](double x) -> nlohmann::json {
                if (x >= -9.2233720368547758e18 && x < 9.2233720368547758e18) return static_cast<std::int64_t>(x);
                return x;
            };
            if (n == 1) return integer(v[0]);
            nlohmann::json arr = nlohmann::json::array();
            for (double x : v) arr.push_back(integer(x));
            return arr;
        }
        return j;
    }
    return "<" + std::to_string(n) + " values>";
}

template Array<float> File::read<float>(const std::string&, int) const;
template Array<double> File::read<double>(const std::string&, int) const;
template Array<std::int8_t> File::read<std::int8_t>(const std::string&, int) const;
template Array<std::int32_t> File::read<std::int32_t>(const std::string&, int) const;
template Array<std::int64_t> File::read<std::int64_t>(const std::string&, int) const;
template Array<std::uint8_t> File::read<std::uint8_t>(const std::string&, int) const;
template void File::write<float>(const std::string&, const Array<float>&, bool);
template void File::write<double>(const std::string&, const Array<double>&, bool);
template void File::write<std::int8_t>(const std::string&, const Array<std::int8_t>&, bool);
template void File::write<std::int32_t>(const std::string&, const Array<std::int32_t>&, bool);
template void File::write<std::int64_t>(const std::string&, const Array<std::int64_t>&, bool);
template void File::write<std::uint8_t>(const std::string&, const Array<std::uint8_t>&, bool);

}  // namespace orbit::h5
