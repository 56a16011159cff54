"""Reads the IDX files of MNIST and Fashion-MNIST (gzipped) into numpy arrays.

Big-endian header: two zero bytes, a type byte (0x08 = uint8), the number of
dimensions, then one 32-bit size per dimension. Used by the benchmark and
the example's reference training; the C++ runtime has its own reader.
"""
import gzip
import os

import numpy as np

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(name, directory=FASHION_MNIST):
    """The uint8 array stored in `directory/name` (a gzipped IDX file)."""
    with gzip.open(os.path.join(directory, name)) as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
