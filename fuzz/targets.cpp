// libFuzzer targets, one per reader: the bytes are written to a file with the
// reader's extension and read through the same public functions the tools
// call. A reader may refuse its input (orbit::Error, any std::exception with a
// one-line message); it must not crash, hang, run out of memory, or explain
// itself on more than one line. Built once per reader with ORBIT_FUZZ_<name>.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/io/formats.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/io/inspect.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"

namespace fmt = orbit::io::formats;

namespace {

#if defined(ORBIT_FUZZ_ply)
const char* kExt = ".ply";
#elif defined(ORBIT_FUZZ_off)
const char* kExt = ".off";
#elif defined(ORBIT_FUZZ_pcd)
const char* kExt = ".pcd";
#elif defined(ORBIT_FUZZ_npy)
const char* kExt = ".npy";
#elif defined(ORBIT_FUZZ_csv)
const char* kExt = ".csv";
#elif defined(ORBIT_FUZZ_xyz)
const char* kExt = ".xyz";
#elif defined(ORBIT_FUZZ_hdf5) || defined(ORBIT_FUZZ_hdf5_image)
const char* kExt = ".h5";
#else
#error "define ORBIT_FUZZ_<reader>"
#endif

std::string scratch(const char* suffix) {
    const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/orbit-fuzz-" + std::to_string(::getpid()) + suffix;
}

void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
}

// A refusal must be one line. The tools' shell folds newlines into spaces
// before printing, so for the foreign-format readers a newline echoed from the
// input is harmless to users; the HDF5 layer is held to the strict rule
// (set ORBIT_FUZZ_STRICT=1 to hold every reader to it).
void check_message(const char* what) {
#if defined(ORBIT_FUZZ_hdf5) || defined(ORBIT_FUZZ_hdf5_image)
    const bool strict = true;
#else
    static const bool strict = std::getenv("ORBIT_FUZZ_STRICT") != nullptr;
#endif
    if (!*what) {
        std::fprintf(stderr, "empty error message\n");
        std::abort();
    }
    if (strict && std::strchr(what, '\n')) {
        std::fprintf(stderr, "multi-line error: %s\n", what);
        std::abort();
    }
}

void exercise(const std::string& path, const uint8_t* data, size_t size) {
#if defined(ORBIT_FUZZ_ply)
    fmt::read_ply(path);
#elif defined(ORBIT_FUZZ_off)
    fmt::read_off(path);
#elif defined(ORBIT_FUZZ_pcd)
    fmt::read_pcd(path);
#elif defined(ORBIT_FUZZ_npy)
    fmt::read_npy(path);
#elif defined(ORBIT_FUZZ_csv)
    fmt::read_csv(path);
#elif defined(ORBIT_FUZZ_xyz)
    fmt::read_xyz(path);
#elif defined(ORBIT_FUZZ_hdf5)
    // What orbit-info and orbit-convert do with a file.
    orbit::io::inspect(path);
    fmt::read_input(path);
#elif defined(ORBIT_FUZZ_hdf5_image)
    // A file image piped on stdin ("-"), opened in memory.
    std::vector<char> image(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size);
    orbit::h5::File f = orbit::h5::File::open_image(std::move(image), "<stdin>");
    for (auto& d : f.list_datasets("/"))
        for (auto& a : f.attr_names(d.path)) f.attr_any(d.path, a);
    orbit::io::read_history(f);
    orbit::io::read_point_sets(f, "", "<stdin>");
#endif
    (void)data;
    (void)size;
}

// The block-by-block converter parses headers on its own.
void exercise_streaming(const std::string& path) {
#if defined(ORBIT_FUZZ_ply) || defined(ORBIT_FUZZ_npy) || defined(ORBIT_FUZZ_hdf5)
    static const std::string out = scratch("-out.npy");
    fmt::StreamSummary summary;
    fmt::convert_streaming(path, "", out, summary);
    std::remove(out.c_str());
#else
    (void)path;
#endif
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // libFuzzer's own -timeout and -rss_limit_mb watch for hangs and memory
    // growth here, so that they are reported as findings rather than ending
    // the process through orbit's watchdog.
    ::setenv("ORBIT_READ_TIMEOUT", "1000000", 1);
    ::setenv("ORBIT_READ_MEMORY", "1000000", 1);
    ::setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
    orbit::h5::silence_errors();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path = scratch(kExt);
    write_bytes(path, data, size);
    try {
        exercise(path, data, size);
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "out of memory: a reader allocated beyond what its input can hold\n");
        std::abort();
    } catch (const std::exception& e) {
        check_message(e.what());
    }
    try {
        exercise_streaming(path);
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "out of memory in the streaming converter\n");
        std::abort();
    } catch (const std::exception& e) {
        check_message(e.what());
    }
    std::remove(path.c_str());
    return 0;
}
