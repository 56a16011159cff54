"""`python3 -m cnnc.convert w.pt [w.safetensors]`: a weights file cnnc cannot read, as the
safetensors file it reads.

cnnc loads parameters by their PyTorch state_dict names from safetensors files (float tensors
as F32); the safetensors package is not needed. Reads a torch.save checkpoint (zip archive or
the legacy format), a TorchScript module (torch.jit.save), a NumPy .npz archive, or a pickle
of a dict of arrays. The tensors are the file's state_dict: the object itself when it is a
dict of tensors or arrays, its state_dict() when it is a module, or else the entry
"state_dict", "model_state_dict", "model", "net" or "module" of a training checkpoint dict
(one holding an epoch count or an optimizer state next to the weights). Floating-point tensors
are written as F32, integer and bool ones (batch norm's num_batches_tracked) keep their type;
other entries are an error. Loading a torch or pickle file runs its pickled code: convert
only files you trust.
"""

import argparse
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

__all__ = ["convert", "read_state_dict", "save_safetensors"]

# The keys under which training scripts commonly store the weights in a checkpoint dict.
_STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "module")

_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64", np.dtype(np.int32): "I32",
           np.dtype(np.int16): "I16", np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8",
           np.dtype(np.bool_): "BOOL"}


def _is_tensor(value):
    return isinstance(value, np.ndarray) or type(value).__module__.startswith("torch") and \
        hasattr(value, "detach")


def _array(name, value):
    """A torch tensor or NumPy array as a little-endian NumPy array of a safetensors dtype."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        value = (value.float() if value.is_floating_point() else value).numpy()
    array = np.ascontiguousarray(value)
    if array.dtype.kind == "f":
        array = array.astype(np.float32)
    dtype = array.dtype.newbyteorder("=")
    if dtype not in _DTYPES:
        raise TypeError(f"tensor '{name}' has dtype {array.dtype}, which safetensors files "
                        "of cnnc do not hold")
    return array.astype(dtype.newbyteorder("<"), copy=False)


def _state_dict(obj, source):
    """The dict of tensors in what a weights file holds."""
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        return dict(obj.state_dict())
    if isinstance(obj, dict):
        if obj and all(_is_tensor(v) for v in obj.values()):
            return dict(obj)
        for key in _STATE_KEYS:
            if key in obj:
                return _state_dict(obj[key], f"{source}['{key}']")
        keys = ", ".join(repr(k) for k in list(obj)[:8]) + (", ..." if len(obj) > 8 else "")
        raise ValueError(f"{source} is a dict whose values are not all tensors ({keys}), with "
                         f"none of the keys {', '.join(_STATE_KEYS)}")
    raise ValueError(f"{source} holds a {type(obj).__name__}, not a state_dict")


def read_state_dict(path):
    """The state_dict (name -> tensor or array) stored in a torch.save, torch.jit.save, .npz
    or pickle file."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if all(n.endswith(".npy") for n in names):
            with np.load(path, allow_pickle=False) as arrays:
                return {k: arrays[k] for k in arrays.files}
        import torch  # only for PyTorch files
        if any(n.endswith("/constants.pkl") for n in names):  # torch.jit.save
            return _state_dict(torch.jit.load(path, map_location="cpu"), f"'{path}'")
        return _state_dict(torch.load(path, map_location="cpu"), f"'{path}'")
    if head.startswith(b"\x80\x02\x8a\x0a"):  # torch.save's legacy format
        import torch
        return _state_dict(torch.load(path, map_location="cpu"), f"'{path}'")
    if head[:1] == b"\x80":
        with open(path, "rb") as f:
            return _state_dict(pickle.load(f), f"'{path}'")
    raise ValueError(f"'{path}' is not a torch.save, torch.jit.save, .npz or pickle file")


def save_safetensors(tensors, path):
    """Writes {name: tensor or array} to `path` as safetensors (float tensors as F32), in the
    given order, with PyTorch's {"format": "pt"} metadata."""
    header, blobs, offset = {}, [], 0
    for name, value in tensors.items():
        array = _array(name, value)
        data = array.tobytes()
        header[name] = {"dtype": _DTYPES[array.dtype.newbyteorder("=")],
                        "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # align the data
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def convert(source, target=None):
    """Converts the weights file `source` into the safetensors file `target` (default:
    `source` with the extension .safetensors); returns (target, names written)."""
    source = os.fspath(source)
    if target is None:
        target = os.path.splitext(source)[0] + ".safetensors"
    tensors = read_state_dict(source)
    save_safetensors(tensors, target)
    return target, list(tensors)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m cnnc.convert",
        description="Convert a torch.save / torch.jit.save checkpoint, a .npz archive or a "
                    "pickled dict of arrays into a safetensors file cnnc loads.")
    parser.add_argument("source", help="the weights file (w.pt, w.pth, w.npz, w.pkl)")
    parser.add_argument("target", nargs="?",
                        help="the safetensors file to write (default: source with the "
                             "extension .safetensors)")
    args = parser.parse_args(argv)
    try:
        target, names = convert(args.source, args.target)
    except (OSError, ValueError, TypeError, pickle.UnpicklingError, RuntimeError) as e:
        print(f"cnnc.convert: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {target}: {len(names)} tensors ({', '.join(names[:3])}"
          f"{', ...' if len(names) > 3 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
