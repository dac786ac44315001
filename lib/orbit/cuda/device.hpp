#pragma once
// Whether CUDA kernels were built in and a device is present at run time.
// Code that has a CUDA path asks here first and falls back to the CPU path.
#include <string>

namespace orbit::cuda {

bool built();             // compiled with ORBIT_HAVE_CUDA
bool device_available();  // built() and at least one usable device
std::string device_name();  // "" when none

}  // namespace orbit::cuda
