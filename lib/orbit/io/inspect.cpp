#include "orbit/io/inspect.hpp"

#include <sstream>

#include "orbit/io/h5.hpp"
#include "orbit/io/output.hpp"

namespace orbit::io {

FileSummary inspect(const std::string& path) {
    h5::DatasetRef ref = h5::parse_ref(path);
    h5::File f = h5::File::open_read(ref.file);
    nlohmann::json j;
    j["file"] = ref.file;
    auto root_string = [&](const char* name) -> nlohmann::json {
        if (!f.has_attr("/", name)) return nullptr;
        try {
            return f.attr_string("/", name);
        } catch (const Error&) {
            return nullptr;
        }
    };
    j["format"] = root_string("orbit_format");
    j["kind"] = root_string("orbit_kind");
    j["version"] = root_string("orbit_version");
    j["datasets"] = nlohmann::json::array();
    for (auto& d : f.list_datasets(ref.dataset.empty() ? "/" : ref.dataset)) {
        nlohmann::json dj;
        dj["path"] = d.path;
        dj["shape"] = d.shape;
        dj["dtype"] = h5::dtype_name(d.dtype);
        nlohmann::json attrs = nlohmann::json::object();
        for (auto& a : f.attr_names(d.path)) attrs[a] = f.attr_any(d.path, a);
        if (!attrs.empty()) dj["attributes"] = attrs;
        j["datasets"].push_back(dj);
    }
    nlohmann::json attrs = nlohmann::json::object();
    for (auto& a : f.attr_names("/"))
        if (a != "history") attrs[a] = f.attr_any("/", a);
    j["attributes"] = attrs;
    j["history"] = read_history(f);

    std::ostringstream t;
    t << "file:     " << ref.file << "\n";
    t << "kind:     " << (j["kind"].is_null() ? std::string("(not an orbit file)") : j["kind"].get<std::string>())
      << "\n";
    if (!j["version"].is_null()) t << "version:  " << j["version"].get<std::string>() << "\n";
    t << "datasets:\n";
    for (auto& d : j["datasets"])
        t << "  " << d["path"].get<std::string>() << "  " << shape_string(d["shape"].get<std::vector<std::size_t>>())
          << " " << d["dtype"].get<std::string>() << "\n";
    if (!attrs.empty()) {
        t << "attributes:\n";
        for (auto& [k, v] : attrs.items()) t << "  " << k << " = " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    }
    if (!j["history"].empty()) {
        t << "history:\n";
        for (auto& l : j["history"]) t << "  " << l.get<std::string>() << "\n";
    }
    return {j, t.str()};
}

}  // namespace orbit::io
