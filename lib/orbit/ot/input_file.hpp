#pragma once
// Transport inputs from files: point sets (one cloud or a batch [B,N,D],
// weights from their /weights or uniform), explicit cost matrices and weight
// vectors named FILE:/dataset.
#include <string>
#include <vector>

#include "orbit/ot/transport.hpp"

namespace orbit::ot {

// A 1-D weight vector (dataset default /weights).
Vector read_weight_vector(const std::string& ref);
// A 2-D cost matrix (dataset default /cost). +inf entries are forbidden pairs;
// NaN and -inf are refused.
Matrix read_cost_matrix(const std::string& ref);
// One problem per cloud of x, each against the cloud of y with the same index
// (or against y's only cloud).
std::vector<TransportInput> read_point_problems(const std::string& x, const std::string& y);
// One problem for an explicit cost matrix, with uniform weights.
TransportInput cost_problem(Matrix cost);
// Warm-start potentials (opt.f_init, opt.g_init) from the /f and /g of an earlier result file.
void read_warm_start(const std::string& path, SinkhornOptions& opt);

}  // namespace orbit::ot
