"""Reads and writes safetensors files from Python without the safetensors package.

The format: an 8-byte little-endian header length N, N bytes of JSON
({name: {"dtype", "shape", "data_offsets": [begin, end]}}, plus
"__metadata__": {"format": "pt"} as PyTorch's writer puts it), padded with
spaces to a multiple of 8, then the raw little-endian tensor data. cnnc's
runtime loads F32 tensors by PyTorch state_dict name; this module lets tests,
examples and benchmarks hand it a PyTorch state_dict. Assumes numpy; torch
tensors are converted with .numpy(). Dtypes: F32, F64, I64, I32.
"""
import json
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}
_NAMES = {np.dtype(v).str: k for k, v in _DTYPES.items()}


def save(tensors, path):
    """Writes {name: array-like (numpy or torch)} to `path` in the given order, keeping
    dtypes (TypeError for a dtype the format list above does not have)."""
    header, blobs, offset = {}, [], 0
    for name, value in tensors.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        array = np.ascontiguousarray(value)
        dtype = _NAMES.get(array.dtype.newbyteorder("<").str)
        if dtype is None:
            raise TypeError(f"{name}: unsupported dtype {array.dtype}")
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # align the data section
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def load(path):
    """Reads a safetensors file into {name: numpy array}."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out
