#include "orbit/cli/completion.hpp"

#include "orbit/cli/options.hpp"

#include <sstream>
#include <vector>

namespace orbit::cli {
namespace {

struct OptionInfo {
    std::vector<std::string> names;    // "-o", "--output"
    std::vector<std::string> choices;  // declared values, if any
    bool takes_value = false;
    std::string description;
};

// The values of a set validator, as CLI11 writes them into the type name:
// "TEXT:{icp,icp-plane}" or, for a mapping, "{a->1,b->2}".
std::vector<std::string> choices_in_type_name(const std::string& type_name) {
    std::vector<std::string> out;
    auto open = type_name.find('{'), close = type_name.rfind('}');
    if (open == std::string::npos || close == std::string::npos || close <= open) return out;
    std::stringstream items(type_name.substr(open + 1, close - open - 1));
    std::string item;
    while (std::getline(items, item, ',')) {
        auto arrow = item.find("->");
        if (arrow != std::string::npos) item = item.substr(0, arrow);
        while (!item.empty() && item.front() == ' ') item.erase(item.begin());
        while (!item.empty() && item.back() == ' ') item.pop_back();
        if (!item.empty()) out.push_back(item);
    }
    return out;
}

std::vector<OptionInfo> options_of(const CLI::App& app) {
    std::vector<OptionInfo> out;
    for (const CLI::Option* opt : app.get_options([](const CLI::Option* o) { return !o->get_positional(); })) {
        if (opt->get_group().empty()) continue;  // hidden
        OptionInfo info;
        for (auto& s : opt->get_snames()) info.names.push_back("-" + s);
        for (auto& l : opt->get_lnames()) info.names.push_back("--" + l);
        info.takes_value = opt->get_type_size() != 0;
        if (info.takes_value) {
            const std::vector<std::string>* declared = declared_choices(opt);
            info.choices = declared ? *declared : choices_in_type_name(opt->get_type_name());
        }
        info.description = opt->get_description();
        out.push_back(info);
    }
    OptionInfo help;
    help.names = {"-h", "--help"};
    help.description = "Print this help and exit";
    out.push_back(help);
    return out;
}

std::string function_name(const std::string& program) {
    std::string f = "_" + program;
    for (auto& c : f)
        if (c == '-') c = '_';
    return f;
}

// Text inside zsh's single quotes and _arguments' brackets.
std::string zsh_text(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else if (c == '[' || c == ']' || c == ':' || c == '\\') out += std::string("\\") + c;
        else if (c == '\n') out += ' ';
        else out += c;
    }
    return out;
}

}  // namespace

std::string bash_completion(const CLI::App& app, const std::string& program) {
    auto opts = options_of(app);
    std::ostringstream s;
    std::string fn = function_name(program);
    s << "# bash completion for " << program << ", generated from its option declarations\n";
    s << fn << "() {\n";
    s << "    local cur prev\n";
    s << "    cur=${COMP_WORDS[COMP_CWORD]}\n";
    s << "    prev=${COMP_WORDS[COMP_CWORD-1]}\n";
    s << "    case $prev in\n";
    for (auto& o : opts) {
        if (!o.takes_value) continue;
        s << "        ";
        for (std::size_t i = 0; i < o.names.size(); ++i) s << (i ? "|" : "") << o.names[i];
        s << ")\n";
        if (!o.choices.empty()) {
            s << "            COMPREPLY=($(compgen -W '";
            for (std::size_t i = 0; i < o.choices.size(); ++i) s << (i ? " " : "") << o.choices[i];
            s << "' -- \"$cur\"))\n";
        } else {
            s << "            COMPREPLY=($(compgen -f -- \"$cur\"))\n";
        }
        s << "            return ;;\n";
    }
    s << "    esac\n";
    s << "    if [[ $cur == -* ]]; then\n";
    s << "        COMPREPLY=($(compgen -W '";
    bool first = true;
    for (auto& o : opts)
        for (auto& n : o.names) {
            s << (first ? "" : " ") << n;
            first = false;
        }
    s << "' -- \"$cur\"))\n";
    s << "    else\n";
    s << "        COMPREPLY=($(compgen -f -- \"$cur\"))\n";
    s << "    fi\n";
    s << "}\n";
    s << "complete -o filenames -F " << fn << " " << program << "\n";
    return s.str();
}

std::string zsh_completion(const CLI::App& app, const std::string& program) {
    auto opts = options_of(app);
    std::ostringstream s;
    s << "#compdef " << program << "\n";
    s << "# zsh completion for " << program << ", generated from its option declarations\n";
    s << "_arguments -s";
    for (auto& o : opts) {
        std::string spec;
        if (o.names.size() > 1) {
            spec = "(";
            for (std::size_t i = 0; i < o.names.size(); ++i) spec += (i ? " " : "") + o.names[i];
            spec += ")'{";
            for (std::size_t i = 0; i < o.names.size(); ++i) spec += (i ? "," : "") + o.names[i];
            spec += "}'";
        } else {
            spec = o.names[0];
        }
        spec += "[" + zsh_text(o.description) + "]";
        if (o.takes_value) {
            std::string name = o.names.back();
            while (!name.empty() && name.front() == '-') name.erase(name.begin());
            if (!o.choices.empty()) {
                spec += ":" + name + ":(";
                for (std::size_t i = 0; i < o.choices.size(); ++i) spec += (i ? " " : "") + zsh_text(o.choices[i]);
                spec += ")";
            } else {
                spec += ":" + name + ":_files";
            }
        }
        s << " \\\n    '" << spec << "'";
    }
    s << " \\\n    '*:file:_files'\n";
    return s.str();
}

}  // namespace orbit::cli
