# Interface targets for warnings and sanitizers (never global flags).
#   plateau_warnings   : strict warnings; -Werror when PLATEAU_WERROR is ON
#   plateau_sanitizers : ASan+UBSan or TSan, chosen by PLATEAU_SANITIZER
#   plateau_arch       : host-specific code generation when PLATEAU_NATIVE is ON
add_library(plateau_warnings INTERFACE)
target_compile_options(plateau_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough -Wzero-as-null-pointer-constant)
# Clang's checks that stand in for clang-tidy's (.clang-tidy): a reserved identifier (_Upper,
# __x) of ours.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    target_compile_options(plateau_warnings INTERFACE -Wreserved-identifier)
endif()
# GCC 12 reports -Wuse-after-free inside Eigen's aligned allocator after inlining (a known false
# positive of the late warning pass, GCC bug 104069); -Wnull-dereference likewise fires inside
# libstdc++'s vector at -O2. Neither is ours to fix.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
    # -Wrestrict: std::string concatenation at -O3 (GCC bug 105329), likewise a false positive.
    target_compile_options(plateau_warnings INTERFACE -Wno-use-after-free -Wno-restrict)
endif()
# -Wpsabi: models/vector_math.hpp's four-double vectors are 32 bytes, whose passing differs with
# and without AVX; they pass only between always-inline functions (no call crosses the ABI).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(plateau_warnings INTERFACE -Wno-psabi)
endif()
if(PLATEAU_WERROR)
    target_compile_options(plateau_warnings INTERFACE -Werror)
endif()

add_library(plateau_sanitizers INTERFACE)
if(PLATEAU_SANITIZER STREQUAL "address")
    # UBSan without three checks that cost build time out of proportion here (docs/PERFORMANCE.md
    # §21: engine/theory/escape.cpp builds in 20 s without sanitizers, 27 s with ASan, 45 s with
    # ASan+UBSan): pointer-overflow and alignment instrument every access of Eigen's inlined
    # kernels (their pointers come from Eigen's aligned allocator), vptr every polymorphic call.
    # Integer overflow, shifts, division by zero, bounds, null, float casts, enums, bool,
    # unreachable and return stay on.
    set(plateau_ubsan_off pointer-overflow,alignment,vptr)
    target_compile_options(plateau_sanitizers INTERFACE
        -fsanitize=address,undefined -fno-sanitize=${plateau_ubsan_off} -fno-omit-frame-pointer
        -fno-sanitize-recover=undefined)
    target_link_options(plateau_sanitizers INTERFACE -fsanitize=address,undefined
        -fno-sanitize=${plateau_ubsan_off})
elseif(PLATEAU_SANITIZER STREQUAL "thread")
    target_compile_options(plateau_sanitizers INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(plateau_sanitizers INTERFACE -fsanitize=thread)
elseif(NOT PLATEAU_SANITIZER STREQUAL "none")
    message(FATAL_ERROR "PLATEAU_SANITIZER='${PLATEAU_SANITIZER}': allowed are none, address, thread")
endif()

add_library(plateau_arch INTERFACE)
if(PLATEAU_NATIVE)
    target_compile_options(plateau_arch INTERFACE -march=native)
    # With AVX-512 code paths GCC 12 reports -Wmaybe-uninitialized inside Eigen's packet math
    # (false positives in a system header, attributed to our call sites after inlining).
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        target_compile_options(plateau_arch INTERFACE -Wno-maybe-uninitialized)
    endif()
endif()

# Everything of ours links this one target.
add_library(plateau_build_flags INTERFACE)
target_link_libraries(plateau_build_flags INTERFACE plateau_warnings plateau_sanitizers plateau_arch)
