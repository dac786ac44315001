#include "orbit/flows/ode.hpp"

#include "orbit/core/names.hpp"

namespace orbit::flows {

constexpr Spelling<OdeMethod> kOdeMethods[] = {{OdeMethod::euler, "euler"}, {OdeMethod::midpoint, "midpoint"},
                                               {OdeMethod::rk4, "rk4"}, {OdeMethod::dopri5, "dopri5"}};

OdeMethod parse_ode_method(const std::string& name) {
    return parse_spelling(kOdeMethods, name, "unknown ODE method '" + name + "' (expected euler, midpoint, rk4 or dopri5)");
}

std::string ode_method_name(OdeMethod m) { return spelling_of(kOdeMethods, m, "dopri5"); }

}  // namespace orbit::flows
