#include "orbit/invariance/model.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Eigen/LU>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::invariance {
namespace {

std::string last_line(const std::string& path) {
    std::ifstream f(path);
    std::string line, last;
    while (std::getline(f, line))
        if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
    if (last.size() > 300) last = last.substr(0, 300) + "...";
    return last;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
    return s;
}

Transform inverse(const Transform& t) { return t.inverse(); }

}  // namespace

OutputType parse_output_type(const std::string& text) {
    if (text == "invariant") return OutputType::invariant;
    if (text == "points" || text == "equivariant") return OutputType::points;
    if (text == "vectors") return OutputType::vectors;
    if (text == "transform" || text == "transforms") return OutputType::transform;
    if (text == "labels" || text == "classes") return OutputType::labels;
    if (text == "explanation" || text == "explanations") return OutputType::explanation;
    throw UsageError("expected invariant, points (= equivariant), vectors, transform, labels or explanation, found '" +
                     text + "'");
}

std::string output_type_name(OutputType t) {
    switch (t) {
        case OutputType::invariant: return "invariant";
        case OutputType::points: return "points";
        case OutputType::vectors: return "vectors";
        case OutputType::transform: return "transform";
        case OutputType::labels: return "labels";
        case OutputType::explanation: return "explanation";
    }
    return "?";
}

void move_output(OutputType type, const Transform& t, const std::vector<std::int64_t>* perm,
                 std::vector<double>& block, const std::vector<std::size_t>& shape) {
    if (perm) {
        if (shape.empty() || shape[0] != perm->size())
            throw Error("per-point output of shape " + shape_string(shape) + " does not have one row per point (" +
                        std::to_string(perm->size()) + ")");
        const std::size_t row = block.size() / shape[0];
        std::vector<double> moved(block.size());
        for (std::size_t i = 0; i < shape[0]; ++i)
            std::copy_n(block.begin() + static_cast<long>(static_cast<std::size_t>((*perm)[i]) * row), row,
                        moved.begin() + static_cast<long>(i * row));
        block.swap(moved);
    }
    if (type == OutputType::invariant || type == OutputType::labels || type == OutputType::explanation) return;
    if (type == OutputType::transform) {
        if (shape != std::vector<std::size_t>{4, 4})
            throw Error("transform outputs must be [B,4,4], found per-cloud shape " + shape_string(shape));
        Eigen::Map<Eigen::Matrix<double, 4, 4, Eigen::RowMajor>> m(block.data());
        Transform y = t * Transform(m);
        m = y;
        return;
    }
    if (shape.empty() || (shape.back() != 2 && shape.back() != 3))
        throw Error(output_type_name(type) + " outputs need rows of 2 or 3 values, found per-cloud shape " +
                    shape_string(shape));
    const std::size_t d = shape.back(), rows = block.size() / d;
    const Eigen::Matrix3d a = t.topLeftCorner<3, 3>();
    const Eigen::Vector3d b = type == OutputType::points ? Eigen::Vector3d(t.topRightCorner<3, 1>()) : Eigen::Vector3d::Zero();
    for (std::size_t i = 0; i < rows; ++i) {
        double* r = block.data() + i * d;
        Eigen::Vector3d p(r[0], r[1], d == 3 ? r[2] : 0.0);
        p = a * p + b;
        for (std::size_t k = 0; k < d; ++k) r[k] = p[static_cast<Eigen::Index>(k)];
    }
}

std::string shell_quote(const std::string& s) {
    return "'" + replace_all(s, "'", "'\\''") + "'";
}

// ---- CommandModel ----------------------------------------------------------

CommandModel::CommandModel(CommandOptions opt) : opt_(std::move(opt)) {
    if (opt_.command.find_first_not_of(" \t") == std::string::npos) throw UsageError("the model command is empty");
    if (!(opt_.timeout_s > 0)) throw UsageError("the time limit per model call must be positive");
    if (opt_.batch_size < 1) throw UsageError("the batch size (clouds per model call) must be at least 1");
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/orbit-model-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw Error("cannot create a temporary folder under " + templ.substr(0, templ.size() - 19));
    dir_ = buf.data();
}

CommandModel::~CommandModel() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

h5::Array<double> CommandModel::evaluate(const std::vector<Points>& clouds) {
    if (clouds.empty()) throw Error("model: no clouds to evaluate");
    h5::Array<double> all;
    for (std::size_t b = 0; b < clouds.size(); b += static_cast<std::size_t>(opt_.batch_size)) {
        const std::size_t e = std::min(clouds.size(), b + static_cast<std::size_t>(opt_.batch_size));
        h5::Array<double> part = run_chunk(clouds, b, e);
        std::vector<std::size_t> rest(part.shape.begin() + 1, part.shape.end());
        if (b == 0) {
            all.shape = part.shape;
            all.shape[0] = clouds.size();
            all.data.reserve(part.data.size() / (e - b) * clouds.size());
        } else if (std::vector<std::size_t>(all.shape.begin() + 1, all.shape.end()) != rest) {
            throw Error("model command output changed shape between calls: per-cloud shape " +
                        shape_string(std::vector<std::size_t>(all.shape.begin() + 1, all.shape.end())) + " then " +
                        shape_string(rest));
        }
        all.data.insert(all.data.end(), part.data.begin(), part.data.end());
    }
    return all;
}

h5::Array<double> CommandModel::run_chunk(const std::vector<Points>& clouds, std::size_t begin, std::size_t end) {
    ++calls_;
    const std::string in = dir_ + "/in.h5", out = dir_ + "/out.h5", err = dir_ + "/stderr.txt";
    std::filesystem::remove(out);
    {
        io::PointSets sets;
        sets.layout = io::PointSets::Layout::batch;
        for (std::size_t i = begin; i < end; ++i) {
            io::PointSet p;
            p.points = clouds[i];
            sets.items.push_back(std::move(p));
        }
        h5::File f = h5::File::create(in);
        io::write_point_sets(f, sets);
        f.set_attr("/", "orbit_format", "orbit/1");
        f.set_attr("/", "orbit_kind", "pointset");
        f.close();
    }
    const bool use_in = opt_.command.find("{in}") != std::string::npos;
    const bool use_out = opt_.command.find("{out}") != std::string::npos;
    std::string cmd = replace_all(replace_all(opt_.command, "{in}", shell_quote(in)), "{out}", shell_quote(out));

    const pid_t pid = fork();
    if (pid < 0) throw Error("cannot start the model command (fork failed)");
    if (pid == 0) {
        setpgid(0, 0);  // own process group, so a timeout can stop the whole pipeline
        int fin = open(use_in ? "/dev/null" : in.c_str(), O_RDONLY);
        int fout = use_out ? open("/dev/null", O_WRONLY) : open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int ferr = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fin < 0 || fout < 0 || ferr < 0) _exit(127);
        dup2(fin, 0);
        dup2(fout, 1);
        dup2(ferr, 2);
        execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    setpgid(pid, pid);
    const auto start = std::chrono::steady_clock::now();
    int status = 0;
    auto sleep_for = std::chrono::microseconds(500);
    while (true) {
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) throw Error("lost the model command (waitpid failed)");
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed > opt_.timeout_s) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            const std::string tail = last_line(err);
            throw Error("model command timed out after " + std::to_string(static_cast<long>(opt_.timeout_s)) +
                        " s (the time limit per call): " + opt_.command + (tail.empty() ? "" : " :: " + tail));
        }
        std::this_thread::sleep_for(sleep_for);
        sleep_for = std::min(sleep_for * 2, std::chrono::microseconds(20000));
    }
    {
        std::ifstream ef(err);
        std::string line;
        while (std::getline(ef, line)) log::detail("model: " + line);
    }
    const std::string tail = last_line(err);
    if (WIFSIGNALED(status))
        throw Error("model command was killed by signal " + std::to_string(WTERMSIG(status)) + ": " + opt_.command +
                    (tail.empty() ? "" : " :: " + tail));
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        throw Error("model command failed with exit status " + std::to_string(WEXITSTATUS(status)) + ": " +
                    opt_.command + (tail.empty() ? "" : " :: " + tail));
    const std::string shown = use_out ? "{out}" : "stdout";
    if (!std::filesystem::exists(out) || std::filesystem::file_size(out) == 0)
        throw Error("model command wrote no output to " + shown + ": " + opt_.command);
    if (!h5::looks_like_hdf5(out)) throw Error("model command output (" + shown + ") is not an HDF5 file: " + opt_.command);
    h5::File f = h5::File::open_read(out);
    std::string ds = opt_.output_dataset;
    if (ds.empty()) {
        if (f.exists("/output")) {
            ds = "/output";
        } else {
            auto list = f.list_datasets("/");
            if (list.empty()) throw Error("model command output (" + shown + ") holds no dataset: " + opt_.command);
            ds = list.front().path;
        }
    } else if (!f.exists(ds)) {
        throw Error("model command output (" + shown + ") has no dataset '" + ds + "'");
    }
    h5::Array<double> a = f.read<double>(ds);
    const std::size_t n = end - begin;
    if (a.rank() == 0 || a.shape[0] != n)
        throw Error("model output " + shown + ":" + ds + " has shape " + shape_string(a.shape) + ", expected " +
                    std::to_string(n) + " rows (one per cloud of the batch it was given)");
    for (double v : a.data)
        if (!std::isfinite(v)) throw Error("model output " + shown + ":" + ds + " contains NaN or infinite values");
    return a;
}

// ---- FunctionModel -----------------------------------------------------------

h5::Array<double> FunctionModel::evaluate(const std::vector<Points>& clouds) {
    h5::Array<double> a;
    a.shape = shape_;
    a.shape.insert(a.shape.begin(), clouds.size());
    std::size_t per = 1;
    for (auto d : shape_) per *= d;
    for (auto& c : clouds) {
        std::vector<double> y = fn_(c);
        if (y.size() != per)
            throw Error(name_ + ": returned " + std::to_string(y.size()) + " values, expected " + std::to_string(per));
        a.data.insert(a.data.end(), y.begin(), y.end());
    }
    return a;
}

// ---- wrapped models ------------------------------------------------------------

std::string CanonicalizedModel::describe() const {
    return "canonicalize(" + canon::group_name(opt_.group) + ") then " + inner_.describe();
}

h5::Array<double> CanonicalizedModel::evaluate(const std::vector<Points>& clouds) {
    std::vector<Points> canon_clouds(clouds.size());
    std::vector<Transform> back(clouds.size());
    for (std::size_t i = 0; i < clouds.size(); ++i) {
        canon::Canonical c = canon::pca_canonical(clouds[i], opt_);
        canon_clouds[i] = canon::transform_points(c.transform, clouds[i]);
        back[i] = inverse(c.transform);
    }
    h5::Array<double> y = inner_.evaluate(canon_clouds);
    const std::vector<std::size_t> rest(y.shape.begin() + 1, y.shape.end());
    const std::size_t per = y.data.size() / clouds.size();
    for (std::size_t i = 0; i < clouds.size(); ++i) {
        std::vector<double> block(y.data.begin() + static_cast<long>(i * per), y.data.begin() + static_cast<long>((i + 1) * per));
        move_output(type_, back[i], nullptr, block, rest);
        std::copy(block.begin(), block.end(), y.data.begin() + static_cast<long>(i * per));
    }
    return y;
}

std::string FrameAveragedModel::describe() const {
    return "frame average(" + canon::group_name(opt_.group) + ") of " + inner_.describe();
}

h5::Array<double> FrameAveragedModel::evaluate(const std::vector<Points>& clouds) {
    const std::size_t f = static_cast<std::size_t>(canon::frame_count(opt_.group));
    std::vector<Points> copies;
    std::vector<Transform> back;
    copies.reserve(clouds.size() * f);
    for (auto& c : clouds)
        for (auto& t : canon::pca_frames(c, opt_)) {
            copies.push_back(canon::transform_points(t, c));
            back.push_back(inverse(t));
        }
    h5::Array<double> y = inner_.evaluate(copies);
    const std::vector<std::size_t> rest(y.shape.begin() + 1, y.shape.end());
    const std::size_t per = y.data.size() / copies.size();
    h5::Array<double> out;
    out.shape = y.shape;
    out.shape[0] = clouds.size();
    out.data.assign(clouds.size() * per, 0.0);
    for (std::size_t i = 0; i < clouds.size(); ++i) {
        if (type_ == OutputType::labels && per == 1) {  // single labels: majority vote, ties to the smaller label
            std::map<double, int> votes;
            for (std::size_t k = 0; k < f; ++k) votes[std::round(y.data[i * f + k])]++;
            int best = -1;
            for (auto& [label, count] : votes)
                if (count > best) best = count, out.data[i] = label;
            continue;
        }
        for (std::size_t k = 0; k < f; ++k) {
            const std::size_t j = i * f + k;
            std::vector<double> block(y.data.begin() + static_cast<long>(j * per), y.data.begin() + static_cast<long>((j + 1) * per));
            move_output(type_, back[j], nullptr, block, rest);
            for (std::size_t e = 0; e < per; ++e) out.data[i * per + e] += block[e] / static_cast<double>(f);
        }
    }
    return out;
}

}  // namespace orbit::invariance
