#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine: install dependencies,
# build, run every test (unit, lit, numerical end to end against PyTorch)
# with ctest. The last line is the count: `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh || exit 1
# CI builds with warnings as errors (CNNC_WERROR=ON in .ci/run).
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCNNC_WERROR="${CNNC_WERROR:-OFF}" || exit 1
ninja -C build || exit 1
log=$(mktemp)
ctest --test-dir build --output-on-failure -j2 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
total=$(grep -oE 'tests failed out of [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
failed=$(grep -oE '[0-9]+ tests failed out of' "$log" | grep -oE '^[0-9]+' || echo "$total")
rm -f "$log"
echo "$((total - failed)) passed, $failed failed"
[ "$status" -eq 0 ] && [ "$total" -gt 0 ]
