#!/usr/bin/env python3
"""Write a Llama-shaped GGUF with random weights, for speed measurements on shapes no bundled
model has (speed does not depend on the values; correctness is checked on the real model). The
vocabulary, tokenizer and chat template are copied from a real GGUF (the default model), so
that prompts tokenize as usual.

    source bench/peers/env
    $PEER_PYTHON bench/make_random_gguf.py --out /tmp/llama-1024x16.gguf \\
        [--layers 16 --embedding 1024 --heads 16 --kv-heads 4 --feed-forward 2816 --type Q4_1]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import gguf
from gguf.quants import quantize

from gguf_metadata import copy_metadata

DEFAULT_LIKE = os.path.join(os.environ.get("TROUPE_HOME", os.path.expanduser("~/.cache/troupe")),
                            "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
SHAPE_KEYS = ("block_count", "embedding_length", "feed_forward_length", "attention.head_count",
              "attention.head_count_kv", "rope.dimension_count")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--like", default=DEFAULT_LIKE, help="the GGUF whose vocabulary to copy")
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--embedding", type=int, default=1024)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--feed-forward", type=int, default=2816)
    ap.add_argument("--type", default="Q4_1", choices=("Q4_1", "Q8_0", "F16", "F32"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    like = gguf.GGUFReader(args.like)
    arch = like.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(args.out, arch)
    copy_metadata(like, writer,
                  {f"{arch}.{k}" for k in SHAPE_KEYS} | {"general.name", "general.file_type"})
    d, heads, kv_heads, ff = args.embedding, args.heads, args.kv_heads, args.feed_forward
    head_dim = d // heads
    writer.add_name(f"random llama {args.layers}x{d} ({heads} heads, {kv_heads} KV) {args.type}")
    writer.add_block_count(args.layers)
    writer.add_embedding_length(d)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_dim)
    vocab = len(like.fields["tokenizer.ggml.tokens"].data)

    rng = np.random.default_rng(args.seed)
    qtype = getattr(gguf.GGMLQuantizationType, args.type)

    def matrix(name: str, rows: int, cols: int) -> None:
        values = rng.normal(0, 0.02, size=(rows, cols)).astype(np.float32)
        if args.type in ("F32", "F16"):
            writer.add_tensor(name, values.astype(np.float16 if args.type == "F16" else np.float32))
        else:
            writer.add_tensor(name, quantize(values, qtype), raw_dtype=qtype)

    def norm(name: str) -> None:
        writer.add_tensor(name, np.ones(d, dtype=np.float32))

    matrix("token_embd.weight", vocab, d)
    norm("output_norm.weight")
    for layer in range(args.layers):
        p = f"blk.{layer}."
        norm(p + "attn_norm.weight")
        matrix(p + "attn_q.weight", heads * head_dim, d)
        matrix(p + "attn_k.weight", kv_heads * head_dim, d)
        matrix(p + "attn_v.weight", kv_heads * head_dim, d)
        matrix(p + "attn_output.weight", d, heads * head_dim)
        norm(p + "ffn_norm.weight")
        matrix(p + "ffn_gate.weight", ff, d)
        matrix(p + "ffn_up.weight", ff, d)
        matrix(p + "ffn_down.weight", d, ff)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"{args.out}: {args.layers} layers x {d}, {heads} heads ({kv_heads} KV), "
          f"{ff} features, vocabulary {vocab}, {args.type}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
