// The registered formats and the lookup by extension.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "orbit/io/formats/format.hpp"

namespace orbit::io::formats {

// One entry per format, in lookup order: X(NAME) refers to the `NAME_format()`
// that formats/NAME.cpp (or the file of that format) defines. Native readers
// come first; Assimp's open-ended list catches the mesh formats left over.
#define ORBIT_FORMATS(X) X(ply) X(off) X(xyz) X(csv) X(npy) X(npz) X(pcd) X(assimp)

#define ORBIT_DECLARE_FORMAT(name) const Format& name##_format();
ORBIT_FORMATS(ORBIT_DECLARE_FORMAT)
#undef ORBIT_DECLARE_FORMAT

const std::vector<const Format*>& all_formats() {
#define ORBIT_LIST_FORMAT(name) &name##_format(),
    static const std::vector<const Format*> all = {ORBIT_FORMATS(ORBIT_LIST_FORMAT)};
#undef ORBIT_LIST_FORMAT
    return all;
}

const Format* find_format(const std::string& path) {
    const std::string e = extension(path);
    if (e.empty()) return nullptr;
    for (const Format* f : all_formats()) {
        const auto& x = f->extensions;
        if (std::find(x.begin(), x.end(), e) != x.end() || (f->handles_extension && f->handles_extension(e))) return f;
    }
    return nullptr;
}

std::string extension(const std::string& path) {
    std::string name = std::filesystem::path(path).filename().string();
    auto dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0) return "";
    std::string e = name.substr(dot);
    for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return e;
}

}  // namespace orbit::io::formats
