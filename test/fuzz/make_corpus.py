#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (test/fuzz/corpus/<target>/): small valid files of
each format, so the fuzzers start from inputs every reader accepts and mutate from there.

  safetensors  F32 tensors of several ranks, an empty file's header, a file with __metadata__,
               other dtypes (F64, I64, I32) that the runtime refuses by name
  npy          float32 and the other dtypes cnnc_npy_load_numeric converts (uint8, int64, bool,
               float64), versions 1 and 2, rank 0 to 4
  idx          unsigned-byte images [n, h, w] and labels [n], plain and gzipped
  checkpoint   checkpoints of test/unit/test_train_model.c written by the runtime itself, before
               and after an optimizer change, with and without a note
  metadata     the metadata JSON of the unit tests' models and of models compiled by cnnc
               (read from each model.so's cnnc_model_v1 descriptor)
  onnx         a small torch.onnx.export (conv, batch norm, pool, dense) and a few ONNX backend
               node tests (Debian's libonnx-testdata)
The yaml target's seeds are models/ and test/lit/frontends/, used where they are.

Needs a normal build (--build-dir, default build/: libcnnc_runtime.so and the unit tests' model
libraries; the compiled models of the unit tests when present), /usr/bin/python3 with numpy and
torch. Deterministic: the same build gives the same files. Crashers found by fuzzing are added
by hand (named crash-<what>), never by this script, which leaves them alone.
"""
import argparse
import ctypes
import glob
import gzip
import io
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tools", "py"))
import safetensors_io  # noqa: E402

ONNX_NODE_TESTS = "/usr/share/libonnx-testdata/data/node"
# Node tests of operators the ONNX frontend reads (docs/onnx.md).
ONNX_NODES = ["test_conv_with_strides_padding", "test_maxpool_2d_pads", "test_averagepool_2d_pads",
              "test_relu", "test_gemm_default_no_bias", "test_batchnorm_example",
              "test_globalaveragepool", "test_flatten_axis1", "test_concat_2d_axis_0",
              "test_softmax_axis_1", "test_add_bcast", "test_reshape_reordered_all_dims",
              "test_leakyrelu", "test_convtranspose", "test_lrn", "test_pad"]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors_bytes(tensors):
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"cnnc-corpus-{os.getpid()}.st")
    safetensors_io.save(tensors, path)
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


def safetensors_corpus():
    rng = np.random.default_rng(1)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    write("safetensors", "dense.safetensors", safetensors_bytes({"fc.weight": f(3, 4),
                                                                  "fc.bias": f(3)}))
    write("safetensors", "conv.safetensors", safetensors_bytes(
        {"conv.weight": f(2, 1, 3, 3), "conv.bias": f(2), "bn.running_mean": f(2),
         "scalar": np.float32(1.5).reshape(())}))
    write("safetensors", "dtypes.safetensors", safetensors_bytes(
        {"a": np.arange(3, dtype=np.float64), "b": np.arange(2, dtype=np.int64),
         "c": np.arange(4, dtype=np.int32), "d": f(2)}))
    write("safetensors", "empty_tensor.safetensors", safetensors_bytes({"e": f(0, 3)}))
    header = b'{"__metadata__":{"format":"pt","note":"x"}}'
    write("safetensors", "no_tensors.safetensors", struct.pack("<Q", len(header)) + header)


def npy_bytes(array, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array)
    else:
        np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def npy_corpus():
    rng = np.random.default_rng(2)
    write("npy", "f32_nchw.npy", npy_bytes(rng.standard_normal((2, 1, 3, 3)).astype("<f4")))
    write("npy", "f32_scalar.npy", npy_bytes(np.float32(3).reshape(())))
    write("npy", "f32_v2.npy", npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3), (2, 0)))
    write("npy", "u8_images.npy", npy_bytes(rng.integers(0, 255, (3, 4, 4), dtype=np.uint8)))
    write("npy", "i64_labels.npy", npy_bytes(np.array([0, 2, 1], dtype="<i8")))
    write("npy", "bool.npy", npy_bytes(np.array([True, False])))
    write("npy", "f64.npy", npy_bytes(np.linspace(0, 1, 5)))
    write("npy", "f32_fortran.npy", npy_bytes(np.asfortranarray(np.ones((2, 2), "<f4"))))


def idx_bytes(array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def idx_corpus():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 255, (3, 4, 4), dtype=np.uint8)
    write("idx", "images.idx", idx_bytes(images))
    write("idx", "labels.idx", idx_bytes(np.array([1, 0, 2], dtype=np.uint8)))
    write("idx", "images_rgb.idx", idx_bytes(rng.integers(0, 255, (2, 3, 2, 2), dtype=np.uint8)))
    write("idx", "images.idx.gz", gzip.compress(idx_bytes(images), mtime=0))


class Runtime:
    """The runtime's C API through ctypes (only what the corpus needs)."""

    def __init__(self, build):
        self.lib = ctypes.CDLL(os.path.join(build, "lib", "libcnnc_runtime.so"))
        self.lib.cnnc_last_error.restype = ctypes.c_char_p

    def check(self, status):
        if status:
            raise SystemExit(f"runtime error: {self.lib.cnnc_last_error().decode()}")

    def load(self, path):
        model = ctypes.c_void_p()
        self.check(self.lib.cnnc_model_load(path.encode(), ctypes.byref(model)))
        return model


class OptimizerSettings(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("momentum", ctypes.c_double),
                ("dampening", ctypes.c_double), ("weight_decay", ctypes.c_double),
                ("nesterov", ctypes.c_int32), ("beta1", ctypes.c_double),
                ("beta2", ctypes.c_double), ("epsilon", ctypes.c_double)]


def checkpoint_corpus(build, tmp):
    rt = Runtime(build)
    model = rt.load(os.path.join(build, "lib", "libcnnc_test_train_model.so"))
    rt.check(rt.lib.cnnc_model_init_parameters(model, ctypes.c_uint64(7)))

    def save(name, note=None):
        path = os.path.join(tmp, name)
        if note is None:
            rt.check(rt.lib.cnnc_model_save_checkpoint(model, path.encode()))
        else:
            rt.check(rt.lib.cnnc_model_save_checkpoint_with_note(model, path.encode(),
                                                                 note.encode()))
        with open(path, "rb") as f:
            write("checkpoint", name, f.read())

    save("initial.safetensors")
    save("note.safetensors", "epoch 1 of 3")
    s = OptimizerSettings()
    rt.check(rt.lib.cnnc_model_get_optimizer(model, ctypes.byref(s)))
    s.momentum, s.nesterov, s.weight_decay = 0.5, 1, 1e-4
    rt.check(rt.lib.cnnc_model_set_optimizer(model, ctypes.byref(s)))
    save("nesterov.safetensors")
    rt.lib.cnnc_model_free(model)


class ModelDesc(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_uint32), ("metadata_json", ctypes.c_char_p)]


def metadata_corpus(build):
    libs = [os.path.join(build, "lib", f"libcnnc_test_{n}.so")
            for n in ("model", "model_fake_device", "train_model")]
    libs += sorted(glob.glob(os.path.join(build, "test", "unit", "mnist_cnn_*.so")))
    for path in libs:
        if not os.path.exists(path):
            continue
        lib = ctypes.CDLL(path)
        lib.cnnc_model_v1.restype = ctypes.POINTER(ModelDesc)
        json = lib.cnnc_model_v1().contents.metadata_json
        name = os.path.basename(path).removeprefix("lib").removesuffix(".so")
        write("metadata", name + ".json", json)


def onnx_corpus(tmp):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2),
                              torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(8, 3)).eval()
    path = os.path.join(tmp, "small.onnx")
    torch.onnx.export(net, torch.zeros(1, 1, 4, 4), path, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    with open(path, "rb") as f:
        write("onnx", "small.onnx", f.read())
    for node in ONNX_NODES:
        model = os.path.join(ONNX_NODE_TESTS, node, "model.onnx")
        if os.path.exists(model):
            with open(model, "rb") as f:
                write("onnx", node + ".onnx", f.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(SOURCE_DIR, "build"))
    args = ap.parse_args()
    import tempfile
    with tempfile.TemporaryDirectory(prefix="cnnc-corpus-") as tmp:
        safetensors_corpus()
        npy_corpus()
        idx_corpus()
        checkpoint_corpus(os.path.abspath(args.build_dir), tmp)
        metadata_corpus(os.path.abspath(args.build_dir))
        onnx_corpus(tmp)
    for target in sorted(os.listdir(os.path.join(HERE, "corpus"))):
        files = os.listdir(os.path.join(HERE, "corpus", target))
        print(f"{target}: {len(files)} files")


if __name__ == "__main__":
    main()
