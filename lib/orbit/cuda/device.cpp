#include "orbit/cuda/device.hpp"

#ifdef ORBIT_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace orbit::cuda {

bool built() {
#ifdef ORBIT_HAVE_CUDA
    return true;
#else
    return false;
#endif
}

bool device_available() {
#ifdef ORBIT_HAVE_CUDA
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky "no device" error
        return false;
    }
    return count > 0;
#else
    return false;
#endif
}

std::string device_name() {
#ifdef ORBIT_HAVE_CUDA
    if (!device_available()) return "";
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "";
    return prop.name;
#else
    return "";
#endif
}

}  // namespace orbit::cuda
