# Sanitizer and fuzzing builds (README, "Fuzzing and sanitizers"). Included by the top-level CMakeLists.txt.
#   -DCNNC_SANITIZE=address,undefined (or thread, ...): every file is compiled and linked with
#       -fsanitize=<list>, frame pointers kept and no recovery, so the first error ends the
#       program with a report.
#   -DCNNC_FUZZ=ON: also builds the libFuzzer targets of test/fuzz (the code they reach is
#       compiled with -fsanitize=fuzzer-no-link for coverage; the targets link -fsanitize=fuzzer).
# Either makes this a sanitizer tree: the runtime, cnnrun and the runtime's unit tests, plus, with
# CNNC_FUZZ, the cnn dialect and the frontends up to the verified IR. The Halide lowering, cnnc,
# the Python module and the examples are left out: Halide 14 carries its own LLVM (uninstrumented,
# and the bulk of cnnc's build time), so a sanitized cnnc would take long to build and would
# check little of what runs. Both need clang (Debian's clang-19, libclang-rt-19-dev):
#   cmake -S . -B build-sanitize -G Ninja -DCMAKE_C_COMPILER=clang-19 \
#     -DCMAKE_CXX_COMPILER=clang++-19 -DCNNC_SANITIZE=address,undefined -DCNNC_FUZZ=ON
set(CNNC_SANITIZE "" CACHE STRING
    "Sanitizers for every file, as -fsanitize= takes them (address,undefined or thread; clang)")
option(CNNC_FUZZ "Build the libFuzzer targets of test/fuzz (clang; with CNNC_SANITIZE)" OFF)
set(CNNC_FUZZ_SECONDS 30 CACHE STRING "Seconds each fuzz.<target> test fuzzes")
set(CNNC_HOST_BIN_DIR ${CMAKE_SOURCE_DIR}/build/bin CACHE PATH
    "A normal build's bin directory, whose cnnc compiles the models of the sanitizer tree's e2e tests")

set(CNNC_SANITIZER_TREE OFF)
if(CNNC_SANITIZE OR CNNC_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "CNNC_SANITIZE and CNNC_FUZZ need clang: configure with "
            "-DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19")
  endif()
  if(CNNC_FUZZ AND NOT CNNC_SANITIZE)
    message(FATAL_ERROR "CNNC_FUZZ needs CNNC_SANITIZE (e.g. address,undefined)")
  endif()
  set(CNNC_SANITIZER_TREE ON)
  # The runtime part of the build (runtime, cnnrun, unit tests) is what CNNC_RUNTIME_ONLY builds.
  set(CNNC_RUNTIME_ONLY ON)
  # Optimized enough to run the tests quickly, with line tables for the reports' stack traces.
  set(CMAKE_C_FLAGS_RELEASE "-O1 -gline-tables-only -DNDEBUG")
  set(CMAKE_CXX_FLAGS_RELEASE "-O1 -gline-tables-only -DNDEBUG")
  add_compile_options(-fsanitize=${CNNC_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${CNNC_SANITIZE})
  if(CNNC_FUZZ)
    add_compile_options(-fsanitize=fuzzer-no-link)
  endif()
endif()
