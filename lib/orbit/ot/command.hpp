#pragma once
// orbit-sinkhorn's settings: the option values as given (file names, GeomLoss
// units), turned into a transport or barycenter request after the option
// combinations are checked, and the problems read from their files. The tool
// declares the options into these fields; messages here name the options.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orbit/ot/barycenter.hpp"
#include "orbit/ot/transport.hpp"

namespace orbit::ot {

struct TransportSettings {
    std::string xs, ys, cost, cost_xx, cost_yy, a, b, warm, output;
    TransportRequest q;
    double blur = 0, reach = 0, rho = 0, scaling = 0, budget_mb = 1024;
    int p = 2;
    bool half = false, divergence = false, exact = false, gromov = false, kernel = false, allow = false;
    // --barycenter: the input files, their weights (default uniform), the
    // support (a file, or this many points drawn from the inputs; default
    // their union) and the method.
    std::vector<std::string> barycenter;
    std::vector<double> weights;
    std::string support;
    int support_size = 0;
    bool debiased = false, free_support = false;
    std::uint64_t seed = 0;
};

// Checks the combinations of options (UsageError naming an option) and fills
// s.q from the values; `given` tells whether an option appeared.
void configure(TransportSettings& s, const std::function<bool(const char*)>& given);

// The problems of a transport request, with --a/--b (a 2-D --b [M,K]: K
// problems against the one cost) and the partial mass checked against them,
// and the history lines of the inputs (point sets and cost matrix).
struct TransportProblems {
    std::vector<TransportInput> problems;
    std::vector<std::string> history;
};
TransportProblems read_problems(const TransportSettings& s);

struct BarycenterProblem {
    std::vector<Measure> inputs;
    std::vector<double> weights;  // --weights, else equal
    Measure support;
    BarycenterOptions options;
    std::vector<std::string> history;
};
BarycenterProblem read_barycenter_problem(const TransportSettings& s);

// --barycenter: reads the sets and the support, solves, checks convergence,
// writes the barycenter to s.output (when set) and returns the --json
// summary; `say` logs one line for a person.
nlohmann::json run_barycenter(const TransportSettings& s, bool say);

// Throws Error for each problem that did not converge (a warning instead
// with --allow-unconverged), with the advice that fits it.
void check_convergence(const TransportRun& run, const TransportSettings& s);
void check_convergence(const BarycenterResult& r, const TransportSettings& s);

}  // namespace orbit::ot
