#pragma once
// Summaries of HDF5 files for orbit-info.
#include <nlohmann/json.hpp>
#include <string>

namespace orbit::io {

struct FileSummary {
    nlohmann::json json;  // {file, kind, format, version, datasets:[{path,shape,dtype}], attributes, history}
    std::string text;     // the same, for people
};

FileSummary inspect(const std::string& path);

}  // namespace orbit::io
