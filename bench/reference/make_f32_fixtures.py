#!/usr/bin/env python3
"""Write the FP32 reference fixture: the default model's quantized weights dequantized to F32,
run by llama.cpp with an F32 KV cache, so that no rounding but the weights' own quantization
is left. Quantized forward passes (troupe's, alone or split over tensor-parallel ranks, and
llama.cpp's) are each measured against this one function of the same weights.

Run with the peer venv's python (bench/peers/setup builds it, gguf-py included):

    source bench/peers/env
    $PEER_PYTHON bench/reference/make_f32_fixtures.py [--model PATH] [--out DIR]

Output (deterministic): DIR/logits_f32.json, teacher-forced top-1 / top-5 log-probs on the
prompts of make_fixtures.py, 64 positions each. The F32 GGUF itself (540 MB) is written to a
temporary directory and removed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
import gguf
import llama_cpp
from gguf.quants import dequantize
from llama_cpp import Llama

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gguf_metadata import copy_metadata  # noqa: E402
from make_fixtures import (DEFAULT_MODEL, DEFAULT_OUT, N_CTX, N_IDS, N_THREADS, PROMPTS,  # noqa: E402
                           dump, fmt_lp, sha256_of)

GGML_TYPE_F32 = 0


def write_f32(source: str, target: str, bf16: bool = False) -> None:
    """The same GGUF with every tensor dequantized to F32 and all metadata kept. With `bf16`,
    the matrices are then rounded to BF16 (1-D tensors, the norms, stay F32 as in llama.cpp's
    own BF16 conversions) and general.file_type says so (bench/peers/setup-vllm's BF16 GGUF)."""
    reader = gguf.GGUFReader(source)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(target, arch)
    if bf16:
        copy_metadata(reader, writer, skip=("general.file_type",))
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_BF16)
    else:
        copy_metadata(reader, writer)
    for tensor in reader.tensors:
        values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        values = values.reshape([int(d) for d in reversed(tensor.shape)])
        if bf16 and values.ndim > 1:
            bf16_type = gguf.GGMLQuantizationType.BF16
            writer.add_tensor(tensor.name, gguf.quants.quantize(values, bf16_type), raw_dtype=bf16_type)
        else:
            writer.add_tensor(tensor.name, values, raw_dtype=gguf.GGMLQuantizationType.F32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL, help=f"GGUF model (default {DEFAULT_MODEL})")
    ap.add_argument("--out", default=DEFAULT_OUT, help=f"output dir (default {DEFAULT_OUT})")
    args = ap.parse_args()
    if not os.path.isfile(args.model):
        print(f"model not found: {args.model} (run scripts/fetch-model or pass --model)",
              file=sys.stderr)
        return 2
    head = {
        "model": os.path.basename(args.model),
        "sha256": sha256_of(args.model),
        "llama_cpp_python": llama_cpp.__version__,
        "weights": "dequantized to F32",
        "kv_cache": "F32",
    }
    with tempfile.TemporaryDirectory() as scratch:
        f32 = os.path.join(scratch, "model-f32.gguf")
        write_f32(args.model, f32)
        llm = Llama(model_path=f32, n_ctx=N_CTX, n_batch=N_CTX, n_threads=N_THREADS,
                    n_threads_batch=N_THREADS, logits_all=True, seed=0, verbose=False,
                    flash_attn=False, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
        prompts = []
        for text in PROMPTS:
            ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)[:N_IDS]
            llm.reset()
            llm.eval(ids)
            logits = np.array(llm.scores[:N_IDS], dtype=np.float64)
            m = logits.max(axis=1, keepdims=True)
            logp = logits - (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))
            positions = []
            for p in range(N_IDS - 1):
                row = logp[p]
                order = np.lexsort((np.arange(row.size), -row))[:5]
                positions.append({"top1": int(order[0]),
                                  "top5": [[int(i), fmt_lp(row[i])] for i in order]})
            prompts.append({"text": text, "ids": ids, "positions": positions})
        del llm
    path = os.path.join(args.out, "logits_f32.json")
    dump(head, "prompts", prompts, path)
    print(f"logits_f32.json: {len(prompts)} prompts x {N_IDS - 1} positions -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
