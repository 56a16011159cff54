"""cnnc.compile: runs the `cnnc` compiler on a model file, an ONNX file, or a torch.nn.Module
(exported to ONNX first, its parameters embedded in the model.so under their state_dict names).
"""

import json
import os
import shutil
import subprocess
import tempfile
import warnings

__all__ = ["CompileError", "compile", "find_cnnc"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class CompileError(RuntimeError):
    """cnnc refused the model: the message is cnnc's diagnostics (file:line:col: error: ...)."""


def find_cnnc():
    """The cnnc executable: $CNNC_COMPILER, else the one built or installed with this package
    (<build>/bin next to <build>/python, <prefix>/bin next to <prefix>/lib/python3.X), else
    the first `cnnc` on PATH."""
    candidates = [os.environ.get("CNNC_COMPILER"),
                  os.path.join(_PACKAGE_DIR, "..", "..", "bin", "cnnc"),
                  os.path.join(_PACKAGE_DIR, "..", "..", "..", "..", "bin", "cnnc"),
                  shutil.which("cnnc")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    raise CompileError("cannot find the cnnc compiler: set CNNC_COMPILER to its path")


def _export_module(module, example_input, path, opset):
    """Exports `module` to ONNX as cnnc reads it: batch norm and dropout kept (training-mode
    export, so every initializer keeps its state_dict name), the batch dimension dynamic."""
    import torch
    examples = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    examples = tuple(torch.as_tensor(e, dtype=torch.float32) for e in examples)
    names = ["input"] if len(examples) == 1 else [f"input{i}" for i in range(len(examples))]
    was_training = module.training
    module.train()
    try:
        with warnings.catch_warnings():  # the exporter's notes on batch-norm counters
            warnings.simplefilter("ignore", UserWarning)
            torch.onnx.export(module, examples, path, opset_version=opset,
                              training=torch.onnx.TrainingMode.TRAINING,
                              do_constant_folding=False, input_names=names,
                              dynamic_axes={n: {0: "batch"} for n in names})
    finally:
        module.train(was_training)
    import onnx  # the model's name: the module's class, not the exporter's "torch_jit"
    exported = onnx.load(path)
    exported.graph.name = type(module).__name__
    onnx.save(exported, path)


def compile(model, output, *, example_input=None, target=None, train=None, inference_only=False,
            weights=None, strip_prefix=None, options=(), opset=13):
    """Compiles `model` into the shared library `output` and returns its path.

    model: a model file (.yaml/.yml), an ONNX file (.onnx), or a torch.nn.Module (then
        `example_input`, a tensor or a tuple of tensors of one batch, gives the input shapes).
    target: a Halide target ("host", "host-cuda", "host-opencl", ...); default host.
    train: training settings, as the `train:` section of a model file
        ({"loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1}, "batch": 32}).
    inference_only: leave out the train step (faster to compile).
    weights: a safetensors file whose values model.so embeds as its default parameters.
    strip_prefix: with weights, read parameter NAME from the file's tensor strip_prefix + NAME
        (e.g. "module." for a state_dict saved from torch.nn.DataParallel).
    options: further cnnc command-line options.
    """
    output = os.fspath(output)
    with tempfile.TemporaryDirectory(prefix="cnnc-") as tmp:
        if isinstance(model, (str, os.PathLike)):
            source = os.fspath(model)
        else:
            if example_input is None:
                raise ValueError("compiling a torch.nn.Module needs example_input")
            source = os.path.join(tmp, type(model).__name__.lower() + ".onnx")
            _export_module(model, example_input, source, opset)
        cmd = [find_cnnc(), source, "-o", output]
        if target:
            cmd.append(f"--target={target}")
        if inference_only:
            cmd.append("--inference-only")
        if weights:
            cmd += ["--embed-weights", os.fspath(weights)]
        if strip_prefix:
            cmd += ["--strip-prefix", strip_prefix]
        if train:
            config = os.path.join(tmp, "train.yaml")
            with open(config, "w") as f:
                json.dump({"train": train}, f)  # JSON is YAML
            cmd += ["--train-config", config]
        cmd += list(options)
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        if p.returncode != 0:
            raise CompileError((p.stderr or p.stdout).strip() or f"cnnc exited with {p.returncode}")
    return output
