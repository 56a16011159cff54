#!/usr/bin/env python3
"""Mutates the metadata JSON embedded in a compiled model.so and runs cnnrun on each mutant.

Each mutant is a copy of the library whose `cnnc_metadata` section (the JSON the runtime
parses at load) has one to three same-length edits: a digit changed to another digit (the
indices, shapes and kernel numbers the runtime must range-check), or a byte replaced by a
JSON punctuation character or a letter. Same-length edits keep the ELF file valid, so every
mutant reaches the metadata checks. Each mutant is run with `cnnrun info` and, for a model
compiled with training, `cnnrun bench --train --iters 1`; exiting with a message is fine, a
death by signal, a sanitizer report or a time-out is a finding, kept in --keep DIR.

Usage: scripts/mutate_model_metadata.py --cnnrun build/bin/cnnrun --model m.so [--count 300]
       [--seed 1] [--keep DIR]
Exit status: 0 when no mutant crashed cnnrun, 1 otherwise.
"""
import argparse
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile


def metadata_range(data):
    """(offset, length) of the cnnc_metadata section's text, from the ELF section headers."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def section(i):
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + i * shentsize)
        return name, offset, size
    _, names_at, _ = section(shstrndx)
    for i in range(shnum):
        name, offset, size = section(i)
        end = data.index(b"\0", names_at + name)
        if data[names_at + name:end] == b"cnnc_metadata":
            text_end = data.index(b"\0", offset)
            return offset, min(size, text_end - offset)
    sys.exit("no cnnc_metadata section: not a model compiled by cnnc")


def mutate(rng, text):
    text = bytearray(text)
    digits = [i for i, c in enumerate(text) if chr(c).isdigit()]
    for _ in range(rng.randint(1, 3)):
        if digits and rng.random() < 0.7:
            i = rng.choice(digits)
            text[i] = ord(rng.choice([d for d in "0123456789" if ord(d) != text[i]]))
        else:
            i = rng.randrange(len(text))
            text[i] = ord(rng.choice('{}[]:,"-.0123456789ae '))
    return bytes(text)


def run(command, timeout=60):
    try:
        p = subprocess.run(command, capture_output=True, text=True, errors="replace",
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return "time-out", ""
    if p.returncode < 0:
        return f"signal {-p.returncode}", p.stderr
    if "Sanitizer" in p.stderr or "runtime error:" in p.stderr:
        return "sanitizer report", p.stderr
    return None, p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cnnrun", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="directory for the mutants that crashed cnnrun")
    args = ap.parse_args()
    data = open(args.model, "rb").read()
    at, length = metadata_range(data)
    training = b'"train":' in data[at:at + length]
    rng = random.Random(args.seed)
    findings, refused = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.count):
            text = mutate(rng, data[at:at + length])
            path = os.path.join(tmp, f"mutant{n}.so")
            with open(path, "wb") as f:
                f.write(data[:at] + text + data[at + length:])
            commands = [[args.cnnrun, "info", path]]
            if training:
                commands.append([args.cnnrun, "bench", path, "--train", "--iters", "1",
                                 "--warmup", "0", "--batch", "2"])
            for command in commands:
                problem, err = run(command)
                if problem:
                    findings.append((n, command[1], problem, err.strip().splitlines()[-1:]))
                    if args.keep:
                        os.makedirs(args.keep, exist_ok=True)
                        shutil.copy(path, args.keep)
                elif "error:" in err:
                    refused += 1
            os.remove(path)
    print(f"{args.count} mutants of {args.model}: {refused} refusals with a message, "
          f"{len(findings)} crashes")
    for n, command, problem, tail in findings:
        print(f"  mutant {n}: cnnrun {command}: {problem} {tail}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
