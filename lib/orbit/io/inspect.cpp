#include "orbit/io/inspect.hpp"

#include <set>
#include <sstream>

#include "orbit/core/error.hpp"
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
    // FILE:/path names a group (everything below it) or one dataset (a ModelNet file's /data).
    const std::string where = ref.dataset.empty() ? "/" : ref.dataset;
    if (where != "/" && !f.exists(where)) throw Error(ref.file + ": no dataset or group '" + where + "'");
    std::vector<h5::DatasetInfo> listed;
    if (f.is_dataset(where)) listed.push_back(f.info(where));
    else listed = f.list_datasets(where);
    for (auto& d : listed) {
        nlohmann::json dj;
        dj["path"] = d.path;
        dj["shape"] = d.shape;
        dj["dtype"] = h5::dtype_name(d.dtype);
        nlohmann::json attrs = nlohmann::json::object();
        for (auto& a : f.attr_names(d.path)) attrs[a] = f.attr_any(d.path, a);
        if (!attrs.empty()) dj["attributes"] = attrs;
        j["datasets"].push_back(dj);
    }
    // Attributes of the groups that hold the datasets (such as /canon's flags_meaning).
    j["groups"] = nlohmann::json::array();
    std::set<std::string> groups;
    for (auto& d : listed)
        for (auto slash = d.path.rfind('/'); slash != std::string::npos && slash > 0; slash = d.path.rfind('/', slash - 1))
            groups.insert(d.path.substr(0, slash));
    for (auto& g : groups) {
        nlohmann::json ga = nlohmann::json::object();
        for (auto& a : f.attr_names(g)) ga[a] = f.attr_any(g, a);
        if (!ga.empty()) j["groups"].push_back({{"path", g}, {"attributes", ga}});
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
    auto value_text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    t << "datasets:\n";
    for (auto& d : j["datasets"]) {
        t << "  " << d["path"].get<std::string>() << "  " << shape_string(d["shape"].get<std::vector<std::size_t>>())
          << " " << d["dtype"].get<std::string>() << "\n";
        if (d.contains("attributes"))
            for (auto& [k, v] : d["attributes"].items()) t << "      " << k << " = " << value_text(v) << "\n";
    }
    for (auto& g : j["groups"]) {
        t << "  " << g["path"].get<std::string>() << "/  (group)\n";
        for (auto& [k, v] : g["attributes"].items()) t << "      " << k << " = " << value_text(v) << "\n";
    }
    if (!attrs.empty()) {
        t << "attributes:\n";
        for (auto& [k, v] : attrs.items()) t << "  " << k << " = " << value_text(v) << "\n";
    }
    if (!j["history"].empty()) {
        t << "history:\n";
        for (auto& l : j["history"]) t << "  " << l.get<std::string>() << "\n";
    }
    return {j, t.str()};
}

}  // namespace orbit::io
