# liborbit for other projects: every module joined into one shared library
# (liborbit.so) and one static archive (liborbit.a), the headers, a pkg-config
# file and a CMake package, so that an installed tree is used with
#   pkg-config --cflags --libs orbit            (shared)
#   find_package(Orbit) + Orbit::orbit          (shared) or Orbit::orbit_static
# The tools keep linking the per-module archives; these targets only add the
# installable forms. ORBIT_MODULES is filled by orbit_module() in dependency order.
include(CMakePackageConfigHelpers)
get_property(orbit_modules GLOBAL PROPERTY ORBIT_MODULES)

# What a program that includes the headers needs: the headers of Eigen, HDF5,
# nlohmann-json and CLI11 appear in liborbit's own headers.
set(orbit_public_deps Eigen3::Eigen HDF5::HDF5 nlohmann_json::nlohmann_json CLI11::CLI11)
set(orbit_link_deps ${orbit_public_deps} nanoflann::nanoflann OpenMP::OpenMP_CXX PkgConfig::CAIRO ZLIB::ZLIB assimp::assimp Threads::Threads)
if(ORBIT_HAVE_CUDA)
  list(APPEND orbit_link_deps CUDA::cudart)
endif()
if(ORBIT_HAVE_MPI)
  list(APPEND orbit_link_deps MPI::MPI_C)
endif()

set(orbit_objects "")
foreach(m ${orbit_modules})
  get_target_property(type ${m} TYPE)
  if(type STREQUAL "STATIC_LIBRARY")
    list(APPEND orbit_objects $<TARGET_OBJECTS:${m}>)
  endif()
endforeach()
# Both forms are made of the modules' compiled objects (position independent),
# so nothing is compiled twice.
add_library(orbit_shared SHARED ${orbit_objects})
target_link_libraries(orbit_shared PUBLIC ${orbit_public_deps} PRIVATE ${orbit_link_deps})
set_target_properties(orbit_shared PROPERTIES OUTPUT_NAME orbit EXPORT_NAME orbit
                      VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
add_library(orbit_static STATIC ${orbit_objects})
target_link_libraries(orbit_static PUBLIC ${orbit_link_deps})
set_target_properties(orbit_static PROPERTIES OUTPUT_NAME orbit EXPORT_NAME orbit_static
                      ARCHIVE_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)

# Eigen's fixed-size types (Transform, the 3-vectors in structs) are laid out
# by the instruction set a file is compiled for, so a program must use the
# same -march as liborbit or the structs it shares with the library disagree.
set(orbit_abi_flags "")
if(ORBIT_NATIVE)
  set(orbit_abi_flags -march=native)
endif()
foreach(t orbit_shared orbit_static)
  target_include_directories(${t} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_options(${t} INTERFACE ${orbit_abi_flags})
  if(ORBIT_HAVE_CUDA)
    target_compile_definitions(${t} INTERFACE ORBIT_HAVE_CUDA=1)
  endif()
endforeach()

install(TARGETS orbit_shared orbit_static EXPORT OrbitTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY lib/orbit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")
install(FILES ${CMAKE_BINARY_DIR}/include/orbit/core/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/orbit/core)

set(orbit_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/Orbit)
install(EXPORT OrbitTargets NAMESPACE Orbit:: DESTINATION ${orbit_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/OrbitConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/OrbitConfig.cmake INSTALL_DESTINATION ${orbit_cmake_dir})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/OrbitConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/OrbitConfig.cmake ${CMAKE_BINARY_DIR}/cmake/OrbitConfigVersion.cmake
        DESTINATION ${orbit_cmake_dir})

# pkg-config: paths relative to the .pc file, so `cmake --install --prefix P`
# works whatever prefix the build was configured with.
file(RELATIVE_PATH orbit_pc_to_prefix /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" orbit_pc_to_prefix "${orbit_pc_to_prefix}")
set(orbit_extra_cflags "")
if(ORBIT_NATIVE)
  string(APPEND orbit_extra_cflags " -march=native")
endif()
if(ORBIT_HAVE_CUDA)
  string(APPEND orbit_extra_cflags " -DORBIT_HAVE_CUDA=1")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/orbit.pc.in ${CMAKE_BINARY_DIR}/pkgconfig/orbit.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/pkgconfig/orbit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
