"""`python3 -m cnnc`: what the package holds and where it finds the compiler."""

import sys

from . import find_cnnc, CompileError

try:
    compiler = find_cnnc()
except CompileError as e:
    compiler = f"not found ({e})"
print(f"cnnc Python package in {__package__ and sys.modules[__package__].__path__[0]}\n"
      f"compiler: {compiler}\n"
      "training curves: python3 -m cnnc.plot metrics.csv -o curves.png\n"
      "weights for cnnc: python3 -m cnnc.convert w.pt w.safetensors")
