#!/usr/bin/env python3
"""Writes tests/fixtures/reference/dequantize.json: random blocks of every quantized type troupe
reads, with the values gguf-py (the GGUF project's own Python package) dequantizes them to.

Run: python3 -m venv /tmp/gv && /tmp/gv/bin/pip install gguf numpy &&
     /tmp/gv/bin/python bench/reference/make_dequant_fixtures.py
"""
import json
import pathlib

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests/fixtures/reference/dequantize.json"
TYPES = {"Q4_0": T.Q4_0, "Q4_1": T.Q4_1, "Q8_0": T.Q8_0, "Q4_K": T.Q4_K, "Q5_K": T.Q5_K,
         "Q6_K": T.Q6_K, "F16": T.F16, "BF16": T.BF16}
SIZES = {"Q4_0": (32, 18), "Q4_1": (32, 20), "Q8_0": (32, 34), "Q4_K": (256, 144),
         "Q5_K": (256, 176), "Q6_K": (256, 210), "F16": (1, 2), "BF16": (1, 2)}
# Offsets of half-precision scale fields inside a block, kept finite and moderate.
HALF_FIELDS = {"Q4_0": [0], "Q4_1": [0, 2], "Q8_0": [0], "Q4_K": [0, 2], "Q5_K": [0, 2],
               "Q6_K": [208]}


def random_block_bytes(rng, name, blocks):
    elements, size = SIZES[name]
    raw = bytearray(rng.integers(0, 256, size=size * blocks, dtype=np.uint8).tobytes())
    if name in ("F16", "BF16"):
        values = rng.uniform(-4, 4, size=elements * blocks).astype(np.float32)
        if name == "F16":
            return values.astype(np.float16).tobytes()
        return (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    for b in range(blocks):
        for off in HALF_FIELDS[name]:
            scale = np.float16(rng.uniform(-0.05, 0.05)).tobytes()
            raw[b * size + off: b * size + off + 2] = scale
    return bytes(raw)


def main():
    rng = np.random.default_rng(1234)
    cases = []
    for name, qtype in TYPES.items():
        elements, size = SIZES[name]
        blocks = 3 if elements > 1 else 64
        data = random_block_bytes(rng, name, blocks)
        values = quants.dequantize(np.frombuffer(data, dtype=np.uint8), qtype)
        cases.append({"type": name, "bytes": data.hex(),
                      "values": [float(np.float32(v)) for v in values.reshape(-1)]})
    OUT.write_text(json.dumps({"generator": "gguf-py quants.dequantize", "cases": cases}) + "\n")
    print(f"wrote {OUT}: {len(cases)} types")


if __name__ == "__main__":
    main()
