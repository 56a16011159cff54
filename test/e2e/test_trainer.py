#!/usr/bin/env python3
"""cnnrun as a trainer for real data, checked end to end on one small model.

Checks (each prints PASS/FAIL with its numbers):
  fit.npy        `cnnrun eval --weights` on uint8 .npy images 1x8x8, fitted to the model's
                 3x10x10 input (channel repeated, bilinear resize) and normalized: the test loss
                 and accuracy equal PyTorch's (F.interpolate, align_corners=False) on the same
                 weights within 1e-4; float32 images of the same values give the same loss.
  fit.folders    the same for a folder of RGB PNG images per class (12x12, DIR/test/<class>/),
                 decoded, resized and normalized like torchvision would; classes are numbered
                 in the sorted order of their folder names; a training run on the folders works.
  validation     --val-split holds out a fixed random share: validation loss and accuracy every epoch,
                 the test set only after the last one; --test-limit 0 skips testing; test
                 items stored at another size than training items are fitted on their own.
  interrupt      a run stopped by SIGINT in the middle of an epoch (status 130, a checkpoint
                 written) and resumed ends with exactly the parameters and optimizer state of an
                 uninterrupted run, augmentation and validation split included; SIGTERM: 143.
  optimizer      --optimizer/--momentum/... change the compiled optimizer's settings: the
                 model's own values change nothing, others do; an Adam-compiled model run as
                 SGD matches the SGD-compiled one; impossible or inert settings are refused.
  regularization --label-smoothing and --clip-grad-norm change the run (a loose clip changes
                 nothing); clipping on a model compiled without it is refused.
  early_stop     --early-stop 1 at lr 0 stops after the second epoch.
  warmup         --lr-warmup N scales the rate of step s by (s + 1) / N.
  progress       off a terminal, --print-every N prints a progress line every N steps.
  errors         refused data and options, each with its message (a flat input that does not
                 fit names the data file).
  strip_prefix   --strip-prefix module. reads a DataParallel state_dict; without it, the error
                 suggests it.
  help           `cnnrun train --help` explains the options and the data layouts.

Needs /usr/bin/python3 with torch, torchvision and numpy, and the tools in --bin-dir.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "py"))
import safetensors_io  # noqa: E402

torch.set_num_threads(1)

MODEL = """name: tiny
input: {name: input, shape: [3, 10, 10]}
layers:
  - {name: conv1, op: conv2d, out_channels: 4, kernel: 3, activation: relu}
  - {name: flatten, op: flatten}
  - {name: fc, op: dense, out_features: 3}
train:
  loss: cross_entropy
  optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
  batch: 8
  epochs: 2
"""
MEAN, STD = 0.5, 0.25
results = []


def record(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def weights(path):
    g = torch.Generator().manual_seed(7)
    w = {"conv1.weight": torch.randn(4, 3, 3, 3, generator=g) * 0.3,
         "conv1.bias": torch.randn(4, generator=g) * 0.1,
         "fc.weight": torch.randn(3, 256, generator=g) * 0.05,
         "fc.bias": torch.randn(3, generator=g) * 0.1}
    safetensors_io.save({k: v.numpy() for k, v in w.items()}, path)
    return w


def torch_eval(w, x, y):
    """Loss and accuracy of the tiny model on NCHW float images in [0, 1] (any size, 1 or 3
    channels), fitted and normalized as cnnrun does."""
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    if x.shape[2:] != (10, 10):
        x = F.interpolate(x, size=(10, 10), mode="bilinear", align_corners=False)
    x = (x - MEAN) / STD
    h = F.relu(F.conv2d(x, w["conv1.weight"].double(), w["conv1.bias"].double()))
    z = F.linear(h.flatten(1), w["fc.weight"].double(), w["fc.bias"].double())
    y = torch.as_tensor(y, dtype=torch.long)
    return F.cross_entropy(z, y).item(), (z.argmax(1) == y).double().mean().item()


def close(a, b, rtol=1e-4):
    return abs(a - b) <= rtol * max(1.0, abs(b))


def eval_json(tools, so, w, data, extra=()):
    p = run([tools["cnnrun"], "eval", so, "--weights", w, "--data", data, "--mean", str(MEAN),
             "--std", str(STD), "--json", *extra])
    if p.returncode:
        raise RuntimeError(p.stderr)
    return json.loads(p.stdout)


def write_npy_set(d, x, y, splits=("train", "test")):
    os.makedirs(d, exist_ok=True)
    for s in splits:
        np.save(os.path.join(d, f"{s}_images.npy"), x)
        np.save(os.path.join(d, f"{s}_labels.npy"), y)


def check_fit_npy(tools, so, work, w, wpath):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (50, 1, 8, 8), dtype=np.uint8)
    y = rng.integers(0, 3, 50)
    write_npy_set(os.path.join(work, "u8"), x, y)
    write_npy_set(os.path.join(work, "f32"), x.astype(np.float32) / 255, y.astype(np.int32))
    got = eval_json(tools, so, wpath, os.path.join(work, "u8"))
    got32 = eval_json(tools, so, wpath, os.path.join(work, "f32"))
    loss, acc = torch_eval(w, x / 255.0, y)
    record("fit.npy", close(got["test_loss"], loss) and got["test_acc"] == acc
           and close(got32["test_loss"], loss),
           f"cnnrun loss {got['test_loss']:.6f} (float32 images {got32['test_loss']:.6f}) "
           f"acc {got['test_acc']:.3f}, PyTorch {loss:.6f} {acc:.3f}")


def check_fit_folders(tools, so, work, w, wpath):
    from torchvision.io import write_png
    root = os.path.join(work, "folders")
    rng = np.random.default_rng(2)
    xs, ys = [], []
    for split, n in (("train", 8), ("test", 5)):
        for label, cls in enumerate(["ankle_boot", "bag", "coat"]):
            os.makedirs(os.path.join(root, split, cls), exist_ok=True)
            for i in range(n):
                img = rng.integers(0, 256, (3, 12, 12), dtype=np.uint8)
                write_png(torch.from_numpy(img), os.path.join(root, split, cls, f"{i:03d}.png"))
                if split == "test":
                    xs.append(img)
                    ys.append(label)
    got = eval_json(tools, so, wpath, root)
    loss, acc = torch_eval(w, np.stack(xs) / 255.0, np.array(ys))
    p = run([tools["cnnrun"], "train", so, "--data", root, "--epochs", "1", "--mean", str(MEAN),
             "--std", str(STD)])
    record("fit.folders", close(got["test_loss"], loss) and got["test_acc"] == acc
           and p.returncode == 0 and "image folders" in p.stdout and "3 classes" in p.stdout,
           f"cnnrun loss {got['test_loss']:.6f} acc {got['test_acc']:.3f}, PyTorch {loss:.6f} "
           f"{acc:.3f}; train: {p.stdout.splitlines()[0] if p.stdout else p.stderr}")


def check_strip_prefix(tools, so, work, wpath):
    """A state_dict saved from torch.nn.DataParallel names its tensors module.<name>."""
    prefixed = os.path.join(work, "module.safetensors")
    safetensors_io.save({"module." + k: v for k, v in safetensors_io.load(wpath).items()},
                        prefixed)
    data = os.path.join(work, "u8")
    plain = eval_json(tools, so, wpath, data)
    stripped = eval_json(tools, so, prefixed, data, ("--strip-prefix", "module."))
    p = run([tools["cnnrun"], "eval", so, "--weights", prefixed, "--data", data])
    record("strip_prefix", stripped == plain and p.returncode == 1
           and "--strip-prefix module." in p.stderr, p.stderr.strip()[:300])


def toy_data(work, n=400):
    """A learnable toy set: the class is which third of the image is brightest."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, n)
    x = rng.random((n, 1, 8, 8)).astype(np.float32) * 0.5
    for i, c in enumerate(y):
        x[i, 0, :, c * 2:c * 2 + 3] += 0.5
    d = os.path.join(work, "toy")
    write_npy_set(d, x, y)
    return d


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def check_validation(tools, so, data, work):
    p = run([tools["cnnrun"], "train", so, "--data", data, "--val-split", "0.25", "--json"])
    e = json_lines(p.stdout)
    ok = (p.returncode == 0 and len(e) == 2 and e[0]["val_loss"] is not None
          and e[0]["test_loss"] is None and e[1]["test_acc"] is not None
          and e[1]["val_acc"] is not None)
    q = run([tools["cnnrun"], "train", so, "--data", data, "--val-split", "0.25", "--json",
             "--epochs", "1", "--test-limit", "0"])
    f = json_lines(q.stdout)
    ok = ok and q.returncode == 0 and len(f) == 1 and f[0]["test_acc"] is None
    t = run([tools["cnnrun"], "train", so, "--data", data, "--val-split", "0.25", "--epochs", "1"])
    ok = ok and "300 training, 100 validation, 400 test items" in t.stdout
    # Test items stored at another size than training items: each split is fitted on its own
    # (the last epoch's test figures equal cnnrun eval's on the checkpoint).
    mixed = os.path.join(work, "mixed")
    rng = np.random.default_rng(4)
    write_npy_set(mixed, rng.random((40, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 40),
                  ("train",))
    write_npy_set(mixed, rng.random((30, 1, 12, 12)).astype(np.float32), rng.integers(0, 3, 30),
                  ("test",))
    ckpt = os.path.join(work, "mixed.st")
    m = run([tools["cnnrun"], "train", so, "--data", mixed, "--epochs", "1", "--json",
             "--checkpoint", ckpt])
    ev = run([tools["cnnrun"], "eval", so, "--data", mixed, "--checkpoint", ckpt, "--json"])
    mt = json_lines(m.stdout)
    ok = ok and m.returncode == 0 and ev.returncode == 0 and len(mt) == 1 and close(
        mt[0]["test_loss"], json.loads(ev.stdout)["test_loss"], 1e-6)
    record("validation", ok, f"epochs {[(x['val_acc'], x['test_acc']) for x in e]}; "
           f"{t.stdout.splitlines()[0] if t.stdout else t.stderr}")


def interrupted_run(tools, so, args, sig):
    """Starts a training run whose stdout nobody reads: with a progress line per step it fills
    the pipe (64 KiB) and blocks, mid-epoch; then sends `sig`. Returns (status, stderr)."""
    p = subprocess.Popen([tools["cnnrun"], "train", so, *args, "--print-every", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    return p.returncode, err


def check_interrupt(tools, so, data, work):
    common = ["--data", data, "--batch", "2", "--epochs", "6", "--val-split", "0.2", "--augment",
              "crop:2,flip", "--seed", "5"]
    full, part = os.path.join(work, "full.st"), os.path.join(work, "part.st")
    p = run([tools["cnnrun"], "train", so, *common, "--checkpoint", full])
    status, err = interrupted_run(tools, so, common + ["--checkpoint", part,
                                                       "--checkpoint-every", "7"], signal.SIGINT)
    mid = "cnnrun: SIGINT: stopped after step" in err and "written: continue with --resume" in err
    words = err.split()
    batch_of = words[words.index("batch") + 1:words.index("batch") + 4] if "batch" in words else []
    mid = mid and len(batch_of) == 3 and batch_of[0] != batch_of[2].rstrip(");")
    r = run([tools["cnnrun"], "train", so, *common[:-2], "--checkpoint", part, "--resume", part])
    a, b = safetensors_io.load(full), safetensors_io.load(part)
    same = same_tensors(a, b)
    record("interrupt.sigint_resume", p.returncode == 0 and status == 130 and mid
           and r.returncode == 0 and "resuming at step" in r.stdout and same,
           f"status {status}; {err.strip()}; resumed run: {r.stdout.splitlines()[:2]}; "
           f"{len(a)} tensors {'bit-identical' if same else 'DIFFER'}")
    status, err = interrupted_run(tools, so, ["--data", data, "--batch", "2", "--epochs", "6"],
                                  signal.SIGTERM)
    record("interrupt.sigterm", status == 143 and "SIGTERM: stopped after step" in err
           and "nothing saved" in err, f"status {status}; {err.strip()}")
    q = run([tools["cnnrun"], "train", so, "--data", data, "--batch", "4", "--epochs", "6",
             "--resume", part])
    record("interrupt.resume_other_batch", q.returncode == 1
           and "was trained with batch 2 on 320 training items; this run has batch 4 and 400"
           in q.stderr, q.stderr.strip())


def short_run(data):
    """The options of a one-epoch run on 96 items without testing."""
    return ["--data", data, "--epochs", "1", "--test-limit", "0", "--limit", "96"]


def trained(tools, model, data, work, *extra):
    """(parameters and optimizer state, stdout) after a short run of `model`."""
    path = os.path.join(work, "short_run.st")
    q = run([tools["cnnrun"], "train", model, *short_run(data), "--checkpoint", path, *extra])
    if q.returncode:
        raise RuntimeError(q.stderr)
    return safetensors_io.load(path), q.stdout


def same_tensors(a, b):
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def check_optimizer(tools, so, data, work):
    """Run-time optimizer settings: the model's own given explicitly change nothing, another
    momentum changes the result, and an Adam-compiled model run as SGD matches the
    SGD-compiled one."""
    src, adam_so = os.path.join(work, "tiny_adam.yaml"), os.path.join(work, "tiny_adam.so")
    with open(src, "w") as f:
        f.write(MODEL.replace("{name: sgd, lr: 0.05, momentum: 0.9}", "{name: adam, lr: 0.001}"))
    p = run([tools["cnnc"], src, "-o", adam_so])
    common = short_run(data)

    def params(model, *extra):
        return trained(tools, model, data, work, *extra)

    base, _ = params(so)
    same, _ = params(so, "--optimizer", "sgd", "--momentum", "0.9")
    other, out = params(so, "--momentum", "0.5", "--nesterov", "--weight-decay", "0.001")
    as_sgd, out2 = params(adam_so, "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.05")
    w = [k for k in base if "." in k and k.split(".")[-1] in ("weight", "bias")]
    err = max(float(np.abs(as_sgd[k] - base[k]).max()) for k in w)
    e1 = run([tools["cnnrun"], "train", so, *common, "--optimizer", "adam"])
    e2 = run([tools["cnnrun"], "train", so, *common, "--beta1", "0.5"])
    ok = (p.returncode == 0 and same_tensors(base, same)
          and any(not np.array_equal(base[k], other[k]) for k in w)
          and "optimizer: sgd (momentum 0.5, dampening 0, nesterov on, weight decay 0.001)" in out
          and "optimizer: sgd (momentum 0.9" in out2 and err < 1e-5
          and "its state is one momentum buffer per parameter" in e1.stderr
          and "--beta1 does nothing with sgd" in e2.stderr)
    record("optimizer", ok, f"Adam-compiled model run as SGD vs SGD-compiled: max |diff| "
           f"{err:.2e}; {e1.stderr.strip()[:90]}...; {e2.stderr.strip()}")


def check_regularization(tools, so, data, work):
    """--label-smoothing and --clip-grad-norm reach the train step; clipping needs a model
    compiled with it."""
    src, clip_so = os.path.join(work, "tiny.yaml"), os.path.join(work, "tiny_clip.so")
    p = run([tools["cnnc"], src, "-o", clip_so, "--clip-grad-norm", "0"])
    common = short_run(data)

    def params(model, *extra):
        return trained(tools, model, data, work, *extra)

    same = same_tensors

    base, _ = params(so)
    smoothed, out = params(so, "--label-smoothing", "0.1")
    off, _ = params(clip_so)
    loose, _ = params(clip_so, "--clip-grad-norm", "1e9")
    tight, out2 = params(clip_so, "--clip-grad-norm", "0.01")
    e1 = run([tools["cnnrun"], "train", so, *common, "--clip-grad-norm", "1"])
    e2 = run([tools["cnnrun"], "train", so, *common, "--label-smoothing", "1"])
    ok = (p.returncode == 0 and not same(base, smoothed) and "label smoothing 0.1" in out
          and same(off, loose) and same(base, off) and not same(off, tight)
          and "gradients clipped to norm 0.01" in out2
          and "compile it with --clip-grad-norm" in e1.stderr and e2.returncode == 1)
    record("regularization", ok, f"{e1.stderr.strip()[:120]}...; {e2.stderr.strip()[:100]}")


def check_early_stop(tools, so, data):
    p = run([tools["cnnrun"], "train", so, "--data", data, "--val-split", "0.2", "--lr", "0",
             "--epochs", "5", "--early-stop", "1"])
    q = run([tools["cnnrun"], "train", so, "--data", data, "--early-stop", "2"])
    record("early_stop", p.returncode == 0 and p.stdout.count("; validation loss") == 2
           and "early stop: the validation loss has not improved for 1 epochs" in p.stdout
           and q.returncode == 1 and "--early-stop watches the validation loss" in q.stderr,
           p.stdout.splitlines()[-2] if p.stdout else p.stderr)


def check_warmup(tools, so, data):
    p = run([tools["cnnrun"], "train", so, "--data", data, "--epochs", "1", "--lr-warmup", "1000",
             "--json"])
    e = json_lines(p.stdout)
    # 50 steps of batch 8: the last (0-based step 49) runs at 0.05 * 50 / 1000.
    want = 0.05 * 50 / 1000
    record("warmup", p.returncode == 0 and len(e) == 1 and close(e[0]["lr"], want, 1e-6),
           f"lr of the last step {e[0]['lr'] if e else p.stderr}, expected {want}")


def check_progress(tools, so, data):
    p = run([tools["cnnrun"], "train", so, "--data", data, "--epochs", "1", "--print-every", "10"])
    lines = [x for x in p.stdout.splitlines() if " step " in x]
    record("progress", p.returncode == 0 and len(lines) == 4
           and lines[0].startswith("epoch 1/1 step 10/50 (20%): loss ") and "ETA" in lines[0],
           lines[0] if lines else p.stdout + p.stderr)


def check_errors(tools, so, work, wpath):
    def err_of(files, *extra, cmd="train"):
        d = tempfile.mkdtemp(dir=work)
        for name, arr in files.items():
            if isinstance(arr, bytes):
                os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
                with open(os.path.join(d, name), "wb") as f:
                    f.write(arr)
            else:
                np.save(os.path.join(d, name), arr)
        p = run([tools["cnnrun"], cmd, so, "--data", d, *extra])
        return p.returncode, p.stderr.strip().replace(d, "DIR")

    x = np.zeros((4, 1, 8, 8), np.float32)
    cases = [
        ({}, (), "'DIR' holds no dataset cnnrun can read (the layouts --data may have: cnnrun "
                 "train --help)"),
        ({"train_images.npy": x}, (), "'DIR' has train_images.npy but not train_labels.npy"),
        ({"train_images.npy": x, "train_labels.npy": np.zeros(4, np.float32)}, (),
         "DIR/train_labels.npy: expected integer labels (class indices)"),
        ({"train_images.npy": x, "train_labels.npy": np.zeros(3, np.int64)}, (),
         "DIR/train_labels.npy: 3 labels for 4 images in DIR/train_images.npy"),
        ({"train_images.npy": x, "train_labels.npy": np.array([0, 1, 2, 3])}, (),
         "DIR/train_images.npy: label 3 is class 3, but the model has 3 classes"),
        ({"train_images.npy": np.zeros((4, 2, 8, 8), np.float32),
          "train_labels.npy": np.zeros(4, np.int64)}, (),
         "the data has 2x8x8 items and the model's input is 3x10x10: cannot convert 2 channels"),
        ({"train_images.npy": x, "train_labels.npy": np.zeros(4, np.int64)}, ("--mean", "0,0",
                                                                               "--std", "1,1"),
         "--mean has 2 values; the model's input has 3 channels (give 1 or 3)"),
        ({"a/broken.png": b"not a png"}, (), "cannot decode image 'DIR/a/broken.png'"),
        ({"train_images.npy": x, "train_labels.npy": np.zeros(4, np.int64)}, ("--val-split",
                                                                              "0.01"),
         "--val-split 0.010000 of 4 training items leaves no validation items"),
        ({"train_images.npy": x, "train_labels.npy": np.zeros(4, np.int64)}, ("--weights", wpath),
         "'DIR' has no test set to evaluate (.npy layout: test_images.npy, test_labels.npy)"),
    ]
    bad = []
    for i, (files, extra, want) in enumerate(cases):
        status, err = err_of(files, *extra, cmd="eval" if i == len(cases) - 1 else "train")
        if status != 1 or want not in err:
            bad.append(f"expected '{want}', got {status}: {err}")
    # A flat input cannot be fitted: the message names the data file.
    flat_src, flat = os.path.join(work, "flat.yaml"), os.path.join(work, "flat.so")
    with open(flat_src, "w") as f:
        f.write("name: flat\ninput: {name: input, shape: [16]}\nlayers:\n"
                "  - {name: fc, op: dense, out_features: 3}\ntrain: {loss: cross_entropy}\n")
    p = run([tools["cnnc"], flat_src, "-o", flat])
    d = tempfile.mkdtemp(dir=work)
    np.save(os.path.join(d, "train_images.npy"), x)
    np.save(os.path.join(d, "train_labels.npy"), np.zeros(4, np.int64))
    q = run([tools["cnnrun"], "train", flat, "--data", d])
    want = (f"{d}/train_images.npy: the items are 1x8x8 = 64 values, the model's input 'input' "
            "expects 16 (a flat input cannot be resized)")
    cases.append(want)
    if p.returncode or q.returncode != 1 or want not in q.stderr:
        bad.append(f"expected '{want}', got {q.returncode}: {p.stderr}{q.stderr}")
    record("errors", not bad, "; ".join(bad) or f"{len(cases)} messages as expected")


def check_help(tools):
    p = run([tools["cnnrun"], "train", "--help"])
    want = ["--val-split", "--augment", "--mean", "--checkpoint-every", "--lr-warmup",
            "--early-stop", "--print-every", "train_images.npy", "DIR/<class>/*.png",
            "train-images-idx3-ubyte"]
    missing = [w for w in want if w not in p.stdout]
    record("help", p.returncode == 0 and not missing, f"missing {missing}" if missing else
           f"{len(p.stdout.splitlines())} lines")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--source-dir")
    args = ap.parse_args()
    tools = {t: os.path.join(args.bin_dir, t) for t in ("cnnc", "cnnrun")}
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="cnnc-trainer-") as work:
        src, so = os.path.join(work, "tiny.yaml"), os.path.join(work, "tiny.so")
        with open(src, "w") as f:
            f.write(MODEL)
        p = run([tools["cnnc"], src, "-o", so])
        if p.returncode:
            raise SystemExit(f"cnnc failed: {p.stderr}")
        wpath = os.path.join(work, "w.safetensors")
        w = weights(wpath)
        check_fit_npy(tools, so, work, w, wpath)
        check_fit_folders(tools, so, work, w, wpath)
        check_strip_prefix(tools, so, work, wpath)
        data = toy_data(work)
        check_validation(tools, so, data, work)
        check_interrupt(tools, so, data, work)
        check_optimizer(tools, so, data, work)
        check_regularization(tools, so, data, work)
        check_early_stop(tools, so, data)
        check_warmup(tools, so, data)
        check_progress(tools, so, data)
        check_errors(tools, so, work, wpath)
        check_help(tools)
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed "
          f"({time.time() - t0:.1f} s)")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
