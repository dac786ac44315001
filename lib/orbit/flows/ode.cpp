#include "orbit/flows/ode.hpp"

namespace orbit::flows {

OdeMethod parse_ode_method(const std::string& name) {
    if (name == "euler") return OdeMethod::euler;
    if (name == "midpoint") return OdeMethod::midpoint;
    if (name == "rk4") return OdeMethod::rk4;
    if (name == "dopri5") return OdeMethod::dopri5;
    throw UsageError("unknown ODE method '" + name + "' (expected euler, midpoint, rk4 or dopri5)");
}

std::string ode_method_name(OdeMethod m) {
    switch (m) {
        case OdeMethod::euler: return "euler";
        case OdeMethod::midpoint: return "midpoint";
        case OdeMethod::rk4: return "rk4";
        case OdeMethod::dopri5: return "dopri5";
    }
    return "dopri5";
}

}  // namespace orbit::flows
