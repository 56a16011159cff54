#!/usr/bin/env python3
"""Crash-safe training: `cnnrun train` checkpoints under SIGKILL, a full disk and a read-only
directory, checked end to end on a tiny model.

Checks (each prints PASS/FAIL with its numbers):
  kill       a run that writes a checkpoint after every step (--checkpoint-every 1) is killed
             with SIGKILL 20 times, each after a random 0-1.5 s, each run resuming from the
             checkpoint the previous one left. After every kill the checkpoint on disk is a
             complete safetensors file (header, offsets and size agree) whose step is at least
             the one the killed run resumed from (the old checkpoint or a newer one), and the
             next run loads it ("resuming at step N" with that N). Temporary files of killed
             writers ("ck.safetensors.tmp-PID") are gone once the next run has written a
             checkpoint, and none is left at the end.
  disk_full  with RLIMIT_FSIZE below the checkpoint's size (SIGXFSZ ignored, so writes fail
             with EFBIG as on a full disk), the run fails with status 1 and a message naming
             the path and the cause; the previous checkpoint is byte for byte unchanged and no
             temporary file is left. `cnnrun run --output` under the same limit leaves an
             existing output unchanged and creates no empty file.
  read_only  the run as an unprivileged user (uid 65534 when the test runs as root, where
             permissions do not apply) on a mode-0555 directory: refused before the first step
             (nothing on stdout) naming the path and the cause; a mode-0444 checkpoint is
             refused too (for root as well), and stays unchanged.

Needs /usr/bin/python3 with numpy, and the tools in --bin-dir. Runs in about 30 s.
"""

import argparse
import json
import os
import random
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

MODEL = """name: tiny
input: {name: input, shape: [1, 6, 6]}
layers:
  - {name: conv1, op: conv2d, out_channels: 2, kernel: 3, activation: relu}
  - {name: flatten, op: flatten}
  - {name: fc, op: dense, out_features: 3}
train:
  loss: cross_entropy
  optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
  batch: 4
  epochs: 1
"""
KILLS = 20
results = []


def record(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def checkpoint_step(path):
    """The step of a complete checkpoint, or an error string: the header must parse, and the
    file must end exactly where its last tensor does."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"unreadable: {e}"
    if len(data) < 8:
        return f"{len(data)} bytes"
    (n,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        return f"bad header: {e}"
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"),
              default=0)
    if 8 + n + end != len(data):
        return f"size {len(data)}, header says {8 + n + end}"
    return int(header["__metadata__"]["cnnc_step"])


def temporaries(path):
    d, base = os.path.split(path)
    return sorted(f for f in os.listdir(d) if f.startswith(base + ".tmp-"))


def check_kill(tools, so, data, work):
    ck = os.path.join(work, "ck.safetensors")
    rng = random.Random(12)
    common = [tools["cnnrun"], "train", so, "--data", data, "--batch", "4", "--epochs", "1000",
              "--checkpoint", ck, "--checkpoint-every", "1"]
    problems, steps, stale_seen, stale_removed = [], [], 0, 0
    expected = 0  # the step the next run resumes from
    for i in range(KILLS):
        before = temporaries(ck)
        out = os.path.join(work, f"kill{i}.out")
        resume = ["--resume", ck] if os.path.exists(ck) else []
        with open(out, "w") as f:
            p = subprocess.Popen(common + resume, stdout=f, stderr=subprocess.STDOUT)
            time.sleep(rng.uniform(0, 1.5))
            p.send_signal(signal.SIGKILL)
            p.wait()
        with open(out) as f:
            text = f.read()
        if resume and "resuming at step" in text:
            got = int(text.split("resuming at step ")[1].split()[0])
            if got != expected:
                problems.append(f"run {i} resumed at step {got}, the file held {expected}")
        if "error" in text:
            problems.append(f"run {i}: {text.strip()[:200]}")
        if not os.path.exists(ck):
            continue  # killed before its first checkpoint
        step = checkpoint_step(ck)
        if isinstance(step, str) or step < expected:
            problems.append(f"after kill {i}: checkpoint {step}, expected step >= {expected}")
            continue
        # Temporary files from before this run were a killed writer's: a run that wrote a
        # checkpoint (its step moved on) removed them.
        left = set(before) & set(temporaries(ck))
        if step > expected:
            stale_removed += len(before) - len(left)
            if left:
                problems.append(f"run {i} wrote step {step} but left {sorted(left)}")
        steps.append(step)
        expected = step
        stale_seen += len(temporaries(ck))
    # A last run that finishes normally cleans up and leaves nothing behind.
    final = run([tools["cnnrun"], "train", so, "--data", data, "--batch", "4", "--epochs",
                 str(expected // 50 + 1), "--checkpoint", ck, "--resume", ck])
    last = checkpoint_step(ck)
    if final.returncode or temporaries(ck):
        problems.append(f"final run: status {final.returncode}, {final.stderr.strip()[:200]}, "
                        f"left {temporaries(ck)}")
    record("kill", not problems and len(steps) >= KILLS // 2 and steps == sorted(steps)
           and stale_seen > 0,
           "; ".join(problems) or
           f"{KILLS} kills, {len(steps)} checkpoints verified complete and resumed from "
           f"(steps {steps[0] if steps else '-'}..{steps[-1] if steps else '-'}), "
           f"{stale_seen} temporary files left by kills, {stale_removed} removed by the next "
           f"run, none left after a final run (step {last})")


def limited(limit):
    def set_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


def check_disk_full(tools, so, data, work):
    ck = os.path.join(work, "full.safetensors")
    p = run([tools["cnnrun"], "train", so, "--data", data, "--batch", "4", "--epochs", "1",
             "--checkpoint", ck])
    with open(ck, "rb") as f:
        old = f.read()
    q = run([tools["cnnrun"], "train", so, "--data", data, "--batch", "4", "--epochs", "2",
             "--checkpoint", ck, "--resume", ck, "--checkpoint-every", "1"],
            preexec_fn=limited(len(old) // 2))
    with open(ck, "rb") as f:
        now = f.read()
    want = f"cannot write checkpoint '{ck}': File too large (the previous file is unchanged)"
    ok = (p.returncode == 0 and q.returncode == 1 and want in q.stderr and now == old
          and not temporaries(ck))
    # `cnnrun run --output`: an existing output stays, a new one is not created empty.
    x = os.path.join(work, "x.npy")
    np.save(x, np.zeros((50, 1, 6, 6), np.float32))
    out, fresh = os.path.join(work, "y.npy"), os.path.join(work, "fresh.npy")
    np.save(out, np.ones(3, np.float32))
    with open(out, "rb") as f:
        before = f.read()
    r = run([tools["cnnrun"], "run", so, "--weights", ck, "--input", x, "--output", out],
            preexec_fn=limited(200))
    s = run([tools["cnnrun"], "run", so, "--weights", ck, "--input", x, "--output", fresh],
            preexec_fn=limited(200))
    with open(out, "rb") as f:
        after = f.read()
    ok_run = (r.returncode == 1 and f"cannot write .npy file '{out}': File too large" in r.stderr
              and after == before and s.returncode == 1 and not os.path.exists(fresh)
              and not temporaries(out) and not temporaries(fresh))
    record("disk_full", ok and ok_run,
           f"checkpoint of {len(old)} bytes under a {len(old) // 2}-byte limit: status "
           f"{q.returncode}, {q.stderr.strip()!r}, previous file "
           f"{'unchanged' if now == old else 'CHANGED'}; run --output: {r.stderr.strip()!r}, "
           f"existing output {'unchanged' if after == before else 'CHANGED'}, new output "
           f"{'absent' if not os.path.exists(fresh) else 'CREATED'}")


def check_read_only(tools, so, data, work):
    root = os.geteuid() == 0

    def as_user():
        if root:
            os.setgid(65534)
            os.setuid(65534)

    ro = os.path.join(work, "ro")
    os.mkdir(ro)
    os.chmod(ro, 0o555)
    ck = os.path.join(ro, "ck.safetensors")
    p = run([tools["cnnrun"], "train", so, "--data", data, "--batch", "4", "--epochs", "1",
             "--checkpoint", ck], preexec_fn=as_user)
    want = f"cannot write the checkpoint '{ck}': cannot create a file in '{ro}': Permission denied"
    ok = p.returncode == 1 and want in p.stderr and p.stdout == "" and not os.listdir(ro)
    # A write-protected checkpoint: refused before training, for root as well.
    prot = os.path.join(work, "prot.safetensors")
    with open(prot, "w") as f:
        f.write("old")
    os.chmod(prot, 0o444)
    q = run([tools["cnnrun"], "train", so, "--data", data, "--batch", "4", "--epochs", "1",
             "--checkpoint", prot])
    with open(prot) as f:
        kept = f.read() == "old"
    want_q = f"cannot replace the checkpoint '{prot}': the file is write-protected (mode 0444)"
    ok = ok and q.returncode == 1 and want_q in q.stderr and q.stdout == "" and kept
    record("read_only", ok, f"{'as uid 65534: ' if root else ''}{p.stderr.strip()!r} "
           f"(stdout {len(p.stdout)} bytes); mode 0444: {q.stderr.strip()!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--source-dir")
    ap.add_argument("-k", dest="pattern", default="", help="run only the checks with this in "
                    "their name")
    args = ap.parse_args()
    tools = {t: os.path.join(os.path.abspath(args.bin_dir), t) for t in ("cnnc", "cnnrun")}
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="cnnc-faults-") as work:
        os.chmod(work, 0o755)  # the read-only check runs cnnrun as another user
        src, so = os.path.join(work, "tiny.yaml"), os.path.join(work, "tiny.so")
        with open(src, "w") as f:
            f.write(MODEL)
        p = run([tools["cnnc"], src, "-o", so])
        if p.returncode:
            raise SystemExit(f"cnnc failed: {p.stderr}")
        rng = np.random.default_rng(3)
        data = os.path.join(work, "data")
        os.mkdir(data)
        np.save(os.path.join(data, "train_images.npy"),
                rng.random((200, 1, 6, 6)).astype(np.float32))
        np.save(os.path.join(data, "train_labels.npy"), rng.integers(0, 3, 200))
        for name, check in (("kill", check_kill), ("disk_full", check_disk_full),
                            ("read_only", check_read_only)):
            if args.pattern in name:
                check(tools, so, data, work)
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed "
          f"({time.time() - t0:.1f} s)")
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
