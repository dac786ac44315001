#pragma once
// Models under test. A model maps a batch of clouds to an output array whose
// first dimension is the batch ([B], [B,C], [B,N,3], [B,4,4], ...).
//
//   CommandModel      any program: the batch is written to an HDF5 file as
//                     /points [B,N,D] ({in}, or stdin when {in} is absent), the
//                     command runs through /bin/sh and writes an HDF5 file
//                     ({out}, or stdout) holding /output or, failing that, its
//                     first dataset. Failures become one-line errors that quote
//                     the command's last stderr line.
//   CanonicalizedModel  canonicalize each cloud (PCA frame), run the inner
//                     model, map equivariant outputs back with the inverse.
//   FrameAveragedModel  run the inner model on every PCA frame of each cloud
//                     and average the outputs mapped back to the input frame.
//   FunctionModel     a C++ function (tests, orbit's own models).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "orbit/canon/pca.hpp"
#include "orbit/io/h5.hpp"

namespace orbit::invariance {

// How outputs respond to a group element g = (permutation, A, b).
enum class OutputType {
    invariant,  // f(g x) = f(x)
    points,     // rows of 2 or 3 values move as points: A y + b
    vectors,    // rows move as vectors: A y
    transform,  // 4x4 poses move by left multiplication: T_g Y
    labels,     // class scores [C] (argmax) or one label: predictions should not change
    explanation // per-point attributions [N] or [N,F] (saliency): rows follow the points, values unchanged
};
OutputType parse_output_type(const std::string& text);
std::string output_type_name(OutputType t);

// Applies rho_out(g) to one output block (one cloud's output, shape `shape`).
// With `perm` (per-point outputs) row i of the result is row perm[i] of the input.
void move_output(OutputType type, const Transform& t, const std::vector<std::int64_t>* perm,
                 std::vector<double>& block, const std::vector<std::size_t>& shape);

class Model {
public:
    virtual ~Model() = default;
    virtual std::string describe() const = 0;
    // Output for every cloud; result.shape[0] == clouds.size().
    virtual h5::Array<double> evaluate(const std::vector<Points>& clouds) = 0;
};

struct CommandOptions {
    std::string command;          // with {in} and {out}; either may be absent (stdin / stdout)
    double timeout_s = 600;       // per call
    int batch_size = 256;         // clouds per call
    std::string output_dataset;   // empty: /output, else the first dataset
};

class CommandModel : public Model {
public:
    explicit CommandModel(CommandOptions opt);
    ~CommandModel() override;
    std::string describe() const override { return "command '" + opt_.command + "'"; }
    h5::Array<double> evaluate(const std::vector<Points>& clouds) override;
    std::int64_t calls() const { return calls_; }

private:
    h5::Array<double> run_chunk(const std::vector<Points>& clouds, std::size_t begin, std::size_t end);
    CommandOptions opt_;
    std::string dir_;
    std::int64_t calls_ = 0;
};

class FunctionModel : public Model {
public:
    using Fn = std::function<std::vector<double>(const Points&)>;
    FunctionModel(std::string name, std::vector<std::size_t> shape, Fn fn)
        : name_(std::move(name)), shape_(std::move(shape)), fn_(std::move(fn)) {}
    std::string describe() const override { return name_; }
    h5::Array<double> evaluate(const std::vector<Points>& clouds) override;

private:
    std::string name_;
    std::vector<std::size_t> shape_;
    Fn fn_;
};

// A model run behind PCA frames: the wrapped model, the frame options and how
// its outputs move with the frame.
class FramedModel : public Model {
public:
    FramedModel(Model& inner, canon::Options opt, OutputType type) : inner_(inner), opt_(opt), type_(type) {}

protected:
    Model& inner_;
    canon::Options opt_;
    OutputType type_;
};

class CanonicalizedModel : public FramedModel {
public:
    using FramedModel::FramedModel;
    std::string describe() const override;
    h5::Array<double> evaluate(const std::vector<Points>& clouds) override;
};

class FrameAveragedModel : public FramedModel {
public:
    using FramedModel::FramedModel;
    std::string describe() const override;
    h5::Array<double> evaluate(const std::vector<Points>& clouds) override;
};

// Quotes a path for /bin/sh.
std::string shell_quote(const std::string& s);

}  // namespace orbit::invariance
