"""A small ctypes binding of the cnnc C runtime (runtime/include/cnnc/runtime.h).

It loads libcnnc_runtime.so and wraps a model.so compiled by cnnc in a `Model` class:
parameters and optimizer state by name (numpy float32 arrays), inference (`run`), training
(`init_parameters`, `train_step`, `evaluate`, `step_count`) and checkpoints. Every failing C
call raises `CnncError` carrying the status and `cnnc_last_error()`.

The library is found, in this order, from: the `lib_path` argument of `load_library()` /
`Model(...)`, the environment variable CNNC_RUNTIME_LIB (the .so itself), CNNC_BUILD_DIR
(`<dir>/lib/libcnnc_runtime.so`), then `<source>/build/lib/libcnnc_runtime.so`.
Only numpy is needed.

    import cnnc_runtime as rt
    m = rt.Model("mnist.so", lib_path="build/lib/libcnnc_runtime.so")
    m.init_parameters(seed=0)
    loss, correct = m.train_step(x, labels, lr=0.001)   # x: [N, 1, 28, 28] float32
    w = m.get_parameter("conv1.weight")                  # shaped like the metadata
"""

import ctypes
import os

import numpy as np

__all__ = ["CnncError", "Model", "load_library"]

_SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

ROLE_INPUT, ROLE_OUTPUT, ROLE_PARAMETER, ROLE_STATE = 0, 1, 2, 3

_STATUS_NAMES = {0: "ok", 1: "invalid argument", 2: "io error", 3: "format error", 4: "abi error",
                 5: "parameter error", 6: "kernel error", 7: "out of memory",
                 8: "device error"}


class CnncError(RuntimeError):
    """A runtime call failed: `status` is the cnnc_status code, `message` cnnc_last_error()."""

    def __init__(self, call, status, message):
        self.call, self.status, self.message = call, status, message
        super().__init__(f"{call}: {_STATUS_NAMES.get(status, status)}: {message}")


class _TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("rank", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("item_count", ctypes.c_int64),
                ("batched", ctypes.c_int32)]


class _TrainInfo(ctypes.Structure):
    _fields_ = [("loss", ctypes.c_char_p), ("optimizer", ctypes.c_char_p), ("lr", ctypes.c_double),
                ("batch", ctypes.c_int64), ("epochs", ctypes.c_int64), ("classes", ctypes.c_int64)]


_lib = None
_lib_path = None
_FP = ctypes.POINTER(ctypes.c_float)
_FPP = ctypes.POINTER(_FP)


def _find_library(lib_path=None):
    candidates = []
    if lib_path:
        candidates.append(lib_path)
    if os.environ.get("CNNC_RUNTIME_LIB"):
        candidates.append(os.environ["CNNC_RUNTIME_LIB"])
    if os.environ.get("CNNC_BUILD_DIR"):
        candidates.append(os.path.join(os.environ["CNNC_BUILD_DIR"], "lib", "libcnnc_runtime.so"))
    candidates.append(os.path.join(_SOURCE_DIR, "build", "lib", "libcnnc_runtime.so"))
    for c in candidates:
        if os.path.isfile(c):
            return os.path.abspath(c)
    raise FileNotFoundError("libcnnc_runtime.so not found; tried: " + ", ".join(candidates))


def load_library(lib_path=None):
    """Loads (once) and returns the ctypes handle of libcnnc_runtime.so."""
    global _lib, _lib_path
    path = _find_library(lib_path) if (lib_path or _lib is None) else _lib_path
    if _lib is not None and path == _lib_path:
        return _lib
    lib = ctypes.CDLL(path)
    M = ctypes.c_void_p
    sigs = {
        "cnnc_last_error": (ctypes.c_char_p, []),
        "cnnc_model_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
        "cnnc_model_free": (None, [M]),
        "cnnc_model_name": (ctypes.c_char_p, [M]),
        "cnnc_model_num_tensors": (ctypes.c_size_t, [M, ctypes.c_int]),
        "cnnc_model_get_tensor_info": (ctypes.c_int, [M, ctypes.c_int, ctypes.c_size_t,
                                                      ctypes.POINTER(_TensorInfo)]),
        "cnnc_model_load_parameters": (ctypes.c_int, [M, ctypes.c_char_p]),
        "cnnc_model_save_parameters": (ctypes.c_int, [M, ctypes.c_char_p]),
        "cnnc_model_set_parameter": (ctypes.c_int, [M, ctypes.c_char_p, _FP, ctypes.c_size_t]),
        "cnnc_model_get_parameter": (ctypes.c_int, [M, ctypes.c_char_p, ctypes.c_size_t, _FP]),
        "cnnc_model_prepare": (ctypes.c_int, [M]),
        "cnnc_model_run": (ctypes.c_int, [M, ctypes.c_int64, _FPP, _FPP]),
        "cnnc_model_has_training": (ctypes.c_int, [M]),
        "cnnc_model_get_train_info": (ctypes.c_int, [M, ctypes.POINTER(_TrainInfo)]),
        "cnnc_model_init_parameters": (ctypes.c_int, [M, ctypes.c_uint64]),
        "cnnc_model_train_step": (ctypes.c_int, [M, ctypes.c_int64, _FPP, _FP, ctypes.c_float,
                                                 _FP, _FP]),
        "cnnc_model_evaluate": (ctypes.c_int, [M, ctypes.c_int64, _FPP, _FP, _FP, _FP]),
        "cnnc_model_step_count": (ctypes.c_uint64, [M]),
        "cnnc_model_seed": (ctypes.c_uint64, [M]),
        "cnnc_model_get_state": (ctypes.c_int, [M, ctypes.c_char_p, ctypes.c_size_t, _FP]),
        "cnnc_model_save_checkpoint": (ctypes.c_int, [M, ctypes.c_char_p]),
        "cnnc_model_load_checkpoint": (ctypes.c_int, [M, ctypes.c_char_p]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    _lib, _lib_path = lib, path
    return lib


def _f32(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def _ptr(a):
    return a.ctypes.data_as(_FP)


class Model:
    """A loaded model.so. Arrays in and out are numpy float32, shaped as the metadata says
    (the batch dimension first for inputs/outputs)."""

    def __init__(self, path, lib_path=None):
        self._lib = load_library(lib_path)
        self._h = None
        h = ctypes.c_void_p()
        self._check("cnnc_model_load", self._lib.cnnc_model_load(os.fsencode(path), ctypes.byref(h)))
        self._h = h
        self.path = path
        self.inputs = self._tensors(ROLE_INPUT)
        self.outputs = self._tensors(ROLE_OUTPUT)
        self.parameters = self._tensors(ROLE_PARAMETER)
        self.state = self._tensors(ROLE_STATE)

    # ------------------------------------------------------------------ basics
    def _check(self, call, status):
        if status != 0:
            msg = self._lib.cnnc_last_error()
            raise CnncError(call, status, msg.decode(errors="replace") if msg else "")

    def _tensors(self, role):
        out = {}
        n = self._lib.cnnc_model_num_tensors(self._h, role)
        for i in range(n):
            info = _TensorInfo()
            self._check("cnnc_model_get_tensor_info",
                        self._lib.cnnc_model_get_tensor_info(self._h, role, i, ctypes.byref(info)))
            shape = tuple(int(info.shape[k]) for k in range(info.rank))
            out[info.name.decode()] = {"shape": shape, "item_count": int(info.item_count),
                                       "batched": bool(info.batched)}
        return out

    def close(self):
        if self._h is not None and self._lib is not None:
            self._lib.cnnc_model_free(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def name(self):
        return self._lib.cnnc_model_name(self._h).decode()

    # ------------------------------------------------------------- parameters
    def set_parameter(self, name, value):
        a = _f32(value)
        self._check(f"cnnc_model_set_parameter({name})",
                    self._lib.cnnc_model_set_parameter(self._h, name.encode(), _ptr(a), a.size))

    def get_parameter(self, name):
        shape = self.parameters[name]["shape"] if name in self.parameters else None
        if shape is None:
            raise CnncError(f"get_parameter({name})", 1, f"no parameter named '{name}'")
        out = np.empty(shape, dtype=np.float32)
        self._check(f"cnnc_model_get_parameter({name})",
                    self._lib.cnnc_model_get_parameter(self._h, name.encode(), out.size, _ptr(out)))
        return out

    def set_parameters(self, params):
        for k, v in params.items():
            self.set_parameter(k, v)

    def get_parameters(self):
        return {k: self.get_parameter(k) for k in self.parameters}

    def get_state(self, name):
        if name not in self.state:
            raise CnncError(f"get_state({name})", 1, f"no state tensor named '{name}'")
        out = np.empty(self.state[name]["shape"], dtype=np.float32)
        self._check(f"cnnc_model_get_state({name})",
                    self._lib.cnnc_model_get_state(self._h, name.encode(), out.size, _ptr(out)))
        return out

    def load_parameters(self, path):
        self._check("cnnc_model_load_parameters",
                    self._lib.cnnc_model_load_parameters(self._h, os.fsencode(path)))

    def save_parameters(self, path):
        self._check("cnnc_model_save_parameters",
                    self._lib.cnnc_model_save_parameters(self._h, os.fsencode(path)))

    def prepare(self):
        self._check("cnnc_model_prepare", self._lib.cnnc_model_prepare(self._h))

    # -------------------------------------------------------------- execution
    def _input_ptrs(self, xs):
        if not isinstance(xs, (list, tuple)):
            xs = [xs]
        if len(xs) != len(self.inputs):
            raise ValueError(f"expected {len(self.inputs)} input(s), got {len(xs)}")
        arrs = [_f32(x) for x in xs]
        batch = arrs[0].shape[0]
        for a, (name, info) in zip(arrs, self.inputs.items()):
            if a.size != batch * info["item_count"]:
                raise ValueError(f"input '{name}': {a.size} floats for batch {batch}, "
                                 f"expected {batch * info['item_count']}")
        ptrs = (_FP * len(arrs))(*[_ptr(a) for a in arrs])
        return batch, arrs, ptrs

    def run(self, xs):
        """Inference; returns the list of outputs (a single array for one output)."""
        batch, keep, ptrs = self._input_ptrs(xs)
        outs = []
        for info in self.outputs.values():
            shape = tuple(batch if d == -1 else d for d in info["shape"])
            outs.append(np.empty(shape, dtype=np.float32))
        optrs = (_FP * len(outs))(*[_ptr(o) for o in outs])
        self._check("cnnc_model_run", self._lib.cnnc_model_run(self._h, batch, ptrs, optrs))
        return outs[0] if len(outs) == 1 else outs

    # --------------------------------------------------------------- training
    @property
    def has_training(self):
        return bool(self._lib.cnnc_model_has_training(self._h))

    def train_info(self):
        t = _TrainInfo()
        self._check("cnnc_model_get_train_info",
                    self._lib.cnnc_model_get_train_info(self._h, ctypes.byref(t)))
        return {"loss": t.loss.decode(), "optimizer": t.optimizer.decode(), "lr": t.lr,
                "batch": t.batch, "epochs": t.epochs, "classes": t.classes}

    def init_parameters(self, seed=0):
        self._check("cnnc_model_init_parameters",
                    self._lib.cnnc_model_init_parameters(self._h, ctypes.c_uint64(seed)))

    def train_step(self, xs, labels, lr):
        """One train step; returns (mean loss, number correct)."""
        batch, keep, ptrs = self._input_ptrs(xs)
        y = _f32(labels).reshape(-1)
        if y.size != batch:
            raise ValueError(f"{y.size} labels for batch {batch}")
        loss, correct = ctypes.c_float(), ctypes.c_float()
        self._check("cnnc_model_train_step",
                    self._lib.cnnc_model_train_step(self._h, batch, ptrs, _ptr(y), float(lr),
                                                    ctypes.byref(loss), ctypes.byref(correct)))
        return float(loss.value), float(correct.value)

    def evaluate(self, xs, labels):
        batch, keep, ptrs = self._input_ptrs(xs)
        y = _f32(labels).reshape(-1)
        if y.size != batch:
            raise ValueError(f"{y.size} labels for batch {batch}")
        loss, correct = ctypes.c_float(), ctypes.c_float()
        self._check("cnnc_model_evaluate",
                    self._lib.cnnc_model_evaluate(self._h, batch, ptrs, _ptr(y),
                                                  ctypes.byref(loss), ctypes.byref(correct)))
        return float(loss.value), float(correct.value)

    @property
    def step_count(self):
        return int(self._lib.cnnc_model_step_count(self._h))

    @property
    def seed(self):
        return int(self._lib.cnnc_model_seed(self._h))

    def save_checkpoint(self, path):
        self._check("cnnc_model_save_checkpoint",
                    self._lib.cnnc_model_save_checkpoint(self._h, os.fsencode(path)))

    def load_checkpoint(self, path):
        self._check("cnnc_model_load_checkpoint",
                    self._lib.cnnc_model_load_checkpoint(self._h, os.fsencode(path)))
