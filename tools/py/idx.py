"""Reads the IDX files of MNIST and Fashion-MNIST (gzipped) into numpy arrays.

Big-endian header: two zero bytes, a type byte (0x08 = uint8), the number of
dimensions, then one 32-bit size per dimension. Used by the benchmark, the
example's reference training and the e2e training test; the C++ runtime has
its own reader.
"""
import gzip
import os

import numpy as np

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(name, directory=FASHION_MNIST):
    """The uint8 array stored in `directory/name` (a gzipped IDX file); ValueError if the
    file is not an unsigned-byte IDX file."""
    path = os.path.join(directory, name)
    with gzip.open(path) as f:
        raw = f.read()
    if raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
