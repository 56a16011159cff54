#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine: install dependencies,
# build, run every test (unit, lit, numerical end to end against PyTorch)
# with ctest; then build the sanitizer trees (clang-19) and run their tests
# (runtime, cnnrun and fuzz targets under ASan+UBSan; thread tests under
# TSan). The last line is the count over all of them: `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh || exit 1
# CI builds with warnings as errors (CNNC_WERROR=ON in .ci/run).
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCNNC_WERROR="${CNNC_WERROR:-OFF}" || exit 1
ninja -C build || exit 1
passed=0
failed=0
status=0
# Runs ctest in build tree $1 with the remaining arguments and adds its counts to the totals.
run_ctest() {
  local dir=$1 log
  shift
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j2 "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local total fails
  total=$(grep -oE 'tests failed out of [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  fails=$(grep -oE '[0-9]+ tests failed out of' "$log" | grep -oE '^[0-9]+' || echo "$total")
  rm -f "$log"
  passed=$((passed + total - fails))
  failed=$((failed + fails))
  if [ "$rc" -ne 0 ] || [ "$total" -eq 0 ]; then status=1; fi
}
run_ctest build

# The sanitizer tree (README, "Fuzzing and sanitizers"): the runtime, cnnrun, the runtime's unit
# tests, cnnrun's end-to-end tests (models compiled by build/bin/cnnc) and the fuzz targets, 30 s
# each, all under AddressSanitizer + UndefinedBehaviorSanitizer. A tree that does not build
# counts as one failed test. Usage: sanitizer_tree DIR "NINJA TARGETS" CMAKE_ARGS... (targets
# "" builds everything).
sanitizer_tree() {
  local dir=$1 targets=$2
  shift 2
  # shellcheck disable=SC2086 # the targets are a word list
  if cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang-19 \
       -DCMAKE_CXX_COMPILER=clang++-19 -DCNNC_WERROR="${CNNC_WERROR:-OFF}" "$@" &&
     ninja -C "$dir" $targets; then
    return 0
  fi
  echo "test.sh: the sanitizer tree $dir does not build"
  failed=$((failed + 1))
  status=1
  return 1
}
if sanitizer_tree build-sanitize "" -DCNNC_SANITIZE=address,undefined -DCNNC_FUZZ=ON \
     -DCNNC_HOST_BIN_DIR="$PWD/build/bin"; then
  run_ctest build-sanitize
fi
# ThreadSanitizer, runtime only: the tests of models shared by threads (cnnc_thread_tests, the
# suites Session*, Scratch*), and nothing else, to keep the build short.
if sanitizer_tree build-tsan cnnc_thread_tests -DCNNC_SANITIZE=thread; then
  run_ctest build-tsan -R '^unit\.(Session|Scratch)'
fi

echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
