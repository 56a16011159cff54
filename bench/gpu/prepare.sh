#!/usr/bin/env bash
# Builds the folder that bench/gpu/run_gpu_bench.py runs from on a GPU host that has CUDA and
# PyTorch but nothing of the cnnc build:
#
#   cnnrun             cnnrun_static: libstdc++ and zlib linked in, needs glibc >= 2.34, libgcc_s
#   models/<m>.so      the benchmark models compiled by cnnc for $TARGET (with their train step,
#                      the single conv inference only)
#   manifest.json      target, commit, date, and per model: library, model file, input shape,
#                      train: section, compile time
#   run_gpu_bench.py, twins.py, reference_models.py   the benchmark and its PyTorch twins
#
# No weights: the script makes them on the GPU host from seeded twins (VGG-11's are 0.5 GB).
# The folder must stay under 64 MiB (what one transfer to a device machine carries); the
# script checks. Run from anywhere in the source tree:
#
#   bench/gpu/prepare.sh [--smoke] [--keep-models] [OUT]
#
# OUT: default build/gpu-bench (build/gpu-bench-smoke with --smoke). --smoke compiles for
# host-opencl instead, for a dry run on this machine through PoCL
# (run_gpu_bench.py --smoke). --keep-models reuses the .so files already in OUT/models.
# Environment: BUILD (default build: the tree where cnnrun_static is built with
# `ninja cnnrun_static`), CNNC (default $BUILD/bin/cnnc), TARGET (default
# x86-64-linux-avx2-fma-f16c-sse41-cuda-cuda_capability_80: "host" would bake this machine's
# AVX-512 features into the models' host code, which the GPU host's CPU may lack; the PTX
# for compute capability 8.0 is JIT-compiled by the driver for newer GPUs), JOBS (ninja -j,
# default 2), PYTHON (default /usr/bin/python3, with PyYAML).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
smoke=0 keep=0 out=""
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=1 ;;
    --keep-models) keep=1 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "prepare.sh: unknown option $arg" >&2; exit 1 ;;
    *) out=$arg ;;
  esac
done
build=${BUILD:-$src/build}
cnnc=${CNNC:-$build/bin/cnnc}
python=${PYTHON:-/usr/bin/python3}
if [ "$smoke" = 1 ]; then
  target=${TARGET:-host-opencl}
  out=${out:-$src/build/gpu-bench-smoke}
else
  target=${TARGET:-x86-64-linux-avx2-fma-f16c-sse41-cuda-cuda_capability_80}
  out=${out:-$src/build/gpu-bench}
fi
[ -x "$cnnc" ] || { echo "prepare.sh: no cnnc at $cnnc (build it, or set CNNC)" >&2; exit 1; }

echo "== cnnrun_static ($build)"
nice ninja -C "$build" -j"${JOBS:-2}" cnnrun_static
mkdir -p "$out/models"
cp "$build/bin/cnnrun_static" "$out/cnnrun"
cp "$src/bench/gpu/run_gpu_bench.py" "$src/bench/gpu/twins.py" "$src/tools/py/reference_models.py" \
  "$out/"
ldd "$out/cnnrun" | sed 's/^/  /'
glibc=$(objdump -T "$out/cnnrun" | grep -oE 'GLIBC_[0-9.]+' | sort -uV | tail -1)
echo "  newest glibc symbol version needed: $glibc"

# name, model file, extra cnnc flags
models=(
  "conv3x3_64 bench/conv3x3_64.yaml --inference-only"
  "mnist_cnn models/mnist_cnn.yaml"
  "resnet18 models/resnet18.yaml"
  "googlenet models/googlenet.yaml"
  "vgg11 models/vgg11.yaml"
)
times="$out/models/compile_times.txt"
[ "$keep" = 1 ] && [ -f "$times" ] || : > "$times"
for row in "${models[@]}"; do
  read -r name file flags <<< "$row"
  lib="$out/models/$name.so"
  if [ "$keep" = 1 ] && [ -f "$lib" ]; then
    echo "== $name: kept $lib"
    continue
  fi
  echo "== $name: cnnc $file --target=$target $flags"
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  nice "$cnnc" "$src/$file" --target="$target" $flags -o "$lib"
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  sed -i "/^$name /d" "$times"
  echo "$name $seconds" >> "$times"
  echo "  $(stat -c %s "$lib") bytes, $seconds s"
done

echo "== manifest.json"
"$python" - "$src" "$out" "$target" "$cnnc" <<'EOF'
import json, os, subprocess, sys, time
import yaml
src, out, target, cnnc = sys.argv[1:]
files = {"conv3x3_64": "bench/conv3x3_64.yaml", "mnist_cnn": "models/mnist_cnn.yaml",
         "resnet18": "models/resnet18.yaml", "googlenet": "models/googlenet.yaml",
         "vgg11": "models/vgg11.yaml"}
times = dict(line.split() for line in open(os.path.join(out, "models", "compile_times.txt")))
git = lambda *a: subprocess.run(["git", "-C", src] + list(a), capture_output=True,
                                text=True).stdout.strip()
commit = git("rev-parse", "--short", "HEAD") + (" + local changes" if git("status", "--porcelain",
                                                "--untracked-files=no") else "")
models = {}
for name, path in files.items():
    spec = yaml.safe_load(open(os.path.join(src, path)))
    models[name] = {"library": f"models/{name}.so", "model_file": path,
                    "input": spec["input"]["shape"], "train": spec.get("train"),
                    "compile_s": round(float(times[name]), 1) if name in times else None}
    if name == "conv3x3_64":
        models[name]["train"] = None  # compiled --inference-only
built = time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(os.path.getmtime(cnnc)))
json.dump({"target": target, "commit": commit, "cnnc": f"{os.path.abspath(cnnc)} (built {built})",
           "date": time.strftime("%Y-%m-%d %H:%M %Z"), "models": models}, open(os.path.join(out, "manifest.json"), "w"), indent=1)
EOF

rm -rf "$out/results" "$out/__pycache__"
bytes=$(du -sb "$out" | cut -f1)
echo "== $out: $((bytes / 1024)) KiB in all"
du -ab "$out" | sort -n | tail -8 | awk '{printf "  %10d  %s\n", $1, $2}'
limit=$((64 * 1024 * 1024))
if [ "$bytes" -ge "$limit" ]; then
  echo "prepare.sh: $out is over 64 MiB" >&2
  exit 1
fi
