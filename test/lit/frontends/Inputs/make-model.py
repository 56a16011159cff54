#!/usr/bin/env python3
"""Writes to stdout a model file that probes one limit of the YAML frontend
(docs/model-format.md, "Limits"), for the lit tests of this directory: the
files would be large or repetitive to keep in the repository.
`make-model.py PREFIX CASE...` writes PREFIX.CASE.yaml for each of the named
cases (CASES, below); `make-model.py KIND ARGS...` writes one model to stdout:

  make-model.py expr EXPR     a conv2d whose out_channels is EXPR, in a block
                              with the parameter $c = 4 (line 7, column 36)
  make-model.py parens N      the expression $c inside N parentheses
  make-model.py minus N       the expression $c after N minus signs
  make-model.py chain N       block b0 instantiates b1 ... which instantiates
                              bN, a relu; the instance in block bi is on line
                              6 + 3i, column 17
  make-model.py repeat N L    an instance repeated N times of a block of L relus
  make-model.py repeat-list N an instance with a repeat list of N entries
  make-model.py params N      a block with N parameters, the last on line 5
  make-model.py name N        a layer named with N characters (line 4, col 17)
  make-model.py laughs KEY    ten lists of ten aliases of the list before,
                              written as the value of KEY (kernel, name,
                              shape): 10^9 nodes once expanded, on line 4
  make-model.py unused-arg    an instance repeated 10000 times whose argument,
                              unused, has 10^5 nodes once expanded (line 9)
  make-model.py nest N        an attribute nested in N lists (line 4)
  make-model.py layer MAP     the one layer MAP, on line 4 from column 5
  make-model.py shape SHAPE   an input of shape SHAPE (line 2, column 30)
"""
import sys

HEAD = "name: t\ninput: {name: input, shape: [8, 16, 16]}\n"


def expr(text):
    return (HEAD + "blocks:\n  u:\n    params: [c]\n    layers:\n"
            f"      - {{op: conv2d, out_channels: '{text}', kernel: 1}}\n"
            "layers:\n  - {block: u, c: 4}\n")


def laughs(levels=10):
    lists = ["&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, levels):
        lists.append(f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "[" + ", ".join(lists) + "]"


def main(kind, *args):
    if kind == "expr":
        return expr(args[0])
    if kind == "parens":
        n = int(args[0])
        return expr("(" * n + "$c" + ")" * n)
    if kind == "minus":
        return expr("-" * int(args[0]) + "$c")
    if kind == "chain":
        n = int(args[0])
        text = HEAD + "blocks:\n"
        for i in range(n):
            text += f"  b{i}:\n    layers:\n      - {{block: b{i + 1}}}\n"
        text += f"  b{n}:\n    layers:\n      - {{op: relu}}\n"
        return text + "layers:\n  - {block: b0}\n"
    if kind == "repeat":
        count, layers = args
        return (HEAD + "blocks:\n  u:\n    layers:\n" +
                "      - {op: relu}\n" * int(layers) +
                f"layers:\n  - {{block: u, repeat: {count}}}\n")
    if kind == "repeat-list":
        entries = ", ".join(["{}"] * int(args[0]))
        return (HEAD + "blocks:\n  u:\n    layers:\n      - {op: relu}\n"
                f"layers:\n  - {{block: u, repeat: [{entries}]}}\n")
    if kind == "params":
        names = ", ".join(f"p{i}" for i in range(int(args[0])))
        return (HEAD + f"blocks:\n  u:\n    params: [{names}]\n"
                "    layers:\n      - {op: relu}\nlayers:\n  - {op: relu}\n")
    if kind == "name":
        return HEAD + f"layers:\n  - {{op: relu, name: {'r' * int(args[0])}}}\n"
    if kind == "laughs":
        key = args[0]
        if key == "shape":
            return f"name: t\ninput: {{name: input,\n  shape: {laughs()}}}\nlayers:\n  - {{op: relu}}\n"
        return HEAD + f"layers:\n  - {{op: conv2d, out_channels: 2, {key}: {laughs()}}}\n"
    if kind == "nest":
        n = int(args[0])
        return HEAD + f"layers:\n  - {{op: conv2d, out_channels: 2, kernel: {'[' * n}3{']' * n}}}\n"
    if kind == "unused-arg":
        return (HEAD + "blocks:\n  u:\n    params: [w]\n    layers:\n      - {op: relu}\n"
                f"layers:\n  - {{block: u, repeat: 10000, w: {laughs(5)}}}\n")
    if kind == "layer":
        return HEAD + f"layers:\n  - {args[0]}\n"
    if kind == "shape":
        return f"name: t\ninput: {{name: input, shape: {args[0]}}}\nlayers:\n  - {{op: relu}}\n"
    raise SystemExit(f"make-model.py: unknown kind '{kind}'")


# The cases of the lit tests: name -> the arguments of main().
CASES = {
    "mul": ["expr", "$c * 4611686018427387904 + 2"],
    "div": ["expr", "($c - $c - 9223372036854775807 - 1) / -1"],
    "mod": ["expr", "$c + ($c - $c - 9223372036854775807 - 1) % -1 + 7 % -2"],
    "add": ["expr", "$c + 9223372036854775807"],
    "sub": ["expr", "-$c - 9223372036854775807"],
    "neg": ["expr", "-($c - $c - 9223372036854775807 - 1)"],
    "lit": ["expr", "$c + 99999999999999999999"],
    "p64": ["parens", "64"],
    "p65": ["parens", "65"],
    "p20000": ["parens", "20000"],
    "m64": ["minus", "64"],
    "m65": ["minus", "65"],
    "c63": ["chain", "63"],
    "c64": ["chain", "64"],
    "c12000": ["chain", "12000"],
    "r": ["repeat", "1000000000", "1"],
    "rl": ["repeat-list", "10001"],
    "layers": ["repeat", "10000", "10"],
    "p256": ["params", "256"],
    "p257": ["params", "257"],
    "kernel": ["laughs", "kernel"],
    "name": ["laughs", "name"],
    "shape": ["laughs", "shape"],
    "n61": ["nest", "61"],
    "n62": ["nest", "62"],
    "n5000": ["nest", "5000"],
    "name256": ["name", "256"],
    "name257": ["name", "257"],
    "arg": ["unused-arg"],
    "pad": ["layer", "{op: conv2d, out_channels: 2, kernel: 3, padding: 9223372036854775807}"],
    "pad2": ["layer", "{op: conv2d, out_channels: 2, kernel: 3, padding: [1, 2147483648]}"],
    "out": ["layer", "{op: conv2d, out_channels: 99999999999999999999, kernel: 3}"],
    "dim": ["shape", "[1, 2147483648, 4]"],
    "dim2": ["shape", "[1, 99999999999999999999999, 4]"],
}

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] in CASES:
        # make-model.py PREFIX CASE...: writes PREFIX.CASE.yaml for each case.
        for case in sys.argv[2:]:
            with open(f"{sys.argv[1]}.{case}.yaml", "w") as f:
                f.write(main(*CASES[case]))
    else:
        sys.stdout.write(main(*sys.argv[1:]))
