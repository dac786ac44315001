// NPZ: numpy's zip of NPY members (np.savez: stored, np.savez_compressed:
// deflated), zip64 included. FILE.npz:/NAME (or --dataset NAME) picks the
// member NAME.npy; without a name, the member "points", else the first one.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "orbit/core/error.hpp"
#include "orbit/io/formats/npy.hpp"

namespace orbit::io::formats {
namespace {

constexpr std::uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50, kEnd = 0x06054b50,
                        kEnd64 = 0x06064b50, kEnd64Locator = 0x07064b50;
constexpr u64 kMax32 = 0xffffffffu;

struct ZipMember {
    std::string name;  // as stored: "points.npy"
    std::uint16_t flags = 0, method = 0;
    std::uint32_t crc = 0;
    u64 compressed = 0, size = 0, local_offset = 0;
    std::string key() const { return name.size() > 4 ? name.substr(0, name.size() - 4) : name; }  // without ".npy"
};

// Little-endian fields of a zip record, bounds-checked against the file.
struct Reader {
    const char* begin;
    std::size_t size;
    const std::string& path;
    const char* at(u64 offset, u64 bytes) const {
        if (offset > size || bytes > size - offset) throw Error(path + ": damaged zip structure (a record lies past the end)");
        return begin + offset;
    }
    template <class T>
    T get(u64 offset) const {
        return load<T>(at(offset, sizeof(T)), !host_little());
    }
};

// Offset, entry count and size of the central directory (zip64 when the 32-bit fields overflow).
void find_directory(const Reader& z, u64& offset, u64& entries) {
    if (z.size < 22) throw Error(z.path + ": not an NPZ file (too short for a zip archive)");
    const u64 lowest = z.size > 22 + 65535 ? z.size - 22 - 65535 : 0;
    u64 end = z.size - 22 + 1;
    do {
        --end;
        if (z.get<std::uint32_t>(end) == kEnd) break;
    } while (end > lowest);
    if (z.get<std::uint32_t>(end) != kEnd) throw Error(z.path + ": not an NPZ file (no zip directory)");
    entries = z.get<std::uint16_t>(end + 10);
    offset = z.get<std::uint32_t>(end + 16);
    if (entries != 0xffff && offset != kMax32) return;
    if (end < 20 || z.get<std::uint32_t>(end - 20) != kEnd64Locator) throw Error(z.path + ": damaged zip64 directory");
    const u64 end64 = z.get<std::uint64_t>(end - 12);
    if (z.get<std::uint32_t>(end64) != kEnd64) throw Error(z.path + ": damaged zip64 directory");
    entries = z.get<std::uint64_t>(end64 + 32);
    offset = z.get<std::uint64_t>(end64 + 48);
}

// The sizes and offset a zip64 extra field holds in place of 0xffffffff.
void apply_zip64(const Reader& z, u64 extra, u64 length, ZipMember& m) {
    for (u64 p = extra; p + 4 <= extra + length;) {
        const auto id = z.get<std::uint16_t>(p), n = z.get<std::uint16_t>(p + 2);
        if (id == 1) {
            u64 q = p + 4;
            for (u64* v : {&m.size, &m.compressed, &m.local_offset})
                if (*v == kMax32 && q + 8 <= p + 4 + n) {
                    *v = z.get<std::uint64_t>(q);
                    q += 8;
                }
        }
        p += 4 + n;
    }
}

std::vector<ZipMember> read_directory(const Reader& z) {
    u64 p = 0, entries = 0;
    find_directory(z, p, entries);
    std::vector<ZipMember> out;
    for (u64 i = 0; i < entries; ++i) {
        if (z.get<std::uint32_t>(p) != kCentralHeader) throw Error(z.path + ": damaged zip directory (entry " + std::to_string(i) + ")");
        ZipMember m;
        m.flags = z.get<std::uint16_t>(p + 8);
        m.method = z.get<std::uint16_t>(p + 10);
        m.crc = z.get<std::uint32_t>(p + 16);
        m.compressed = z.get<std::uint32_t>(p + 20);
        m.size = z.get<std::uint32_t>(p + 24);
        const auto name_len = z.get<std::uint16_t>(p + 28), extra_len = z.get<std::uint16_t>(p + 30),
                   comment_len = z.get<std::uint16_t>(p + 32);
        m.local_offset = z.get<std::uint32_t>(p + 42);
        m.name.assign(z.at(p + 46, name_len), name_len);
        apply_zip64(z, p + 46 + name_len, extra_len, m);
        if (m.name.size() > 4 && m.name.compare(m.name.size() - 4, 4, ".npy") == 0) out.push_back(std::move(m));
        p += 46 + static_cast<u64>(name_len) + extra_len + comment_len;
    }
    return out;
}

std::string member_list(const std::vector<ZipMember>& members) {
    std::string s;
    for (auto& m : members) s += (s.empty() ? "" : ", ") + m.key();
    return s;
}

// The member `want` names ("/points", "points", "points.npy"), or the default one.
const ZipMember& select(const std::vector<ZipMember>& members, std::string want, const std::string& path) {
    if (members.empty()) throw Error(path + ": holds no .npy arrays");
    if (want.empty()) {
        auto it = std::find_if(members.begin(), members.end(), [](const ZipMember& m) { return m.key() == "points"; });
        return it != members.end() ? *it : members.front();
    }
    if (want.front() == '/') want.erase(0, 1);
    for (auto& m : members)
        if (m.key() == want || m.name == want) return m;
    throw Error(path + ": no array '" + want + "' (it holds " + member_list(members) + ")");
}

// The compressed bytes of a member, after its local header.
const char* member_bytes(const Reader& z, const ZipMember& m, const std::string& name) {
    if (z.get<std::uint32_t>(m.local_offset) != kLocalHeader) throw Error(name + ": damaged zip entry (no local header)");
    const u64 data = m.local_offset + 30 + z.get<std::uint16_t>(m.local_offset + 26) + z.get<std::uint16_t>(m.local_offset + 28);
    if (m.flags & 1) throw Error(name + ": encrypted zip members are not supported");
    if (m.method != 0 && m.method != 8)
        throw Error(name + ": zip compression method " + std::to_string(m.method) + " is not supported (expected stored or deflated)");
    if (m.method == 0 && m.compressed != m.size) throw Error(name + ": damaged zip entry (stored sizes differ)");
    return z.at(data, m.compressed);
}

std::uint32_t crc_of(const char* p, u64 n) {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (u64 done = 0; done < n;) {
        const auto step = static_cast<uInt>(std::min<u64>(n - done, 1u << 30));
        crc = crc32(crc, reinterpret_cast<const Bytef*>(p + done), step);
        done += step;
    }
    return static_cast<std::uint32_t>(crc);
}

// Inflates a raw deflate stream of `in_size` bytes into exactly `out_size` bytes.
std::vector<char> inflate_member(const char* in, u64 in_size, u64 out_size, const std::string& name) {
    // Deflate cannot expand more than about 1032:1; a larger declared size is a damaged entry.
    if (out_size / 1032 > in_size + 64) throw Error(name + ": damaged zip entry (declared size " + std::to_string(out_size) + ")");
    std::vector<char> out(out_size);
    z_stream s{};
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) throw Error(name + ": cannot start zlib");
    auto* in_end = reinterpret_cast<const Bytef*>(in) + in_size;
    auto* out_end = reinterpret_cast<Bytef*>(out.data()) + out_size;
    s.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in));
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    auto step = [](std::ptrdiff_t left) { return static_cast<uInt>(std::min<std::ptrdiff_t>(left, 1 << 30)); };
    int rc = Z_OK;
    while (rc == Z_OK) {  // zlib counts in 32 bits: feed at most 1 GiB at a time
        if (s.avail_in == 0) s.avail_in = step(in_end - s.next_in);
        if (s.avail_out == 0) s.avail_out = step(out_end - s.next_out);
        rc = inflate(&s, Z_NO_FLUSH);  // Z_BUF_ERROR: input used up or output full before the end
    }
    const std::string msg = rc == Z_STREAM_END ? "not the declared size" : s.msg ? s.msg : "truncated";
    inflateEnd(&s);
    if (rc != Z_STREAM_END || s.next_out != out_end) throw Error(name + ": damaged deflated data (" + msg + ")");
    return out;
}

// One member, checked (CRC) and decompressed when it needs to be.
struct Member {
    std::shared_ptr<const MappedFile> file;
    std::string name;              // "FILE:/key", for messages
    std::vector<char> inflated;    // a deflated member's bytes
    const char* data = nullptr;    // the NPY image: in the mapped file, or in `inflated`
    u64 size = 0;
    bool stored = false;
};

// With `decompress` false a deflated member is located but not decompressed (data stays null).
Member open_member(const Source& src, bool decompress = true) {
    Member out;
    out.file = std::make_shared<const MappedFile>(src.path);
    const Reader z{out.file->begin(), out.file->size(), src.path};
    const std::vector<ZipMember> members = read_directory(z);
    const ZipMember& m = select(members, src.member, src.path);
    out.name = src.path + ":/" + m.key();
    const char* bytes = member_bytes(z, m, out.name);
    out.stored = m.method == 0;
    out.size = m.size;
    if (out.stored) {
        out.data = bytes;
    } else if (decompress) {
        out.inflated = inflate_member(bytes, m.compressed, m.size, out.name);
        out.data = out.inflated.data();
    } else {
        return out;
    }
    if (crc_of(out.data, out.size) != m.crc) throw Error(out.name + ": damaged zip entry (CRC mismatch)");
    return out;
}

}  // namespace

Shape read_npz(const std::string& path, const std::string& member) {
    const Member m = open_member({path, member});
    Shape out;
    out.vertices = npy_values(parse_npy(m.data, m.size, m.name, 2), m.name);
    return out;
}

const Format& npz_format() {
    static const Format f{
        .name = "NPZ",
        .extensions = {".npz"},
        .has_members = true,
        .read = [](const Source& s) { return read_npz(s.path, s.member); },
        .read_input =
            [](const Source& s) {
                const Member m = open_member(s);
                return npy_input(parse_npy(m.data, m.size, m.name, 3), m.name);
            },
        .open_rows =
            [](const Source& s) -> std::unique_ptr<RowSource> {
                Member m = open_member(s, false);
                if (!m.stored) return nullptr;  // deflated: read whole
                return npy_row_source(m.file, parse_npy(m.data, m.size, m.name, 3), m.name);
            }};
    return f;
}

}  // namespace orbit::io::formats
