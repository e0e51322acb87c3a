#!/usr/bin/env python3
"""A GGUF's header alone, and a same-shape GGUF with random weights grown back from it.

For speed measurements on a machine the model cannot travel to (a lent machine takes 64 MiB a
call; the default model is 98 MB): the header (metadata, tokenizer, chat template, tensor list)
is a few MB, and the tensors' bytes are refilled with random weights of the same types, so every
kernel reads the same bytes in the same layout. Speed does not depend on the values; correctness
is checked on the real model. Needs only Python.

    bench/regrow_gguf.py header MODEL.gguf HEADER      # here
    bench/regrow_gguf.py grow HEADER OUT.gguf          # there
"""
import random
import struct
import sys

# ggml type id -> (elements per block, bytes per block); the types GGUF models here use.
BLOCKS = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
          10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
          30: (1, 2)}
MAX_BYTES = 1 << 40  # a tensor list that adds up to more is a corrupt header, not a model
SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # kv type -> bytes


def fail(message):
    print(f"regrow_gguf: {message}", file=sys.stderr)
    sys.exit(2)


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values[0]

    def skip(self, n):
        if n > len(self.data) - self.at:
            fail("the GGUF header is truncated")
        self.at += n

    def string(self):
        n = self.take("Q")
        self.skip(n)
        return bytes(self.data[self.at - n:self.at]).decode("utf-8", "replace")

    def skip_value(self, kind, depth=0):
        if kind == 8:
            self.string()
        elif kind == 9:
            if depth == 8:  # arrays in arrays in ...: no model has such, and Python would recurse
                fail("metadata arrays nested more than 8 deep")
            item, count = self.take("I"), self.take("Q")
            if item in SCALAR:
                self.skip(SCALAR[item] * count)
            else:
                for _ in range(count):
                    self.skip_value(item, depth + 1)
        elif kind in SCALAR:
            self.skip(SCALAR[kind])
        else:
            fail(f"unknown metadata type {kind}")


def parse(data):
    """(tensors as (name, type, elements, offset), alignment, data start)."""
    try:
        return parse_header(data)
    except (struct.error, MemoryError):
        fail("the GGUF header is truncated")


def parse_header(data):
    r = Reader(data)
    if bytes(data[:4]) != b"GGUF":
        fail("not a GGUF file")
    r.at = 8
    n_tensors, n_kv = r.take("Q"), r.take("Q")
    alignment = 32
    for _ in range(n_kv):
        key, kind = r.string(), r.take("I")
        if key == "general.alignment" and kind == 4:
            alignment = r.take("I")
        else:
            r.skip_value(kind)
    tensors, total = [], 0
    for _ in range(n_tensors):
        name, dims = r.string(), r.take("I")
        elements = 1
        for _ in range(dims):
            elements *= r.take("Q")
        kind, offset = r.take("I"), r.take("Q")
        if kind not in BLOCKS:
            fail(f"tensor {name} has type {kind}, which this script cannot refill")
        if elements % BLOCKS[kind][0] or tensor_bytes(kind, elements) > MAX_BYTES:
            fail(f"tensor {name} has {elements} elements, not a whole number of its type's blocks under 1 TiB")
        total += tensor_bytes(kind, elements)
        tensors.append((name, kind, elements, offset))
    if total > MAX_BYTES:
        fail("the tensors add up to more than 1 TiB")
    if alignment == 0 or alignment & (alignment - 1):
        fail(f"general.alignment is {alignment}, not a power of two")
    at = 0  # each tensor follows the one before it, padded to the alignment
    for name, kind, elements, offset in sorted(tensors, key=lambda t: t[3]):
        if not 0 <= offset - at < alignment:
            fail(f"tensor {name} does not follow the one before it")
        at = offset + tensor_bytes(kind, elements)
    start = (r.at + alignment - 1) // alignment * alignment
    return tensors, alignment, start


def fp16_bytes(value):
    return struct.pack("<e", value)


def tensor_bytes(kind, elements):
    per_block, size = BLOCKS[kind]
    return elements // per_block * size


def random_bytes(kind, elements, rng):
    """One tensor's bytes: random, except where a random pattern would be an Inf, a NaN or a
    value large enough to overflow the activations."""
    per_block, size = BLOCKS[kind]
    if kind == 0:  # F32: norms and the like; ones keep activations finite
        return struct.pack("<f", 1.0) * elements
    out = bytearray(rng.randbytes(elements // per_block * size))
    if kind in (1, 30):  # F16, BF16: a high byte that keeps each value small, its sign random
        high = bytes((0x20 | (b & 0x03) | (b & 0x80)) if kind == 1 else (0x3C | (b & 0x80))
                     for b in range(256))
        out[1::2] = bytes(out[1::2]).translate(high)
        return bytes(out)
    # Each quantized block starts with an fp16 scale (Q4_1 and Q5_1 a minimum after it), or for
    # the K types ends with one (Q2_K..Q5_K start with two): write sane ones.
    def put(at, value):
        for i, byte in enumerate(fp16_bytes(value)):
            out[at + i::size] = bytes([byte]) * (len(out) // size)
    if kind in (2, 3, 6, 7, 8):
        put(0, 0.002)
        if kind in (3, 7):
            put(2, -0.016)
    else:
        put(size - 2, 0.002)
        if kind in (10, 11, 12, 13):
            put(0, 0.002)
            put(2, 0.002)
    return bytes(out)


def header(model, out):
    with open(model, "rb") as f:
        data = f.read(64 << 20)
    _, _, start = parse(data)
    with open(out, "wb") as f:
        f.write(data[:start])
    print(f"regrow_gguf: {start} header bytes of {model} -> {out}")


def grow(head, out):
    with open(head, "rb") as f:
        data = f.read()
    tensors, alignment, start = parse(data)
    rng = random.Random(0)
    with open(out, "wb") as f:
        f.write(data[:start])
        at = 0
        for name, kind, elements, offset in sorted(tensors, key=lambda t: t[3]):
            f.write(b"\0" * (offset - at))  # parse() checked that this is a padding
            chunk = random_bytes(kind, elements, rng)
            f.write(chunk)
            at = offset + len(chunk)
        f.write(b"\0" * ((-at) % alignment))
    print(f"regrow_gguf: {len(tensors)} tensors, {start + at} bytes -> {out}")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("header", "grow"):
        fail("usage: regrow_gguf.py header MODEL.gguf HEADER | grow HEADER OUT.gguf")
    try:
        (header if sys.argv[1] == "header" else grow)(sys.argv[2], sys.argv[3])
    except OSError as e:
        fail(f"{e.filename}: {e.strerror}")
