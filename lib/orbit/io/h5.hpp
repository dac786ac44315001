#pragma once
// RAII over the HDF5 C API: files, typed N-d arrays, attributes.
//
// Files opened for reading are guarded (docs/robustness.md): on opening, every
// dataset's declared size is checked against what the file stores; reads run
// under the watchdog of orbit/core/guard.hpp (time and memory limits, crash
// reports naming the file); attribute values longer than the file are refused.
//
// Arrays are read with conversion to the requested element type (HDF5 converts
// between numeric types), after checking that the stored type is numeric and,
// when asked, that the rank and shape are what the caller expects. Every error
// names the file and the dataset.
#include <hdf5.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/core/types.hpp"

namespace orbit::h5 {

// An owned HDF5 identifier, closed with the matching H5*close on destruction.
class Handle {
public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
    ~Handle() { reset(); }
    Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = H5I_INVALID_HID; }
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            reset();
            id_ = o.id_;
            closer_ = o.closer_;
            o.id_ = H5I_INVALID_HID;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    hid_t get() const { return id_; }
    explicit operator bool() const { return id_ >= 0; }
    void reset() {
        if (id_ >= 0 && closer_) closer_(id_);
        id_ = H5I_INVALID_HID;
    }

private:
    hid_t id_ = H5I_INVALID_HID;
    Closer closer_ = nullptr;
};

// A dense N-d array in C order.
template <class T>
struct Array {
    std::vector<std::size_t> shape;
    std::vector<T> data;
    std::size_t rank() const { return shape.size(); }
    std::size_t size() const {
        std::size_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
};

enum class DType { f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, string, other };
std::string dtype_name(DType t);

struct DatasetInfo {
    std::string path;
    DType dtype;
    std::vector<std::size_t> shape;
};

// The bytes of a file image: read from a stream, or the buffer of a file
// created in memory. Backed by an anonymous mapping that grows in place
// (mremap), so growing never copies and untouched pages cost nothing.
struct ImageBuffer {
    char* data = nullptr;
    std::size_t size = 0;      // bytes in use
    std::size_t capacity = 0;  // bytes mapped
    ImageBuffer() = default;
    ImageBuffer(const ImageBuffer&) = delete;
    ImageBuffer& operator=(const ImageBuffer&) = delete;
    ~ImageBuffer() { release(); }
    // Makes room for at least `bytes`, keeping the contents; false when out of memory.
    bool reserve(std::size_t bytes);
    void release();
};

class File {
public:
    enum class Mode { read, write };

    // Opens an existing file for reading. The path "-" reads a whole file image from stdin.
    static File open_read(const std::string& path);
    // Opens an in-memory file image (read only).
    static File open_image(std::vector<char> image, const std::string& display_name);
    // Creates a new file on disk, truncating any existing one.
    static File create(const std::string& path);
    // Creates a file that lives in memory only; take its bytes with image().
    static File create_in_memory(const std::string& display_name);

    File() = default;
    ~File() { close(); }  // HDF5 first: closing an in-memory file hands its buffer back
    File(File&&) noexcept = default;
    File& operator=(File&&) noexcept = default;

    const std::string& name() const { return name_; }
    hid_t id() const { return file_.get(); }
    bool is_open() const { return static_cast<bool>(file_); }
    void close();

    // Writes the bytes of an in-memory file to `out` (for outputs named "-").
    void write_image(std::FILE* out);

    bool exists(const std::string& path) const;     // dataset or group
    bool is_dataset(const std::string& path) const;
    DatasetInfo info(const std::string& path) const;
    // Every dataset below `group` (recursively), in name order.
    std::vector<DatasetInfo> list_datasets(const std::string& group = "/") const;

    // Reads a numeric dataset converted to T. Checks the rank when expected_rank >= 0.
    template <class T>
    Array<T> read(const std::string& path, int expected_rank = -1) const;
    // Reads a 2-D numeric dataset as a row-major matrix.
    Points read_matrix(const std::string& path) const;
    // True for a dataset of integers or floating-point numbers, of any width.
    bool is_numeric(const std::string& path) const;
    // Rows [begin, begin + count) of a 2-D numeric dataset, converted to double,
    // into `out` (count x columns, C order): a large dataset read block by block.
    void read_rows(const std::string& path, std::size_t begin, std::size_t count, double* out) const;
    std::vector<std::string> read_strings(const std::string& path) const;

    // Writes a dataset, creating the parent groups. Chunked and compressed when
    // `compress` is set (worth it for large, compressible data).
    template <class T>
    void write(const std::string& path, const Array<T>& array, bool compress = false);
    void write_matrix(const std::string& path, const Points& m);
    // A 2-D float64 dataset [rows, cols] written block by block with write_rows.
    void create_matrix(const std::string& path, std::size_t rows, std::size_t cols);
    void write_rows(const std::string& path, std::size_t begin, std::size_t count, const double* values);
    void write_matrix(const std::string& path, const PointsF& m);
    void write_strings(const std::string& path, const std::vector<std::string>& values);
    void create_group(const std::string& path);

    // Attributes on an object ("/" for the root).
    bool has_attr(const std::string& object, const std::string& name) const;
    std::vector<std::string> attr_names(const std::string& object) const;
    void set_attr(const std::string& object, const std::string& name, const std::string& value);
    void set_attr(const std::string& object, const std::string& name, const char* value) {
        set_attr(object, name, std::string(value));
    }
    void set_attr(const std::string& object, const std::string& name, double value);
    void set_attr(const std::string& object, const std::string& name, std::int64_t value);
    void set_attr_json(const std::string& object, const std::string& name, const nlohmann::json& value);
    std::string attr_string(const std::string& object, const std::string& name) const;
    double attr_double(const std::string& object, const std::string& name) const;
    std::int64_t attr_int(const std::string& object, const std::string& name) const;
    nlohmann::json attr_json(const std::string& object, const std::string& name) const;
    // Any attribute as JSON (numbers, strings, small arrays), for orbit-info.
    nlohmann::json attr_any(const std::string& object, const std::string& name) const;

private:
    template <class T, class Destination>
    void read_checked(const std::string& path, int expected_rank, Destination&& destination) const;
    template <class T>
    void write_raw(const std::string& path, const std::vector<std::size_t>& shape, const T* values, bool compress);

    // Declared before file_ so the HDF5 file closes before its image is freed.
    std::shared_ptr<ImageBuffer> image_;  // the bytes of an opened image, kept alive while open
    bool image_writable_ = false;         // image_ is the buffer of a file created in memory
    static File open_image_buffer(std::shared_ptr<ImageBuffer> image, const std::string& display_name);
    Handle file_;
    std::string name_;
    double file_bytes_ = 0;  // size of the file or image opened for reading
    bool reading_ = false;   // opened for reading: reads are guarded (see check_all_storage)
    // Refuses the file when one of its datasets declares more than it can hold.
    void check_all_storage() const;
    std::size_t attribute_budget() const;
    Handle open_object(const std::string& path) const;
    Handle open_dataset(const std::string& path) const;
    void ensure_parents(const std::string& path);
};

// A "FILE" or "FILE:/dataset" argument split into its parts.
struct DatasetRef {
    std::string file;
    std::string dataset;  // empty when the whole file was named
    std::string str() const { return dataset.empty() ? file : file + ":" + dataset; }
};
DatasetRef parse_ref(const std::string& arg);

// True when the file starts with the HDF5 signature (at offset 0).
bool looks_like_hdf5(const std::string& path);

// Installs the error-stack handler once (HDF5's own stack traces are silenced;
// orbit reports one line instead).
void silence_errors();

}  // namespace orbit::h5
