#!/usr/bin/python3
"""cnnc's compile cache, end to end: a small conv + pool + dense model is compiled into a cache
of its own (CNNC_CACHE_DIR in a temporary folder), and `cnnc --time-report` must say

 - cold: every distinct kernel compiled, none from the cache, the Halide runtime built;
 - warm (the same file again): every kernel and the runtime from the cache;
 - edited (the dense layer made wider): only the dense kernel compiled, the conv from the cache;
 - damaged entries (one truncated, one with a byte changed, the size kept): detected, compiled
   again and stored again ("2 damaged entries rebuilt"), then reused;
 - --no-cache: everything compiled, nothing written to the cache folder;
 - a cache that cannot be written (CNNC_CACHE_DIR is a file): the model compiles, with one
   warning line;
 - two compilations at once into one empty cache: both succeed, no temporary file is left,
   and a third compilation takes every kernel from the cache;
 - the size limit (CNNC_CACHE_MAX_SIZE): after the model, its edit (dense 5 -> 7) and a second
   edit (dense 9) compiled with a limit one byte under what the first two left, the two
   least recently used entries (the dense kernels of 5 and 7 outputs) are gone and the conv,
   the runtime and the new dense kernel remain.

Every library built runs with `cnnrun run` on the same input: the cold, warm, damaged and
parallel builds give the very same bytes, and each model matches PyTorch (float64, from the same
float32 parameters) within the e2e tolerance (harness.compare).

Run: /usr/bin/python3 test/e2e/test_cache.py [--bin-dir build/bin]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import safetensors_io  # noqa: E402


def model_text(fc_out):
    return harness.model_yaml("cached", [3, 8, 8], [
        {"name": "c1", "op": "conv2d", "out_channels": 4, "kernel": 3, "activation": "relu"},
        {"name": "p1", "op": "max_pool2d", "kernel": 2},
        {"op": "flatten"},
        {"name": "fc", "op": "dense", "out_features": fc_out}])


def reference(params, x):
    """The model in PyTorch, float64."""
    p = {k: torch.from_numpy(v).double() for k, v in params.items()}
    y = torch.relu(torch.nn.functional.conv2d(torch.from_numpy(x).double(), p["c1.weight"],
                                              p["c1.bias"]))
    y = torch.nn.functional.max_pool2d(y, 2).flatten(1)
    return (y @ p["fc.weight"].T + p["fc.bias"]).numpy()


def parameters(fc_out, gen):
    return {"c1.weight": torch.randn(4, 3, 3, 3, generator=gen).numpy(),
            "c1.bias": torch.randn(4, generator=gen).numpy(),
            "fc.weight": torch.randn(fc_out, 36, generator=gen).numpy() * 0.2,
            "fc.bias": torch.randn(fc_out, generator=gen).numpy()}


class Report:
    """What `cnnc --time-report` said."""

    def __init__(self, stderr):
        self.text = stderr
        m = re.search(r"lower (\d+) distinct kernels", stderr)
        self.distinct = int(m.group(1)) if m else -1
        m = re.search(r"generate code for (\d+) kernels", stderr)
        self.compiled = int(m.group(1)) if m else -1
        m = re.search(r"(\d+) from the cache", stderr)
        self.cached = int(m.group(1)) if m else -1
        self.cache_off = "compile cache off" in stderr
        m = re.search(r"\((\d+) damaged entries rebuilt\)", stderr)
        self.damaged = int(m.group(1)) if m else 0
        self.runtime_cached = "Halide runtime from the cache" in stderr

    def __str__(self):
        return self.text.strip()


def main():
    ap = harness.tool_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    tools = harness.Tools(args.bin_dir, args.target)
    harness.skip_without_device(args.target)
    work = tempfile.mkdtemp(prefix="cnnc-cache-")
    cache = os.path.join(work, "cache")
    results = []

    def record(name, ok, detail=""):
        results.append(ok)
        print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""),
              flush=True)
        return ok

    def cnnc(model, so, *extra, cache_dir=cache):
        env = dict(os.environ, CNNC_CACHE_DIR=cache_dir)
        cmd = [tools.cnnc, model, "-o", so, "--inference-only", "--time-report",
               f"--target={args.target}", *extra]
        return subprocess.run(cmd, capture_output=True, text=True, env=env)

    def compile_ok(name, model, so, *extra, cache_dir=cache):
        p = cnnc(model, so, *extra, cache_dir=cache_dir)
        record(f"{name}.compiles", p.returncode == 0, p.stdout + p.stderr)
        return Report(p.stderr)

    gen = torch.Generator().manual_seed(harness.seed_of("cache"))
    x = harness.pixel_input(gen, (2, 3, 8, 8)).numpy()
    weights = {}
    for fc_out in (5, 7):
        weights[fc_out] = os.path.join(work, f"w{fc_out}.safetensors")
        params = parameters(fc_out, gen)
        safetensors_io.save(params, weights[fc_out])
        weights[fc_out] = (weights[fc_out], reference(params, x))

    def run(name, so, fc_out):
        """Runs so; checks it against PyTorch; returns its output bytes."""
        try:
            y = tools.run(so, weights[fc_out][0], [x], work, name)
        except harness.CaseError as e:
            record(f"{name}.runs", False, str(e))
            return None
        c = harness.compare(y, weights[fc_out][1])
        record(f"{name}.matches_pytorch", c.ok, c.message)
        return y.tobytes()

    def walk(root):
        return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)

    def entries(kind="kernel"):
        root = os.path.join(cache, "v1", kind)
        return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)

    try:
        model = os.path.join(work, "cached.yaml")
        with open(model, "w") as f:
            f.write(model_text(5))

        cold = compile_ok("cold", model, os.path.join(work, "cold.so"))
        record("cold.all_compiled", cold.distinct == 2 and cold.compiled == 2 and cold.cached == 0
               and not cold.runtime_cached, str(cold))
        cold_entries = entries()
        record("cold.entries_stored", len(cold_entries) == 2 and len(entries("runtime")) == 1,
               str(cold_entries + entries("runtime")))
        out_cold = run("cold", os.path.join(work, "cold.so"), 5)

        warm = compile_ok("warm", model, os.path.join(work, "warm.so"))
        record("warm.all_from_cache", warm.compiled == 0 and warm.cached == 2
               and warm.runtime_cached, str(warm))
        record("warm.same_numbers", run("warm", os.path.join(work, "warm.so"), 5) == out_cold)

        edited_model = os.path.join(work, "edited.yaml")
        with open(edited_model, "w") as f:
            f.write(model_text(7))
        edited = compile_ok("edited", edited_model, os.path.join(work, "edited.so"))
        record("edited.only_the_changed_kernel", edited.compiled == 1 and edited.cached == 1,
               str(edited))
        run("edited", os.path.join(work, "edited.so"), 7)

        # Damage the cold model's two kernel entries: one cut short, one with a byte changed.
        damaged_files = cold_entries
        if len(damaged_files) == 2:
            with open(damaged_files[0], "r+b") as f:
                f.truncate(os.path.getsize(damaged_files[0]) // 2)
            with open(damaged_files[1], "r+b") as f:
                f.seek(os.path.getsize(damaged_files[1]) // 2)
                byte = f.read(1)
                f.seek(-1, os.SEEK_CUR)
                f.write(bytes([byte[0] ^ 0x5A]))
        damaged = compile_ok("damaged", model, os.path.join(work, "damaged.so"))
        record("damaged.detected_and_rebuilt", damaged.compiled == 2 and damaged.cached == 0
               and damaged.damaged == 2, str(damaged))
        record("damaged.same_numbers",
               run("damaged", os.path.join(work, "damaged.so"), 5) == out_cold)
        again = compile_ok("rebuilt", model, os.path.join(work, "rebuilt.so"))
        record("rebuilt.reused", again.compiled == 0 and again.cached == 2, str(again))

        unused = os.path.join(work, "unused-cache")
        off = compile_ok("no_cache", model, os.path.join(work, "off.so"), "--no-cache",
                         cache_dir=unused)
        record("no_cache.all_compiled", off.compiled == 2 and off.cache_off
               and not off.runtime_cached, str(off))
        record("no_cache.nothing_written", not os.path.exists(unused))
        record("no_cache.same_numbers", run("no_cache", os.path.join(work, "off.so"), 5) == out_cold)

        blocker = os.path.join(work, "a-file")
        with open(blocker, "w") as f:
            f.write("not a folder\n")
        p = cnnc(model, os.path.join(work, "unwritable.so"), cache_dir=blocker)
        warnings = [line for line in p.stderr.splitlines() if "warning" in line]
        record("unwritable.compiles", p.returncode == 0, p.stderr)
        record("unwritable.one_warning", len(warnings) == 1 and warnings[0].startswith(
            f"cnnc: warning: cannot write the compile cache {blocker}"), p.stderr)

        shared = os.path.join(work, "shared-cache")
        procs = [subprocess.Popen(
            [tools.cnnc, model, "-o", os.path.join(work, f"parallel{i}.so"), "--inference-only",
             f"--target={args.target}"], env=dict(os.environ, CNNC_CACHE_DIR=shared),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
        outs = [(p.wait(), p.stdout.read()) for p in procs]
        record("parallel.both_compile", all(rc == 0 for rc, _ in outs), str(outs))
        leftovers = [f for _, _, files in os.walk(shared) for f in files if ".tmp-" in f]
        record("parallel.no_temporaries", not leftovers, str(leftovers))
        third = compile_ok("parallel.third", model, os.path.join(work, "third.so"),
                           cache_dir=shared)
        record("parallel.entries_valid", third.compiled == 0 and third.cached == 2
               and third.damaged == 0, str(third))
        for i in range(2):
            record(f"parallel{i}.same_numbers",
                   run(f"parallel{i}", os.path.join(work, f"parallel{i}.so"), 5) == out_cold)

        limited = os.path.join(work, "limited-cache")
        compile_ok("limit.first", model, os.path.join(work, "l1.so"), cache_dir=limited)
        before = set(walk(limited))
        compile_ok("limit.edited", edited_model, os.path.join(work, "l2.so"), cache_dir=limited)
        after_edit = set(walk(limited))
        total = sum(os.path.getsize(f) for f in after_edit)
        second_edit = os.path.join(work, "edited9.yaml")
        with open(second_edit, "w") as f:
            f.write(model_text(9))
        os.environ["CNNC_CACHE_MAX_SIZE"] = str(total - 1)
        try:
            third = compile_ok("limit.trimmed", second_edit, os.path.join(work, "l3.so"),
                               cache_dir=limited)
        finally:
            del os.environ["CNNC_CACHE_MAX_SIZE"]
        left = set(walk(limited))
        gone = after_edit - left
        new = left - after_edit
        record("limit.under_the_limit", sum(os.path.getsize(f) for f in left) <= total - 1,
               f"{left}")
        record("limit.least_recently_used_removed",
               third.compiled == 1 and len(gone) == 2 and len(new) == 1
               and len(before & gone) == 1 and len(left & before) == 2, f"gone {gone}, new {new}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    failed = results.count(False)
    print(f"compile cache: {len(results) - failed} of {len(results)} checks passed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
