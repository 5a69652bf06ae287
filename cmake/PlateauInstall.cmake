# Install and export: the engine as a library for other CMake projects,
#     find_package(plateau 0.1 REQUIRED)
#     target_link_libraries(my_tool PRIVATE plateau::engine)
# plus the `plateau` program. Headers keep their repository paths under include/plateau/
# (#include "engine/run/run.hpp"). tests/install/ is a consumer project that the ctest entry
# `install: find_package(plateau) from an installed tree` builds against a fresh install.
include(CMakePackageConfigHelpers)

# The interface targets carry compile flags of this build (sanitizers, -march=native); the
# static libraries name them in their link interface, so they are exported with them.
install(TARGETS plateau_models plateau_engine plateau_warnings plateau_sanitizers plateau_arch
                plateau_build_flags
    EXPORT plateauTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/plateau)
install(TARGETS plateau RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Public headers only: the HDF5 helpers' internals and the flow's private header stay behind.
set(PLATEAU_PRIVATE_HEADERS engine/io/h5/detail.hpp engine/theory/flow_paths.hpp)
foreach(dir models models/activations ${PLATEAU_ENGINE_FOLDERS})
    if(NOT dir MATCHES "^models")
        set(dir engine/${dir})
    endif()
    file(GLOB headers RELATIVE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/${dir}/*.hpp)
    list(REMOVE_ITEM headers ${PLATEAU_PRIVATE_HEADERS})
    list(TRANSFORM headers PREPEND ${PROJECT_SOURCE_DIR}/)
    install(FILES ${headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/plateau/${dir})
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/generated/plateau_version.hpp
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/plateau)

set(PLATEAU_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/plateau)
install(EXPORT plateauTargets NAMESPACE plateau:: DESTINATION ${PLATEAU_CMAKE_DIR})
configure_package_config_file(cmake/plateauConfig.cmake.in
    ${PROJECT_BINARY_DIR}/plateauConfig.cmake INSTALL_DESTINATION ${PLATEAU_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/plateauConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/plateauConfig.cmake
              ${PROJECT_BINARY_DIR}/plateauConfigVersion.cmake
    DESTINATION ${PLATEAU_CMAKE_DIR})
