#!/usr/bin/env python3
"""Write llama.cpp's embeddings of the default model, for troupe's /v1/embeddings.

Run with the peer venv's python (bench/peers/setup builds it):

    source bench/peers/env
    $PEER_PYTHON bench/reference/make_embedding_fixtures.py [--model PATH] [--out DIR]

Output (deterministic): DIR/embeddings.json — for each pooling llama-server offers on the
OpenAI route that troupe does too ("mean", "last"), the unit-length embedding of each text
(llama.cpp's result_norm pooled, then L2-normalized as llama-server's default does), rounded to
6 decimals, and each text's token count. Texts hold no special tokens' spellings, so llama-cpp-
python's embed() (which does not parse them) and llama-server (which does) read them alike.
"""
from __future__ import annotations

import argparse
import json
import os

import llama_cpp
from llama_cpp import Llama

DEFAULT_MODEL = os.path.join(
    os.environ.get("TROUPE_HOME", os.path.expanduser("~/.cache/troupe")),
    "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "reference")

TEXTS = [
    "Hello world",
    "The cat sat on the mat.",
    "A dog is playing in the park with a red ball.",
    "Paris is the capital and most populous city of France.",
    "def add(a, b):\n    return a + b",
    "Quantum computers use qubits, which can be in superposition.",
    "I would like to order a large pizza with mushrooms, please.",
    "Le chat est assis sur le tapis.",
    "1 2 3 4 5 6 7 8 9 10",
    "What is the weather like today?",
    # longer than one 16-token KV block, to cross block boundaries
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
    "age of foolishness, it was the epoch of belief, it was the epoch of incredulity.",
]
POOLINGS = {"mean": llama_cpp.LLAMA_POOLING_TYPE_MEAN, "last": llama_cpp.LLAMA_POOLING_TYPE_LAST}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()
    out = {"model": os.path.basename(args.model), "llama_cpp_python": llama_cpp.__version__,
           "texts": TEXTS, "embeddings": {}}
    for name, pooling in POOLINGS.items():
        llm = Llama(model_path=args.model, embedding=True, pooling_type=pooling, n_ctx=512,
                    n_batch=512, n_threads=2, verbose=False)
        vectors = [llm.embed(text, normalize=True) for text in TEXTS]
        out["embeddings"][name] = [[round(float(x), 6) for x in v] for v in vectors]
        out.setdefault("tokens", [len(llm.tokenize(t.encode(), add_bos=True, special=False))
                                  for t in TEXTS])
        del llm
    path = os.path.join(args.out, "embeddings.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
