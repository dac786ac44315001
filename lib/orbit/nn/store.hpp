#pragma once
// Saving and loading parameters in HDF5: one dataset per parameter (float32 for float models),
// named after it, under a group ("/model/weights/net0.in.W").
#include <string>
#include <vector>

#include "orbit/io/h5.hpp"
#include "orbit/nn/layers.hpp"

namespace orbit::nn {

// Resuming from `resume` keeps its architecture: any architecture option given
// (`given`, by name) is a usage error.
void refuse_architecture_options(const std::vector<std::string>& given, const std::string& resume);

template <class T>
void save_params(h5::File& file, const std::string& group, const ParamList<T>& params);
// Overwrites every parameter from the file; the dataset must exist and have the parameter's shape.
template <class T>
void load_params(const h5::File& file, const std::string& group, const ParamList<T>& params);

// Tensors stored under group/<index> (optimizer moments).
template <class T>
void save_mats(h5::File& file, const std::string& group, const std::vector<Mat<T>>& mats);
template <class T>
void load_mats(const h5::File& file, const std::string& group, std::vector<Mat<T>>& mats);

}  // namespace orbit::nn
