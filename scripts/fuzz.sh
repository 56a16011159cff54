#!/usr/bin/env bash
# A fuzzing campaign: scripts/fuzz.sh TARGET|all [SECONDS]
#
# Runs the libFuzzer target fuzz_TARGET (yaml, onnx, safetensors, npy, idx, checkpoint, metadata;
# test/fuzz/) for SECONDS (default 600) each, from its seed corpus in test/fuzz/corpus/TARGET
# (the yaml target also from models/ and test/lit/frontends/), with its dictionary when it has
# one. New inputs are kept in build-sanitize/fuzz/campaign/TARGET/, so the repository's corpus
# stays small and a later campaign continues from where this one stopped; findings (crash-*,
# leak-*, timeout-*, oom-*) go to build-sanitize/fuzz/campaign-artifacts/TARGET/. A target stops
# at its first finding; the others still run. At the end: per target, seconds, executions,
# executions per second, corpus size and findings (with each finding's file and first report
# line); the exit status is 1 if any target found something.
#
# Needs the sanitizer tree with the fuzz targets (README, "Fuzzing and sanitizers"):
#   cmake -S . -B build-sanitize -G Ninja -DCMAKE_C_COMPILER=clang-19 \
#     -DCMAKE_CXX_COMPILER=clang++-19 -DCNNC_SANITIZE=address,undefined -DCNNC_FUZZ=ON
#   ninja -C build-sanitize
# (CNNC_SANITIZE_BUILD_DIR names another tree.) A reproducer replays with
#   build-sanitize/bin/fuzz_TARGET FILE
set -uo pipefail
cd "$(dirname "$0")/.."
targets=(yaml onnx safetensors npy idx checkpoint metadata)
build=${CNNC_SANITIZE_BUILD_DIR:-build-sanitize}
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET|all [SECONDS]   (TARGET: ${targets[*]})" >&2
  exit 2
fi
if [ "$1" = all ]; then
  run=("${targets[@]}")
elif [[ " ${targets[*]} " == *" $1 "* ]]; then
  run=("$1")
else
  echo "fuzz.sh: unknown target '$1' (${targets[*]} or all)" >&2
  exit 2
fi
seconds=${2:-600}
for t in "${run[@]}"; do
  if [ ! -x "$build/bin/fuzz_$t" ]; then
    echo "fuzz.sh: $build/bin/fuzz_$t is not built; build the sanitizer tree first (see the" \
         "top of scripts/fuzz.sh)" >&2
    exit 2
  fi
done

summary=()
found=0
for t in "${run[@]}"; do
  work=$build/fuzz/campaign/$t
  artifacts=$build/fuzz/campaign-artifacts/$t
  mkdir -p "$work" "$artifacts"
  seeds=(test/fuzz/corpus/"$t")
  [ "$t" = yaml ] && seeds+=(models test/lit/frontends)
  dict=()
  [ -f test/fuzz/"$t".dict ] && dict=(-dict=test/fuzz/"$t".dict)
  log=$build/fuzz/campaign-$t.log
  before=$(ls "$artifacts" | wc -l)
  echo "== fuzz_$t: $seconds s (log: $log)"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$build/bin/fuzz_$t" -max_total_time="$seconds" \
    -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "${dict[@]}" "$work" "${seeds[@]}" >"$log" 2>&1
  status=$?
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  secs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE '[0-9]+ second' |
         grep -oE '[0-9]+' | tail -1)
  rate=$(grep -oE 'stat::average_exec_per_sec: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  corpus=$(ls "$work" | wc -l)
  new=$(($(ls "$artifacts" | wc -l) - before))
  if [ "$status" -ne 0 ] || [ "$new" -gt 0 ]; then
    found=1
    what=$(grep -m1 -E '^==[0-9]+==ERROR|runtime error:|^==[0-9]+== ERROR|ERROR: libFuzzer' "$log" |
           sed -E 's/^==[0-9]+==//' | cut -c1-150)
    file=$(ls -t "$artifacts" | head -1)
    summary+=("$(printf '%-12s %6s s %12s execs %8s exec/s %7s corpus  FINDING: %s (%s)' "$t" \
      "${secs:-?}" "${execs:-?}" "${rate:-?}" "$corpus" "$artifacts/$file" "${what:-exit $status}")")
  else
    summary+=("$(printf '%-12s %6s s %12s execs %8s exec/s %7s corpus  0 findings' "$t" \
      "${secs:-?}" "${execs:-?}" "${rate:-?}" "$corpus")")
  fi
done
echo
printf '%s\n' "${summary[@]}"
exit $found
