#pragma once
// Transport inputs from files: point sets (one cloud or a batch [B,N,D],
// weights from their /weights or uniform), explicit cost matrices and weight
// vectors named FILE:/dataset.
#include <string>
#include <vector>

#include "orbit/ot/barycenter.hpp"
#include "orbit/ot/transport.hpp"

namespace orbit::ot {

// A 1-D weight vector (dataset default /weights).
Vector read_weight_vector(const std::string& ref);
// Weight vectors as the columns of a matrix: a 1-D dataset is one column, a
// 2-D [M,K] dataset K columns of M weights (dataset default /weights).
Matrix read_weight_columns(const std::string& ref);
// A 2-D cost matrix (dataset default /cost). +inf entries are forbidden pairs;
// NaN and -inf are refused. The file's history lines are appended to `history`.
Matrix read_cost_matrix(const std::string& ref, std::vector<std::string>* history = nullptr);
// One problem per cloud of x, each against the cloud of y with the same index
// (or against y's only cloud). The inputs' history lines (x's, then y's; also
// from a stream) are appended to `history`.
std::vector<TransportInput> read_point_problems(const std::string& x, const std::string& y,
                                                std::vector<std::string>* history = nullptr);
// One weighted cloud (weights from /weights, else uniform 1/N): a barycenter's input or support.
Measure read_measure(const std::string& ref, std::vector<std::string>* history = nullptr);
// One problem for an explicit cost matrix, with uniform weights.
TransportInput cost_problem(Matrix cost);
// Warm-start potentials (opt.f_init, opt.g_init) from the /f and /g of an earlier result file.
void read_warm_start(const std::string& path, SinkhornOptions& opt);

}  // namespace orbit::ot
