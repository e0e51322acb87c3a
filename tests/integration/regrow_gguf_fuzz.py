#!/usr/bin/env python3
"""bench/regrow_gguf.py's header parser on mutated copies of a real header: each either parses
or stops with its one-line error (exit 2), never another exception, and a grown model's size
stays bounded; so does a header with arrays nested 10,000 deep. Usage: regrow_gguf_fuzz.py HEADER [ITERATIONS]"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import regrow_gguf  # noqa: E402

header = open(sys.argv[1], "rb").read()
iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 200
rng = random.Random(20)
outcomes = {"parsed": 0, "refused": 0}
for i in range(iterations):
    data = bytearray(header)
    if rng.random() < 0.2:
        del data[rng.randrange(len(data)):]  # truncated anywhere
    for _ in range(rng.randint(1, 8)):  # bytes overwritten, mostly in the counts and lengths
        at = rng.randrange(min(len(data), 4096) if rng.random() < 0.7 else len(data) or 1)
        if at < len(data):
            data[at] = rng.randrange(256)
    try:
        tensors, _, _ = regrow_gguf.parse(bytes(data))
        assert sum(regrow_gguf.tensor_bytes(kind, n) for _, kind, n, _ in tensors) <= regrow_gguf.MAX_BYTES
        outcomes["parsed"] += 1
    except SystemExit as e:
        assert e.code == 2, f"iteration {i}: exit {e.code}"
        outcomes["refused"] += 1
# And one made by hand: a metadata array of arrays 10,000 deep (Python's recursion would give up).
deep = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 3) + b"key" + struct.pack("<I", 9)
        + struct.pack("<IQ", 9, 1) * 10000 + struct.pack("<IQ", 4, 0))
try:
    regrow_gguf.parse(deep)
    raise AssertionError("a 10,000-deep array parsed")
except SystemExit as e:
    assert e.code == 2, f"deep arrays: exit {e.code}"
print(f"regrow_gguf_fuzz: {iterations} mutated headers: {outcomes}; deep arrays refused")
