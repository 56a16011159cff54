#!/usr/bin/python3
"""The cnnc Python package, end to end, as a PyTorch user would use it.

A small CNN (conv, batch norm, ReLU, pooling, dense) written as a torch.nn.Module is compiled
with cnnc.compile (exported to ONNX by the package, a train step from a `train` dict), loaded
with cnnc.load, and checked against the module itself:
 - state_dict: the module's names and values (embedded in model.so), num_batches_tracked aside;
 - inference (m(x)) at batch 1 and 5 vs the module in eval mode in float64 (max abs error <=
   1e-4 * max(1, max|ref|)), also after load_state_dict of a perturbed state_dict;
 - one train_step vs torch.optim.SGD on the float64 module: loss and every parameter;
 - fit on 1024 Fashion-MNIST images for 2 epochs with validation: the History's lengths,
   the loss falling, a CSV log that cnnc.plot draws into a PNG; evaluate; checkpoints
   (save_checkpoint / load_checkpoint give identical next steps);
 - cnnrun train --log writes the same CSV columns; python3 -m cnnc.plot draws it;
 - errors as exceptions with their text: an NHWC array, a missing model.so, a model file
   cnnc refuses (CompileError with file:line:col), a strict load_state_dict with a bad key,
   a transposed weight in set_parameter, one-hot labels in train_step and fit;
 - load_parameters: a state_dict saved with the prefix "module." is refused with the prefix
   named and loads with strip_prefix (compile embeds it with strip_prefix too); a torch.save
   file is named as such, and the file `python3 -m cnnc.convert` makes of it loads the
   module's values, as do those cnnc.convert makes of a legacy torch.save file, a training
   checkpoint dict, a TorchScript module, a .npz archive and a pickle of arrays.
Assumes: harness.py's assumptions, the package built in --python-dir, Debian's
python3-matplotlib and dataset-fashion-mnist. Run: /usr/bin/python3 test/e2e/test_python.py
--bin-dir build/bin [--python-dir build/python]
"""

import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from idx import FASHION_MNIST, read_idx  # noqa: E402  (tools/py, on the path through harness)

LR = 0.05


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


class Checks:
    def __init__(self):
        self.results = []

    def record(self, name, ok, detail=""):
        self.results.append((name, ok))
        print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)

    def close(self, name, got, ref):
        c = harness.compare(np.asarray(got), np.asarray(ref))
        self.record(name, c.ok, c.message)

    def raises(self, name, fn, exc_type, text):
        try:
            fn()
        except exc_type as e:
            self.record(name, text in str(e), f"{type(e).__name__}: {e}")
            return
        except Exception as e:  # the wrong kind of exception
            self.record(name, False, f"{type(e).__name__}: {e}")
            return
        self.record(name, False, "no exception")


def fashion_subset(n, offset=0):
    images = read_idx(os.path.join(FASHION_MNIST, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FASHION_MNIST, "train-labels-idx1-ubyte.gz"))
    x = (images[offset:offset + n].astype(np.float32) / 255.0).reshape(n, 1, 28, 28)
    return x, labels[offset:offset + n].astype(np.int64)


def main():
    args = harness.arg_parser("the cnnc Python package", python_package=True).parse_args()
    harness.skip_without_device(args.target)
    cnnc = harness.load_package(args)
    os.environ.setdefault("CNNC_COMPILER", os.path.join(args.bin_dir, "cnnc"))
    chk = Checks()
    torch.manual_seed(0)
    net = SmallNet()
    gen = torch.Generator().manual_seed(1)
    harness.randomize_module(net, gen)
    net.eval()
    tmp = tempfile.mkdtemp(prefix="cnnc-python-")
    so = os.path.join(tmp, "small.so")
    target = None if args.target == "host" else args.target
    cnnc.compile(net, so, example_input=torch.zeros(2, 1, 28, 28), target=target,
                 train={"loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": LR},
                        "batch": 64, "epochs": 2})
    m = cnnc.load(so)

    # state_dict: the module's parameters, embedded in model.so.
    ref_state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    got_state = m.state_dict()
    chk.record("state_dict.names", set(got_state) == set(ref_state),
               f"{sorted(set(got_state) ^ set(ref_state))}")
    chk.record("state_dict.values", all(np.array_equal(got_state[k], ref_state[k].numpy())
                                        for k in ref_state if k in got_state))

    # Inference vs the module in float64.
    net64 = SmallNet().double().eval()
    net64.load_state_dict(net.state_dict())
    for batch in (1, 5):
        x = torch.rand(batch, 1, 28, 28, generator=gen)
        with torch.no_grad():
            chk.close(f"forward.batch{batch}", m(x.numpy()), net64(x.double()).numpy())
    x = torch.rand(3, 1, 28, 28, generator=gen)
    x_strided = np.asfortranarray(x.numpy().astype(np.float64))  # converted by the binding
    with torch.no_grad():
        chk.close("forward.float64_fortran_order", m(x_strided), net64(x.double()).numpy())

    # load_state_dict with a PyTorch state_dict (num_batches_tracked included).
    changed = SmallNet()
    harness.randomize_module(changed, gen)
    m.load_state_dict(changed.state_dict())
    net64.load_state_dict(changed.state_dict())
    with torch.no_grad():
        chk.close("load_state_dict.forward", m(x.numpy()), net64.eval()(x.double()).numpy())

    # One train step vs torch.optim.SGD in float64 (batch-norm in training mode).
    xb, yb = fashion_subset(16)
    net64.train()
    opt = torch.optim.SGD(net64.parameters(), lr=LR)
    opt.zero_grad()
    loss_ref = nn.functional.cross_entropy(net64(torch.from_numpy(xb).double()),
                                           torch.from_numpy(yb))
    loss_ref.backward()
    opt.step()
    loss, correct = m.train_step(xb, yb)
    chk.close("train_step.loss", np.float64(loss), loss_ref.item())
    after = m.state_dict()
    ref_after = {k: v.detach().numpy() for k, v in net64.state_dict().items()
                 if k in after}
    worst = max(harness.compare(after[k], ref_after[k]).rel for k in ref_after)
    chk.record("train_step.parameters", all(harness.compare(after[k], ref_after[k]).ok
                                             for k in ref_after) and len(ref_after) == len(after),
               f"largest error {worst:.2e} over {len(ref_after)} tensors")
    chk.record("train_step.step_count", m.step_count == 1, f"{m.step_count}")

    # fit with validation, a CSV log, a plot, evaluate, checkpoints.
    m.init_parameters(seed=3)
    train, val = fashion_subset(1024), fashion_subset(256, offset=1024)
    log = os.path.join(tmp, "fit.csv")
    ck = os.path.join(tmp, "fit.safetensors")
    history = m.fit(train, validation=val, log=log, checkpoint=ck, verbose=False)
    chk.record("fit.history", all(len(history[k]) == 2 for k in
                                  ("loss", "accuracy", "val_loss", "val_accuracy", "lr")) and
               history["lr"] == [LR, LR], f"{dict(history)}")
    chk.record("fit.loss_falls", history.loss[1] < history.loss[0] and
               history.val_accuracy[1] > 0.3, f"loss {history.loss}, "
               f"validation accuracy {history.val_accuracy}")
    ev = m.evaluate(val)
    chk.close("evaluate.matches_fit", np.float64(ev["loss"]), history.val_loss[-1])
    b = cnnc.load(so)
    b.load_checkpoint(ck)
    steps = m.step_count
    chk.record("checkpoint.step_count", b.step_count == steps == 2 * 16, f"{b.step_count}")
    la, lb = m.train_step(xb, yb), b.train_step(xb, yb)
    chk.record("checkpoint.next_step_identical", la == lb, f"{la} vs {lb}")
    png = os.path.join(tmp, "fit.png")
    p = subprocess.run([sys.executable, "-m", "cnnc.plot", log, "-o", png], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=os.path.dirname(
                           os.path.dirname(cnnc.__file__))))
    with open(png, "rb") if os.path.exists(png) else open(os.devnull, "rb") as f:
        magic = f.read(8)
    chk.record("plot.fit_log", p.returncode == 0 and magic == b"\x89PNG\r\n\x1a\n",
               p.stderr.strip())

    # cnnrun train --log: the same columns, one row per epoch, drawn by cnnc.plot.
    cnnrun_log = os.path.join(tmp, "cnnrun.csv")
    p = subprocess.run([os.path.join(args.bin_dir, "cnnrun"), "train", so, "--data",
                        FASHION_MNIST, "--epochs", "2", "--limit", "256", "--test-limit", "128",
                        "--log", cnnrun_log], capture_output=True, text=True)
    cols = open(cnnrun_log).read().splitlines() if os.path.exists(cnnrun_log) else []
    chk.record("cnnrun_log.rows", p.returncode == 0 and len(cols) == 3 and
               cols[0] == open(log).read().splitlines()[0], "\n".join(cols) + p.stderr)

    # Errors: Python exceptions carrying the runtime's or the compiler's message.
    chk.raises("error.nhwc_input", lambda: m(np.zeros((2, 28, 28, 1), np.float32)),
               cnnc.CnncError, "input 'input' needs shape [2, 1, 28, 28] for batch 2, "
                               "got [2, 28, 28, 1]")
    chk.raises("error.missing_model", lambda: cnnc.load(os.path.join(tmp, "none.so")),
               cnnc.CnncError, "none.so")
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write("name: bad\ninput: {shape: [1, 8, 8]}\nlayers:\n  - {op: conv2d, out_chanels: 4, "
                "kernel: 3}\n")
    chk.raises("error.compile", lambda: cnnc.compile(bad, os.path.join(tmp, "bad.so")),
               cnnc.CompileError, "bad.yaml:4:")
    chk.raises("error.fit_label_count", lambda: m.fit((xb, yb[:5]), epochs=1, verbose=False),
               ValueError, "got [16] items and 5 labels")
    chk.raises("error.strict_state_dict", lambda: m.load_state_dict({"conv9.weight": np.zeros(1)}),
               KeyError, "unknown ['conv9.weight']")
    # Full shapes: a weight of the right size in another layout, one-hot labels.
    chk.raises("error.parameter_layout",
               lambda: m.set_parameter("conv1.weight", np.zeros((3, 3, 1, 8), np.float32)),
               cnnc.CnncError, "parameter 'conv1.weight' needs shape [8, 1, 3, 3], got "
                               "[3, 3, 1, 8]")
    one_hot = np.eye(10, dtype=np.float32)[yb]
    chk.raises("error.label_shape", lambda: m.train_step(xb, one_hot), cnnc.CnncError,
               "labels need shape [16] for batch 16 (one class index per item), got [16, 10]")
    chk.raises("error.fit_label_shape", lambda: m.fit((xb, one_hot), epochs=1, verbose=False),
               ValueError, "fit needs labels of shape [N] (one class index per item), got "
                           "[16, 10]")

    # Weights files: a prefix to strip, a torch.save file named and converted.
    import safetensors_io  # noqa: E402  (tools/py, on the path through harness)
    prefixed = os.path.join(tmp, "prefixed.safetensors")
    safetensors_io.save({"module." + k: v for k, v in changed.state_dict().items()}, prefixed)
    chk.raises("load_parameters.prefix_suggested", lambda: m.load_parameters(prefixed),
               cnnc.CnncError, "every parameter is in the file under the prefix 'module.': load "
                               "it with --strip-prefix module. (Python: strip_prefix=\"module.\")")
    m.load_parameters(prefixed, strip_prefix="module.")
    chk.record("load_parameters.strip_prefix", all(
        np.array_equal(v, changed.state_dict()[k].numpy()) for k, v in m.state_dict().items()))
    embedded = cnnc.load(cnnc.compile(net, os.path.join(tmp, "embedded.so"),
                                      example_input=torch.zeros(2, 1, 28, 28), target=target,
                                      inference_only=True, weights=prefixed,
                                      strip_prefix="module."))
    chk.record("compile.strip_prefix", all(
        np.array_equal(v, changed.state_dict()[k].numpy())
        for k, v in embedded.state_dict().items()))
    pt = os.path.join(tmp, "net.pt")
    torch.save(net.state_dict(), pt)
    chk.raises("load_parameters.torch_save", lambda: m.load_parameters(pt), cnnc.CnncError,
               f"'{pt}' is a PyTorch checkpoint (torch.save zip archive), not safetensors: "
               f"convert it with `python3 -m cnnc.convert {pt} {tmp}/net.safetensors`")
    p = subprocess.run([sys.executable, "-m", "cnnc.convert", pt], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=os.path.dirname(
                           os.path.dirname(cnnc.__file__))))
    try:
        m.load_parameters(os.path.join(tmp, "net.safetensors"))
        converted = all(np.array_equal(v, net.state_dict()[k].numpy())
                        for k, v in m.state_dict().items())
    except cnnc.CnncError as e:
        converted = False
        p.stderr += str(e)
    chk.record("convert.torch_save", p.returncode == 0 and converted, p.stdout + p.stderr)
    # The other sources cnnc.convert reads, each holding the module's values.
    import cnnc.convert  # noqa: E402
    arrays = {k: v.numpy() for k, v in net.state_dict().items()}
    sources = {"legacy.pth": lambda f: torch.save(net.state_dict(), f,
                                                  _use_new_zipfile_serialization=False),
               "checkpoint.pt": lambda f: torch.save({"epoch": 3, "model": net}, f),
               "scripted.pt": lambda f: torch.jit.save(torch.jit.script(net), f),
               "arrays.npz": lambda f: np.savez(f, **arrays),
               "arrays.pkl": lambda f: pickle.dump(arrays, open(f, "wb"))}
    for name, write in sources.items():
        source = os.path.join(tmp, name)
        write(source)
        try:
            target, _ = cnnc.convert.convert(source)
            m.load_parameters(target)
            ok, detail = all(np.array_equal(v, arrays[k]) for k, v in m.state_dict().items()), ""
        except Exception as e:  # the check fails with the reason
            ok, detail = False, f"{type(e).__name__}: {e}"
        chk.record(f"convert.{name}", ok, detail)
    bad = os.path.join(tmp, "no_weights.pt")
    torch.save({"epoch": 3, "lr": 0.1}, bad)
    chk.raises("convert.no_weights", lambda: cnnc.convert.convert(bad), ValueError,
               "is a dict whose values are not all tensors ('epoch', 'lr'), with none of the keys "
               "state_dict, model_state_dict, model, net, module")
    failed = [n for n, ok in chk.results if not ok]
    print(f"{len(chk.results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
